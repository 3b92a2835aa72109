"""The ``onecycle`` command: Leslie Smith's disciplined approach from the shell.

``main(argv)`` parses, runs and returns the exit status (it never calls ``sys.exit``,
so tests call it in-process); the console script and ``python -m onecycle`` wrap it.

Exit status: 0 success; 2 usage error (bad option or option value, bad configuration
file); 1 runtime failure, reported as one line ``onecycle: error: <cause>`` on stderr
(``--debug`` adds the traceback); 130 interrupted.

Example:
    >>> main(["plot-schedule", "--max-lr", "0.8", "--steps", "100", "--rows", "3"])
    ... # doctest: +ELLIPSIS, +NORMALIZE_WHITESPACE
    1cycle (smith): max_lr=0.8, ...
    0
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import re
import shlex
import sys
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import ConfigError, RunConfig

__all__ = ["main", "build_parser", "SEARCHES", "NotAvailable"]

PROG = "onecycle"

DESCRIPTION = """\
Leslie Smith's disciplined approach to neural-network hyper-parameters, for PyTorch.

The recipe (onecycle run):
  1. LR range test     raise the LR exponentially for ~100 iterations, record the loss;
                       the peak LR of the cycle sits just below the loss minimum (Smith).
  2. weight decay      one range test per weight decay (1e-2, 1e-3, 1e-4, 0); keep the
                       largest one whose curve still reaches the best loss at a high LR.
  3. 1cycle            LR up from max_lr/10 to max_lr and back down, then annihilated
                       far below; momentum cycles the opposite way (0.95 -> 0.85 -> 0.95).
  4. baseline          the same model and budget at a constant LR, for comparison.
  5. report            report.html (self-contained), summary.json, plots, histories.
"""

EPILOG = """\
examples:
  onecycle run                                   # digits + small CNN, about 20 s on a laptop
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


class NotAvailable(RuntimeError):
    """A command that needs a part of onecycle this installation does not have yet."""


class _Usage(Exception):
    """A usage error found after parsing (exit status 2)."""


# ---------------------------------------------------------------------------
# argument types (argparse turns ArgumentTypeError into a usage error, exit 2)


def _int_at_least(minimum: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"invalid value {text!r}: expected an integer >= {minimum}") from None
        if v < minimum:
            raise argparse.ArgumentTypeError(
                f"invalid value {text!r}: expected an integer >= {minimum}")
        return v

    parse.__name__ = f"integer >= {minimum}"
    return parse


def _float_where(check: Callable[[float], bool], allowed: str) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            v = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"invalid value {text!r}: expected {allowed}") from None
        if math.isnan(v) or not check(v):
            raise argparse.ArgumentTypeError(f"invalid value {text!r}: expected {allowed}")
        return v

    parse.__name__ = allowed
    return parse


_pos_int = _int_at_least(1)
_nonneg_int = _int_at_least(0)
_pos_float = _float_where(lambda v: 0 < v < math.inf, "a number > 0")
_nonneg_float = _float_where(lambda v: 0 <= v < math.inf, "a number >= 0")
_unit_open = _float_where(lambda v: 0 < v < 1, "a number in (0, 1)")
_unit_half = _float_where(lambda v: 0 <= v < 1, "a number in [0, 1)")
_finder_iters = _int_at_least(10)


def _momentum_pair(text: str) -> tuple[float, float]:
    parts = text.replace(",", ":").split(":")
    try:
        hi, lo = (float(x) for x in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"invalid pair {text!r}: expected HIGH:LOW, e.g. 0.95:0.85") from None
    if not (0 <= lo <= hi < 1):
        raise argparse.ArgumentTypeError(
            f"invalid pair {text!r}: expected 0 <= LOW <= HIGH < 1")
    return hi, lo


class _Formatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """Keep the description's layout and show defaults where they are not None."""

    def _get_help_string(self, action: argparse.Action) -> str:
        h = action.help or ""
        if action.default in (None, False, argparse.SUPPRESS) or "%(default)" in h:
            return h
        return h + " (default: %(default)s)"


# ---------------------------------------------------------------------------
# parser


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
    g.add_argument("--seed", type=_nonneg_int, metavar="N", help="random seed (default 0)")
    g.add_argument("--out", metavar="DIR",
                   help=f"output directory (default ./{out_default}); checked for "
                   "writability before any work starts")
    g.add_argument("--device", metavar="DEV", help="torch device, e.g. cpu or cuda "
                   "(default: cuda when available)")
    g.add_argument("--threads", type=_pos_int, metavar="N",
                   help="torch CPU threads (default: 1 for small models, else torch's)")
    g.add_argument("--quiet", "-q", action="store_true", default=None,
                   help="print nothing but errors (no progress bars)")
    g.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                   help="show tracebacks for errors")


