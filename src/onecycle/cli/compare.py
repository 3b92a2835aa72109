"""``onecycle compare``: is 1cycle worth it for this model? One command measures it.

Trains ours (range test -> max_lr -> 1cycle with cyclical momentum) and every
alternative (OneCycleLR defaults, warm-up + cosine, linear decay, WSD, constant,
schedule-free, Prodigy for Adam-like optimizers) from the same initial weights and
batch order, at each budget and seed, through :func:`onecycle.compare.run.compare`;
prints the table and the verdict, and writes ``compare.json``, ``compare.html`` and
the figures into ``--out``; every finished range test and run is kept in ``OUT/steps``
the moment it ends, and ``--resume`` continues an interrupted compare from there. The
defaults (digits, small CNN, budgets 1 and 4 epochs, seeds 0-2) take about a minute on
two cores.

Example:
    >>> import argparse
    >>> sub = argparse.ArgumentParser().add_subparsers()
    >>> add_parser(sub).parse_args(["--budgets", "1", "3", "--seeds", "0"]).budgets
    [1, 3]
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from .. import _validate as check
from .parser import arg_type, grad_clip_flag

__all__ = ["add_parser", "cmd_compare"]

_pos_int = arg_type(int, lambda n, v: check.integer(n, v, least=1), "an integer >= 1")
_seed = arg_type(int, check.seed, f"an integer in [0, {check.MAX_SEED}]")
_pos_float = arg_type(float, check.positive, "a number > 0")
_nonneg_float = arg_type(float, check.nonnegative, "a number >= 0")


_EPILOG = """\
examples:
  onecycle compare                                  # digits, small CNN, 1 and 4 epochs
  onecycle compare --budgets 1 4 --seeds 0 1 2 3 4
  onecycle compare --dataset fashion-mnist --model lenet --budgets 1 3
  onecycle compare --optimizer adamw --alternatives linear_decay schedulefree prodigy
  onecycle compare --grid                           # tune the alternatives' LRs by a grid

The verdict: per budget, ours against each alternative, ahead / tie / behind, where a
tie is a mean paired difference over seeds within one standard error. Schedule-free and
Prodigy need pip install 'onecycle[compare]'. See docs/compare.md.
"""


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Register ``compare`` on the subcommands ``sub`` of the ``onecycle`` parser."""
    from ..compare import ALTERNATIVES, CompareOptions

    defaults = CompareOptions()
    p = sub.add_parser(
        "compare", formatter_class=argparse.RawDescriptionHelpFormatter, epilog=_EPILOG,
        help="is 1cycle worth it here? ours vs cosine, linear decay, WSD, constant, "
             "OneCycleLR, schedule-free, Prodigy",
        description="Train 1cycle (range test -> max_lr -> cycle) and the alternatives "
        "from the same initial weights and batch order at each budget and seed; print "
        "the table and the verdict; write compare.json, compare.html and the figures.")
    g = p.add_argument_group("what to train")
    g.add_argument("--dataset", metavar="NAME|PATH|MOD:FUNC", default="digits",
                   help="dataset (default digits)")
    g.add_argument("--model", metavar="NAME|MOD:FUNC",
                   help="model (default: the dataset's, small_cnn for digits)")
    g.add_argument("--optimizer", choices=("sgd", "adam", "adamw"), default="sgd",
                   help="optimizer family: picks schedule-free SGD or AdamW, and whether "
                   "Prodigy runs (default sgd)")
    g.add_argument("--weight-decay", type=_nonneg_float, metavar="WD",
                   help="weight decay of every run (default 1e-4)")
    g.add_argument("--batch-size", type=_pos_int, metavar="N", help="batch size (default 64)")
    g = p.add_argument_group("the comparison")
    g.add_argument("--budgets", type=_pos_int, nargs="+", default=list(defaults.budgets),
                   metavar="EPOCHS", help="training budgets in epochs (default "
                   f"{' '.join(map(str, defaults.budgets))})")
    g.add_argument("--seeds", type=_seed, nargs="+", default=list(defaults.seeds), metavar="N",
                   help="seeds: initial weights and batch order (default "
                   f"{' '.join(map(str, defaults.seeds))})")
    g.add_argument("--alternatives", nargs="+", choices=tuple(ALTERNATIVES), metavar="NAME",
                   help=f"which to run, ours always (default all: {', '.join(ALTERNATIVES)})")
    g.add_argument("--grid", action="store_true",
                   help="tune each tunable alternative's LR by a 3-point grid around its "
                   "rule (every grid run's time counted)")
    g.add_argument("--max-lr", type=_pos_float, metavar="LR",
                   help="compare at this peak LR instead of the range test's")
    g.add_argument("--grad-clip", type=grad_clip_flag, metavar="NORM|auto|off",
                   help="every run's gradient clipping: NORM clips each step to it, 'auto' "
                   "only a step that spikes above 3x its recent median (default: off)")
    g.add_argument("--num-iter", type=_pos_int, metavar="N",
                   help="range test iterations (default 100)")
    g = p.add_argument_group("output")
    g.add_argument("--out", metavar="DIR", default="onecycle-compare",
                   help="output directory (default ./onecycle-compare)")
    g.add_argument("--device", metavar="DEV", help="torch device (default cpu)")
    g.add_argument("--threads", type=_pos_int, metavar="N",
                   help="torch CPU threads (default: 1 for small models)")
    g.add_argument("--resume", action="store_true",
                   help="continue an interrupted compare in --out: every finished range "
                   "test and run is in OUT/steps and is read back, not rerun (the same "
                   "settings are required)")
    g.add_argument("--quiet", "-q", action="store_true", help="print nothing but errors")
    g.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                   help="show tracebacks for errors")
    p.set_defaults(handler=cmd_compare)
    return p


