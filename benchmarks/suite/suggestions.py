"""Suggestion quality: does the suggested max_lr train as well as the best one?

Protocol (fixed before the runs; the settings, budgets and held-out split are in
:mod:`benchmarks.suite.settings`):

1. Grid: for every (setting, budget, seed), 1cycle (smith style, cyclical momentum
   0.95 -> 0.85, the Trainer's defaults) at each of the setting's 7 half-decade max_lr
   values. The grid-best LR of a (setting, budget) is the one with the best mean
   headline over the seeds; a seed's best is its best grid run.
2. For every (setting, seed), one range test on the fresh model (100 iterations; SGD
   1e-5 -> 10, AdamW 1e-6 -> 1). Each method picks a max_lr from it: ours ``auto`` with
   the budget (``res.suggest("auto", total_steps=...)``: the cycle's optimizer steps) and
   without it, fastai's ``valley``, ``steep``, ``minimum``, and the real
   ``torch-lr-finder`` package (its steepest-gradient pick, which is also Lightning's
   rule; its own range test; only where batches are ``(inputs, targets)`` pairs).
3. Every pick is trained for real (same seed, same budget); the ``auto+budget`` pick
   once more with ``grad_clip="auto"`` (``auto+budget+clip``: ours with the spike clip,
   judged against the same unclipped grid, so the bar is not lowered for it).

Reported per method: regret (grid-best mean headline minus the mean at the picks, in the
headline's units, positive = worse), failures (a pick more than ``fail_margin`` worse
than that seed's best grid run, a diverged run, or no pick), and on the short budgets the
collapses (classification below chance + 10 points). "Normalised regret" divides a
regret by its setting's ``fail_margin`` so settings with different units can be
averaged. The design part (settings not held out, seeds 0-2) and the held-out part (the
rest) are reported separately.

    python -m benchmarks.suite run suggestions [--quick] [--workers 2]
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

from . import core, pool, trial
from .settings import SEEDS, SETTINGS, Setting, available, design_part, signature

NAME = "suggestions"
METHODS = ("auto+budget", "auto", "valley", "steep", "minimum", "torch-lr-finder")
#: ours again: the ``auto+budget`` pick trained with ``grad_clip="auto"`` (not a peer)
CLIPPED = "auto+budget+clip"
#: the Trainer's ``grad_clip`` per method (every other one trains without clipping)
GRAD_CLIP = {CLIPPED: "auto"}
QUICK_SETTINGS = ("mlp-digits-dropout", "mlp-diabetes")
#: the range test's own version: 2 since its stop rule re-estimates the batch noise
RT_VERSION = 2


def _lr_key(lr: float) -> float:
    return float(f"{lr:.6g}")


def plan(quick: bool, only: tuple[str, ...] = ()) -> tuple[list[Setting], tuple[int, ...]]:
    names = only or (QUICK_SETTINGS if quick else tuple(SETTINGS))
    settings = [SETTINGS[n] for n in names if available(SETTINGS[n])]
    return settings, (SEEDS[:2] if quick else SEEDS)


def _grid(s: Setting, quick: bool) -> tuple[float, ...]:
    return s.grid[1::2] if quick else s.grid


def picks(s: Setting, rt: dict[str, Any], total_steps: int) -> dict[str, float | None]:
    """Every method's pick from one stored range test."""
    from onecycle.finder import LRFinderResult

    res = LRFinderResult.from_dict(rt["result"])
    if "family" not in res.config:  # a curve cached before lr_find recorded it
        res.config["family"] = "adam" if s.optimizer in ("adam", "adamw") else "sgd"
    out: dict[str, float | None] = {}
    for m in METHODS:
        if m == "torch-lr-finder":
            out[m] = rt.get("torch_lr_finder")
            continue
        try:
            if m == "auto+budget":
                sug = res.suggest("auto", total_steps=total_steps)
            else:
                sug = res.suggest(m)
        except TypeError:  # a library without the budget-aware rule
            out[m] = None
            continue
        out[m] = None if sug.lr is None else float(sug.lr)
    out[CLIPPED] = out["auto+budget"]
    return out


