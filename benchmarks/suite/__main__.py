"""``python -m benchmarks.suite``: list, run and report the maintained benchmarks."""

from __future__ import annotations

import argparse
import importlib
import os
import sys

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

#: benchmark name -> module (each has NAME, run(quick, workers, say), summarize(data))
BENCHMARKS = {
    "conformance": "benchmarks.suite.conformance",
    "finder_cost": "benchmarks.suite.finder_cost",
    "suggestions": "benchmarks.suite.suggestions",
    "compare": "benchmarks.suite.compare",
    "superconvergence": "benchmarks.suite.superconvergence",
    "overhead": "benchmarks.suite.overhead",
    "distributed": "benchmarks.suite.distributed",
    "main_job": "benchmarks.suite.main_job",
}


def _say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.suite",
                                description="onecycle's maintained benchmarks")
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("list", help="the benchmarks and settings")
    r = sub.add_parser("run", help="run benchmarks (resumable: finished trials are cached)")
    r.add_argument("names", nargs="*", help="benchmarks to run (default: all)")
    r.add_argument("--quick", action="store_true", help="a smoke test (results/quick/)")
    r.add_argument("--workers", type=int, default=2, help="worker processes (1 thread each)")
    r.add_argument("--settings", default="", help="comma-separated settings (default: all)")
    sub.add_parser("report", help="rebuild benchmarks/RESULTS.md from results/*.json")
    args = p.parse_args(argv)
    if args.cmd == "list":
        from .settings import SETTINGS

        for name, mod in BENCHMARKS.items():
            doc = (importlib.import_module(mod).__doc__ or "").strip().splitlines()[0]
            print(f"{name:14s} {doc}")
        for s in SETTINGS.values():
            print(f"  setting {s.name:20s} {s.dataset}/{s.model}/{s.optimizer} batch "
                  f"{s.batch_size}, budgets {s.budgets} epochs"
                  + (" (held out)" if s.held_out else ""))
        return 0
    if args.cmd == "run":
        names = args.names or list(BENCHMARKS)
        for n in names:
            if n not in BENCHMARKS:
                p.error(f"unknown benchmark {n!r}; known: {', '.join(BENCHMARKS)}")
        for n in names:
            only = tuple(x for x in args.settings.split(",") if x)
            importlib.import_module(BENCHMARKS[n]).run(args.quick, args.workers, _say, only)
    from .report import write_results

    path = write_results(BENCHMARKS, quick=getattr(args, "quick", False))
    _say(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
