"""The ``onecycle`` argument parser: every flag, its type, its help.

Flag values are checked here, by the rules of :mod:`onecycle._validate` (one rule per
kind of value, the same the configuration file and the library use), so a bad value is
a usage error naming the flag (exit status 2) before any work starts.

Example:
    >>> build_parser().parse_args(["run", "--epochs", "3"]).epochs
    3
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from .. import _validate as check
from .commands import cmd_find_lr, cmd_fit, cmd_plot_schedule, cmd_run
from .searches import SEARCHES, cmd_search

__all__ = ["build_parser", "PROG", "DESCRIPTION", "EPILOG", "arg_type", "grad_clip_flag"]

PROG = "onecycle"

DESCRIPTION = """\
Leslie Smith's disciplined approach to neural-network hyper-parameters, for PyTorch.

The recipe (onecycle run):
  1. LR range test     raise the LR exponentially for ~100 iterations, record the loss;
                       the peak LR of the cycle sits just below the loss minimum (Smith).
  2. weight decay      one short range test per weight decay (1e-3, 1e-4, 0) around the
                       peak LR: the largest one whose curve still reaches the best loss
                       at a high LR (weight_decay.confirm: short 1cycle runs decide).
  3. 1cycle            LR up from max_lr/10 to max_lr and back down, then annihilated
                       far below; momentum cycles the opposite way (0.95 -> 0.85 -> 0.95).
  4. baseline          the same model and budget at a constant LR, for comparison.
  5. report            report.html (self-contained), summary.json, plots, histories.
"""

EPILOG = """\
examples:
  onecycle run                                   # digits + small CNN, about 15 s on a laptop
  onecycle run --dataset mnist                   # LeNet-5, 3 epochs, about a minute
  onecycle run --epochs 5 --out runs/quick --name "quick check"
  onecycle run --dataset fashion-mnist --model lenet --epochs 10
  onecycle run --config experiment.toml --seed 1  # flags override the file
  onecycle run --model mypkg.models:make_model --dataset mypkg.data:load
  onecycle find-lr --dataset digits --model mlp
  onecycle fit --epochs 5 --max-lr 0.05
  onecycle search wd --grid 1e-2 1e-3 1e-4 0
  onecycle plot-schedule --style smith --max-lr 0.8 --steps 1000 --out schedule.png

Every option of run can also be set in a TOML file (--config); the resolved
configuration is saved next to the results as config.toml. See docs/cli.md.
"""

_OPTIMIZERS = ("sgd", "adam", "adamw")
_STYLES = ("smith", "fastai", "torch")
_METHODS = ("auto", "valley", "steep", "minimum", "slide")


def arg_type(parse: Callable[[str], Any], rule: Callable[[str, Any], Any], allowed: str,
             name: str = "value") -> Callable[[str], Any]:
    """An argparse type: ``parse`` the text, then check it with a :mod:`onecycle._validate`
    ``rule``; argparse reports a failure as a usage error naming the flag.

    >>> arg_type(float, check.positive, "a number > 0")("0.5")
    0.5
    """
    def convert(text: str) -> Any:
        try:
            value = parse(text)
        except (TypeError, ValueError):
            raise argparse.ArgumentTypeError(
                f"invalid value {text!r}: expected {allowed}") from None
        try:
            return rule(name, value)
        except (TypeError, ValueError):
            raise argparse.ArgumentTypeError(
                f"invalid value {text!r}: expected {allowed}") from None

    convert.__name__ = allowed
    return convert


def _int_at_least(least: int) -> Callable[[str], int]:
    return arg_type(int, lambda n, v: check.integer(n, v, least=least),
                    f"an integer >= {least}")


_pos_int = _int_at_least(1)
_finder_iters = _int_at_least(10)
_seed = arg_type(int, check.seed, f"an integer in [0, {check.MAX_SEED}]")
_pos_float = arg_type(float, check.positive, "a number > 0")
_nonneg_float = arg_type(float, check.nonnegative, "a number >= 0")
_unit_open = arg_type(float, lambda n, v: check.in_range(n, v, 0, 1, low_open=True,
                                                          high_open=True), "a number in (0, 1)")
_unit_half = arg_type(float, check.momentum, "a number in [0, 1)")


def _pair(text: str) -> tuple[float, ...]:
    return tuple(float(x) for x in text.replace(",", ":").split(":"))


def _high_low(name: str, value: tuple[float, ...]) -> tuple[float, ...]:
    if len(value) != 2:
        raise ValueError(f"{name} must be a (high, low) pair, got {value!r}")
    return check.momentum_cycle(name, value)


_momentum_pair = arg_type(_pair, _high_low, "HIGH:LOW with 0 <= LOW <= HIGH < 1, e.g. 0.95:0.85")


class _Formatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """Keep the description's layout and show defaults where they mean something
    (not for None, False, flags that store False, or help that already says it)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        h = action.help or ""
        if (action.default in (None, False, argparse.SUPPRESS) or "%(default)" in h
                or isinstance(action, argparse._StoreFalseAction)
                or "(default" in h):
            return h
        return h + " (default: %(default)s)"


