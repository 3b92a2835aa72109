"""Subprocess helper for the fault tests (``tests/test_faults.py``): a process that the
test kills with SIGKILL at a chosen moment.

Usage:
    python tests/_fault_worker.py stall-save --ckpt DIR --every N --stall-at K
        Train the resume tests' run (``_train_worker.make_run``) with a checkpoint every
        N iterations. The K-th checkpoint write stalls half-way: its temporary file is
        cut to half its size (what a crash during ``write`` leaves) and the process
        prints ``STALL <temporary file>`` and sleeps until it is killed.
    python tests/_fault_worker.py write-loop --path FILE --mib M
        Overwrite FILE with ``save_checkpoint`` forever, each payload ``{"step": i,
        "w": <M MiB of float32 equal to i>}``; prints ``SAVED i`` after each write.
    python tests/_fault_worker.py finder --path FILE --seed S
        Run the determinism tests' range test (``finder_run``) and save the result JSON.

Also a dataset factory for the report tests: ``_fault_worker:xss_dataset`` (a
``module:function`` dataset spec) returns a tiny bundle whose name is an HTML payload.
"""

from __future__ import annotations

import argparse
import os
import stat
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SRC = HERE.parent / "src"
for p in (str(SRC), str(HERE)):
    if p not in sys.path:  # runnable without an installed package
        sys.path.insert(0, p)

XSS = '"><img src=x onerror=alert(1)><script>alert("ds")</script>'


def xss_dataset():  # noqa: ANN201 - a dataset factory for `--dataset _fault_worker:xss_dataset`
    """A tiny 3-class dataset whose name is an HTML/JS payload."""
    import numpy as np

    from onecycle.data import from_arrays

    rng = np.random.default_rng(0)
    y = np.arange(240) % 3
    x = rng.normal(size=(240, 6)).astype(np.float32) + y[:, None]
    return from_arrays(x, y, name=XSS)


def stall_save(a: argparse.Namespace) -> None:
    import torch

    torch.set_num_threads(1)
    import onecycle.train.checkpoint as ck
    from _train_worker import make_run

    real_fsync = os.fsync
    count = {"files": 0}

    def fsync(fd: int) -> None:
        if stat.S_ISREG(os.fstat(fd).st_mode):
            count["files"] += 1
            if count["files"] == a.stall_at:
                size = os.fstat(fd).st_size
                os.ftruncate(fd, size // 2)  # a torn write: half the bytes made it
                tmp = os.readlink(f"/proc/self/fd/{fd}")
                print(f"STALL {tmp}", flush=True)
                while True:
                    time.sleep(60)
        real_fsync(fd)

    ck.os.fsync = fsync  # the module's `os` is the os module: patched for this process only
    trainer = make_run("array", checkpoint_dir=a.ckpt, checkpoint_every=a.every)
    trainer.fit_one_cycle(2, max_lr=0.5)
    print("DONE", flush=True)


def write_loop(a: argparse.Namespace) -> None:
    import torch

    from onecycle.train import save_checkpoint

    n = a.mib * (1 << 20) // 4
    i = 0
    while True:
        save_checkpoint(a.path, {"step": i, "w": torch.full((n,), float(i))})
        print(f"SAVED {i}", flush=True)
        i += 1


def finder_run(seed: int):  # noqa: ANN201 - used in-process by test_determinism.py too
    """A seeded range test with dropout and a shuffling DataLoader (every source of
    randomness in play); the model and data are the same for every call."""
    import torch
    from torch import nn
    from torch.utils.data import DataLoader, TensorDataset

    from _train_worker import blobs
    from onecycle.finder import lr_find

    torch.set_num_threads(1)
    x, y = blobs(n=256)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(12, 32), nn.ReLU(), nn.Dropout(0.3), nn.Linear(32, 4))
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loader = DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True)
    return lr_find(model, opt, torch.nn.functional.cross_entropy, loader, start_lr=1e-4,
                   end_lr=10.0, num_iter=24, seed=seed, progress=False)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["stall-save", "write-loop", "finder"])
    p.add_argument("--ckpt")
    p.add_argument("--every", type=int, default=4)
    p.add_argument("--stall-at", type=int, default=3)
    p.add_argument("--path")
    p.add_argument("--mib", type=int, default=16)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    if a.mode == "stall-save":
        stall_save(a)
    elif a.mode == "finder":
        finder_run(a.seed).save(a.path)
    else:
        write_loop(a)


if __name__ == "__main__":
    main()
