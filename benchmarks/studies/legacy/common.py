"""The studies' shared helpers (from before the suite): machine, timing, result files.

A study script, run as ``python -m benchmarks.studies.<topic>.<script>``, writes
``<name>.json`` (numbers) and ``<name>.md`` (its section) into the ``results/`` folder
next to it; with ``--quick`` into ``results/quick/`` there (ignored by git). The
maintained benchmarks use :mod:`benchmarks.suite.core` instead.
"""

from __future__ import annotations

import json
import os
import platform
import shlex
import statistics
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
#: the study being run: the script ``python -m`` started (its results go next to it)
SCRIPT = Path(sys.argv[0]).resolve()
# a --quick run is a smoke test, not a measurement: it writes under results/quick/
# (ignored by git) so it never replaces a full run's section
QUICK = any(a.startswith("--q") and "--quick".startswith(a) for a in sys.argv[1:])  # argparse abbreviates
RESULTS_DIR = SCRIPT.parent / "results" / "quick" if QUICK else SCRIPT.parent / "results"


def setup_threads(n: int = 2) -> None:
    import torch

    torch.set_num_threads(n)


def machine() -> dict[str, Any]:
    """The suite's machine record, with the processor the studies also recorded."""
    from benchmarks.suite.core import machine as suite_machine

    return {**suite_machine(), "processor": platform.processor() or platform.machine()}


def code_version() -> str:
    """The commit the benchmark ran at, ``+ uncommitted changes`` when the tree is dirty."""
    import subprocess

    try:
        root = HERE.parents[2]
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root,
                              capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "src", "benchmarks"], cwd=root,
                               capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    changed = [ln for ln in dirty.splitlines() if "results/" not in ln and "RESULTS.md" not in ln]
    return head + (" + uncommitted changes" if changed else "")


#: the code the benchmark runs: read when the script starts, not when it writes
CODE_AT_START = code_version()


def command() -> str:
    """``python -m benchmarks.studies.<topic>.<script> ARGS``: how to run it again."""
    try:
        rel = SCRIPT.with_suffix("").relative_to(HERE.parents[2])
        prog = "-m " + ".".join(rel.parts)
    except ValueError:  # a script outside the repository
        prog = os.path.relpath(sys.argv[0])
    return "python " + " ".join([prog] + [shlex.quote(a) for a in sys.argv[1:]])


def median(xs: list[float]) -> float:
    return float(statistics.median(xs))


def mean_std(xs: list[float]) -> tuple[float, float]:
    if len(xs) == 1:
        return float(xs[0]), 0.0
    return float(statistics.mean(xs)), float(statistics.stdev(xs))


def fmt_ms(xs: list[float], digits: int = 2) -> str:
    m, s = mean_std(xs)
    return f"{m:.{digits}f} ± {s:.{digits}f}"


class Timer:
    def __enter__(self) -> Timer:
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.elapsed = time.perf_counter() - self.t0


def write(name: str, data: dict[str, Any], markdown: str) -> None:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    data = {"benchmark": name, "command": command(), "machine": machine(),
            "code": CODE_AT_START, **data}
    (RESULTS_DIR / f"{name}.json").write_text(json.dumps(data, indent=2, default=float) + "\n")
    m = data["machine"]
    header = (
        f"\n_Command_: `{data['command']}` (code: {data['code']})  \n"
        f"_Machine_: {m['cpu_count']} cores, torch {m['torch']}, {m['threads']} threads, "
        f"Python {m['python']}, {m['platform']}"
        + (f", OMP_WAIT_POLICY={m['omp_wait_policy']}" if m.get("omp_wait_policy") else "")
        + f"; run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}\n\n"
    )
    (RESULTS_DIR / f"{name}.md").write_text(markdown.rstrip() + "\n" + header)
    print(markdown)
