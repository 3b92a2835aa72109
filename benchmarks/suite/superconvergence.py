"""Super-convergence: how many fewer epochs does 1cycle need than Smith's baselines on MNIST?

Protocol (Smith, arXiv 1803.09820, on this machine): LeNet-5 (``lenet``), batch 512, SGD
momentum 0.9 (cycled 0.95 -> 0.85 by the 1cycle schedules), weight decay 5e-4, full MNIST
(54k training, 10k test images; ``--quick``: 10,240 / 2,000), seeds 0-2 (``--quick``: 0)
for model initialisation and data order. Every run goes through one hand-written loop
(the scheduler stepped after every optimizer step, test accuracy after every epoch;
stopped and flagged as diverged when the training loss is non-finite or > 1e4), so every
schedule is trained and timed alike:

* finder: ``onecycle.lr_find`` (1e-5 -> 10, 100 iterations) on each seed's fresh model;
  its ``auto`` pick is the peak of every cycle of that seed (no hand tuning), its
  ``minimum`` pick the constant-LR baseline's LR;
* 1cycle at 2 and 4 epochs (``--quick``: 1, 2): ``OneCycle`` smith style (ours), and at
  the same peak torch's ``OneCycleLR`` and our ``style="fastai"`` at their defaults;
* Caffe ``inv``: ``0.01 * (1 + 1e-4 * it) ** -0.75`` for 16 epochs (4), accuracy after
  every epoch;
* constant LR for 4 epochs; budget-aware linear decay to zero
  (``onecycle.linear_decay``) at 2, 3, 4 and 6 epochs (1, 2), its LR tuned on the grid
  0.01, 0.03, 0.1 on the first seed (by test accuracy, which favours the baseline; a
  best LR at the grid's edge extends it by one step, at most twice), then run on the
  other seeds.

k = (baseline epochs until its mean accuracy comes within one standard error of the
difference of the 1cycle mean) / (1cycle epochs), against inv and against linear decay.
The paper's own protocol (85 epochs of inv, 10 seeds, about 70 minutes) is not rerun
here: its result files are in ``benchmarks/studies/paper-protocol/results/`` and are
reported below (the script that wrote them is kept there).

``--settings`` may name datasets (default ``mnist``; ``fashion-mnist`` runs the same
protocol on Fashion-MNIST; other names are the other benchmarks' and are ignored here);
datasets not run keep their previous results. Trials are cached in
``results/superconvergence_cache.jsonl`` (resumable).

    python -m benchmarks.suite run superconvergence [--quick] [--settings fashion-mnist]
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from . import core, pool, workload

NAME = "superconvergence"
TITLE = "Super-convergence"
VERSION = 1
ARCH, BATCH, MOMENTUM, WD = "lenet", 512, 0.9, 5e-4
FINDER = {"start_lr": 1e-5, "end_lr": 10.0, "num_iter": 100}
STYLES = ("smith", "torch", "fastai")
LABEL = {"smith": "onecycle (smith, finder LR)", "torch": "torch OneCycleLR defaults",
         "fastai": "fastai defaults (style=fastai)"}
MAX_GRID_EXTENSIONS = 2
PAPER = core.BENCH / "studies" / "paper-protocol" / "results"
PAPER_K = 7.1  # Smith's 85 epochs of inv over 12 of 1cycle
DATASETS = ("mnist", "fashion-mnist")


def plan(quick: bool) -> dict[str, Any]:
    if quick:
        return {"seeds": [0], "budgets": [1, 2], "inv_epochs": 4, "lin_budgets": [1, 2],
                "grid": [0.03, 0.1]}
    return {"seeds": [0, 1, 2], "budgets": [2, 4], "inv_epochs": 16,
            "lin_budgets": [2, 3, 4, 6], "grid": [0.01, 0.03, 0.1]}


# ----------------------------------------------------------------------------- one trial


def _data(dataset: str, quick: bool) -> Any:
    return workload.bundle(dataset, train=10240 if quick else None, test=2000 if quick else None)


def _scheduler(kind: str, opt: torch.optim.Optimizer, total: int, lr: float) -> Any:
    import onecycle as oc

    if kind in ("smith", "fastai"):
        return oc.OneCycle(opt, max_lr=lr, total_steps=total, style=kind)
    if kind == "torch":
        return torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=total)
    if kind == "inv":  # Caffe's "inv" policy at Smith's base LR 0.01
        return oc.ParamScheduler(opt, {"lr": lambda it: 0.01 * (1.0 + 1e-4 * it) ** -0.75})
    if kind == "linear":
        return oc.ParamScheduler(opt, {"lr": oc.linear_decay(total, lr)}, total_steps=total)
    if kind == "const":
        return oc.ParamScheduler(opt, {"lr": oc.constant_lr(total, lr)}, total_steps=total)
    raise ValueError(f"kind={kind!r} is not a schedule of this benchmark")


def train(m: torch.nn.Module, opt: torch.optim.Optimizer, tr: Any, te: Any, epochs: int,
          sched: Any, every_epoch: bool = True) -> dict[str, Any]:
    """``epochs`` epochs, ``sched.step()`` after every ``opt.step()``; per-epoch test
    accuracy (only the last with ``every_epoch=False``) and the counters."""
    h: dict[str, Any] = {"test_acc": [], "iteration": [], "train_time": 0.0, "diverged": False}
    it = 0
    m.train()
    for ep in range(epochs):
        t0 = time.perf_counter()
        if not h["diverged"]:
            for x, y in tr:
                loss = F.cross_entropy(m(x), y)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
                it += 1
                lv = loss.item()
                if not math.isfinite(lv) or lv > 1e4:
                    h["diverged"] = True
                    break
        h["train_time"] += time.perf_counter() - t0
        h["iteration"].append(it)
        last = ep == epochs - 1 or h["diverged"]
        h["test_acc"].append(workload.evaluate(m, te)[1] if every_epoch or last else None)
    h["final_acc"] = h["test_acc"][-1]
    h["iterations"] = it
    return h


def trial(t: dict[str, Any]) -> dict[str, Any]:
    """One run of the protocol (a worker process runs it): a finder, or a training."""
    from onecycle import lr_find

    warnings.filterwarnings("ignore")
    b = _data(t["dataset"], t["quick"])
    tr, te = workload.loaders(b, BATCH, t["seed"])
    kind, lr = t["kind"], t.get("lr")
    m = workload.model(ARCH, b, t["seed"])
    opt = workload.sgd(m, 0.01 if kind in ("finder", "inv") else lr, MOMENTUM, WD)
    if kind == "finder":
        t0 = time.perf_counter()
        res = lr_find(m, opt, F.cross_entropy, tr, seed=t["seed"], progress=False, **FINDER)
        sug = {meth: res.suggest(meth) for meth in ("auto", "minimum")}
        return {"time": time.perf_counter() - t0, "iterations": len(res.lrs),
                "stop": res.stop_reason, "auto": sug["auto"].lr, "minimum": sug["minimum"].lr,
                "reason": sug["auto"].reason}
    total = t["epochs"] * len(tr)
    return train(m, opt, tr, te, t["epochs"], _scheduler(t.get("style", kind), opt, total, lr),
                 every_epoch=kind != "linear")


# ----------------------------------------------------------------------------- running


class _Runner:
    """The trials of one dataset, through the suite's resumable pool."""

    def __init__(self, dataset: str, quick: bool, workers: int, say: Callable[[str], None]):
        self.base = {"v": VERSION, "dataset": dataset, "quick": quick}
        self.cache = pool.Cache(core.results_dir(quick) / "superconvergence_cache.jsonl")
        self.workers, self.say = workers, say

    def key(self, kind: str, seed: int, epochs: int = 0, lr: float | None = None,
            style: str | None = None) -> dict[str, Any]:
        t = {**self.base, "kind": kind, "seed": seed, "epochs": epochs}
        if lr is not None:
            t["lr"] = float(f"{lr:.6g}")
        if style is not None:
            t["style"] = style
        return t

    def run(self, trials: list[dict[str, Any]]) -> None:
        pool.run_all(f"{__name__}:trial", trials, self.cache, workers=self.workers, say=self.say)

    def get(self, *a: Any, **kw: Any) -> dict[str, Any]:
        return self.cache.get(self.key(*a, **kw))