def _add_finder(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("LR range test")
    g.add_argument("--start-lr", type=_pos_float, metavar="LR", help="first LR (default 1e-5)")
    g.add_argument("--end-lr", type=_pos_float, metavar="LR", help="last LR (default 10)")
    g.add_argument("--num-iter", type=_finder_iters, metavar="N",
                   help="iterations of the sweep, >= 10 (default 100)")
    g.add_argument("--method", choices=("auto", "valley", "steep", "minimum", "slide"),
                   help="suggestion method (default auto)")


def _add_training(p: argparse.ArgumentParser, *, epochs_default: int = 8) -> None:
    g = p.add_argument_group("training")
    g.add_argument("--epochs", type=_pos_int, metavar="N",
                   help=f"training epochs (default {epochs_default})")
    g.add_argument("--max-lr", type=_pos_float, metavar="LR",
                   help="peak LR of the cycle; skips the LR range test")
    g.add_argument("--weight-decay", type=_nonneg_float, metavar="WD",
                   help="use this weight decay and skip the weight-decay check")
    g.add_argument("--style", choices=("smith", "fastai", "torch"),
                   help="1cycle style (default smith)")
    g.add_argument("--optimizer", choices=("sgd", "adam", "adamw"),
                   help="optimizer (default sgd)")


def build_parser() -> argparse.ArgumentParser:
    """The ``onecycle`` argument parser (subcommands: run, find-lr, fit, search,
    plot-schedule).

    >>> build_parser().parse_args(["run", "--epochs", "3"]).epochs
    3
    """
    from . import __version__

    parser = argparse.ArgumentParser(prog=PROG, description=DESCRIPTION, epilog=EPILOG,
                                     formatter_class=_Formatter)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--debug", action="store_true", default=False,
                        help="show tracebacks for errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser(
        "run", formatter_class=_Formatter,
        help="the whole recipe: range test, weight-decay check, 1cycle, baseline, report",
        description=DESCRIPTION + "\nWith no options: digits (bundled with scikit-learn), "
        "a small CNN, 8 epochs.",
        epilog="examples:\n  onecycle run\n  onecycle run --epochs 3 --no-baseline --quiet\n"
        "  onecycle run --config experiment.toml --out runs/exp1 --name \"exp 1\"\n"
        "  onecycle run --max-lr 0.05 --weight-decay 1e-4   # skip both searches\n",
    )
    _add_common(p, out_default="onecycle-run")
    _add_training(p)
    _add_finder(p)
    g = p.add_argument_group("report")
    g.add_argument("--name", metavar="TEXT", help="run name shown in the report")
    g.add_argument("--no-baseline", dest="baseline", action="store_const", const=False,
                   default=None, help="skip the constant-LR baseline")
    g.add_argument("--baseline-lr", type=_pos_float, metavar="LR",
                   help="constant LR of the baseline (default: the range test's 'minimum' "
                   "suggestion, i.e. the LR at the loss minimum / 10)")
    p.set_defaults(handler=_cmd_run)

    p = sub.add_parser(
        "find-lr", formatter_class=_Formatter,
        help="LR range test: plot + JSON, prints the suggested max LR with range/confidence",
        description="Run the LR range test from the model's initial weights and suggest "
        "the peak LR of a 1cycle run.\nWrites finder.png and finder.json into --out.",
        epilog="examples:\n  onecycle find-lr\n  onecycle find-lr --model mlp --num-iter 200 "
        "--end-lr 1\n",
    )
    _add_common(p, out_default="onecycle-find-lr")
    _add_finder(p)
    p.add_argument("--weight-decay", type=_nonneg_float, metavar="WD",
                   help="weight decay during the test (default 1e-4)")
    p.add_argument("--optimizer", choices=("sgd", "adam", "adamw"), help="optimizer (default sgd)")
    p.set_defaults(handler=_cmd_find_lr)

    p = sub.add_parser(
        "fit", formatter_class=_Formatter,
        help="1cycle training with a given (or found) max LR: history JSON + plot",
        description="Train with the 1cycle policy and cyclical momentum. Without --max-lr "
        "the LR range test runs first.\nWrites history.json, history.png and config.toml "
        "into --out.",
        epilog="examples:\n  onecycle fit --epochs 5\n  onecycle fit --max-lr 0.05 "
        "--style fastai\n",
    )
    _add_common(p, out_default="onecycle-fit")
    _add_training(p)
    _add_finder(p)
    p.set_defaults(handler=_cmd_fit)

    p = sub.add_parser(
        "search", formatter_class=_Formatter,
        help="hyper-parameter searches: wd, momentum, batch-size, dropout",
        description="Smith's searches, each from the same initial weights and batches.\n"
        "  wd          one LR range test per weight decay bounds it from above (the largest\n"
        "              that still reaches the best loss at a high LR); short 1cycle runs\n"
        "              then decide among that value and the smaller ones\n"
        "  momentum    short 1cycle runs per (high, low) momentum pair; best validation loss\n"
        "  dropout     one LR range test per dropout probability\n"
        "  batch-size  the largest batch that fits in memory, with throughput\n"
        "Results go to --out as JSON + PNG, and config.toml with the choice filled in.",
        epilog="examples:\n  onecycle search wd\n  onecycle search wd --grid 3e-3 1e-3 3e-4 1e-4\n"
        "  onecycle search momentum --pairs 0.95:0.85 0.99:0.9 0.9:0.8 --max-lr 0.01\n"
        "  onecycle search dropout --grid 0 0.2 0.4\n"
        "  onecycle search batch-size --grid 32 64 128 256\n",
    )
    p.add_argument("what", choices=tuple(SEARCHES), metavar="{" + ",".join(SEARCHES) + "}",
                   help="what to search")
    _add_common(p, out_default="onecycle-search")
    _add_finder(p)
    p.add_argument("--grid", type=_nonneg_float, nargs="+", metavar="V",
                   help="values to try: weight decays (default 1e-2 1e-3 1e-4 0), dropout "
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
                   help="wd: choose by the range tests alone (default: short 1cycle runs, a "
                   "quarter of the configured epochs, decide among the range tests' winner "
                   "and the smaller values)")
    p.add_argument("--weight-decay", type=_nonneg_float, metavar="WD",
                   help="weight decay of the trials (default 1e-4)")
    p.add_argument("--optimizer", choices=("sgd", "adam", "adamw"), help="optimizer (default sgd)")
    p.set_defaults(handler=_cmd_search)

    p = sub.add_parser(
        "plot-schedule", formatter_class=_Formatter,
        help="preview a 1cycle schedule (LR + momentum) without training",
        description="Preview the LR and momentum of a 1cycle schedule: prints a table of "
        "values at a few steps, and saves a plot with --out.",
        epilog="examples:\n  onecycle plot-schedule --max-lr 0.8 --steps 1000\n"
        "  onecycle plot-schedule --style torch --max-lr 0.01 --steps 500 --out s.png --log\n",
    )
    p.add_argument("--style", choices=("smith", "fastai", "torch"), default="smith",
                   help="family of defaults")
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
                   help="momentum cycle (default 0.95 0.85; torch style 0.95 0.85 too)")
    p.add_argument("--no-momentum", action="store_true", help="do not cycle momentum")
    p.add_argument("--out", metavar="FILE.png", help="save the plot here")
    p.add_argument("--log", action="store_true", help="log-scale LR axis")
    p.add_argument("--rows", type=_int_at_least(2), default=11, metavar="N",
                   help="rows of the printed table (plus the phase boundaries)")
    p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                   help="show tracebacks for errors")
    p.set_defaults(handler=_cmd_plot_schedule)
    return parser


