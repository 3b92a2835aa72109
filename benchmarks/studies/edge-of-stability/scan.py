"""Test accuracy of one suite setting over a fine max_lr scan, with and without a clip.

    python -m benchmarks.studies.edge-of-stability.scan lenet-mnist 1 0,1,2 0.06,0.1 auto

Arguments: setting, budget (epochs), seeds, max_lr values, grad_clip (``none``,
``auto`` or a number). One torch thread, ``OMP_WAIT_POLICY=PASSIVE``; each run is the
suggestion benchmark's training trial (``benchmarks.suite.trial.train``).
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch  # noqa: E402

from benchmarks.suite import trial  # noqa: E402
from benchmarks.suite.settings import SETTINGS, signature  # noqa: E402


def main(argv: list[str]) -> None:
    name, budget, seeds, lrs, clip = argv
    setting = SETTINGS[name]
    grad_clip = None if clip == "none" else clip if clip == "auto" else float(clip)
    torch.set_num_threads(1)
    for seed in (int(s) for s in seeds.split(",")):
        cells = []
        for lr in (float(v) for v in lrs.split(",")):
            r = trial.train({"kind": "train", "v": trial.VERSION, "setting": name,
                             "sig": signature(setting), "budget": int(budget), "seed": seed,
                             "lr": lr, "grad_clip": grad_clip})
            acc = "nan" if r["headline"] is None else f"{100 * r['headline']:.1f}"
            cells.append(f"{lr:.4g}:{acc}" + (f"[{r['clipped_steps']} cut]"
                                              if r["clipped_steps"] else ""))
        print(name, budget, seed, f"grad_clip={clip}", " ".join(cells), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