def _tune_linear(r: _Runner, p: dict[str, Any]) -> dict[str, list[float]]:
    """The linear-decay grid per budget on the first seed, extended at a best edge."""
    s0 = p["seeds"][0]
    grids = {E: list(p["grid"]) for E in p["lin_budgets"]}
    for _ in range(MAX_GRID_EXTENSIONS + 1):
        more = []
        for E, g in grids.items():
            accs = [r.get("linear", s0, E, lr)["final_acc"] for lr in g]
            best = max(range(len(g)), key=lambda i: accs[i])
            if best in (0, len(g) - 1) and len(g) > 1 and len(g) < len(p["grid"]) + MAX_GRID_EXTENSIONS:
                lr = float(f"{(g[-1] ** 2 / g[-2] if best else g[0] ** 2 / g[1]):.2g}")
                g.insert(len(g) if best else 0, lr)
                more.append(r.key("linear", s0, E, lr))
        if not more:
            break
        r.run(more)
    return grids


def run_dataset(dataset: str, quick: bool, workers: int, say: Callable[[str], None]
                ) -> dict[str, Any]:
    t0 = time.perf_counter()
    p = plan(quick)
    r = _Runner(dataset, quick, workers, say)
    seeds = p["seeds"]
    r.run([r.key("finder", s) for s in seeds])
    fnd = {s: r.get("finder", s) for s in seeds}
    if any(f["auto"] is None for f in fnd.values()):
        raise RuntimeError("the finder gave no suggestion: "
                           + "; ".join(f["reason"] for f in fnd.values() if f["auto"] is None))
    const_epochs = max(p["budgets"])
    r.run([r.key("inv", s, p["inv_epochs"]) for s in seeds]
          + [r.key("cycle", s, E, fnd[s]["auto"], st) for E in sorted(p["budgets"], reverse=True)
             for s in seeds for st in STYLES]
          + [r.key("linear", seeds[0], E, lr) for E in p["lin_budgets"] for lr in p["grid"]]
          + [r.key("const", s, const_epochs, fnd[s]["minimum"]) for s in seeds])
    grids = _tune_linear(r, p)
    best = {E: max(g, key=lambda lr, E=E: r.get("linear", seeds[0], E, lr)["final_acc"])
            for E, g in grids.items()}
    r.run([r.key("linear", s, E, best[E]) for E in p["lin_budgets"] for s in seeds[1:]])
    R: dict[str, Any] = {
        "finder": [{"seed": s, **fnd[s]} for s in seeds],
        "cycle": {f"{st}:{E}": [r.get("cycle", s, E, fnd[s]["auto"], st) for s in seeds]
                  for E in p["budgets"] for st in STYLES},
        "inv": [r.get("inv", s, p["inv_epochs"]) for s in seeds],
        "const": [{**r.get("const", s, const_epochs, fnd[s]["minimum"]), "lr": fnd[s]["minimum"]}
                  for s in seeds],
        "lin_grid": {str(E): [{"lr": lr, **r.get("linear", seeds[0], E, lr)} for lr in g]
                     for E, g in grids.items()},
        "lin": {str(E): {"lr": best[E], "grid": grids[E],
                         "runs": [r.get("linear", s, E, best[E]) for s in seeds]}
                for E in p["lin_budgets"]},
    }
    b = _data(dataset, quick)
    return {**p, "dataset": dataset, "n_train": len(b.train), "n_test": len(b.test),
            "steps_per_epoch": len(workload.loaders(b, BATCH, 0)[0]), "results": R,
            "wall_s": time.perf_counter() - t0, "trial_time": r.cache.spent()}