# ---------------------------------------------------------------------------
# configuration from flags


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    """Dotted config keys for the flags that were given."""
    table = {
        "dataset": "dataset", "model": "model", "batch_size": "batch_size", "seed": "seed",
        "out": "out", "device": "device", "threads": "threads", "quiet": "quiet",
        "epochs": "epochs", "name": "name", "max_lr": "schedule.max_lr",
        "style": "schedule.style", "optimizer": "optimizer.name",
        "start_lr": "finder.start_lr", "end_lr": "finder.end_lr",
        "num_iter": "finder.num_iter", "method": "finder.method",
        "baseline": "baseline.enabled", "baseline_lr": "baseline.lr",
    }
    out: dict[str, Any] = {}
    for attr, key in table.items():
        v = getattr(args, attr, None)
        if v is not None:
            out[key] = v
    wd = getattr(args, "weight_decay", None)
    if wd is not None:
        out["weight_decay.value"] = wd
        out["weight_decay.check"] = False
    return out


_IMPORT_SPEC = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")


def _check_config_imports(base: RunConfig, args: argparse.Namespace) -> None:
    """A config file is data: a 'module:function' spec in it would run code on load.

    Such specs are accepted from the command line (the user typed them) and from a
    file only with --allow-imports."""
    if getattr(args, "allow_imports", False):
        return
    for key in ("dataset", "model"):
        value = getattr(base, key)
        if getattr(args, key, None) is not None:
            continue  # overridden on the command line
        if isinstance(value, str) and _IMPORT_SPEC.match(value) and not Path(value).exists():
            raise ConfigError(
                f"{args.config}: {key} = {value!r} is an import path, and importing it runs "
                "code; a config file may name one only with --allow-imports (or pass "
                f"--{key} {value} on the command line)"
            )


