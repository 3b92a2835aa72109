"""Smith's headline on CIFAR-10: does a 10k-iteration 1cycle match 80k iterations of a step
schedule on ResNet-56?

Smith & Topin ("Super-convergence", 2017, Figure 1a and Table 1): ResNet-56 on CIFAR-10,
batch 1000, weight decay 1e-4; one cycle of the LR between 0.1 and 3 over 10,000
iterations reached 92.4 % test accuracy, the piecewise-constant schedule at LR 0.35 91.2 %
after about 80,000 iterations. This script runs both with onecycle's Trainer::

    python -m benchmarks.cifar_resnet56 --data PATH        # a GPU and the real archive
    python -m benchmarks.cifar_resnet56 --quick            # CPU smoke test, < 1 min

Protocol (fixed here; the paper does not give every detail, and what we chose says so):

* data: the archive through ``onecycle.data.load("cifar10:PATH")`` (checksummed), 49,000
  training images (1,000 held for validation), the 10,000 test images; per-channel
  standardisation from the training split; random crops (4-pixel zero padding) and
  horizontal flips on the device, as He et al. train ResNets (our choice: the paper
  does not say);
* 1cycle: smith style from 0.1 up to 3 (``div=30``) and back, then the annihilation
  tail, over 10,000 iterations; momentum cycled 0.95 -> 0.85 -> 0.95; SGD, weight decay
  1e-4;
* step schedule: SGD, momentum 0.9, LR 0.35 divided by 10 at 50 % and 75 % of 80,000
  iterations (the drop points are He et al.'s; the paper gives only the LR), weight
  decay 1e-4;
* seed 0 for both, the same initial weights; test accuracy at the end of each run.

``--quick`` writes a 6-image-per-batch archive in the real format to a temporary folder
(random pixels: accuracy means nothing there) and runs both schedules for 8 and 16
iterations at batch 16 on the CPU: it checks that the code runs, not the claim.
``--scale 0.1`` runs both schedules at a tenth of their iterations (a shorter check on a
GPU). Results go to ``benchmarks/results/cifar_resnet56.json`` (``--quick``:
``benchmarks/results/quick/``). Not run in this development round: no GPU and no
CIFAR-10 archive were available (the archive cannot be fetched here).
"""

from __future__ import annotations

import argparse
import io
import math
import pickle
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parent.parent
PAPER = {"1cycle": {"iterations": 10_000, "test_accuracy": 0.924},
         "step": {"iterations": 80_000, "test_accuracy": 0.912}}