def _summed_trial_time(datasets: Any) -> dict[str, Any] | None:
    """The trials' run time over every dataset (None when one was run before it was
    recorded: a partial sum would understate the cost)."""
    spent = [d.get("trial_time") for d in datasets]
    if not spent or any(t is None for t in spent):
        return None
    return {k: sum(t[k] for t in spent) for k in ("trials", "seconds", "unrecorded")}


def run(quick: bool, workers: int, say: Callable[[str], None],
        only: tuple[str, ...] = ()) -> dict[str, Any]:
    t0 = time.perf_counter()
    # ``--settings`` is shared by every benchmark of a run: take the datasets named there
    names = tuple(n for n in only if n in DATASETS) or ("mnist",)
    previous = core.load(NAME, quick) or {}
    datasets = dict(previous.get("datasets", {}))
    for n in names:
        datasets[n] = run_dataset(n, quick, workers, say)
        plot(datasets[n], core.results_dir(quick) / f"{NAME}_{n}.png")
    data = {"quick": quick, "datasets": {n: datasets[n] for n in DATASETS if n in datasets}}
    data["trial_time"] = _summed_trial_time(data["datasets"].values())
    core.save(NAME, data, quick=quick, started=t0)
    return data


# ----------------------------------------------------------------------------- analysis