def _config(args: argparse.Namespace, default_out: str | None = None) -> RunConfig:
    base = RunConfig.from_toml(args.config) if args.config else RunConfig()
    if args.config:
        _check_config_imports(base, args)
    if default_out is not None and args.out is None and not _toml_sets(args.config, "out"):
        base = base.with_overrides({"out": default_out})
    return base.with_overrides(_overrides(args))


def _toml_sets(path: str | None, key: str) -> bool:
    if not path:
        return False
    from .config import _toml

    try:
        return key in _toml.loads(Path(path).read_text(encoding="utf-8"))
    except Exception:  # already validated by RunConfig.from_toml
        return False


def _printer(cfg: RunConfig) -> Callable[[str], None]:
    if cfg.quiet:
        return lambda _msg: None
    return lambda msg: print(msg, flush=True)


# ---------------------------------------------------------------------------
# commands


def _cmd_run(args: argparse.Namespace, argv: Sequence[str]) -> int:
    from .pipeline import run

    cfg = _config(args)
    say = _printer(cfg)
    result = run(cfg, log=say, command=_command(argv))
    s = result.summary
    one = s["runs"]["1cycle"]["final"]
    say("")
    say(f"1cycle   val accuracy {_pct(one.get('val_accuracy'))}  val loss "
        f"{_num(one.get('val_loss'))}  test accuracy {_pct(one.get('test_accuracy'))}")
    base = s["runs"].get("baseline")
    if base:
        b = base["final"]
        say(f"baseline val accuracy {_pct(b.get('val_accuracy'))}  val loss "
            f"{_num(b.get('val_loss'))}  test accuracy {_pct(b.get('test_accuracy'))}")
    for note in s.get("notes") or []:
        say(f"note: {note}")
    say(f"total {s['total_wall_time']:.1f} s; report: {result.report}")
    return 0


def _cmd_find_lr(args: argparse.Namespace, argv: Sequence[str]) -> int:
    from .pipeline import ensure_writable_dir, find_lr, prepare, torch_threads
    from .report import json_safe

    cfg = _config(args, "onecycle-find-lr")
    say = _printer(cfg)
    out = ensure_writable_dir(cfg.out)
    with torch_threads(cfg.threads):
        setup = prepare(cfg)
        f = cfg.finder
        say(f"LR range test: {setup.model_name} on {setup.bundle.name}, {f.start_lr:g} -> "
            f"{f.end_lr:g} over {f.num_iter} iterations, weight decay {cfg.weight_decay.value:g}")
        res = find_lr(setup, cfg.weight_decay.value, progress=False if cfg.quiet else None)
    sug = res.suggest(f.method)
    others = {m: res.suggest(m) for m in ("auto", "valley", "steep", "minimum", "slide")
              if m != f.method}
    fig = res.plot(suggestions=(f.method,))
    fig.savefig(out / "finder.png", dpi=110)
    data = {"suggestion": sug.to_dict(), "other_methods": {k: v.to_dict() for k, v in others.items()},
            "result": res.to_dict(), "command": _command(argv)}
    (out / "finder.json").write_text(json.dumps(json_safe(data), indent=1) + "\n",
                                     encoding="utf-8")
    cfg.save(out / "config.toml")
    say(f"stopped after {len(res.lrs)} iterations ({res.stop_reason})")
    if sug.lr is None:
        say(f"no suggestion: {sug.reason}")
    else:
        rng = "" if sug.low is None else f", range {sug.low:.3g} - {sug.high:.3g}"
        conf = "" if sug.confidence is None else f", confidence {sug.confidence:.2f}"
        say(f"suggested max_lr: {sug.lr:.3g} ({sug.method}{rng}{conf})")
        say(f"  why: {sug.reason}")
    say("other methods: " + ", ".join(
        f"{k} {'—' if v.lr is None else f'{v.lr:.3g}'}" for k, v in others.items()))
    say(f"wrote {out / 'finder.png'} and {out / 'finder.json'}")
    if sug.lr is None:
        print(f"{PROG}: error: the LR range test found no usable learning rate: "
              f"{_one_line(ValueError(sug.reason))}", file=sys.stderr)
        return 1
    if cfg.quiet:  # for scripts: LR=$(onecycle find-lr -q)
        print(f"{sug.lr:.6g}")
    return 0


