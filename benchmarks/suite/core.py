"""What every benchmark shares: the machine, the code version, result files, statistics.

A benchmark writes ``benchmarks/results/<name>.json`` (every number, the command, the
machine, the commit) and returns summary rows for RESULTS.md. ``--quick`` runs are smoke
tests, not measurements: they go to ``benchmarks/results/quick/`` (ignored by git).
"""

from __future__ import annotations

import math
import os
import platform
import shlex
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from onecycle._io import read_json, write_json_atomic

HERE = Path(__file__).resolve().parent
BENCH = HERE.parent
ROOT = BENCH.parent
RESULTS = BENCH / "results"


def results_dir(quick: bool) -> Path:
    return RESULTS / "quick" if quick else RESULTS


def machine() -> dict[str, Any]:
    import torch

    return {
        "cpu_count": os.cpu_count(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", ""),
    }


def code_version() -> str:
    """The commit, with ``+ uncommitted changes`` when src/ or benchmarks/ differ."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                              capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "src", "benchmarks"],
                               cwd=ROOT, capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    changed = [ln for ln in dirty.splitlines() if "results/" not in ln and "RESULTS.md" not in ln]
    return head + (" + uncommitted changes" if changed else "")


def command() -> str:
    return "python -m benchmarks.suite " + " ".join(shlex.quote(a) for a in sys.argv[1:])


@dataclass(frozen=True)
class Row:
    """One row of RESULTS.md's summary: one figure, its target, what was measured."""

    figure: str
    target: str
    measured: str
    verdict: str  # "met", "missed", "—" (no target)
    section: str = ""


def save(name: str, data: dict[str, Any], *, quick: bool, started: float) -> Path:
    """Write ``results/<name>.json`` with the run's provenance."""
    payload = {"benchmark": name, "command": command(), "machine": machine(),
               "code": code_version(), "wall_time_s": time.perf_counter() - started,
               "run": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), **data}
    return write_json_atomic(results_dir(quick) / f"{name}.json", payload, indent=1)


def load(name: str, quick: bool = False) -> dict[str, Any] | None:
    p = results_dir(quick) / f"{name}.json"
    return read_json(p) if p.exists() else None


def provenance(data: dict[str, Any]) -> str:
    m = data.get("machine", {})
    wall = data.get("wall_time_s")
    took = f"; wall time {wall / 60:.1f} min" if isinstance(wall, (int, float)) else ""
    spent = data.get("trial_time")
    if isinstance(spent, dict) and spent.get("trials"):
        took += (f"; its {spent['trials']} trials, cached ones included, ran "
                 f"{spent['seconds'] / 60:.1f} min summed over workers")
        if spent.get("unrecorded"):
            took += f" ({spent['unrecorded']} cached before run times were recorded)"
    return (f"_Command_: `{data.get('command')}` (code {data.get('code')}, run "
            f"{data.get('run')}{took})  \n_Machine_: {m.get('cpu_count')} cores, torch "
            f"{m.get('torch')}, Python {m.get('python')}"
            + (f", OMP_WAIT_POLICY={m['omp_wait_policy']}" if m.get("omp_wait_policy") else ""))


# ----------------------------------------------------------------------------- statistics


def mean_sd_se(xs: Sequence[float]) -> tuple[float, float, float]:
    xs = [float(v) for v in xs if v is not None and math.isfinite(float(v))]
    if not xs:
        return math.nan, math.nan, math.nan
    if len(xs) == 1:
        return xs[0], 0.0, 0.0
    s = statistics.stdev(xs)
    return statistics.mean(xs), s, s / math.sqrt(len(xs))


def pm(xs: Sequence[float], digits: int = 2) -> str:
    m, s, _ = mean_sd_se(xs)
    return "—" if math.isnan(m) else f"{m:.{digits}f} ± {s:.{digits}f}"


def median(xs: Sequence[float]) -> float:
    xs = [float(v) for v in xs]
    return float(statistics.median(xs)) if xs else math.nan


def table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A Markdown table."""
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out)
