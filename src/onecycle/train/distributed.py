"""Distributed data-parallel helpers for the trainer (``torchrun``).

Under ``torchrun --nproc_per_node=N`` (``RANK``/``WORLD_SIZE``/``LOCAL_RANK`` set) the
trainer

* initialises the default process group if the script has not (``gloo`` on CPU,
  ``nccl`` on CUDA), and uses ``cuda:LOCAL_RANK`` when ``device="cuda"``;
* wraps the model in :class:`~torch.nn.parallel.DistributedDataParallel`;
* shards the data per rank:

  - a ``torch.utils.data.DataLoader`` whose sampler is already a
    ``DistributedSampler`` is used as is (its ``set_epoch`` is called every epoch);
    any other map-style ``DataLoader`` is rebuilt with the same options around a
    ``DistributedSampler`` (shuffling if the original shuffled, ``seed`` = the
    trainer's seed or 0). Loaders with a custom ``batch_sampler`` or an
    ``IterableDataset`` cannot be re-sharded automatically: pass a sharded loader;
  - a loader with a ``shard(rank, world_size)`` method is asked for its shard;
  - any other iterable of batches is split batch by batch, round robin: rank ``r``
    takes batches ``r, r + N, r + 2N, ...``; for training, the last round is padded by
    wrapping around so every rank runs the same number of steps (DDP needs it).

  In all cases the global batch is ``N x`` the per-rank batch size;
* keeps the schedule identical on all ranks (same ``steps_per_epoch``), all-reduces
  the per-batch loss and the validation sums, so every rank logs the same numbers and
  takes the same stop decisions; only rank 0 writes checkpoints, logs and progress;
* destroys, at interpreter exit, a gloo process group it created itself, as torch asks
  of every process (a group the script created is the script's to destroy; an nccl
  group is left alone, since destroying it waits for collectives that a failed rank
  will never join). Note that torch 2.13's gloo backend can still abort a process
  during interpreter shutdown after the group was destroyed ("terminate called without
  an active exception", a few exits in a hundred on our CI machine), when all the
  work is done and written.

Example:
    >>> ctx = DistContext.from_env()      # outside torchrun: a single process
    >>> ctx.world_size, ctx.is_main
    (1, True)
"""

from __future__ import annotations

import atexit
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist

__all__ = ["DistContext", "ShardedLoader", "shard_loader", "env_world_size"]


def env_world_size() -> int:
    """``WORLD_SIZE`` from the environment (1 when unset).

    >>> isinstance(env_world_size(), int)
    True
    """
    try:
        return int(os.environ.get("WORLD_SIZE", "1"))
    except ValueError:
        return 1


def _destroy_own_group(group: Any) -> None:
    """``atexit`` hook: destroy the default group while the interpreter is still whole,
    if it is still the one we created (a group the script made after destroying ours is
    the script's)."""
    if dist.is_available() and dist.is_initialized() and dist.group.WORLD is group:
        dist.destroy_process_group()