def run(quick: bool, workers: int, say: Callable[[str], None],
        only: tuple[str, ...] = ()) -> dict[str, Any]:
    t0 = time.perf_counter()
    settings, seeds = plan(quick, only)
    cache = pool.Cache(core.results_dir(quick) / "suite_cache.jsonl")
    v = trial.VERSION
    rts = [{"kind": "range_test", "v": v, "rt": RT_VERSION, "setting": s.name,
            "sig": signature(s), "seed": sd}
           for s in settings for sd in seeds]
    grid = [{"kind": "train", "v": v, "setting": s.name, "sig": signature(s), "budget": b,
             "seed": sd, "lr": lr}
            for s in settings for b in s.budgets for sd in seeds for lr in _grid(s, quick)]
    pool.run_all("benchmarks.suite.trial:range_test", rts, cache, workers=workers, say=say)
    pool.run_all("benchmarks.suite.trial:train", grid, cache, workers=workers, say=say)
    spe = {s.name: trial.steps_per_epoch(s) for s in settings}
    chosen: dict[str, Any] = {}
    extra = []
    for s in settings:
        for sd in seeds:
            rt = cache.get({"kind": "range_test", "v": v, "rt": RT_VERSION, "setting": s.name,
                            "sig": signature(s), "seed": sd})
            for b in s.budgets:
                p = picks(s, rt, b * spe[s.name])
                chosen[f"{s.name}|{b}|{sd}"] = p
                extra += [_train_key(s, b, sd, _lr_key(lr), GRAD_CLIP.get(m))
                          for m, lr in p.items() if lr]
    pool.run_all("benchmarks.suite.trial:train", extra, cache, workers=workers, say=say)
    data = analyse(settings, seeds, cache, chosen, quick)
    data["steps_per_epoch"] = spe
    data["trial_time"] = cache.spent()
    core.save(NAME, data, quick=quick, started=t0)
    return data


def _train_key(s: Setting, b: int, sd: int, lr: float, clip: str | None = None
               ) -> dict[str, Any]:
    """A training trial; ``grad_clip`` enters the key only when set, so the unclipped
    trials keep the keys they were cached under."""
    t = {"kind": "train", "v": trial.VERSION, "setting": s.name, "sig": signature(s),
         "budget": b, "seed": sd, "lr": lr}
    return {**t, "grad_clip": clip} if clip is not None else t


def _get(cache: pool.Cache, s: Setting, b: int, sd: int, lr: float,
         clip: str | None = None) -> dict[str, Any]:
    return cache.get(_train_key(s, b, sd, lr, clip))


def _worse(higher: bool, best: float, value: float | None) -> float:
    """How much worse ``value`` is than ``best`` (positive = worse; inf for none)."""
    if value is None:
        return math.inf
    return (best - value) if higher else (value - best)


def analyse(settings: list[Setting], seeds: tuple[int, ...], cache: pool.Cache,
            chosen: dict[str, Any], quick: bool) -> dict[str, Any]:
    from onecycle import tasks

    rows = []
    for s in settings:
        task = tasks.task_for(trial.bundle(s))
        hib = task.higher_is_better
        scale = 100.0 if task.headline == "accuracy" else 1.0
        for b in s.budgets:
            grid = {lr: [_score(_get(cache, s, b, sd, lr), scale) for sd in seeds]
                    for lr in _grid(s, quick)}
            means = {lr: core.mean_sd_se(v)[0] for lr, v in grid.items()}
            best_lr = (max if hib else min)(means, key=lambda k: _nan_last(means[k], hib))
            for sd in seeds:
                seed_best = (max if hib else min)(
                    (v[seeds.index(sd)] for v in grid.values() if v[seeds.index(sd)] is not None),
                    default=None)
                for m, lr in chosen[f"{s.name}|{b}|{sd}"].items():
                    r = _get(cache, s, b, sd, _lr_key(lr), GRAD_CLIP.get(m)) if lr else None
                    val = _score(r, scale) if r else None
                    fail = (lr is None or r is None or r["diverged"] or seed_best is None
                            or _worse(hib, seed_best, val) > s.fail_margin)
                    chance = task.chance * scale if task.chance is not None else None
                    collapse = (hib and chance is not None and val is not None
                                and val < chance + 10 and b == s.budgets[0])
                    rows.append({"setting": s.name, "budget": b, "seed": sd, "method": m,
                                 "lr": lr, "value": val, "best_lr": best_lr,
                                 "best_mean": means[best_lr], "fail": bool(fail),
                                 "collapse": bool(collapse), "design": design_part(s.name, sd),
                                 "regret": _worse(hib, means[best_lr], val),
                                 "norm_regret": _worse(hib, means[best_lr], val) / s.fail_margin,
                                 "unit": task.headline, "higher_is_better": hib})
            rows.append({"setting": s.name, "budget": b, "grid": {str(k): v for k, v in grid.items()},
                         "best_lr": best_lr, "kind": "grid", "higher_is_better": hib})
    return {"rows": rows, "seeds": list(seeds), "quick": quick}