def k_ratio(base_epochs: Sequence[int], base_accs: Sequence[Sequence[float]],
            target_accs: Sequence[float], E: int) -> tuple[float, int | None, bool, float]:
    """``(k, epochs, open, k_low)``: the smallest baseline epoch count whose mean comes
    within one standard error of the difference of the target's mean, over ``E``.
    ``open``: never reached (k is a lower bound). When the epoch counts just below the
    match were not measured, the true k lies in ``(k_low, k]``."""
    tm, _, tse = core.mean_sd_se(target_accs)
    prev = 0
    for e, accs in zip(base_epochs, base_accs):
        bm, _, bse = core.mean_sd_se(accs)
        if bm >= tm - math.hypot(tse, bse):
            return e / E, e, False, (prev / E if prev < e - 1 else e / E)
        prev = e
    return max(base_epochs) / E, None, True, max(base_epochs) / E


def analyse(d: dict[str, Any]) -> dict[str, Any]:
    """k against inv and linear decay, and ours against the peers, per budget."""
    R = d["results"]
    inv_ep = list(range(1, d["inv_epochs"] + 1))
    inv_accs = [[h["test_acc"][e - 1] for h in R["inv"]] for e in inv_ep]
    lin_ep = sorted(int(e) for e in R["lin"])
    lin_accs = [[h["final_acc"] for h in R["lin"][str(e)]["runs"]] for e in lin_ep]
    rows = []
    for E in d["budgets"]:
        acc = {st: [h["final_acc"] for h in R["cycle"][f"{st}:{E}"]] for st in STYLES}
        k_inv, e_inv, open_inv, _ = k_ratio(inv_ep, inv_accs, acc["smith"], E)
        k_lin, e_lin, open_lin, k_lin_low = k_ratio(lin_ep, lin_accs, acc["smith"], E)
        mean = {st: core.mean_sd_se(v)[0] for st, v in acc.items()}
        below1 = False
        if E in lin_ep:
            lm, _, lse = core.mean_sd_se(lin_accs[lin_ep.index(E)])
            om, _, ose = core.mean_sd_se(acc["smith"])
            below1 = lm > om + math.hypot(lse, ose)
        rows.append({"E": E, "acc": acc, "k_inv": k_inv, "e_inv": e_inv, "open_inv": open_inv,
                     "k_lin": k_lin, "e_lin": e_lin, "open_lin": open_lin,
                     "k_lin_low": k_lin_low, "below1": below1,
                     "vs_torch": mean["smith"] >= mean["torch"],
                     "vs_fastai": mean["smith"] >= mean["fastai"]})
    return {"rows": rows, "inv_ep": inv_ep, "inv_accs": inv_accs, "lin_ep": lin_ep,
            "lin_accs": lin_accs}


