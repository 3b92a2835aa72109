"""Compare: is a range test + 1cycle at least as good as what people use instead?

Protocol (fixed before the runs; settings, budgets and seeds from
:mod:`benchmarks.suite.settings`):

1. For every available setting, both of its budgets (short and long) and seeds 0-2
   (``--quick``: two small settings, seeds 0-1), ``onecycle.compare`` runs ours (the
   range test's budget-aware pick -> 1cycle, smith style, cyclical momentum) and every
   alternative of ``onecycle.compare.ALTERNATIVES`` -- OneCycleLR defaults, warm-up +
   cosine and linear decay and WSD at the same max_lr, a constant LR at the range test's
   minimum suggestion, schedule-free (SGD: 10 x the minimum, AdamW: 1 x max_lr) and
   Prodigy (Adam-like settings) -- each LR by its rule, from the same initial weights and
   batch order per seed (one ``compare`` call per (setting, seed): the range test is
   shared by the budgets; its sweep is the suggestions benchmark's: 100 iterations,
   SGD 1e-5 -> 10, AdamW 1e-6 -> 1). Every run is scored on the test split with the
   task's headline (accuracy, RMSE, bpc). A seed whose range test gives no pick is
   reported as such and left out.
2. The same again with ``tune="grid"``: every tunable alternative (cosine, linear decay,
   WSD, constant, schedule-free) runs at 10^-0.5, 1 and 10^0.5 x its rule's LR and keeps
   the best on the validation split; its time is the range test plus all three runs.
3. ``onecycle compare`` with its defaults (digits, small CNN), timed alone before the
   trials, one process.

Reported: per (setting, budget) and alternative, the verdict of ours against it (ahead /
tie / behind: the mean paired difference over seeds beyond / within one standard error,
the direction of the headline respected) in the rule mode, as wins/ties/losses; and the
time-to-target of each setting: the target is the best mean headline any alternative
reaches (either mode, either budget); a method's time is the median wall time from
nothing (range test, grid, training) at the first budget where its mean comes within one
standard error of the target; ours is compared with the fastest grid-tuned alternative.

    python -m benchmarks.suite run compare [--quick] [--workers 2] [--settings a,b]
"""

from __future__ import annotations

import functools
import math
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from typing import Any

from . import core, pool, trial
from .settings import DESIGN_SEEDS, SETTINGS, Setting, available, signature

NAME = "compare"
TITLE = "Compare"
VERSION = 1
QUICK_SETTINGS = ("mlp-digits-dropout", "mlp-diabetes")
TUNES = ("rule", "grid")


def plan(quick: bool, only: tuple[str, ...] = ()) -> tuple[list[Setting], tuple[int, ...]]:
    names = only or (QUICK_SETTINGS if quick else tuple(SETTINGS))
    settings = [SETTINGS[n] for n in names if n in SETTINGS and available(SETTINGS[n])]
    return settings, (DESIGN_SEEDS[:2] if quick else DESIGN_SEEDS)


def _optimizer(s: Setting) -> Any:
    import torch

    if s.optimizer == "sgd":
        return functools.partial(torch.optim.SGD, lr=1e-3, momentum=s.momentum,
                                 weight_decay=s.weight_decay)
    return functools.partial(torch.optim.AdamW, lr=1e-4, betas=(s.momentum, 0.999),
                             weight_decay=s.weight_decay)


def run_trial(t: dict[str, Any]) -> dict[str, Any]:
    """One ``onecycle.compare`` call: one setting, one seed, both budgets, one mode
    (and ``t["grad_clip"]`` for every run when a study sets it; unclipped otherwise)."""
    from onecycle import models
    from onecycle.compare import run_compare
    from onecycle.finder import NoUsableLR

    s = SETTINGS[t["setting"]]
    b = trial.bundle(s)
    make = functools.partial(models.create, s.model, b.input_shape, b.num_classes,
                             **s.model_options)
    start, end = (1e-5, 10.0) if s.optimizer == "sgd" else (1e-6, 1.0)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            report = run_compare(make, b, _optimizer(s), budgets=list(s.budgets),
                                 seeds=[t["seed"]], tune=t["tune"], batch_size=s.batch_size,
                                 lr_find_kw={"start_lr": start, "end_lr": end,
                                             "num_iter": 100},
                                 progress=False, threads=1, grad_clip=t.get("grad_clip"))
    except NoUsableLR as exc:  # a curve without a pick: reported, not a crash of the suite
        return {"error": str(exc)}
    return report.to_dict()


def _time_cli(say: Callable[[str], None]) -> dict[str, Any]:
    say("compare: timing `onecycle compare` (defaults) alone ...")
    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "onecycle", "compare", "--quiet",
                               "--out", d], capture_output=True, text=True)
        wall = time.perf_counter() - t0
    return {"wall_s": wall, "ok": proc.returncode == 0, "stderr": proc.stderr[-2000:]}