def _score(r: dict[str, Any] | None, scale: float) -> float | None:
    if r is None or r.get("headline") is None:
        return None
    return r["headline"] * scale


def _nan_last(v: float, higher: bool) -> float:
    if v is None or math.isnan(v):
        return -math.inf if higher else math.inf
    return v


# ----------------------------------------------------------------------------- summary


def _stats(rows: list[dict[str, Any]], method: str) -> dict[str, Any]:
    mine = [r for r in rows if r.get("method") == method]
    if not mine:
        return {"n": 0}
    fails = sum(r["fail"] for r in mine)
    regrets = [min(r["norm_regret"], 10.0) for r in mine]  # a no-pick or collapse counts 10
    return {"n": len(mine), "fails": fails, "norm_regret": sum(regrets) / len(regrets),
            "collapses": sum(r["collapse"] for r in mine)}


def summarize(data: dict[str, Any]) -> tuple[list[core.Row], str]:
    # the result file stores an infinite regret (no pick) as the string "inf"
    rows = [{**r, "regret": float(r["regret"]), "norm_regret": float(r["norm_regret"])}
            for r in data["rows"] if r.get("kind") != "grid"]
    present = [m for m in (*METHODS, CLIPPED) if any(r["method"] == m and r["lr"] for r in rows)]
    parts = {"whole suite": rows, "design part": [r for r in rows if r["design"]],
             "held-out part": [r for r in rows if not r["design"]]}
    table_rows, stats = [], {}
    for part, rs in parts.items():
        for m in present:
            st = _stats(rs, m)
            stats[(part, m)] = st
            if st["n"]:
                table_rows.append([part, m, f"{st['fails']}/{st['n']}",
                                   f"{st['norm_regret']:.2f}", st["collapses"]])
    ours = "auto+budget" if "auto+budget" in present else "auto"
    sec = "suggestions"
    out: list[core.Row] = []
    whole = stats.get(("whole suite", ours), {"n": 0})
    if whole["n"]:
        peers = [m for m in present if m not in (ours, CLIPPED)]
        best_regret = all(whole["norm_regret"] <= stats[("whole suite", m)]["norm_regret"]
                          for m in peers if stats[("whole suite", m)]["n"])
        held = stats.get(("held-out part", ours), {"n": 0})
        fewer = held["n"] and all(held["fails"] < stats[("held-out part", m)]["fails"]
                                  for m in peers if stats[("held-out part", m)]["n"])
        out.append(core.Row(f"`{ours}` failures, whole suite", "≤ 1 in 10",
                            f"{whole['fails']}/{whole['n']}",
                            "met" if whole["fails"] * 10 <= whole["n"] else "missed", sec))
        out.append(core.Row(f"`{ours}` mean normalised regret, lowest of every method",
                            "lowest", f"{whole['norm_regret']:.2f} ("
                            + ", ".join(f"{m} {stats[('whole suite', m)]['norm_regret']:.2f}"
                                        for m in peers if stats[("whole suite", m)]["n"]) + ")",
                            "met" if best_regret else "missed", sec))
        if held["n"]:
            out.append(core.Row(f"`{ours}` fails less than every peer, held-out part",
                                "fewest", f"{held['fails']}/{held['n']} ("
                                + ", ".join(f"{m} {stats[('held-out part', m)]['fails']}"
                                            for m in peers if stats[("held-out part", m)]["n"])
                                + ")", "met" if fewer else "missed", sec))
        coll = sum(r["collapse"] for r in rows if r["method"] == ours)
        out.append(core.Row("short budgets: no collapse (below chance + 10 points)", "0",
                            str(coll), "met" if coll == 0 else "missed", sec))
        out += _clipped_rows(stats, ours, sec)
    head = _headline(rows, ours)
    if head:
        reg, f, n = head
        clipped = _headline(rows, CLIPPED)
        also = (f" (with `grad_clip=\"auto\"`, as `onecycle run` trains: {clipped[0]:.2f}, "
                f"{clipped[1]}/{clipped[2]})") if clipped else ""
        out.append(core.Row("regret on lenet-mnist (points), failures", "≤ 0.2, 0",
                            f"{reg:.2f}, {f}/{n}{also}",
                            "met" if reg <= 0.2 and f == 0 else "missed", sec))
    md = [core.table(["part", "method", "failures", "norm. regret", "collapses"], table_rows),
          "", _floor_line(data), "", _per_setting(rows, present)]
    return out, "\n".join(md)


