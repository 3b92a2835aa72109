"""GPU check: do onecycle's CUDA paths work, and what do they cost in memory?

One command, under 5 minutes on one GPU, from the repository root::

    python -m benchmarks.gpu_check                 # on a machine with CUDA
    python -m benchmarks.gpu_check --cpu-smoke     # the same code paths on CPU, < 1 min

Protocol (a CIFAR-style ResNet-20 on a synthetic 10-class 32x32 image task: each class a
fixed random pattern plus noise, so it is learnable and needs no download; the data
lives on the device, seed 0 everywhere; ``--cpu-smoke``: a small BatchNorm CNN on 8x8
images, the same calls):

1. AMP fits: ``Trainer.fit_one_cycle`` in fp32, bf16 and fp16 (GradScaler) from the same
   initial weights: final training loss, held-out accuracy, throughput, fp16's skipped
   steps. A mode passes when its held-out accuracy is within 2 points of fp32's (10
   with ``--cpu-smoke``, whose runs are tiny) and it did not diverge.
2. AMP range tests: ``lr_find`` under bf16 and fp16 against fp32 on the same weights and
   batches: the curves' largest relative loss difference over the first half of the
   sweep (before the blow-up amplifies rounding) and the ratio of ``auto``'s picks. A
   mode passes when the ratio is within 2x.
3. CUDA batch-size probing: ``onecycle.search.batch_size_search`` (probed on CUDA,
   estimated on CPU) with the device's free memory and with a small budget, which must
   stop below the largest candidate.
4. Finder peak memory against plain training: ``torch.cuda.max_memory_allocated``
   above the model's resident memory during plain training iterations, then during
   ``lr_find`` with ``restore=True`` (the default, a host-memory snapshot),
   ``restore="cpu"`` and ``restore="disk"``; each must stay within 1.25x of plain
   training (a snapshot on the GPU would double the weights and optimizer state), and
   the model must be restored exactly. On CPU the peaks are not measured (shown as —).

Prints one table and writes ``benchmarks/results/gpu_check.json`` (``--cpu-smoke``:
``benchmarks/results/quick/gpu_check_cpu_smoke.json``; ``--out`` to choose). Exits 0
when every check passes, 1 when one fails, and 0 with a one-line message when CUDA is
absent and ``--cpu-smoke`` was not asked for.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
AMP_MODES = (None, "bf16", "fp16")


@dataclass(frozen=True)
class Plan:
    """Sizes of one run: the real check on a GPU, or the smoke test on CPU."""

    device: str
    model: str
    width: int | None  # small_cnn's width; None for the ResNet
    max_lr: float
    n_train: int
    n_test: int
    image: int
    batch: int
    epochs: int
    finder_iters: int
    plain_iters: int
    candidates: tuple[int, ...]
    small_budget: str
    acc_tolerance: float


GPU_PLAN = Plan("cuda", "resnet20", None, 0.1, 20480, 4096, 32, 256, 3, 100, 100,
                (64, 128, 256, 512, 1024, 2048, 4096), "512MiB", 2.0)
#: the smoke test runs the same calls on a model and data small enough for a CPU
CPU_PLAN = Plan("cpu", "small_cnn", 8, 0.1, 640, 512, 8, 64, 3, 40, 20, (8, 16, 32, 64),
                "1MiB", 10.0)


def _name(amp: str | None) -> str:
    return amp or "fp32"


# ----------------------------------------------------------------------------- workload


def synthetic(plan: Plan, seed: int = 0) -> tuple[Any, Any, Any]:
    """``(train, test, patterns)``: 10 classes, each a fixed random image plus noise."""
    import torch

    g = torch.Generator().manual_seed(seed)
    shape = (3, plan.image, plan.image)
    patterns = torch.randn((10, *shape), generator=g)

    def split(n: int) -> tuple[Any, Any]:
        y = torch.randint(0, 10, (n,), generator=g)
        x = 0.6 * patterns[y] + torch.randn((n, *shape), generator=g)
        return x, y

    return split(plan.n_train), split(plan.n_test), patterns


def loaders(plan: Plan, train: Any, test: Any) -> tuple[Any, Any]:
    from onecycle.data import TensorLoader

    tr = TensorLoader(train, plan.batch, shuffle=True, seed=0, device=plan.device)
    te = TensorLoader(test, 512, device=plan.device)
    return tr, te


def fresh(plan: Plan) -> tuple[Any, Any]:
    """The same initial model and SGD every time (seed 0), on the device."""
    import torch

    from onecycle import models

    torch.manual_seed(0)
    kw = {} if plan.width is None else {"width": plan.width}
    m = models.create(plan.model, (3, plan.image, plan.image), 10, **kw).to(plan.device)
    opt = torch.optim.SGD(m.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    return m, opt


def _sync(plan: Plan) -> None:
    if plan.device == "cuda":
        import torch

        torch.cuda.synchronize()


# ----------------------------------------------------------------------------- 1. fits


def amp_fits(plan: Plan, tr: Any, te: Any, say: Callable[[str], None]) -> list[dict[str, Any]]:
    import torch.nn.functional as F

    from onecycle import Trainer

    rows = []
    warm = [batch for _, batch in zip(range(4), tr)]
    for amp in AMP_MODES:
        # a throw-away fit first: kernel selection and lazy initialisation are not timed
        m, opt = fresh(plan)
        Trainer(m, F.cross_entropy, opt, warm, amp=amp, device=plan.device,
                progress=False).fit_one_cycle(1, max_lr=plan.max_lr)
        m, opt = fresh(plan)
        trainer = Trainer(m, F.cross_entropy, opt, tr, amp=amp, device=plan.device,
                          metrics="accuracy", progress=False, seed=0)
        _sync(plan)
        t0 = time.perf_counter()
        h = trainer.fit_one_cycle(plan.epochs, max_lr=plan.max_lr)
        _sync(plan)
        wall = time.perf_counter() - t0
        ev = trainer.evaluate(te)
        rows.append({"amp": _name(amp), "final_loss": float(h.loss[-1]),
                     "test_loss": float(ev["loss"]), "test_acc": 100.0 * float(ev["accuracy"]),
                     "wall_s": wall, "samples_per_s": plan.epochs * plan.n_train / wall,
                     "skipped_steps": int(h.meta.get("skipped_steps", 0)),
                     "diverged": h.diverged is not None})
        say(f"  fit {_name(amp)}: test acc {rows[-1]['test_acc']:.2f} %, {wall:.1f} s")
    ref = rows[0]["test_acc"]
    for r in rows:
        r["pass"] = (not r["diverged"]) and math.isfinite(r["test_acc"]) and (
            r["test_acc"] >= ref - plan.acc_tolerance)
    return rows


# ----------------------------------------------------------------------------- 2. range tests


def amp_range_tests(plan: Plan, tr: Any, say: Callable[[str], None]) -> list[dict[str, Any]]:
    import numpy as np
    import torch.nn.functional as F

    from onecycle import lr_find

    curves = {}
    for amp in AMP_MODES:
        m, opt = fresh(plan)
        res = lr_find(m, opt, F.cross_entropy, tr, start_lr=1e-5, end_lr=10.0,
                      num_iter=plan.finder_iters, amp=amp, device=plan.device, seed=0,
                      progress=False)
        curves[_name(amp)] = res
        say(f"  range test {_name(amp)}: {len(res.lrs)} points, auto {res.suggest().lr}")
    ref = curves["fp32"]
    rows = []
    for name, res in curves.items():
        n = min(len(res.losses), len(ref.losses)) // 2
        a, b = np.asarray(res.losses[:n]), np.asarray(ref.losses[:n])
        rel = float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-12))) if n else math.nan
        pick, ref_pick = res.suggest().lr, ref.suggest().lr
        ratio = pick / ref_pick if pick and ref_pick else math.nan
        rows.append({"amp": name, "points": len(res.lrs), "stop": res.stop_reason,
                     "auto": pick, "auto_vs_fp32": ratio, "max_rel_loss_diff_first_half": rel,
                     "skipped_steps": int(res.config.get("skipped_steps", 0) or 0),
                     "pass": math.isfinite(ratio) and 0.5 <= ratio <= 2.0})
    return rows


# ----------------------------------------------------------------------------- 3. batch size


def batch_probe(plan: Plan, say: Callable[[str], None]) -> list[dict[str, Any]]:
    import torch.nn.functional as F

    from onecycle.search import batch_size_search

    rows = []
    for budget in (None, plan.small_budget):
        m, _opt = fresh(plan)
        res = batch_size_search(m, (3, plan.image, plan.image), loss_fn=F.cross_entropy,
                                device=plan.device, candidates=plan.candidates,
                                memory_budget=budget, progress=False)
        peaks = {r["batch_size"]: r.get("train_bytes") for r in res.rows}
        rows.append({"budget": budget or "free memory", "method": res.method,
                     "train_batch_size": res.train_batch_size,
                     "eval_batch_size": res.eval_batch_size, "budget_bytes": res.budget_bytes,
                     "train_bytes": peaks, "reason": res.reason})
        say(f"  batch size ({rows[-1]['budget']}): {res.train_batch_size} ({res.method})")
    rows[0]["pass"] = rows[0]["train_batch_size"] in plan.candidates
    rows[1]["pass"] = rows[1]["train_batch_size"] < max(plan.candidates)
    return rows


# ----------------------------------------------------------------------------- 4. memory


def _peak_above(plan: Plan, fn: Callable[[], Any]) -> float | None:
    """MiB allocated at the peak of ``fn()`` above what was allocated before it (CUDA)."""
    if plan.device != "cuda":
        fn()
        return None
    import torch

    torch.cuda.synchronize()
    base = torch.cuda.memory_allocated()
    torch.cuda.reset_peak_memory_stats()
    fn()
    torch.cuda.synchronize()
    return (torch.cuda.max_memory_allocated() - base) / 2**20


def finder_memory(plan: Plan, tr: Any, say: Callable[[str], None]) -> list[dict[str, Any]]:
    import torch
    import torch.nn.functional as F

    from onecycle import lr_find

    def plain(m: Any, opt: Any) -> None:
        it = iter(tr)
        for _ in range(plan.plain_iters):
            try:
                x, y = next(it)
            except StopIteration:
                it = iter(tr)
                x, y = next(it)
            loss = F.cross_entropy(m(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            loss.item()

    m, opt = fresh(plan)
    plain(m, opt)  # allocate gradients and momentum buffers, warm the kernels up
    rows = [{"run": f"{plan.plain_iters} plain iterations", "restore": None,
             "peak_mib": _peak_above(plan, lambda: plain(m, opt)), "restored": None}]
    for restore in (True, "cpu", "disk"):
        before = [p.detach().clone() for p in m.parameters()]
        peak = _peak_above(plan, lambda r=restore: lr_find(
            m, opt, F.cross_entropy, tr, start_lr=1e-5, end_lr=1e-2,
            num_iter=plan.finder_iters, diverge=math.inf, device=plan.device,
            restore=r, progress=False))
        same = all(torch.equal(a, b) for a, b in zip(before, m.parameters()))
        rows.append({"run": f"lr_find, restore={restore!r}", "restore": restore,
                     "peak_mib": peak, "restored": same})
        say(f"  memory restore={restore!r}: {peak if peak is None else round(peak, 1)} MiB, "
            f"restored {same}")
    plain_peak = rows[0]["peak_mib"]
    for r in rows:
        ratio = (r["peak_mib"] / plain_peak if r["peak_mib"] is not None and plain_peak
                 else None)
        r["vs_plain"] = ratio
        r["pass"] = (r["restored"] is not False) and (ratio is None or ratio <= 1.25)
    return rows


# ----------------------------------------------------------------------------- report


def _cell(v: Any, digits: int = 2) -> str:
    if v is None:
        return "—"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return "nan" if math.isnan(v) else f"{v:.{digits}f}" if abs(v) >= 1e-3 else f"{v:.2e}"
    return str(v)


def table_rows(data: dict[str, Any]) -> list[list[str]]:
    """One line per check: part, case, what was measured, pass."""
    out = []
    for r in data["amp_fits"]:
        out.append(["AMP fit", r["amp"], f"test acc {_cell(r['test_acc'])} %, loss "
                    f"{_cell(r['final_loss'], 3)}, {_cell(r['samples_per_s'], 0)} samples/s, "
                    f"skipped {r['skipped_steps']}", r["pass"]])
    for r in data["amp_range_tests"]:
        out.append(["range test", r["amp"], f"{r['points']} points ({r['stop']}), auto "
                    f"{_cell(r['auto'], 4)} = {_cell(r['auto_vs_fp32'])}x fp32's, loss diff "
                    f"{_cell(r['max_rel_loss_diff_first_half'], 4)}", r["pass"]])
    for r in data["batch_size"]:
        out.append(["batch size", str(r["budget"]), f"train {r['train_batch_size']}, eval "
                    f"{r['eval_batch_size']} ({r['method']})", r["pass"]])
    for r in data["finder_memory"]:
        out.append(["finder memory", r["run"], f"peak {_cell(r['peak_mib'], 1)} MiB above "
                    f"resident, {_cell(r['vs_plain'])}x plain, restored {_cell(r['restored'])}",
                    r["pass"]])
    return [[a, b, c, "pass" if ok else "FAIL"] for a, b, c, ok in out]


def print_table(rows: list[list[str]]) -> None:
    header = ["check", "case", "measured", "result"]
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    for line in [header, ["-" * w for w in widths], *rows]:
        print("  ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip())


def machine(plan: Plan) -> dict[str, Any]:
    import torch

    info = {"torch": torch.__version__, "cuda": torch.version.cuda,
            "python": platform.python_version(), "cpu_count": os.cpu_count(),
            "threads": torch.get_num_threads(), "device": plan.device}
    if plan.device == "cuda":
        p = torch.cuda.get_device_properties(0)
        info.update(gpu=p.name, gpu_memory_gib=round(p.total_memory / 2**30, 1),
                    bf16_supported=torch.cuda.is_bf16_supported())
    return info


def run(plan: Plan, say: Callable[[str], None]) -> dict[str, Any]:
    import torch

    warnings.filterwarnings("ignore")
    if plan.device == "cpu":
        torch.set_num_threads(min(2, os.cpu_count() or 1))
    t0 = time.perf_counter()
    train, test, _ = synthetic(plan)
    tr, te = loaders(plan, train, test)
    data: dict[str, Any] = {"plan": plan.__dict__, "machine": machine(plan)}
    data["amp_fits"] = amp_fits(plan, tr, te, say)
    data["amp_range_tests"] = amp_range_tests(plan, tr, say)
    data["batch_size"] = batch_probe(plan, say)
    data["finder_memory"] = finder_memory(plan, tr, say)
    data["wall_s"] = time.perf_counter() - t0
    data["pass"] = all(r["pass"] for part in ("amp_fits", "amp_range_tests", "batch_size",
                                              "finder_memory") for r in data[part])
    data["run"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    return data


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.gpu_check",
                                 description=__doc__.splitlines()[0])
    ap.add_argument("--cpu-smoke", action="store_true",
                    help="run the same code paths on CPU with tiny sizes (under a minute)")
    ap.add_argument("--out", default=None, help="where to write the JSON")
    args = ap.parse_args(argv)
    import torch

    if not args.cpu_smoke and not torch.cuda.is_available():
        print(f"gpu_check: CUDA is not available (torch {torch.__version__}, CUDA build "
              f"{torch.version.cuda}); nothing to check here (--cpu-smoke runs the same code "
              "paths on CPU)")
        return 0
    plan = CPU_PLAN if args.cpu_smoke else GPU_PLAN
    out = Path(args.out) if args.out else (
        HERE / "results" / "quick" / "gpu_check_cpu_smoke.json" if args.cpu_smoke
        else HERE / "results" / "gpu_check.json")

    def say(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    data = run(plan, say)
    data["command"] = "python -m benchmarks.gpu_check" + (" --cpu-smoke" if args.cpu_smoke else "")
    from onecycle._io import write_json_atomic

    write_json_atomic(out, data, indent=1)
    print_table(table_rows(data))
    print(f"{'all checks pass' if data['pass'] else 'SOME CHECKS FAILED'} in "
          f"{data['wall_s']:.0f} s on {data['machine'].get('gpu', plan.device)}; wrote {out}")
    return 0 if data["pass"] else 1


if __name__ == "__main__":
    sys.exit(main())
