"""The commands ``run``, ``find-lr``, ``fit`` and ``plot-schedule``.

Each one is ``cmd_<name>(args, argv) -> exit status``; the training commands go through
the steps of :mod:`onecycle.search` (``run`` through :func:`onecycle.pipeline.run`,
which chains them), so the command line and the Python API follow the same rules.

Example:
    >>> from onecycle.cli.parser import build_parser
    >>> args = build_parser().parse_args(["plot-schedule", "--steps", "10", "--rows", "2"])
    >>> cmd_plot_schedule(args, [])  # doctest: +ELLIPSIS
    1cycle (smith): max_lr=1, ...
    0
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .._format import DASH, fmt_lr
from .flags import Usage, allowed_imports, command_line, config_for, printer

__all__ = ["cmd_run", "cmd_find_lr", "cmd_fit", "cmd_plot_schedule", "scores_line"]

_METHODS = ("auto", "valley", "steep", "minimum", "slide")


def scores_line(final: dict[str, Any], task: Any = None) -> str:
    """The validation headline and loss and the test headline, as every command prints
    them (:meth:`onecycle.tasks.Task.scores`; ``task`` None: classification).

    >>> scores_line({"val_accuracy": 0.5, "val_loss": 0.7, "test_accuracy": None})
    'val accuracy 50.00 %  val loss 0.7  test accuracy —'
    >>> from onecycle.tasks import TASKS
    >>> scores_line({"val_loss": 1.4, "test_loss": 1.5}, TASKS["language_model"])
    'val bpc 2.02  val loss 1.4  test bpc 2.164'
    """
    from ..tasks import TASKS

    return (task or TASKS["classification"]).scores(final, sep="  ")


def cmd_run(args: argparse.Namespace, argv: Sequence[str]) -> int:
    """``onecycle run``: the whole recipe (:func:`onecycle.pipeline.run`)."""
    from ..pipeline import run

    cfg = config_for(args)
    say = printer(cfg)
    result = run(cfg, log=say, command=command_line(argv), allow_imports=allowed_imports(args),
                 resume=args.resume)
    s = result.summary
    say("")
    say(f"1cycle   {scores_line(s['runs']['1cycle']['final'], result.task)}")
    base = s["runs"].get("baseline")
    if base:
        say(f"baseline {scores_line(base['final'], result.task)}")
    for note in s.get("notes") or []:
        say(f"note: {note}")
    say(f"total {s['total_wall_time']:.1f} s; report: {result.report}")
    return 0


def _setup(args: argparse.Namespace, default_out: str) -> tuple[Any, Any, Path]:
    from ..pipeline import ensure_writable_dir, prepare

    cfg = config_for(args, default_out)
    out = ensure_writable_dir(cfg.out)
    return cfg, lambda: prepare(cfg, allow_imports=allowed_imports(args)), out


def _suggestion_lines(sug: Any) -> list[str]:
    if sug.lr is None:
        return [f"no suggestion: {sug.reason}"]
    rng = "" if sug.low is None else f", range {fmt_lr(sug.low)} - {fmt_lr(sug.high)}"
    conf = "" if sug.confidence is None else f", confidence {sug.confidence:.2f}"
    return [f"suggested max_lr: {fmt_lr(sug.lr)} ({sug.method}{rng}{conf})",
            f"  why: {sug.reason}"]


def cmd_find_lr(args: argparse.Namespace, argv: Sequence[str]) -> int:
    """``onecycle find-lr``: one range test (:func:`onecycle.search.range_test`), its
    plot and JSON; with ``-q`` only the suggested LR is printed (for scripts)."""
    from .._io import save_figure, write_json_atomic
    from .._threads import torch_threads
    from ..pipeline import finder_options
    from ..search import range_test

    cfg, prepare, out = _setup(args, "onecycle-find-lr")
    say = printer(cfg)
    f = cfg.finder
    with torch_threads(cfg.threads):
        setup = prepare()
        say(f"LR range test: {setup.model_name} on {setup.bundle.name}, {fmt_lr(f.start_lr)} -> "
            f"{fmt_lr(f.end_lr)} over {f.num_iter} iterations, weight decay "
            f"{fmt_lr(cfg.weight_decay.value)}")
        problem = setup.problem()
        test = range_test(problem, finder_options(cfg, len(problem.train_loader)),
                          weight_decay=cfg.weight_decay.value)
    res, sug = test.curve, test.suggestion
    others = {m: res.suggest(m) for m in _METHODS if m != f.method}
    save_figure(res.plot(suggestions=(f.method,)), out / "finder.png")
    write_json_atomic(out / "finder.json", {
        "suggestion": sug.to_dict(), "other_methods": {k: v.to_dict() for k, v in others.items()},
        "result": res.to_dict(), "command": command_line(argv)})
    cfg.save(out / "config.toml")
    say(f"stopped after {len(res.lrs)} iterations ({res.stop_reason})")
    for line in _suggestion_lines(sug):
        say(line)
    say("other methods: " + ", ".join(f"{k} {fmt_lr(v.lr)}" for k, v in others.items()))
    say(f"wrote {out / 'finder.png'} and {out / 'finder.json'}")
    if sug.lr is None:
        print(f"onecycle: error: the LR range test found no usable learning rate: "
              f"{' '.join(str(sug.reason).split())}", file=sys.stderr)
        return 1
    if cfg.quiet:  # for scripts: LR=$(onecycle find-lr -q)
        print(f"{sug.lr:.6g}")
    return 0


def _fit_max_lr(cfg: Any, problem: Any, store: Any, out: Path, say: Any) -> float:
    """``--max-lr``, or the pick of a range test (a resumable step)."""
    from .._io import save_figure
    from ..pipeline import finder_options
    from ..search import RangeTest, range_test

    if cfg.schedule.max_lr is not None:
        return float(cfg.schedule.max_lr)
    say(f"LR range test ({cfg.finder.num_iter} iterations) ...")
    test = store.step("range_test", lambda: range_test(
        problem, finder_options(cfg, len(problem.train_loader)),
        weight_decay=cfg.weight_decay.value),
        RangeTest.state, RangeTest.from_state)
    if test.max_lr is None:
        raise ValueError(f"the LR range test found no usable learning rate "
                         f"({test.suggestion.reason}); pass --max-lr")
    say(f"  suggestion: {test.suggestion}")
    save_figure(test.curve.plot(suggestions=(cfg.finder.method,)), out / "finder.png")
    return test.max_lr


def cmd_fit(args: argparse.Namespace, argv: Sequence[str]) -> int:
    """``onecycle fit``: one 1cycle training (:func:`onecycle.search.train_cycle`) at
    ``--max-lr`` or at the range test's pick; no weight-decay search. With ``--resume``
    the range test is read back and the training continues from its checkpoint."""
    from .._io import save_figure
    from .._threads import torch_threads
    from ..pipeline import schedule_options, step_store
    from ..search import CyclePlan, TrainedRun, train_cycle
    from ..search.steps import describe_cycle
    from ..train import DivergenceWarning

    cfg, prepare, out = _setup(args, "onecycle-fit")
    say = printer(cfg)
    with torch_threads(cfg.threads):
        setup = prepare()
        problem = setup.problem()
        store = step_store(out, cfg, "fit", args.resume)
        max_lr = _fit_max_lr(cfg, problem, store, out, say)
        plan = CyclePlan(cfg.epochs, max_lr, cfg.weight_decay.value, schedule_options(cfg))
        say(f"1cycle: {describe_cycle(plan)}, {setup.model_name} on {setup.bundle.name}")
        with warnings.catch_warnings():
            # a divergence ends the command with its message as the error line
            warnings.simplefilter("ignore", DivergenceWarning)
            run = store.step("1cycle", lambda: train_cycle(
                problem, plan, checkpoint_dir=store.checkpoint_dir("1cycle"),
                resume=store.resume), TrainedRun.state, TrainedRun.from_state)
    hist = run.history
    hist.meta["command"] = command_line(argv)
    hist.save(out / "history.json")
    save_figure(hist.plot(title=f"1cycle: {setup.model_name} on {setup.bundle.name}, max_lr "
                          f"{fmt_lr(max_lr)}"), out / "history.png")
    cfg.with_overrides({"schedule.max_lr": max_lr}).save(out / "config.toml")
    say(f"{scores_line(run.final, setup.task)} ({run.wall_time:.1f} s)")
    say(f"wrote {out / 'history.json'} and {out / 'history.png'}")
    if run.diverged is not None:
        raise ValueError(f"the 1cycle training diverged: {run.diverged}")
    return 0


def _schedule_from(args: argparse.Namespace) -> Any:
    from .. import _validate as check
    from ..schedule import OneCycleSchedule

    opts: dict[str, Any] = {"style": args.style}
    for k in ("div", "final_div", "pct_start", "annihilate"):
        v = getattr(args, k)
        if v is not None:
            opts[k] = v
    try:
        if args.no_momentum:
            if args.momentum:
                raise Usage("--momentum and --no-momentum contradict each other")
            opts["momentum"] = None
        elif args.momentum:
            opts["momentum"] = check.momentum_cycle("--momentum", args.momentum)
        return OneCycleSchedule(args.steps, args.max_lr, **opts)
    except (ValueError, TypeError) as err:  # contradictory options: a usage error
        raise Usage(str(err)) from err


def _schedule_table(sched: Any, rows: int) -> list[str]:
    T = sched.total_steps
    n = min(rows, T)
    steps = {min(T - 1, round(i * T / max(n - 1, 1))) for i in range(n)}
    for _, a, b in sched.phases:
        steps.update({int(round(a)), int(round(b))})
    mom_spec = sched.momentum_spec
    head = (f"1cycle ({sched.style}): max_lr={sched.max_lr:g}, div={sched.div:g}, "
            f"final_div={sched.final_div:g}, pct_start={sched.pct_start:g}, {T} steps"
            + ("" if mom_spec is None else ", momentum " + "->".join(f"{m:g}" for m in mom_spec)))
    lines = [head, f"{'step':>7}  {'phase':<13} {'lr':>11}  {'momentum':>8}"]
    for st in sorted(s for s in steps if 0 <= s < T):
        phase = next((name for name, a, b in sched.phases if a <= st <= b), "")
        m = sched.momentum(st)
        lines.append(f"{st:>7}  {phase:<13} {sched.lr(st):>11.5g}  "
                     f"{DASH if m is None else f'{m:.4f}':>8}")
    return lines


def cmd_plot_schedule(args: argparse.Namespace, argv: Sequence[str]) -> int:
    """``onecycle plot-schedule``: a table of the schedule's values, and a plot."""
    out = Path(args.out) if args.out else None
    if out is not None:
        from ..pipeline import ensure_writable_dir

        ensure_writable_dir(out.parent if str(out.parent) else Path("."))
    sched = _schedule_from(args)
    for line in _schedule_table(sched, args.rows):
        print(line)
    if out is not None:
        from .._io import save_figure
        from ..plots import plot_schedule

        save_figure(plot_schedule(sched, log_lr=args.log), out)
        print(f"wrote {out}")
    return 0