def _k_lin_text(kr: dict[str, Any], lin_ep: list[int]) -> str:
    if kr["open_lin"]:
        text = f"> {kr['k_lin']:.2f} (not reached at {max(lin_ep)} epochs)"
    elif kr["k_lin_low"] == 0:
        text = f"≤ {kr['k_lin']:.2f} (needs at most {kr['e_lin']} epochs; fewer not measured)"
    elif kr["k_lin_low"] < kr["k_lin"]:
        text = (f"{kr['k_lin_low']:.2f}–{kr['k_lin']:.2f} (needs {kr['e_lin']} epochs; "
                "nothing measured between)")
    else:
        text = f"{kr['k_lin']:.2f} (needs {kr['e_lin']} epochs)"
    return text + (" — **below 1**" if kr["below1"] else "")


def _accuracy_table(d: dict[str, Any], a: dict[str, Any]) -> str:
    R, spe, n = d["results"], d["steps_per_epoch"], d["n_train"]
    t_find = [f["time"] for f in R["finder"]]
    body = []
    for E in d["budgets"]:
        for st in STYLES:
            rr = R["cycle"][f"{st}:{E}"]
            train_s = [h["train_time"] for h in rr]
            body.append([LABEL[st], E, rr[0]["iterations"], f"**{core.pm([h['final_acc'] for h in rr])}**",
                         core.pm(train_s, 0), core.pm([x + f for x, f in zip(train_s, t_find)], 0)])
    for e, accs in zip(a["lin_ep"], a["lin_accs"]):
        lin = R["lin"][str(e)]
        grid = ", ".join(f"{v:g}" for v in lin["grid"])
        body.append([f"linear decay (budget-aware, lr {lin['lr']:g}, best of {grid})", e,
                     lin["runs"][0]["iterations"], core.pm(accs),
                     core.pm([h["train_time"] for h in lin["runs"]], 0), "—"])
    cl = ", ".join(f"{h['lr']:.3g}" for h in R["const"])
    ce = len(R["const"][0]["test_acc"])
    for e in sorted({*d["budgets"], ce}):
        body.append([f"constant LR (finder `minimum`: {cl})", e, e * spe,
                     core.pm([h["test_acc"][e - 1] for h in R["const"]]), "—", "—"])
    for e in sorted({*d["budgets"], 4, 8, 12, d["inv_epochs"]}):
        if e <= d["inv_epochs"]:
            body.append(["Caffe inv (lr 0.01)", e, e * spe, core.pm(a["inv_accs"][e - 1]), "—", "—"])
    head = (f"LeNet-5 on {d['dataset']} ({n} training, {d['n_test']} test images), batch {BATCH} "
            f"({spe} iterations/epoch), seeds {d['seeds']}; test accuracy %, mean ± std. "
            f"Finder picks (`auto`) per seed: "
            + ", ".join(f"{f['auto']:.3g}" for f in R["finder"])
            + f"; finder {core.pm(t_find, 1)} s.")
    return head + "\n\n" + core.table(["schedule", "epochs", "iterations", "test acc %",
                                       "train s", "train + finder s"], body)


