"""Design data for the budget-aware max_lr: on the design part of the suite only
(settings not held out, seeds 0-2), how far is each seed's best grid LR from ``auto``'s
pick, as a function of the cycle's length and the optimizer?

    python -m benchmarks.studies.budget_rule.design

Reads the suggestion benchmark's cache; trains nothing.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict

from onecycle.finder import LRFinderResult

from ...suite import core, pool, trial
from ...suite.settings import SETTINGS, design_part, signature


def main() -> None:
    cache = pool.Cache(core.RESULTS / "suite_cache.jsonl")
    rts, runs = {}, defaultdict(dict)
    for k, res in cache.done.items():
        t = json.loads(k)
        s = SETTINGS.get(t["setting"])
        if s is None or t.get("sig") != signature(s) or not design_part(s.name, t["seed"]):
            continue
        if t["kind"] == "range_test":
            if t.get("rt") == 2:  # the stop rule of the current range test
                rts[(s.name, t["seed"])] = res
        else:
            runs[(s.name, t["budget"], t["seed"])][t["lr"]] = res
    print(f"{'setting':20s} {'ep':>3s} {'steps':>5s} {'seed':>4s} {'auto':>8s} {'best':>8s} "
          f"{'log10(best/auto)':>16s}  grid headline by LR")
    for (name, b, sd), grid in sorted(runs.items()):
        s = SETTINGS[name]
        rt = rts.get((name, sd))
        if rt is None:
            continue
        res = LRFinderResult.from_dict(rt["result"])
        auto = res.suggest("auto").lr
        pts = {lr: r for lr, r in grid.items() if lr in s.grid}
        from onecycle import tasks

        task = tasks.task_for(trial.bundle(s))
        hib = task.higher_is_better

        def score(r, hib=hib):
            h = r.get("headline")
            if h is None or r.get("diverged"):
                return -math.inf if hib else math.inf
            return h

        best = (max if hib else min)(pts, key=lambda lr: score(pts[lr]))
        steps = b * trial.steps_per_epoch(s)
        ratio = math.log10(best / auto) if auto else float("nan")
        cells = " ".join(f"{lr:.2g}:{score(pts[lr]):.3f}" for lr in sorted(pts))
        print(f"{name:20s} {b:3d} {steps:5d} {sd:4d} {auto or 0:8.3g} {best:8.3g} "
              f"{ratio:16.2f}  {cells}")


if __name__ == "__main__":
    main()