def _cmd_fit(args: argparse.Namespace, argv: Sequence[str]) -> int:
    from .pipeline import (
        _train,
        ensure_writable_dir,
        find_lr,
        prepare,
        schedule_options,
        torch_threads,
    )

    cfg = _config(args, "onecycle-fit")
    say = _printer(cfg)
    out = ensure_writable_dir(cfg.out)
    progress = False if cfg.quiet else None
    wd = cfg.weight_decay.value
    with torch_threads(cfg.threads):
        setup = prepare(cfg)
        max_lr = cfg.schedule.max_lr
        if max_lr is None:
            say(f"LR range test ({cfg.finder.num_iter} iterations) ...")
            res = find_lr(setup, wd, progress=progress)
            sug = res.suggest(cfg.finder.method)
            if sug.lr is None:
                raise ValueError(f"the LR range test found no usable learning rate "
                                 f"({sug.reason}); pass --max-lr")
            max_lr = float(sug.lr)
            say(f"  suggestion: {sug}")
            res.plot(suggestions=(cfg.finder.method,)).savefig(out / "finder.png", dpi=110)
        say(f"1cycle: {cfg.epochs} epochs, max_lr {max_lr:.3g}, weight decay {wd:g}, "
            f"{setup.model_name} on {setup.bundle.name}")
        hist, wall, test = _train(setup, "1cycle", max_lr, wd, progress, schedule_options(cfg))
    hist.meta["command"] = _command(argv)
    hist.save(out / "history.json")
    hist.plot(title=f"1cycle: {setup.model_name} on {setup.bundle.name}, max_lr {max_lr:.3g}"
              ).savefig(out / "history.png", dpi=110)
    cfg.with_overrides({"schedule.max_lr": max_lr}).save(out / "config.toml")
    last = hist[-1] if len(hist) else {}
    say(f"val accuracy {_pct(last.get('val_accuracy'))}, val loss {_num(last.get('val_loss'))}, "
        f"test accuracy {_pct(test.get('accuracy'))} ({wall:.1f} s)")
    say(f"wrote {out / 'history.json'} and {out / 'history.png'}")
    return 0


# -- searches ---------------------------------------------------------------------


@dataclass(frozen=True)
class SearchSpec:
    """One ``onecycle search`` target: what it tunes and the function that runs it."""

    label: str
    handler: Callable[[argparse.Namespace, RunConfig, Sequence[str]], int]