def _k_table(d: dict[str, Any], a: dict[str, Any]) -> str:
    body = []
    for kr in a["rows"]:
        ki = (f"> {kr['k_inv']:.1f} (inv never reached it in {d['inv_epochs']} epochs)"
              if kr["open_inv"] else f"{kr['k_inv']:.2f} (inv needs {kr['e_inv']} epochs)")
        body.append([kr["E"], ki, _k_lin_text(kr, a["lin_ep"]),
                     "yes" if kr["vs_torch"] else "**no**", "yes" if kr["vs_fastai"] else "**no**"])
    div = sum(h["diverged"] for v in d["results"]["cycle"].values() for h in v)
    return (core.table(["1cycle epochs", "k vs Caffe inv", "k vs linear decay",
                        "≥ torch defaults", "≥ fastai defaults"], body)
            + f"\n\nDivergences among the 1cycle runs: {div}. The linear-decay grid is tuned "
            "on the first seed's test accuracy (an advantage for the baseline); where it "
            "catches up after a gap in the budgets run, k is shown as a range.")


def _paper_section(up: str) -> tuple[list[dict[str, Any]], str]:
    """The archived paper-protocol runs (85 epochs of inv), one row per file."""
    files = [("b2_paper_lenet", "LeNet-5, seeds 0–9"),
             ("b2_paper_lenet_seeds5-9", "LeNet-5, seeds 5–9 (held out)"),
             ("b2_paper_lenet_seeds0-4", "LeNet-5, seeds 0–4"),
             ("b2_paper_caffe_lenet", "Caffe's LeNet, seeds 0–2")]
    rows, body = [], []
    for name, label in files:
        path = PAPER / f"{name}.json"
        if not path.exists():
            continue
        from onecycle._io import read_json

        d = read_json(path)
        inv_final = [h["test_acc"][-1] for h in d["inv"]]
        for peak, pk in d["paper_k"].items():
            best = d["best"][peak]
            kind = "finder `auto`" if peak.startswith("finder") else peak
            if pk is None:
                k = "no budget matches"
            elif pk["k_high"] is None:  # a match at the smallest budget run: a lower bound
                k = f"≥ {pk['k']:.2f}"
            elif pk["k_high"] <= pk["k"] + 1e-9:
                k = f"{pk['k']:.2f}"
            else:
                k = f"{pk['k']:.2f}–{pk['k_high']:.2f}"
            rows.append({"file": name, "label": label, "peak": kind, "paper_k": pk,
                         "b2_k": best["k"]})
            body.append([label, kind, core.pm(inv_final),
                         "—" if pk is None else pk["epochs"], k,
                         f"{'> ' if best['open'] else ''}{best['k']:.2f}"])
    md = ("Smith's protocol: 85 epochs of inv (about Caffe's 10,000-iteration LeNet solver), "
          "evaluated every epoch, against 1cycle at 4–12 epochs. The paper's reading of k: "
          "85 / the fewest cycle epochs whose mean comes within one standard error of inv's "
          "final mean (Smith: 85 / 12 = 7.1); this benchmark's reading (inv's epochs to reach the cycle's mean, over the cycle's epochs) as above. Not rerun: the files "
          "are in `studies/paper-protocol/results/` (command and code in each).\n\n"
          + core.table(["network, seeds", "peak", "inv at 85 epochs", "cycle epochs matching",
                        "k, paper's reading", "k, this benchmark's reading"], body)
          + f"\n\n![paper protocol, LeNet-5]({up}studies/paper-protocol/results/b2_paper_lenet.png)")
    return rows, md


