"""The compare benchmark's rule-mode trial again with ``grad_clip="auto"`` for every run,
next to the cached unclipped result: does the clip change who wins?

    python -m benchmarks.studies.edge-of-stability.compare_clip cnn1d-mnist1d 0,1,2

Two workers of one torch thread each, the suite's compare protocol otherwise
(``benchmarks.suite.compare.run_trial``); the clipped results are written to
``results/compare_clip.jsonl`` and the table is printed.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch  # noqa: E402

from benchmarks.suite import compare, core, pool  # noqa: E402
from benchmarks.suite.settings import SETTINGS, signature  # noqa: E402

OUT = Path(__file__).resolve().parent / "results" / "compare_clip.jsonl"


def _headlines(report: dict) -> dict[tuple[int, str], float]:
    return {(r["budget"], r["alternative"]): r["headline"] for r in report["runs"]
            if r.get("headline") is not None}


def main(argv: list[str]) -> None:
    name, seeds = argv[0], [int(s) for s in argv[1].split(",")]
    s = SETTINGS[name]
    torch.set_num_threads(1)
    unclipped = pool.Cache(core.results_dir(False) / "compare_cache.jsonl")
    clipped = pool.Cache(OUT)
    base = {"kind": "compare", "v": compare.VERSION, "setting": name, "sig": signature(s),
            "tune": "rule"}
    todo = [{**base, "seed": sd, "grad_clip": "auto"} for sd in seeds]
    pool.run_all("benchmarks.suite.compare:run_trial", todo, clipped, workers=2, say=print)
    rows: dict[tuple[int, str], dict[str, list[float]]] = {}
    for sd in seeds:
        for label, cache, trial in (("none", unclipped, {**base, "seed": sd}),
                                    ("auto", clipped, {**base, "seed": sd, "grad_clip": "auto"})):
            rep = cache.get(trial)
            for key, v in _headlines(rep or {"runs": []}).items():
                rows.setdefault(key, {}).setdefault(label, []).append(v)
    print(f"{name}, seeds {seeds}: mean headline, unclipped -> grad_clip='auto'")
    for (budget, alt), got in sorted(rows.items()):
        cells = {k: statistics.mean(v) for k, v in got.items()}
        print(f"  {budget:>3} epochs  {alt:<16} {cells.get('none', float('nan')):8.4f} -> "
              f"{cells.get('auto', float('nan')):8.4f}")
    print(json.dumps({"setting": name, "seeds": seeds}))


if __name__ == "__main__":
    main(sys.argv[1:])