class DeviceLoader:
    """Batches of a tensor dataset kept on the device, shuffled per epoch, augmented."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, batch_size: int, *, train: bool,
                 seed: int = 0) -> None:
        self.x, self.y, self.batch_size, self.train = x, y, batch_size, train
        self.seed, self.epoch = seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        n = len(self.x)
        return n // self.batch_size if self.train else math.ceil(n / self.batch_size)

    def __iter__(self) -> Any:
        g = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        order = torch.randperm(len(self.x), generator=g) if self.train else torch.arange(len(self.x))
        self.epoch += 1
        for i in range(len(self)):
            idx = order[i * self.batch_size:(i + 1) * self.batch_size].to(self.x.device)
            xb = self.x[idx]
            yield (_augment(xb, g) if self.train else xb), self.y[idx]


def _augment(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    n = x.shape[0]
    padded = F.pad(x, (4, 4, 4, 4))
    dx, dy = torch.randint(0, 9, (2,), generator=g).tolist()  # one crop offset per batch
    out = padded[:, :, dy:dy + 32, dx:dx + 32]
    flip = (torch.rand(n, generator=g) < 0.5).to(x.device)
    return torch.where(flip[:, None, None, None], out.flip(3), out)


def write_tiny_archive(folder: Path, per_batch: int = 6) -> Path:
    """A CIFAR-10 archive in the real format with random pixels (``--quick`` only)."""
    from onecycle.data import CIFAR10_CLASSES

    rng = np.random.default_rng(0)
    path = folder / "cifar-10-python.tar.gz"
    members = {f"data_batch_{i}": None for i in range(1, 6)} | {"test_batch": None}
    with tarfile.open(path, "w:gz") as tar:
        for name in members:
            blob = pickle.dumps({"labels": [int(v) for v in rng.integers(0, 10, per_batch)],
                                 "data": rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8)})
            _add(tar, name, blob)
        _add(tar, "batches.meta", pickle.dumps({"label_names": list(CIFAR10_CLASSES)}))
    return path


def _add(tar: tarfile.TarFile, name: str, blob: bytes) -> None:
    info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
    info.size = len(blob)
    tar.addfile(info, io.BytesIO(blob))


def _tensors(bundle: Any, device: torch.device) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    parts = {k: getattr(bundle, k).tensors for k in ("train", "val", "test")}
    mean = parts["train"][0].mean(dim=(0, 2, 3), keepdim=True)
    std = parts["train"][0].std(dim=(0, 2, 3), keepdim=True)
    return {k: (((x - mean) / std).to(device), y.to(device)) for k, (x, y) in parts.items()}


def run_schedule(which: str, data: dict[str, Any], iterations: int, batch: int,
                 device: torch.device, amp: str | None) -> dict[str, Any]:
    """Train ResNet-56 from seed 0 with one schedule; returns its test accuracy and time."""
    import onecycle as oc
    from onecycle import models
    from onecycle.schedule import constant, join

    torch.manual_seed(0)
    model = models.create("resnet56", (3, 32, 32), 10).to(device)
    train = DeviceLoader(*data["train"], batch, train=True)
    epochs = max(1, round(iterations / len(train)))
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    trainer = oc.Trainer(model, F.cross_entropy, opt, train,
                         val_loader=DeviceLoader(*data["val"], 1000, train=False),
                         metrics=["accuracy"], device=device, amp=amp, progress=True)
    t0 = time.perf_counter()
    if which == "1cycle":
        history = trainer.fit_one_cycle(epochs, max_lr=3.0, div=30.0, style="smith")
    else:
        history = trainer.fit_schedule(epochs, lambda t: {"lr": join(
            [constant(0.35), constant(0.035), constant(0.0035)], [0, t // 2, 3 * t // 4, t])})
    wall = time.perf_counter() - t0
    test = trainer.evaluate(DeviceLoader(*data["test"], 1000, train=False))
    return {"schedule": which, "iterations": epochs * len(train), "epochs": epochs,
            "test_accuracy": test["accuracy"], "test_loss": test["loss"],
            "final_train_loss": history[-1].get("train_loss"), "wall_s": wall}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", help="the CIFAR-10 archive or extracted folder")
    p.add_argument("--quick", action="store_true", help="CPU smoke test on a tiny archive")
    p.add_argument("--scale", type=float, default=1.0, help="fraction of the iterations")
    p.add_argument("--amp", choices=("bf16", "fp16"), help="mixed precision on CUDA")
    p.add_argument("--out", type=Path, help="result JSON (default under benchmarks/results)")
    a = p.parse_args(argv)
    if not 0 < a.scale <= 1:
        p.error(f"--scale must be in (0, 1], got {a.scale}")
    from onecycle._io import write_json_atomic
    from onecycle.data import load

    with tempfile.TemporaryDirectory() as tmp:
        path = write_tiny_archive(Path(tmp)) if a.quick else a.data
        spec = "cifar10" if path is None else f"cifar10:{path}"
        bundle = load(spec, verify=not a.quick, val_fraction=0.2 if a.quick else 0.02)
    device = torch.device("cpu" if a.quick or not torch.cuda.is_available() else "cuda")
    data = _tensors(bundle, device)
    batch = 16 if a.quick else 1000
    runs = []
    for which in ("1cycle", "step"):
        n = 8 * (1 + (which == "step")) if a.quick else round(PAPER[which]["iterations"] * a.scale)
        runs.append(run_schedule(which, data, n, batch, device, a.amp))
        r = runs[-1]
        print(f"{which:7s} {r['iterations']:6d} iterations  test accuracy "
              f"{100 * r['test_accuracy']:.2f} % (paper {100 * PAPER[which]['test_accuracy']:.1f} "
              f"% at {PAPER[which]['iterations']})  {r['wall_s']:.0f} s", flush=True)
    out = a.out or ROOT / "benchmarks" / "results" / ("quick" if a.quick else "") / "cifar_resnet56.json"
    write_json_atomic(out, {"quick": a.quick, "scale": a.scale, "device": str(device),
                            "amp": a.amp, "batch": batch, "paper": PAPER, "runs": runs})
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
