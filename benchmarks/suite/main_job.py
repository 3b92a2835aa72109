"""Main job: what does `onecycle run` cost, and what share of it are the searches?

Protocol (fixed before the runs): ``onecycle run --dataset D --seed S --quiet`` with the
dataset's defaults, one process at a time (no other benchmark runs beside it), for
digits and MNIST, seeds 0-2 (``--quick``: digits, seed 0). Read from each run's
summary.json: the whole wall time; the range test's and the weight-decay search's wall
times (the only searches `onecycle run` makes by default); the 1cycle and baseline
trainings' wall times; the chosen max_lr and weight decay; the 1cycle run's test
accuracy.

* *searches* are the range test plus every search after it; their share is searches /
  the 1cycle training's wall time. Target (issue #20): at most 0.5 on digits and MNIST.
  Reported with the first range test and without it (the method needs that one test
  whatever else it does; the weight-decay search reads the early window around it).
* "before" runs the recipe as it was before its cost was cut (commit ``BEFORE``, the
  parent of the change: weight-decay confirmation runs at a quarter of the budget each,
  the digits defaults everywhere) from a ``git worktree``, on digits only: its MNIST run
  used digits' small CNN and did not finish in 10 minutes, which is not re-measured.
* Target (issue #20): MNIST's whole run <= 5 minutes at >= 99 % test accuracy.
* The first torch optimizer a process builds imports ``torch._dynamo`` (seconds on a busy
  CPU); in `onecycle run` that happens in the range test. It is timed on its own (a fresh
  process building one SGD optimizer, 3 times, median) and shown beside the shares.

    python -m benchmarks.suite run main_job [--quick]
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import core

NAME = "main_job"
TITLE = "Main job"
VERSION = 1
#: the last commit before the recipe's cost was cut (issue #20 item 6)
BEFORE = "7e1f3fe^"
SHARE_TARGET = 0.5
MNIST_WALL_TARGET = 300.0
MNIST_ACC_TARGET = 0.99


def _run_cli(dataset: str, seed: int, src: Path, out: Path) -> dict[str, Any]:
    env = dict(os.environ, PYTHONPATH=str(src), OMP_WAIT_POLICY="PASSIVE")
    cmd = [sys.executable, "-m", "onecycle", "run", "--dataset", dataset, "--seed",
           str(seed), "--quiet", "--out", str(out)]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, env=env, cwd=out.parent, capture_output=True)
    process_s = time.perf_counter() - t0
    return _read(json.loads((out / "summary.json").read_text()), process_s)


def _wall(block: Any) -> float:
    return float(block.get("wall_time") or 0.0) if isinstance(block, dict) else 0.0


def _read(s: dict[str, Any], process_s: float) -> dict[str, Any]:
    runs = s.get("runs", {})
    one, base = runs.get("1cycle", {}), runs.get("baseline") or {}
    wd = s.get("weight_decay") or {}
    final = one.get("final", {})
    return {"total_s": s.get("total_wall_time"), "process_s": process_s,
            "range_test_s": _wall(s.get("finder")), "weight_decay_s": _wall(wd),
            "onecycle_s": _wall(one),
            "baseline_s": _wall(base), "max_lr": (s.get("max_lr") or {}).get("value"),
            "weight_decay": wd.get("chosen"),
            "test": final.get("test_headline", final.get("test_accuracy")),
            "val": final.get("val_headline", final.get("val_accuracy"))}


def _first_optimizer_s() -> float:
    code = ("import time, torch; m = torch.nn.Linear(2, 2); t = time.perf_counter(); "
            "torch.optim.SGD(m.parameters(), lr=0.1); print(time.perf_counter() - t)")
    return float(subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                                text=True).stdout)


def _worktree(ref: str, where: Path) -> Path:
    subprocess.run(["git", "worktree", "add", "--detach", str(where), ref], cwd=core.ROOT,
                   check=True, capture_output=True)
    return where / "src"


def run(quick: bool, workers: int, say: Callable[[str], None],
        only: tuple[str, ...] = ()) -> dict[str, Any]:
    del workers  # timings: one run at a time
    t0 = time.perf_counter()
    seeds = (0,) if quick else (0, 1, 2)
    plan = [("after", d) for d in (("digits",) if quick else ("digits", "mnist"))]
    plan.append(("before", "digits"))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        srcs = {"after": core.ROOT / "src", "before": _worktree(BEFORE, Path(tmp) / "before")}
        try:
            for version, dataset in plan:
                for seed in seeds:
                    out = Path(tmp) / f"{version}-{dataset}-{seed}"
                    r = _run_cli(dataset, seed, srcs[version], out)
                    rows.append({"version": version, "dataset": dataset, "seed": seed, **r})
                    say(f"main_job: {version} {dataset} seed {seed}: {r['total_s']:.1f} s, "
                        f"test {r['test']}")
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(Path(tmp) / "before")],
                           cwd=core.ROOT, capture_output=True)
    first_opt = [_first_optimizer_s() for _ in range(3)]
    data = {"version": VERSION, "quick": quick, "seeds": list(seeds), "before": BEFORE,
            "before_commit": _rev(BEFORE), "runs": rows, "first_optimizer_s": first_opt}
    core.save(NAME, data, quick=quick, started=t0)
    return data


def _rev(ref: str) -> str:
    return subprocess.run(["git", "rev-parse", "--short", ref], cwd=core.ROOT,
                          capture_output=True, text=True).stdout.strip()


def shares(r: dict[str, Any]) -> tuple[float, float]:
    """(searches incl. the first range test, searches after it) / the 1cycle training."""
    after = r["weight_decay_s"]
    return (r["range_test_s"] + after) / r["onecycle_s"], after / r["onecycle_s"]


def _group(data: dict[str, Any], version: str, dataset: str) -> list[dict[str, Any]]:
    return [r for r in data["runs"] if r["version"] == version and r["dataset"] == dataset]


def summarize(data: dict[str, Any]) -> tuple[list[core.Row], str]:
    rows, body = [], []
    for version, dataset in (("before", "digits"), ("after", "digits"), ("after", "mnist")):
        g = _group(data, version, dataset)
        if not g:
            continue
        incl = core.median([shares(r)[0] for r in g])
        excl = core.median([shares(r)[1] for r in g])
        wall = core.median([r["total_s"] for r in g])
        body.append([f"{dataset}, {version}", len(g), f"{wall:.1f} s",
                     f"{core.median([r['onecycle_s'] for r in g]):.1f} s",
                     f"{core.median([r['range_test_s'] for r in g]):.1f} s",
                     f"{core.median([r['weight_decay_s'] for r in g]):.1f} s",
                     f"{incl:.2f}×", f"{excl:.2f}×",
                     ", ".join(f"{r['max_lr']:.3g}" for r in g),
                     ", ".join(f"{r['weight_decay']:g}" for r in g),
                     ", ".join(f"{100 * r['test']:.2f}" for r in g)])
        if version == "after":
            rows.append(core.Row(f"{dataset}: searches / 1cycle training, after the range test",
                                 "≤ 0.5×", f"{excl:.2f}×", "met" if excl <= SHARE_TARGET
                                 else "missed"))
            rows.append(core.Row(f"{dataset}: the same with the first range test",
                                 "≤ 0.5×", f"{incl:.2f}×", "met" if incl <= SHARE_TARGET
                                 else "missed"))
        if version == "after" and dataset == "mnist":
            acc = min(r["test"] for r in g)
            rows.append(core.Row("mnist: `onecycle run` wall time (median), worst test accuracy",
                                 "≤ 5 min at ≥ 99 %", f"{wall:.0f} s, {100 * acc:.2f} %",
                                 "met" if wall <= MNIST_WALL_TARGET and acc >= MNIST_ACC_TARGET
                                 else "missed"))
    table = core.table(["run", "seeds", "whole run", "1cycle", "range test",
                        "weight-decay search", "share incl.", "share excl.", "max_lr",
                        "weight decay", "test accuracy %"], body)
    note = (f"\"before\" is commit {data.get('before_commit')} ({data.get('before')}), the "
            "recipe with weight-decay confirmation runs; its MNIST run (digits' small CNN) "
            "did not finish in 10 minutes when the issue was filed and is not re-measured. "
            "Medians over the seeds; the share is against the 1cycle training's wall time. "
            "The range test's time includes torch's one-time import at the first optimizer "
            f"a process builds: {core.median(data.get('first_optimizer_s') or [0.0]):.1f} s "
            "(median of 3 fresh processes).")
    return rows, table + "\n\n" + note