def _threads(args: argparse.Namespace, bundle: Any) -> int | None:
    """``--threads``, else one thread for small CPU models (``onecycle run``'s rule)."""
    if args.threads is not None:
        return args.threads
    from .. import data, models
    from ..pipeline import auto_threads

    spec = args.model or data.default_model(bundle.name)
    n = models.count_parameters(models.resolve(spec, bundle.input_shape, bundle.num_classes))
    return auto_threads(n, bundle.input_shape, args.device or "cpu")


def cmd_compare(args: argparse.Namespace, argv: Sequence[str]) -> int:
    """``onecycle compare``: run :func:`onecycle.compare.run.compare`, print, write."""
    from ..compare import run_compare
    from ..compare.workload import NamedOptimizer, load_bundle
    from ..pipeline import ensure_writable_dir
    from .flags import command_line

    out = ensure_writable_dir(args.out)
    say = (lambda _m: None) if args.quiet else (lambda m: print(m, flush=True))
    bundle = load_bundle(args.dataset)
    kw: dict[str, Any] = {"budgets": args.budgets, "seeds": args.seeds,
                          "alternatives": args.alternatives, "max_lr": args.max_lr,
                          "tune": "grid" if args.grid else "rule",
                          "batch_size": args.batch_size, "device": args.device,
                          "threads": _threads(args, bundle),
                          "progress": False if args.quiet else "lines",
                          "steps_dir": out / "steps", "resume": args.resume,
                          "grad_clip": None if args.grad_clip == "off" else args.grad_clip}
    if args.num_iter is not None:
        kw["lr_find_kw"] = {"num_iter": args.num_iter}
    from .. import data

    model = args.model or data.default_model(bundle.name)
    say(f"onecycle compare: {model} on {bundle.name}, "
        f"{args.optimizer}, budgets {args.budgets} epochs, seeds {args.seeds}")
    report = run_compare(args.model, bundle, NamedOptimizer(args.optimizer, args.weight_decay),
                         **kw)
    report.meta["command"] = command_line(argv)
    paths = report.write(out)
    say("")
    say(report.summary_table())
    say("")
    say(report.verdict_text())
    for name, reason in report.skipped.items():
        say(f"not run: {report.label(name)}: {reason}")
    again = report.meta.get("resumed_steps")
    reused = f" ({again} finished steps read back from {out / 'steps'})" if again else ""
    say(f"total {report.meta['wall_time_s']:.1f} s{reused}; wrote {paths['html']} and "
        f"{paths['json']}")
    return 0