def _clipped_rows(stats: dict[Any, Any], ours: str, sec: str) -> list[core.Row]:
    """The judgement written down before the clipped runs: on the held-out part, fewer
    failures than ``ours`` unclipped and no higher mean regret."""
    whole, held = stats.get(("whole suite", CLIPPED)), stats.get(("held-out part", CLIPPED))
    if not whole or not whole["n"] or not held or not held["n"]:
        return []
    base = stats[("held-out part", ours)]
    better = held["fails"] < base["fails"] and held["norm_regret"] <= base["norm_regret"]
    return [
        core.Row(f'`{ours}` trained with `grad_clip="auto"`: failures, whole suite',
                 "≤ 1 in 10", f"{whole['fails']}/{whole['n']} (regret {whole['norm_regret']:.2f}"
                 f", collapses {whole['collapses']})",
                 "met" if whole["fails"] * 10 <= whole["n"] else "missed", sec),
        core.Row('`grad_clip="auto"` vs none, held-out part: fewer failures, regret no '
                 "higher", "both", f"{held['fails']}/{held['n']} vs {base['fails']}/{base['n']}"
                 f", regret {held['norm_regret']:.2f} vs {base['norm_regret']:.2f}",
                 "met" if better else "missed", sec)]


def _headline(rows: list[dict[str, Any]], method: str) -> tuple[float, int, int] | None:
    """Mean regret, failures and runs of ``method`` on the headline setting (lenet-mnist)."""
    head = [r for r in rows if r["setting"] == "lenet-mnist" and r["method"] == method]
    if not head:
        return None
    return sum(r["regret"] for r in head) / len(head), sum(r["fail"] for r in head), len(head)


def _floor_line(data: dict[str, Any]) -> str:
    """The failure rule's floor: how often the grid-best LR itself, one fixed LR per
    (setting, budget), fails it (a seed's best of 7 grid runs beats it by luck too)."""
    fails = n = 0
    for g in (r for r in data["rows"] if r.get("kind") == "grid"):
        hib, margin = g["higher_is_better"], SETTINGS[g["setting"]].fail_margin
        at_best = g["grid"][str(g["best_lr"])]
        for i, v in enumerate(at_best):
            seed_runs = [col[i] for col in g["grid"].values() if col[i] is not None]
            n += 1
            fails += v is None or _worse(hib, (max if hib else min)(seed_runs), v) > margin
    return (f"For scale: the grid-best LR itself (one fixed LR per setting and budget, "
            f"chosen with hindsight) fails the same rule on {fails}/{n} (setting, budget, "
            "seed) triples, because each seed is compared with its own best of the 7 grid "
            "runs.")


def _per_setting(rows: list[dict[str, Any]], methods: list[str]) -> str:
    keys = sorted({(r["setting"], r["budget"]) for r in rows})
    body = []
    for st, b in keys:
        rs = [r for r in rows if r["setting"] == st and r["budget"] == b]
        first = rs[0]
        cells = [st, b, f"{first['best_lr']:.3g}", f"{first['best_mean']:.3g} {first['unit']}"]
        for m in methods:
            mine = [r for r in rs if r["method"] == m]
            vals = [r["regret"] for r in mine if math.isfinite(r["regret"])]
            fails = sum(r["fail"] for r in mine)
            cells.append(f"{(sum(vals) / len(vals)) if vals else math.nan:.2f} ({fails}/{len(mine)})")
        body.append(cells)
    return ("Regret per (setting, budget in epochs) in the headline's units (accuracy "
            "points, bpc, RMSE), with failures:\n\n"
            + core.table(["setting", "epochs", "grid-best LR", "grid-best mean", *methods], body))