def _search_wd(args: argparse.Namespace, cfg: RunConfig, argv: Sequence[str]) -> int:
    from .pipeline import (
        confirm_upper_bound,
        ensure_writable_dir,
        make_optimizer,
        prepare,
        torch_threads,
    )
    from .report import json_safe

    cfg_grid = list(args.grid) if args.grid else list(cfg.weight_decay.grid)
    say = _printer(cfg)
    out = ensure_writable_dir(cfg.out)
    f = cfg.finder
    with torch_threads(cfg.threads):
        setup = prepare(cfg)
        say(f"weight-decay check: {setup.model_name} on {setup.bundle.name}, range tests at "
            f"wd = {', '.join(f'{v:g}' for v in sorted(set(cfg_grid), reverse=True))}")
        check = _wd_check_impl()(
            setup.reset_model(), setup.loss_fn, setup.fresh_loaders()[0],
            lambda p, lr, w: make_optimizer(p, cfg, lr, w),
            weight_decays=cfg_grid, start_lr=f.start_lr, end_lr=f.end_lr,
            num_iter=f.num_iter, mode=f.mode, method=f.method, seed=cfg.seed,
            progress=False if cfg.quiet else None, device=setup.device,
        )
        chosen, confirm, reason = check.chosen, None, check.reason
        if args.confirm:
            # the range tests only bound the weight decay from above; short runs decide
            # among the winner and the smaller values, as `onecycle run` and the recipe do
            lr = cfg.schedule.max_lr
            if lr is None:
                lr = check.result_for(chosen).suggest(f.method).lr
            chosen, confirm, reason = confirm_upper_bound(
                setup, check, lr, say=say, progress=False if cfg.quiet else None)
    check.figure().savefig(out / "weight_decay.png", dpi=110)
    data = {**check.to_dict(), "range_test_choice": check.chosen, "chosen": chosen,
            "reason": reason, "confirm": confirm, "command": _command(argv)}
    (out / "weight_decay.json").write_text(json.dumps(json_safe(data)) + "\n", encoding="utf-8")
    cfg.with_overrides({"weight_decay.value": chosen, "weight_decay.grid": cfg_grid}
                       ).save(out / "config.toml")
    say(f"{'weight decay':>12}  {'min loss':>9}  {'LR at min':>9}  {'max_lr':>9}  accepted")
    for r in check.rows:
        mark = "  <- range tests" if r["selected"] else ""
        say(f"{r['weight_decay']:>12g}  {_num(r['min_loss']):>9}  {_num(r['lr_at_min']):>9}  "
            f"{_num(r['suggested_lr']):>9}  {'yes' if r['accepted'] else 'no':>8}{mark}")
    if confirm:
        say(f"{'weight decay':>12}  {'short-run loss':>14}  accuracy")
        for r in confirm:
            mark = "  <- chosen" if r["weight_decay"] == chosen else ""
            say(f"{r['weight_decay']:>12g}  {_num(r['loss']):>14}  {_num(r['accuracy']):>8}{mark}")
    say(f"chosen weight decay: {chosen:g} ({reason})")
    say(f"wrote {out / 'weight_decay.png'} and {out / 'weight_decay.json'}")
    return 0


def _wd_check_impl() -> Callable[..., Any]:
    from .pipeline import weight_decay_check

    return weight_decay_check


def _search_function(name: str, what: str) -> Callable[..., Any]:
    """``onecycle.search.<name>``, or :class:`NotAvailable` when this install lacks it."""
    try:
        mod = importlib.import_module("onecycle.search")
    except ModuleNotFoundError as err:
        if err.name != "onecycle.search":
            raise
        mod = None
    fn = getattr(mod, name, None)
    if fn is None:
        raise NotAvailable(f"'search {what}' is not available yet in this version of "
                           "onecycle (onecycle.search." + name + " is missing)")
    return fn


def _finish_search(res: Any, out: Path, stem: str, cfg: RunConfig, argv: Sequence[str],
                   say: Callable[[str], None], updates: dict[str, Any]) -> int:
    from .report import json_safe

    data = res.to_dict() if hasattr(res, "to_dict") else {}
    data = {**data, "command": _command(argv)}
    (out / f"{stem}.json").write_text(json.dumps(json_safe(data), indent=1) + "\n",
                                      encoding="utf-8")
    wrote = [out / f"{stem}.json"]
    try:
        fig = res.plot()
    except Exception as err:  # a missing plot must not lose the numbers
        say(f"(no plot: {_one_line(err)})")
    else:
        fig.savefig(out / f"{stem}.png", dpi=110)
        wrote.append(out / f"{stem}.png")
    cfg.with_overrides(updates).save(out / "config.toml")
    if hasattr(res, "table"):
        say(res.table())
    say(f"chosen: {_fmt_value(getattr(res, 'best', None))} ({getattr(res, 'reason', '')})")
    say("wrote " + " and ".join(str(p) for p in wrote))
    return 0


def _fmt_value(v: Any) -> str:
    if isinstance(v, (list, tuple)):
        return "(" + ", ".join(_fmt_value(x) for x in v) + ")"
    return f"{v:g}" if isinstance(v, float) else str(v)


def _search_setup(cfg: RunConfig) -> tuple[Any, Path, Callable[[Any], Any]]:
    from .pipeline import ensure_writable_dir, make_optimizer, prepare

    out = ensure_writable_dir(cfg.out)
    setup = prepare(cfg)

    def make_opt(model: Any) -> Any:
        return make_optimizer(model.parameters(), cfg, cfg.finder.start_lr,
                              cfg.weight_decay.value)

    return setup, out, make_opt