def summarize(data: dict[str, Any]) -> tuple[list[core.Row], str]:
    out: list[core.Row] = []
    parts = []
    paper_rows, paper_md = _paper_section("../../" if data.get("quick") else "")
    head = next((r for r in paper_rows if r["file"] == "b2_paper_lenet"
                 and r["peak"] == "finder `auto`"), None)
    if head and head["paper_k"]:
        k = head["paper_k"]["k"]
        out.append(core.Row("k vs Caffe inv, the paper's protocol (LeNet-5, 10 seeds, finder's "
                            "pick)", f"≥ {PAPER_K}× (Smith's)", f"{k:.2f}×",
                            workload.verdict(k >= PAPER_K)))
    prefix = "" if data.get("quick") else "results/"
    for name, d in data["datasets"].items():
        a = analyse(d)
        if name == "mnist":
            best_inv = max(a["rows"], key=lambda kr: kr["k_inv"])
            out.append(core.Row(f"k vs Caffe inv, {d['inv_epochs']} epochs of inv (MNIST)", "—",
                                f"{'> ' if best_inv['open_inv'] else ''}{best_inv['k_inv']:.2f}×",
                                "—"))
            best_lin = max(a["rows"], key=lambda kr: kr["k_lin_low"])
            out.append(core.Row("k vs budget-aware linear decay (MNIST)", "≈ 1.5× (Li et al.)",
                                ("> " if best_lin["open_lin"] else "")
                                + f"{best_lin['k_lin']:.2f}× at {best_lin['E']} epochs", "—"))
            ahead = sum(kr["vs_torch"] + kr["vs_fastai"] for kr in a["rows"])
            # no target here: the compare benchmark judges ours against the alternatives
            out.append(core.Row("1cycle ≥ torch and fastai defaults at the same peak: "
                                "(budget, peer) pairs (MNIST, 3 seeds)", "—",
                                f"{ahead}/{2 * len(a['rows'])}", "—"))
        parts.append(f"### {name}\n\n![accuracy vs epochs]({prefix}{NAME}_{name}.png)\n\n"
                     + _accuracy_table(d, a) + "\n\n" + _k_table(d, a)
                     + (f"\n\n_{d['imported']}_" if d.get("imported") else ""))
    parts.append("### The paper's protocol (85 epochs of inv)\n\n" + paper_md)
    return out, "\n\n".join(parts)


def plot(d: dict[str, Any], path: Path) -> Path:
    """Accuracy against epochs for every schedule (mean ± std over seeds)."""
    import matplotlib

    matplotlib.use("Agg")
    import numpy as np
    from matplotlib.figure import Figure

    from onecycle._io import save_figure

    R, a = d["results"], analyse(d)
    fig = Figure(figsize=(8, 5))
    ax = fig.add_subplot(1, 1, 1)

    def band(x: list[int], accs: list[list[float]], label: str, **kw: Any) -> None:
        mu = np.array([np.mean(v) for v in accs])
        sd = np.array([np.std(v, ddof=1) if len(v) > 1 else 0.0 for v in accs])
        (line,) = ax.plot(x, mu, label=label, **kw)
        ax.fill_between(x, mu - sd, mu + sd, color=line.get_color(), alpha=0.15)

    band(a["inv_ep"], a["inv_accs"], "Caffe inv (lr 0.01)", color="k", marker=".")
    ce = list(range(1, len(R["const"][0]["test_acc"]) + 1))
    band(ce, [[h["test_acc"][e - 1] for h in R["const"]] for e in ce],
         "constant (finder 'minimum')", color="0.5", ls=":", marker=".")
    band(a["lin_ep"], a["lin_accs"], "linear decay, tuned per budget (final)",
         color="tab:brown", ls="--", marker="s")
    colors = {"smith": "tab:red", "torch": "tab:blue", "fastai": "tab:green"}
    for j, E in enumerate(d["budgets"]):
        for st in STYLES:
            x = list(range(1, E + 1))
            band(x, [[h["test_acc"][e - 1] for h in R["cycle"][f"{st}:{E}"]] for e in x],
                 f"{LABEL[st]}, {E} ep", color=colors[st], ls="-" if j % 2 == 0 else "-.",
                 marker="o", ms=4)
    finals = [float(np.mean(v)) for v in a["inv_accs"][-1:] + a["lin_accs"]]
    finals += [float(np.mean([h["final_acc"] for h in v])) for v in R["cycle"].values()]
    ax.set_ylim(max(0.0, min(finals) - 2.0), min(100.0, max(finals) + 0.5))
    ax.set_xlim(0.8, len(a["inv_accs"]) + 0.2)
    ax.set_xlabel("epoch")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(f"{d['dataset']}: LeNet-5, batch {BATCH} (mean ± std over seeds)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return save_figure(fig, path)