def run(quick: bool, workers: int, say: Callable[[str], None],
        only: tuple[str, ...] = ()) -> dict[str, Any]:
    t0 = time.perf_counter()
    settings, seeds = plan(quick, only)
    cli = _time_cli(say)
    cache = pool.Cache(core.results_dir(quick) / "compare_cache.jsonl")
    trials = [{"kind": "compare", "v": VERSION, "setting": s.name, "sig": signature(s),
               "seed": sd, "tune": tune} for tune in TUNES for s in settings for sd in seeds]
    got = pool.run_all(f"{__name__}:run_trial", trials, cache, workers=workers, say=say)
    reports, errors = {}, {}
    for t in trials:
        res = got[pool.key(t)]
        where = f"{t['setting']}|{t['tune']}"
        if "error" in res:
            errors[f"{where}|{t['seed']}"] = res["error"]
        else:
            reports.setdefault(where, []).append(res)
    data = {"quick": quick, "seeds": list(seeds), "settings": [s.name for s in settings],
            "cli": cli, "errors": errors, "trial_time": cache.spent(),
            "reports": {k: _merge(v) for k, v in reports.items()}}
    core.save(NAME, data, quick=quick, started=t0)
    return data


def _merge(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """One report over all seeds from the per-seed reports of one (setting, mode)."""
    out = dict(parts[0])
    out["seeds"] = [sd for p in parts for sd in p["seeds"]]
    out["runs"] = [r for p in parts for r in p["runs"]]
    out["range_tests"] = [rt for p in parts for rt in p["range_tests"]]
    for k in ("verdicts", "verdict"):
        out.pop(k, None)
    return out


# ----------------------------------------------------------------------------- analysis


def _report(d: dict[str, Any]) -> Any:
    from onecycle.compare import CompareReport

    return CompareReport.from_dict({**d, "format": "onecycle-compare"})


def _reached(r: Any, name: str, target: float) -> float:
    """Median wall time (tuning included) at the first budget where ``name``'s mean
    comes within one standard error of ``target``; inf if it never does."""
    for b in sorted(r.budgets):
        vals = [x.headline for x in r.records(name, b) if x.headline is not None]
        if not vals:
            continue
        m, _sd, se = core.mean_sd_se(vals)
        ok = m >= target - se if r.higher_is_better else m <= target + se
        if ok:
            return statistics.median(x.total_s for x in r.records(name, b))
    return math.inf


def _time_to_target(rule: Any, grid: Any) -> dict[str, Any]:
    better = max if rule.higher_is_better else min
    cands = [(rep.stats(n, b).mean, n, mode) for rep, mode in ((rule, "rule"), (grid, "grid"))
             if rep is not None for n in rep.alternatives if n != "ours" for b in rep.budgets
             if rep.stats(n, b).mean is not None]
    if not cands:
        return {}
    target, who, mode = better(cands, key=lambda c: c[0])
    ours = _reached(rule, "ours", target)
    grid_times = {n: _reached(grid, n, target) for n in (grid.alternatives if grid else [])
                  if grid.records(n, grid.budgets[0]) and grid.records(n, grid.budgets[0])[0].grid}
    fastest = min(grid_times.items(), key=lambda kv: kv[1], default=(None, math.inf))
    # inf: ours never gets there; nan: neither does; 0: only ours does
    ratio = (ours / fastest[1] if math.isfinite(fastest[1])
             else 0.0 if math.isfinite(ours) else math.nan)
    return {"target": target, "target_by": f"{who} ({mode})", "ours_s": ours,
            "fastest_grid": fastest[0], "fastest_grid_s": fastest[1], "ratio": ratio}


def analyse(data: dict[str, Any]) -> dict[str, Any]:
    pairs, wtl, ttt = [], {}, {}
    for name in data["settings"]:
        rule = data["reports"].get(f"{name}|rule")
        grid = data["reports"].get(f"{name}|grid")
        if rule is None:  # no seed's range test gave a pick: ours could not run at all
            pairs += [{"setting": name, "budget": b, "short": b == min(SETTINGS[name].budgets),
                       "ok": False, "status": {"ours": "no range-test pick"}}
                      for b in SETTINGS[name].budgets]
            continue
        r, g = _report(rule), (_report(grid) if grid else None)
        short = min(r.budgets)
        for v in r.verdicts():
            wtl.setdefault(v.alternative, {"ahead": 0, "tie": 0, "behind": 0, "no data": 0})
            wtl[v.alternative][v.status] += 1
        for b in r.budgets:
            vs = [v for v in r.verdicts() if v.budget == b]
            pairs.append({"setting": name, "budget": b, "short": b == short,
                          "ok": all(v.status in ("ahead", "tie") for v in vs),
                          "status": {v.alternative: v.status for v in vs}})
        ttt[name] = _time_to_target(r, g)
    return {"pairs": pairs, "wtl": wtl, "time_to_target": ttt}


def _short_row(pairs: list[dict[str, Any]], alt: str, label: str) -> core.Row:
    short = [p for p in pairs if p["short"] and alt in p["status"]]
    ahead = sum(p["status"][alt] == "ahead" for p in short)
    return core.Row(f"compare: ours ahead of {label} on the short budgets", "every one",
                    f"{ahead}/{len(short)}", "met" if short and ahead == len(short)
                    else "missed" if short else "—")


def summarize(data: dict[str, Any]) -> tuple[list[core.Row], str]:
    a = analyse(data)
    pairs = a["pairs"]
    ok = sum(p["ok"] for p in pairs)
    rows = [core.Row("compare: ours ≥ every alternative (within 1 SE), (setting, budget) pairs",
                     "≥ 80 %", f"{ok}/{len(pairs)}" + (f" ({100 * ok / len(pairs):.0f} %)"
                                                       if pairs else ""),
                     "met" if pairs and ok >= 0.8 * len(pairs) else "missed"),
            _short_row(pairs, "linear_decay", "linear decay"),
            _short_row(pairs, "schedulefree", "schedule-free")]
    ttt = [t for t in a["time_to_target"].values() if t]
    fast = sum(math.isfinite(t["ours_s"]) and t["ratio"] <= 0.5 for t in ttt)
    never = sum(not math.isfinite(t["ours_s"]) for t in ttt)
    rows.append(core.Row("time-to-target incl. tuning: settings where ours gets there in ≤ 0.5× "
                         "the fastest grid-tuned alternative's time (or alone)", "every one",
                         f"{fast}/{len(ttt)} (ours never gets there: {never})",
                         "met" if ttt and fast == len(ttt) else "missed" if ttt else "—"))
    cli = data.get("cli") or {}
    if cli:
        rows.append(core.Row("`onecycle compare` (defaults: digits) on 2 cores", "< 2 min",
                             f"{cli['wall_s']:.0f} s" + ("" if cli.get("ok") else " (failed)"),
                             "met" if cli.get("ok") and cli["wall_s"] < 120 else "missed"))
    return rows, _markdown(data, a)


def _ratio_cell(t: dict[str, Any]) -> str:
    if not math.isfinite(t["ours_s"]):
        return "ours never"
    if not math.isfinite(t["fastest_grid_s"]):
        return "only ours"
    return f"{t['ratio']:.2f}×"


def _markdown(data: dict[str, Any], a: dict[str, Any]) -> str:
    from onecycle.compare import ALTERNATIVES

    wtl = a["wtl"]
    head = ["alternative", "ours ahead", "tie", "ours behind"]
    body = [[ALTERNATIVES[n].label if n in ALTERNATIVES else n, c["ahead"], c["tie"],
             c["behind"]] for n, c in wtl.items()]
    per = [[p["setting"], p["budget"], "yes" if p["ok"] else "**no**",
            ", ".join(f"{k}: {v}" for k, v in p["status"].items()
                      if v not in ("ahead", "tie")) or "—"]
           for p in a["pairs"]]
    ttt = [[n, f"{t['target']:.4g} by {t['target_by']}", core_seconds(t["ours_s"]),
            f"{t['fastest_grid']} {core_seconds(t['fastest_grid_s'])}",
            _ratio_cell(t)]
           for n, t in a["time_to_target"].items() if t]
    errors = [f"- {k.replace('|', ', ')}: {v}" for k, v in (data.get("errors") or {}).items()]
    missing = [n for n in SETTINGS if n not in data["settings"]]
    scope = (f"Settings run: {', '.join(data['settings'])}; seeds {data['seeds']}."
             + (f" **Not run** (cost): {', '.join(missing)}." if missing else ""))
    return "\n".join([
        scope, "",
        "Wins/ties/losses of ours against each alternative over (setting, budget) pairs "
        "(rule mode):", "", core.table(head, body), "",
        "Test headline per (setting, budget in epochs), mean ± sd over seeds (rule mode; "
        "accuracy in %):", "", _headlines(data), "",
        "Per (setting, budget in epochs): ours at least as good as every alternative?", "",
        core.table(["setting", "epochs", "ours ≥ all", "where an alternative wins"], per), "",
        "Time-to-target (wall time from nothing, tuning included):", "",
        core.table(["setting", "target", "ours", "fastest grid-tuned", "ratio"], ttt)]
        + (["", "Seeds left out (the range test gave no pick):", "", *errors] if errors else []))


def _headlines(data: dict[str, Any]) -> str:
    from onecycle.compare import ALTERNATIVES

    names = list(ALTERNATIVES)
    rows = []
    for name in data["settings"]:
        d = data["reports"].get(f"{name}|rule")
        if d is None:
            continue
        r = _report(d)
        for b in r.budgets:
            rows.append([name, b] + [r.stats(n, b).text(r.scale) if n in r.alternatives
                                     else "—" for n in names])
    return core.table(["setting", "epochs", *(ALTERNATIVES[n].label for n in names)], rows)


def core_seconds(v: float) -> str:
    return "never" if not math.isfinite(v) else f"{v:.1f} s"