def _search_momentum(args: argparse.Namespace, cfg: RunConfig, argv: Sequence[str]) -> int:
    from .pipeline import schedule_options, torch_threads
    from .search.rules import default_confirm_epochs

    fn = _search_function("momentum_search", "momentum")
    say = _printer(cfg)
    f = cfg.finder
    with torch_threads(cfg.threads):
        setup, out, make_opt = _search_setup(cfg)
        train, val, _ = setup.fresh_loaders()
        sched = {k: v for k, v in schedule_options(cfg).items() if k != "momentum"}
        # the configured epochs stay the training budget (written to config.toml)
        epochs = args.short_epochs or default_confirm_epochs(cfg.epochs)
        say(f"momentum search: {setup.model_name} on {setup.bundle.name}, short 1cycle runs of "
            f"{epochs} epoch(s) per momentum pair")
        res = fn(setup.reset_model(), make_opt, setup.loss_fn, train, val,
                 max_lr=cfg.schedule.max_lr, pairs=args.pairs, epochs=epochs,
                 schedule=sched, metrics=["accuracy"], grad_clip=cfg.grad_clip,
                 num_iter=f.num_iter, start_lr=f.start_lr, end_lr=f.end_lr, seed=cfg.seed,
                 progress=False if cfg.quiet else None)
    best = res.best
    updates = ({"schedule.momentum": list(best)} if isinstance(best, (list, tuple))
               and len(best) == 2 else {})
    return _finish_search(res, out, "momentum", cfg, argv, say, updates)


def _search_dropout(args: argparse.Namespace, cfg: RunConfig, argv: Sequence[str]) -> int:
    from .pipeline import torch_threads

    fn = _search_function("grid_search", "dropout")
    say = _printer(cfg)
    f = cfg.finder
    values = list(args.grid) if args.grid else [0.0, 0.1, 0.2, 0.3, 0.5]
    bad = [v for v in values if not 0 <= v < 1]
    if bad:
        raise _Usage(f"dropout values must be in [0, 1), got {bad}")
    with torch_threads(cfg.threads):
        setup, out, make_opt = _search_setup(cfg)
        train, val, _ = setup.fresh_loaders()
        say(f"dropout search: {setup.model_name} on {setup.bundle.name}, one range test per "
            f"p in {', '.join(f'{v:g}' for v in values)}")
        res = fn("dropout", values, "dropout", setup.reset_model(), make_opt, setup.loss_fn,
                 train, val_loader=val, num_iter=f.num_iter, start_lr=f.start_lr,
                 end_lr=f.end_lr, seed=cfg.seed, progress=False if cfg.quiet else None)
    updates = {"model_options.dropout": float(res.best)} if isinstance(res.best, float) else {}
    return _finish_search(res, out, "dropout", cfg, argv, say, updates)


def _search_batch_size(args: argparse.Namespace, cfg: RunConfig, argv: Sequence[str]) -> int:
    from .pipeline import torch_threads

    fn = _search_function("batch_size_search", "batch-size")
    say = _printer(cfg)
    cands = None
    if args.grid:
        if any(v != int(v) or v < 1 for v in args.grid):
            raise _Usage(f"batch sizes must be integers >= 1, got {args.grid}")
        cands = sorted({int(v) for v in args.grid})
    with torch_threads(cfg.threads):
        setup, out, _ = _search_setup(cfg)
        say(f"batch-size search: {setup.model_name} on {setup.bundle.name} ({setup.device})")
        kw: dict[str, Any] = {}
        if cfg.schedule.max_lr is not None:
            kw = {"base_lr": cfg.schedule.max_lr, "base_batch_size": cfg.batch_size}
        res = fn(setup.reset_model(), setup.bundle.input_shape, loss_fn=setup.loss_fn,
                 device=setup.device, candidates=cands, seed=cfg.seed,
                 progress=False if cfg.quiet else None, **kw)
    updates: dict[str, Any] = {"batch_size": int(res.best)}
    if getattr(res, "lr", None) is not None:
        updates["schedule.max_lr"] = float(res.lr)
    return _finish_search(res, out, "batch_size", cfg, argv, say, updates)


#: ``onecycle search <what>`` dispatch table.
SEARCHES: dict[str, SearchSpec] = {
    "wd": SearchSpec("weight decay", _search_wd),
    "momentum": SearchSpec("momentum", _search_momentum),
    "batch-size": SearchSpec("batch size", _search_batch_size),
    "dropout": SearchSpec("dropout", _search_dropout),
}


def _cmd_search(args: argparse.Namespace, argv: Sequence[str]) -> int:
    cfg = _config(args, "onecycle-search")
    return SEARCHES[args.what].handler(args, cfg, argv)


