"""The B4 budget prototype (``auto x min(1, warm-up / 170)``) on the default ``onecycle run``.

For each seed: ``onecycle run`` as the README runs it (digits, small CNN, 8 epochs), then
the same run with ``--max-lr`` set to its suggestion scaled by the prototype. Compares the
final validation loss and accuracy and the test accuracy of the 1cycle runs. Writes
``results/budget_prototype_digits.md``.

    python benchmarks/budget_prototype_digits.py [--seeds 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from b4_suggestions import KNEE  # noqa: E402
from common import write  # noqa: E402
from onecycle.cli import main as cli  # noqa: E402
from onecycle.schedule import OneCycleSchedule  # noqa: E402


def _run(out: Path, seed: int, max_lr: float | None = None) -> dict:
    argv = ["run", "--out", str(out), "--seed", str(seed), "-q"]
    if max_lr is not None:
        argv += ["--max-lr", f"{max_lr:.6g}"]
    if cli(argv) != 0:
        raise SystemExit(f"onecycle run failed: {argv}")
    return json.loads((out / "summary.json").read_text())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=3)
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(args.seeds):
            base = _run(Path(tmp) / f"a{seed}", seed)
            total = int(base["total_steps"])
            warmup = OneCycleSchedule(total, 1.0, style=base["schedule"]["style"]).pct_start * total
            lr = float(base["max_lr"]["value"])
            scaled = lr * min(1.0, warmup / KNEE)
            low = _run(Path(tmp) / f"b{seed}", seed, scaled)
            rows.append({"seed": seed, "warmup": warmup, "lr": lr, "scaled_lr": scaled,
                         "auto": base["runs"]["1cycle"]["final"],
                         "scaled": low["runs"]["1cycle"]["final"]})
            print(f"seed {seed}: lr {lr:.3g} -> {scaled:.3g}: val loss "
                  f"{rows[-1]['auto']['val_loss']:.4f} vs {rows[-1]['scaled']['val_loss']:.4f}",
                  flush=True)
    md = ["## The budget prototype on the default `onecycle run` (issue 6)", "",
          "`onecycle run` (digits, small CNN, batch 64, 8 epochs) with the suggestion, then "
          f"with it scaled by min(1, warm-up / {KNEE:g}) as in B4's prototype; final 1cycle "
          "numbers per seed.", "",
          "| seed | warm-up | max_lr auto → scaled | val loss auto / scaled | "
          "val accuracy auto / scaled | test accuracy auto / scaled |",
          "|---:|---:|---|---|---|---|"]
    for r in rows:
        a, s = r["auto"], r["scaled"]
        md.append(f"| {r['seed']} | {r['warmup']:.0f} | {r['lr']:.3g} → {r['scaled_lr']:.3g} | "
                  f"{a['val_loss']:.4f} / {s['val_loss']:.4f} | "
                  f"{100 * a['val_accuracy']:.2f} / {100 * s['val_accuracy']:.2f} | "
                  f"{100 * a['test_accuracy']:.2f} / {100 * s['test_accuracy']:.2f} |")
    better = sum(r["scaled"]["val_loss"] < r["auto"]["val_loss"] for r in rows)
    med = statistics.median(r["scaled"]["val_loss"] - r["auto"]["val_loss"] for r in rows)
    md += ["", f"The scaled LR has the lower validation loss on {better} of {len(rows)} seeds "
           f"(median change {med:+.4f})."]
    write("budget_prototype_digits", {"rows": rows, "args": vars(args)}, "\n".join(md))


if __name__ == "__main__":
    main()
