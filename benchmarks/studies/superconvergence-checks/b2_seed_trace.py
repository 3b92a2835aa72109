"""Trace single B2 runs: the training loss every 10 iterations and the test accuracy.

Used to see why one seed's short cycle fails (B2's 2-epoch seed 0: the loss sits at
chance, then spikes during the warm-up). Each argument is one run,
``SEED:EPOCHS:MAX_LR:STYLE``; LeNet, batch 512, SGD momentum 0.9, weight decay 5e-4,
the full MNIST training split, 2 threads, as in B2.

    python benchmarks/b2_seed_trace.py 0:2:0.0881:smith 0:2:0.044:smith
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import sys  # noqa: E402

import torch  # noqa: E402

import onecycle as oc  # noqa: E402
from benchmarks.studies.legacy import bench_lib as bl  # noqa: E402


def trace(b, seed: int, epochs: int, lr: float, style: str) -> None:
    tr, te = bl.loaders(b, 512, seed)
    m = bl.model("lenet", b, seed)
    opt = bl.sgd(m, lr, 0.9, 5e-4)
    sched = oc.OneCycle(opt, max_lr=lr, total_steps=epochs * len(tr), style=style)
    h = bl.train(m, opt, tr, epochs, sched, te, eval_every_epoch=False, record_losses=True)
    acc, losses = h["final_acc"], h["losses"]
    means = [round(sum(losses[i:i + 10]) / len(losses[i:i + 10]), 2) for i in range(0, len(losses), 10)]
    print(f"seed {seed}, {epochs} epochs, max_lr {lr:g}, {style}: test accuracy {acc:.2f} %; "
          f"loss per 10 iterations {means}", flush=True)


def main() -> None:
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    torch.set_num_threads(2)
    b = bl.bundle("mnist")
    for arg in sys.argv[1:]:
        seed, epochs, lr, style = arg.split(":")
        trace(b, int(seed), int(epochs), float(lr), style)


if __name__ == "__main__":
    main()