# -- plot-schedule ------------------------------------------------------------------


def _cmd_plot_schedule(args: argparse.Namespace, argv: Sequence[str]) -> int:
    from .schedule import OneCycleSchedule

    opts: dict[str, Any] = {"style": args.style}
    for k in ("div", "final_div", "pct_start", "annihilate"):
        v = getattr(args, k)
        if v is not None:
            opts[k] = v
    if args.no_momentum:
        if args.momentum:
            raise _Usage("--momentum and --no-momentum contradict each other")
        opts["momentum"] = None
    elif args.momentum:
        opts["momentum"] = tuple(args.momentum)
    out = Path(args.out) if args.out else None
    if out is not None:
        from .pipeline import ensure_writable_dir

        ensure_writable_dir(out.parent if str(out.parent) else Path("."))
    try:
        sched = OneCycleSchedule(args.steps, args.max_lr, **opts)
    except (ValueError, TypeError) as err:  # contradictory options: a usage error
        raise _Usage(str(err)) from err
    T = sched.total_steps
    n = min(args.rows, T)
    steps = {min(T - 1, round(i * T / max(n - 1, 1))) for i in range(n)}
    for _, a, b in sched.phases:
        steps.update({int(round(a)), int(round(b))})
    phases = sched.phases
    mom_spec = sched.momentum_spec
    head = (f"1cycle ({sched.style}): max_lr={sched.max_lr:g}, div={sched.div:g}, "
            f"final_div={sched.final_div:g}, pct_start={sched.pct_start:g}, {T} steps"
            + ("" if mom_spec is None else ", momentum " + "->".join(f"{m:g}" for m in mom_spec)))
    print(head)
    print(f"{'step':>7}  {'phase':<13} {'lr':>11}  {'momentum':>8}")
    for st in sorted(s for s in steps if 0 <= s < T):
        phase = next((n for n, a, b in phases if a <= st <= b), "")
        m = sched.momentum(st)
        print(f"{st:>7}  {phase:<13} {sched.lr(st):>11.5g}  {'—' if m is None else f'{m:.4f}':>8}")
    if out is not None:
        from .plots import plot_schedule

        fig = plot_schedule(sched, log_lr=args.log)
        fig.savefig(out, dpi=110)
        print(f"wrote {out}")
    return 0


# ---------------------------------------------------------------------------
# main


def _command(argv: Sequence[str]) -> str:
    return f"{PROG} {shlex.join(list(argv))}".strip()


def _pct(v: Any) -> str:
    return "—" if v is None else f"{100 * float(v):.2f} %"


def _num(v: Any) -> str:
    return "—" if v is None else f"{float(v):.4g}"


def _one_line(err: BaseException) -> str:
    text = " ".join(str(err).split())
    if isinstance(err, KeyError) and len(err.args) == 1:
        text = f"missing key {err.args[0]!r}"
    return text or type(err).__name__


def _expected_errors() -> tuple[type[BaseException], ...]:
    errs: list[type[BaseException]] = [ValueError, TypeError, OSError, NotAvailable]
    try:
        from .data import DatasetUnavailable

        errs.append(DatasetUnavailable)
    except Exception:  # pragma: no cover - data module broken: still report cleanly
        pass
    try:
        from .train import TrainingDiverged

        errs.append(TrainingDiverged)
    except Exception:  # pragma: no cover
        pass
    return tuple(errs)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``onecycle`` command with ``argv`` (default ``sys.argv[1:]``); return the
    exit status instead of exiting.

    >>> main(["plot-schedule", "--steps", "0"])  # doctest: +SKIP
    2
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, usage errors
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 2)
    debug = bool(getattr(args, "debug", False))
    try:
        return int(args.handler(args, argv) or 0)
    except (ConfigError, _Usage) as err:
        if debug:
            traceback.print_exc()
        sub = f" {args.command}" if getattr(args, "command", None) else ""
        print(f"{PROG}{sub}: error: {_one_line(err)}", file=sys.stderr)
        print(f"(see '{PROG}{sub} --help')", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except _expected_errors() as err:
        if debug:
            traceback.print_exc()
        print(f"{PROG}: error: {_one_line(err)}", file=sys.stderr)
        return 1
    except Exception as err:  # a bug: say so, with the traceback
        traceback.print_exc()
        print(f"{PROG}: internal error: {_one_line(err)} (please report this with the "
              "traceback above)", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
