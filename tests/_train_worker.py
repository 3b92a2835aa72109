"""Helper for the trainer tests: small deterministic data, models and loaders, and a
command-line entry point run in subprocesses (kill-and-resume, torchrun).

Usage:
    python tests/_train_worker.py resume --ckpt DIR --out FILE [--resume] [--slow S]
    python -m torch.distributed.run --nproc_per_node=2 tests/_train_worker.py ddp --out DIR
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import torch

torch.set_num_threads(1)

SRC = Path(__file__).resolve().parents[1] / "src"
if str(SRC) not in sys.path:  # runnable without an installed package
    sys.path.insert(0, str(SRC))


class ArrayLoader:
    """In-memory loader; the order of epoch ``e`` is a function of (seed, e) only."""

    def __init__(self, x, y, batch_size=32, shuffle=True, seed=0):
        self.x, self.y = x, y
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.epoch = 0
        self.epochs_seen: list[int] = []

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        self.epochs_seen.append(epoch)

    def __len__(self) -> int:
        return -(-len(self.x) // self.batch_size)

    def __iter__(self):
        n = len(self.x)
        if self.shuffle:
            g = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
            idx = torch.randperm(n, generator=g)
        else:
            idx = torch.arange(n)
        for i in range(0, n, self.batch_size):
            j = idx[i:i + self.batch_size]
            yield self.x[j], self.y[j]


def blobs(n=384, d=12, classes=4, seed=0):
    """Separable-ish Gaussian blobs (deterministic)."""
    g = torch.Generator().manual_seed(seed)
    centers = torch.randn(classes, d, generator=g) * 2.0
    y = torch.randint(0, classes, (n,), generator=g)
    x = centers[y] + torch.randn(n, d, generator=g)
    return x, y


def mlp(d=12, classes=4, hidden=32, dropout=0.1, seed=0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(
        torch.nn.Linear(d, hidden), torch.nn.ReLU(), torch.nn.Dropout(dropout),
        torch.nn.Linear(hidden, classes),
    )


def make_run(loader_kind="torch", seed=0, **trainer_kw):
    """Model, optimizer and trainer for the resume tests (same every time)."""
    from torch.utils.data import DataLoader, TensorDataset

    from onecycle.train import Trainer

    x, y = blobs(seed=seed)
    model = mlp(seed=seed)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    if loader_kind == "torch":
        train = DataLoader(TensorDataset(x[:320], y[:320]), batch_size=32, shuffle=True)
        val = DataLoader(TensorDataset(x[320:], y[320:]), batch_size=64)
    else:
        train = ArrayLoader(x[:320], y[:320], batch_size=32, seed=seed)
        val = ArrayLoader(x[320:], y[320:], batch_size=64, shuffle=False)
    trainer_kw.setdefault("progress", False)
    trainer = Trainer(model, torch.nn.functional.cross_entropy, opt, train, val,
                      metrics=["accuracy"], seed=seed, **trainer_kw)
    return trainer


def _slow_callback(seconds: float):
    from onecycle.train import Callback

    class Slow(Callback):
        def on_batch_end(self, trainer, step, loss):
            time.sleep(seconds)

    return Slow()


def main_resume(a: argparse.Namespace) -> None:
    cbs = [_slow_callback(a.slow)] if a.slow else []
    trainer = make_run(a.loader, checkpoint_dir=a.ckpt, checkpoint_every=a.every, callbacks=cbs)
    trainer.fit_one_cycle(a.epochs, max_lr=0.5, resume=a.resume)
    if a.tail:
        trainer.fit_tail(1, resume=a.resume)
    torch.save({"model": trainer.model.state_dict(),
                "loss": trainer.history.loss, "lr": trainer.history.lr}, a.out)


def main_ddp(a: argparse.Namespace) -> None:
    from onecycle.train import Trainer

    x, y = blobs(n=256)
    model = mlp(dropout=0.0)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    train = ArrayLoader(x[:192], y[:192], batch_size=16, seed=1)
    val = ArrayLoader(x[192:], y[192:], batch_size=20, shuffle=False)
    ck = Path(a.out) / "ckpt"
    trainer = Trainer(model, torch.nn.functional.cross_entropy, opt, train, val,
                      metrics=["accuracy"], seed=0, progress=False, checkpoint_dir=ck,
                      checkpoint_every=4, grad_clip=1.0)
    # a first cycle with max_lr from the range test, run on all ranks (DDP model)
    h1 = trainer.fit_one_cycle(1, lr_find_kw={"num_iter": 30})
    first = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    h = trainer.fit_one_cycle(2, max_lr=0.5)
    out = Path(a.out) / f"rank{trainer.rank}.pt"
    torch.save({
        "rank": trainer.rank, "world_size": trainer.world_size,
        "steps_per_epoch": trainer.steps_per_epoch,
        "lr": h.lr, "momentum": h.momentum, "loss": h.loss,
        "records": json.dumps(h.to_dict()["records"]),
        "model": trainer.model.state_dict(),
        "lr_find": json.dumps(h1.meta["lr_find"]), "lr1": h1.lr, "model1": first,
    }, out)
    import torch.distributed as dist

    if dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
    # gloo can still abort the process during interpreter shutdown, after the group was
    # destroyed ("terminate called without an active exception", a few runs in a
    # hundred on this machine): torch's teardown, not the behaviour under test. The
    # results are on disk, so leave without the interpreter's teardown.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["resume", "ddp"])
    p.add_argument("--ckpt")
    p.add_argument("--out", required=True)
    p.add_argument("--resume", action="store_true")
    p.add_argument("--slow", type=float, default=0.0)
    p.add_argument("--every", type=int, default=3)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--loader", default="torch")
    p.add_argument("--tail", action="store_true")
    a = p.parse_args()
    if a.mode == "resume":
        main_resume(a)
    else:
        main_ddp(a)


if __name__ == "__main__":
    main()