def grad_clip_flag(text: str) -> float | str:
    """``--grad-clip``: ``auto``, ``off`` or a number > 0 (a usage error naming the flag
    otherwise; the configuration turns ``off`` into no clipping).

    >>> grad_clip_flag("auto"), grad_clip_flag("0.5")
    ('auto', 0.5)
    """
    from ..step import check_grad_clip

    if text in ("auto", "off"):
        return text
    try:
        return check_grad_clip(float(text))  # type: ignore[return-value]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a number > 0, 'auto' or 'off', got {text!r}") from None


# ---------------------------------------------------------------------------
# option groups


def _add_common(p: argparse.ArgumentParser, *, out_default: str) -> None:
    g = p.add_argument_group("data, model and output")
    g.add_argument("--config", metavar="FILE.toml",
                   help="read options from a TOML file (flags given here override it)")
    g.add_argument("--allow-imports", action="store_true",
                   help="let the --config file name 'module:function' factories for dataset "
                   "or model (importing runs code, so files may not by default)")
    g.add_argument("--dataset", metavar="NAME|PATH|MOD:FUNC",
                   help="'digits' (bundled, default), 'mnist', 'fashion-mnist', a .npz file, "
                   "a folder of IDX files or images, or 'package.module:function'")
    g.add_argument("--model", metavar="NAME|MOD:FUNC",
                   help="mlp, lenet, caffe_lenet, small_cnn (default), resnet20, resnet56, or "
                   "'package.module:factory' called as factory(input_shape, num_classes)")
    g.add_argument("--batch-size", type=_pos_int, metavar="N", help="batch size (default 64)")
    g.add_argument("--seed", type=_seed, metavar="N", help="random seed (default 0)")
    g.add_argument("--out", metavar="DIR",
                   help=f"output directory (default ./{out_default}); checked for "
                   "writability before any work starts")
    g.add_argument("--device", metavar="DEV", help="torch device, e.g. cpu or cuda "
                   "(default: cuda when available)")
    g.add_argument("--threads", type=_pos_int, metavar="N",
                   help="torch CPU threads (default: 1 for small models, else torch's)")
    g.add_argument("--grad-clip", type=grad_clip_flag, metavar="NORM|auto|off",
                   help="gradient clipping: 'auto' (default) cuts only a step whose norm "
                   "spikes above 3x its recent median, NORM clips every step to it, 'off'")
    g.add_argument("--quiet", "-q", action="store_true", default=None,
                   help="print nothing but errors (no progress)")
    g.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                   help="show tracebacks for errors")


def _add_optimizer(p: argparse.ArgumentParser, weight_decay_help: str) -> None:
    p.add_argument("--weight-decay", type=_nonneg_float, metavar="WD", help=weight_decay_help)
    p.add_argument("--optimizer", choices=_OPTIMIZERS, help="optimizer (default sgd)")


def _add_resume(p: argparse.ArgumentParser) -> None:
    p.add_argument("--resume", action="store_true",
                   help="continue an interrupted run in --out: finished steps are read back "
                   "(not run again), a training continues from its last checkpoint; "
                   "refused when the settings differ from the interrupted run's")