@dataclass
class DistContext:
    """Rank, world size and device of this process.

    >>> DistContext().is_main
    True
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    active: bool = False
    created_group: bool = False

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @classmethod
    def from_env(cls, device: torch.device | None = None) -> DistContext:
        """Join (or start) the process group if the environment describes one."""
        if dist.is_available() and dist.is_initialized():
            ws = dist.get_world_size()
            return cls(dist.get_rank(), ws, int(os.environ.get("LOCAL_RANK", "0")), ws > 1)
        ws = env_world_size()
        if ws <= 1:
            return cls()
        if not dist.is_available():
            raise RuntimeError("WORLD_SIZE > 1 but torch.distributed is not available")
        local = int(os.environ.get("LOCAL_RANK", "0"))
        cuda = device is not None and device.type == "cuda"
        backend = "nccl" if cuda and dist.is_nccl_available() else "gloo"
        if cuda:
            torch.cuda.set_device(local)
        dist.init_process_group(backend=backend)
        if backend == "gloo":
            # not for nccl: there destroy_process_group waits for pending collectives,
            # so after a failure on one rank the others would hang at exit
            atexit.register(_destroy_own_group, dist.group.WORLD)
        return cls(dist.get_rank(), dist.get_world_size(), local, True, True)

    # ---- collectives (no-ops for a single process) ---------------------------
    def all_reduce_sum(self, t: torch.Tensor) -> torch.Tensor:
        if self.active:
            dist.all_reduce(t, op=dist.ReduceOp.SUM)
        return t

    def mean_loss(self, loss: torch.Tensor) -> float:
        """The batch loss averaged over ranks, as a float (one sync)."""
        if not self.active:
            return loss.item()
        t = loss.detach().float().clone()
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
        return t.item() / self.world_size

    def broadcast_object(self, obj: Any, src: int = 0) -> Any:
        if not self.active:
            return obj
        box = [obj]
        dist.broadcast_object_list(box, src=src)
        return box[0]

    def gather_objects(self, obj: Any) -> list[Any]:
        if not self.active:
            return [obj]
        out: list[Any] = [None] * self.world_size
        dist.all_gather_object(out, obj)
        return out

    def barrier(self) -> None:
        if self.active:
            dist.barrier()


# --------------------------------------------------------------------------- sharding


class ShardedLoader:
    """Round-robin batch split of any loader: rank ``r`` of ``N`` takes batches
    ``r, r+N, ...``. With ``pad=True`` every rank gets ``ceil(len/N)`` batches (the last
    round wraps around to the first batches).

    >>> batches = [(i, i) for i in range(5)]
    >>> [b for b, _ in ShardedLoader(batches, rank=1, world_size=2, pad=True)]
    [1, 3, 0]
    """

    def __init__(self, loader: Iterable[Any], rank: int, world_size: int, pad: bool = True):
        self.loader = loader
        self.rank = rank
        self.world_size = world_size
        self.pad = pad

    def __len__(self) -> int:
        n = len(self.loader)  # type: ignore[arg-type]
        if self.pad:
            return -(-n // self.world_size)
        return len(range(self.rank, n, self.world_size))

    def set_epoch(self, epoch: int) -> None:
        fn = getattr(self.loader, "set_epoch", None)
        if fn is not None:
            fn(epoch)

    def __iter__(self) -> Iterator[Any]:
        n = len(self.loader)  # type: ignore[arg-type]
        want = len(self)
        got = 0
        head: list[Any] = []
        need_head = self.pad and want * self.world_size > n
        for i, batch in enumerate(self.loader):
            if need_head and i < self.world_size:
                head.append(batch)
            if i % self.world_size == self.rank:
                got += 1
                yield batch
        # pad the last round by wrapping around (same batches an epoch starts with)
        while got < want and head:
            idx = (got * self.world_size + self.rank) % n
            yield head[idx % len(head)]
            got += 1


class _ContiguousShardSampler(torch.utils.data.Sampler[int]):
    """Indices ``rank, rank+N, ...`` of a dataset, no padding (for evaluation)."""

    def __init__(self, n: int, rank: int, world_size: int):
        self.n, self.rank, self.world_size = n, rank, world_size

    def __iter__(self) -> Iterator[int]:
        return iter(range(self.rank, self.n, self.world_size))

    def __len__(self) -> int:
        return len(range(self.rank, self.n, self.world_size))


def _rebuild(dl: Any, sampler: Any) -> Any:
    from torch.utils.data import DataLoader

    kw: dict[str, Any] = dict(
        batch_size=dl.batch_size,
        sampler=sampler,
        num_workers=dl.num_workers,
        collate_fn=dl.collate_fn,
        pin_memory=dl.pin_memory,
        drop_last=dl.drop_last,
        timeout=dl.timeout,
        worker_init_fn=dl.worker_init_fn,
        generator=dl.generator,
        persistent_workers=dl.persistent_workers,
    )
    if dl.num_workers > 0:
        kw["prefetch_factor"] = dl.prefetch_factor
        kw["multiprocessing_context"] = dl.multiprocessing_context
    return DataLoader(dl.dataset, **kw)


def shard_loader(
    loader: Any, rank: int, world_size: int, *, train: bool, seed: int = 0
) -> Any:
    """The part of ``loader`` that rank ``rank`` of ``world_size`` should iterate.

    See the module docstring for the rules.

    >>> len(shard_loader([(0, 0)] * 5, rank=0, world_size=2, train=True))
    3
    """
    if world_size <= 1 or loader is None:
        return loader
    from torch.utils.data import (
        DataLoader,
        DistributedSampler,
        IterableDataset,
        RandomSampler,
    )

    if isinstance(loader, DataLoader):
        if isinstance(loader.sampler, DistributedSampler):
            return loader
        if isinstance(loader.dataset, IterableDataset) or loader.batch_size is None:
            raise ValueError(
                "cannot shard this DataLoader automatically for distributed training (it "
                "uses an IterableDataset or a custom batch_sampler): give each rank its "
                "own shard, e.g. with a torch.utils.data.DistributedSampler"
            )
        if train:
            shuffle = isinstance(loader.sampler, RandomSampler)
            sampler = DistributedSampler(
                loader.dataset, num_replicas=world_size, rank=rank, shuffle=shuffle,
                seed=seed, drop_last=False,
            )
        else:
            sampler = _ContiguousShardSampler(len(loader.dataset), rank, world_size)
        return _rebuild(loader, sampler)
    shard = getattr(loader, "shard", None)
    if callable(shard):
        return shard(rank, world_size)
    try:
        len(loader)
    except TypeError:
        raise ValueError(
            "distributed training needs loaders with __len__ (or a shard(rank, world_size) "
            f"method); got {type(loader).__name__}"
        ) from None
    return ShardedLoader(loader, rank, world_size, pad=train)


def set_loader_epoch(loader: Any, epoch: int) -> None:
    """Call ``loader.set_epoch(epoch)`` (or its sampler's) if it exists."""
    fn = getattr(loader, "set_epoch", None)
    if fn is not None:
        fn(epoch)
        return
    sampler = getattr(loader, "sampler", None)
    fn = getattr(sampler, "set_epoch", None)
    if fn is not None:
        fn(epoch)
    bs = getattr(loader, "batch_sampler", None)
    fn = getattr(getattr(bs, "sampler", None), "set_epoch", None)
    if fn is not None and getattr(bs, "sampler", None) is not sampler:
        fn(epoch)