def _add_finder(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("LR range test")
    g.add_argument("--start-lr", type=_pos_float, metavar="LR", help="first LR (default 1e-5)")
    g.add_argument("--end-lr", type=_pos_float, metavar="LR", help="last LR (default 10)")
    g.add_argument("--num-iter", type=_finder_iters, metavar="N",
                   help="iterations of the sweep, >= 10 (default 100)")
    g.add_argument("--method", choices=_METHODS, help="suggestion method (default auto)")


def _add_training(p: argparse.ArgumentParser, *, weight_decay_help: str) -> None:
    g = p.add_argument_group("training")
    g.add_argument("--epochs", type=_pos_int, metavar="N", help="training epochs (default 8)")
    g.add_argument("--max-lr", type=_pos_float, metavar="LR",
                   help="peak LR of the cycle; skips the LR range test")
    g.add_argument("--weight-decay", type=_nonneg_float, metavar="WD", help=weight_decay_help)
    g.add_argument("--style", choices=_STYLES, help="1cycle style (default smith)")
    g.add_argument("--optimizer", choices=_OPTIMIZERS, help="optimizer (default sgd)")


# ---------------------------------------------------------------------------
# subcommands


#: a subcommand's own options, added to its parser
_Options = Callable[[argparse.ArgumentParser], None]
#: (name, handler, one-line help, description, examples, common options?, options) of
#: every subcommand but compare, in the order ``onecycle --help`` lists them
_SUBCOMMANDS: list[tuple[str, Callable[..., Any], str, str, tuple[str, ...], bool,
                         _Options]] = []


def _subcommand(name: str, handler: Callable[..., Any], summary: str, description: str,
                examples: tuple[str, ...], *, common: bool = True
                ) -> Callable[[_Options], _Options]:
    """Register the function it decorates as the options of subcommand ``name``, with
    its handler, one-line help, description and examples; with ``common``, the data,
    model and output options come first (``--out`` defaults to ``./onecycle-<name>``)."""
    def register(options: _Options) -> _Options:
        _SUBCOMMANDS.append((name, handler, summary, description, examples, common, options))
        return options

    return register


def _add_subcommands(sub: Any) -> None:
    for name, handler, summary, description, examples, common, options in _SUBCOMMANDS:
        p = sub.add_parser(name, formatter_class=_Formatter, help=summary,
                           description=description,
                           epilog="examples:\n" + "".join(f"  {e}\n" for e in examples))
        p.set_defaults(handler=handler)
        if common:
            _add_common(p, out_default=f"onecycle-{name}")
        options(p)


@_subcommand(
    "run", cmd_run,
    "the whole recipe: range test, weight decay, 1cycle, baseline, report",
    DESCRIPTION + "\nWith no options: digits (bundled with scikit-learn), a small CNN, "
    "8 epochs.",
    ("onecycle run", "onecycle run --epochs 3 --no-baseline --quiet",
     'onecycle run --config experiment.toml --out runs/exp1 --name "exp 1"',
     "onecycle run --max-lr 0.05 --weight-decay 1e-4   # skip both searches"))
def _add_run(p: argparse.ArgumentParser) -> None:
    _add_training(p, weight_decay_help="use this weight decay and skip the weight-decay "
                  "search")
    _add_finder(p)
    g = p.add_argument_group("report")
    g.add_argument("--name", metavar="TEXT", help="run name shown in the report")
    g.add_argument("--no-baseline", dest="baseline", action="store_const", const=False,
                   default=None, help="skip the constant-LR baseline")
    g.add_argument("--baseline-lr", type=_pos_float, metavar="LR",
                   help="constant LR of the baseline (default: the range test's 'minimum' "
                   "suggestion, i.e. the LR at the loss minimum / 10)")
    _add_resume(p)


@_subcommand(
    "find-lr", cmd_find_lr,
    "LR range test: plot + JSON, prints the suggested max LR with range/confidence",
    "Run the LR range test from the model's initial weights and suggest the peak LR of "
    "a 1cycle run.\nWrites finder.png and finder.json into --out.",
    ("onecycle find-lr", "onecycle find-lr --model mlp --num-iter 200 --end-lr 1"))
def _add_find_lr(p: argparse.ArgumentParser) -> None:
    _add_finder(p)
    _add_optimizer(p, "weight decay during the test (default 1e-4)")


@_subcommand(
    "fit", cmd_fit,
    "1cycle training with a given (or found) max LR: history JSON + plot",
    "Train with the 1cycle policy and cyclical momentum. Without --max-lr the LR range "
    "test runs first. No weight-decay search runs: the weight decay is --weight-decay "
    "(or the config's weight_decay.value).\nWrites history.json, history.png and "
    "config.toml into --out.",
    ("onecycle fit --epochs 5", "onecycle fit --max-lr 0.05 --style fastai"))
def _add_fit(p: argparse.ArgumentParser) -> None:
    _add_training(p, weight_decay_help="weight decay of the training (default 1e-4)")
    _add_finder(p)
    _add_resume(p)


@_subcommand(
    "search", cmd_search,
    "hyper-parameter searches: wd, momentum, batch-size, dropout",
    "Smith's searches, each from the same initial weights and batches.\n"
    "  wd          one LR range test per weight decay bounds it from above (the largest\n"
    "              that still reaches the best loss at a high LR); short 1cycle runs\n"
    "              then decide among that value and the smaller ones\n"
    "  momentum    short 1cycle runs per (high, low) momentum pair; best validation loss\n"
    "  dropout     one LR range test per dropout probability\n"
    "  batch-size  the largest batch that fits in memory, with throughput\n"
    "Results go to --out as JSON + PNG, and config.toml with the choice filled in.",
    ("onecycle search wd", "onecycle search wd --grid 3e-3 1e-3 3e-4 1e-4",
     "onecycle search momentum --pairs 0.95:0.85 0.99:0.9 0.9:0.8 --max-lr 0.01",
     "onecycle search dropout --grid 0 0.2 0.4",
     "onecycle search batch-size --grid 32 64 128 256"))
def _add_search(p: argparse.ArgumentParser) -> None:
    p.add_argument("what", choices=tuple(SEARCHES), metavar="{" + ",".join(SEARCHES) + "}",
                   help="what to search")
    _add_finder(p)
    p.add_argument("--grid", type=_nonneg_float, nargs="+", metavar="V",
                   help="values to try: weight decays (default 1e-3 1e-4 0), dropout "
                   "probabilities (default 0 0.1 0.2 0.3 0.5) or batch sizes")
    p.add_argument("--pairs", type=_momentum_pair, nargs="+", metavar="HIGH:LOW",
                   help="momentum: (high, low) pairs to compare, e.g. 0.95:0.85 0.99:0.9")
    p.add_argument("--epochs", dest="short_epochs", type=_pos_int, metavar="N",
                   help="momentum: epochs of each short 1cycle run (default: a quarter of "
                   "the configured epochs, rounded up; shorter runs favour the most "
                   "aggressive pair)")
    p.add_argument("--max-lr", type=_pos_float, metavar="LR",
                   help="momentum: peak LR of the short runs (default: one range test); "
                   "batch-size: the LR to rescale to the chosen batch size")
    p.add_argument("--no-confirm", dest="confirm", action="store_false",
                   help="wd: choose by the range tests alone, without the short 1cycle runs "
                   "(a quarter of the configured epochs) that otherwise decide among the "
                   "range tests' bound and the smaller values")
    _add_optimizer(p, "weight decay of the trials (default 1e-4)")


@_subcommand(
    "plot-schedule", cmd_plot_schedule,
    "preview a 1cycle schedule (LR + momentum) without training",
    "Preview the LR and momentum of a 1cycle schedule: prints a table of values at a "
    "few steps, and saves a plot with --out.",
    ("onecycle plot-schedule --max-lr 0.8 --steps 1000",
     "onecycle plot-schedule --style torch --max-lr 0.01 --steps 500 --out s.png --log"),
    common=False)
def _add_plot_schedule(p: argparse.ArgumentParser) -> None:
    p.add_argument("--style", choices=_STYLES, default="smith", help="family of defaults")
    p.add_argument("--max-lr", type=_pos_float, default=1.0, metavar="LR", help="peak LR")
    p.add_argument("--steps", type=_pos_int, default=1000, metavar="N",
                   help="total optimizer steps")
    p.add_argument("--div", type=_pos_float, metavar="X", help="initial LR = max_lr / div")
    p.add_argument("--final-div", type=_pos_float, metavar="X", help="final LR divisor")
    p.add_argument("--pct-start", type=_unit_open, metavar="P",
                   help="fraction of the steps going up")
    p.add_argument("--annihilate", type=_unit_half, metavar="P",
                   help="smith style: fraction of the steps annihilating")
    p.add_argument("--momentum", type=_unit_half, nargs=2, metavar=("HIGH", "LOW"),
                   help="momentum cycle, HIGH >= LOW (default: the style's, 0.95 0.85)")
    p.add_argument("--no-momentum", action="store_true", help="do not cycle momentum")
    p.add_argument("--out", metavar="FILE.png", help="save the plot here")
    p.add_argument("--log", action="store_true", help="log-scale LR axis")
    p.add_argument("--rows", type=_int_at_least(2), default=11, metavar="N",
                   help="rows of the printed table (plus the phase boundaries)")
    p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                   help="show tracebacks for errors")


def build_parser() -> argparse.ArgumentParser:
    """The ``onecycle`` argument parser (subcommands: run, find-lr, fit, search,
    plot-schedule).

    >>> build_parser().parse_args(["search", "wd", "--grid", "1e-3", "0"]).grid
    [0.001, 0.0]
    """
    from .. import __version__

    parser = argparse.ArgumentParser(prog=PROG, description=DESCRIPTION, epilog=EPILOG,
                                     formatter_class=_Formatter)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--debug", action="store_true", default=False,
                        help="show tracebacks for errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    from .compare import add_parser as add_compare  # compare's flags use arg_type

    _add_subcommands(sub)
    add_compare(sub)
    return parser
