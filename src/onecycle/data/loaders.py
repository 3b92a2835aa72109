"""The in-memory batch iterator: a fast, seeded, shardable stand-in for ``DataLoader``.

Example:
    >>> import torch
    >>> loader = TensorLoader((torch.arange(6.0), torch.arange(6)), batch_size=4)
    >>> [len(y) for _, y in loader]
    [4, 2]
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import TensorDataset

__all__ = ["TensorLoader", "mix_seed"]


def mix_seed(seed: int, epoch: int) -> int:
    """One 63-bit seed from ``(seed, epoch)``: different epochs, unrelated orders.

    Example:
        >>> mix_seed(0, 1) == mix_seed(0, 1) != mix_seed(0, 2)
        True
    """
    state = np.random.SeedSequence([seed & 0xFFFFFFFF, seed >> 32 & 0xFFFFFFFF, epoch])
    return int(state.generate_state(1, dtype=np.uint64)[0] & 0x7FFF_FFFF_FFFF_FFFF)


class TensorLoader:
    """A fast batch iterator over in-memory tensors; a drop-in for ``DataLoader`` loops.

    It yields tuples of slices of the dataset's tensors (``(x, y)`` for a two-tensor
    dataset), with no per-sample Python work. With ``shuffle=True`` each epoch uses a
    permutation drawn from a private ``torch.Generator`` seeded from ``(seed, epoch)``:
    the global RNG is never touched, the same seed gives the same orders, and
    different epochs give different orders. Iterating again moves to the next epoch;
    :meth:`set_epoch` picks the epoch explicitly (as ``DistributedSampler`` does).
    Without shuffling, batches are views of the stored tensors: do not modify them in
    place.

    ``num_replicas``/``rank`` shard every epoch's order between processes, padding by
    wrap-around so that every rank sees the same number of batches.

    ``keys=("input_ids", "labels")`` yields each batch as a dict with those keys (one
    per tensor) instead of a tuple, the batch form of models that take keyword
    arguments (``model(**batch)``).

    Example:
        >>> import torch
        >>> from torch.utils.data import TensorDataset
        >>> ds = TensorDataset(torch.arange(10.0).view(10, 1), torch.arange(10))
        >>> loader = TensorLoader(ds, batch_size=4, shuffle=True, seed=0)
        >>> len(loader), [len(y) for _, y in loader]
        (3, [4, 4, 2])
        >>> sorted(next(iter(TensorLoader(ds, 4, keys=("input_ids", "labels")))))
        ['input_ids', 'labels']
    """

    def __init__(
        self,
        dataset: TensorDataset | Sequence[torch.Tensor],
        batch_size: int = 128,
        *,
        shuffle: bool = False,
        drop_last: bool = False,
        seed: int = 0,
        device: str | torch.device | None = None,
        num_replicas: int = 1,
        rank: int = 0,
        keys: Sequence[str] | None = None,
    ) -> None:
        if not isinstance(dataset, TensorDataset):
            dataset = TensorDataset(*dataset)
        if keys is not None:
            keys = tuple(str(k) for k in keys)
            if len(keys) != len(dataset.tensors) or len(set(keys)) != len(keys):
                raise ValueError(
                    f"keys must name each of the dataset's {len(dataset.tensors)} tensors "
                    f"once, got {keys!r}"
                )
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        if num_replicas < 1 or not 0 <= rank < num_replicas:
            raise ValueError(
                f"need num_replicas >= 1 and 0 <= rank < num_replicas, got {num_replicas}, {rank}"
            )
        if device is not None:
            dataset = TensorDataset(*(t.to(device) for t in dataset.tensors))
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.seed = int(seed)
        self.num_replicas = int(num_replicas)
        self.rank = int(rank)
        self.keys = keys
        self.epoch = 0

    @property
    def tensors(self) -> tuple[torch.Tensor, ...]:
        """The dataset's tensors.

        Example:
            >>> import torch
            >>> [t.shape[0] for t in TensorLoader((torch.zeros(3, 2), torch.zeros(3))).tensors]
            [3, 3]
        """
        return self.dataset.tensors

    def _num_samples(self) -> int:
        n = len(self.dataset)
        if self.num_replicas == 1:
            return n
        return math.ceil(n / self.num_replicas) if n else 0

    def __len__(self) -> int:
        n = self._num_samples()
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def set_epoch(self, epoch: int) -> None:
        """Use ``epoch`` for the next iteration (later iterations count on from it).

        Example:
            >>> import torch
            >>> loader = TensorLoader((torch.arange(8),), 8, shuffle=True, seed=1)
            >>> loader.set_epoch(2); first = next(iter(loader))[0]
            >>> loader.set_epoch(2); torch.equal(first, next(iter(loader))[0])
            True
        """
        self.epoch = int(epoch)

    def order(self, epoch: int | None = None) -> torch.Tensor | None:
        """Indices this rank visits in ``epoch`` (``None`` means plain order, unsharded).

        Example:
            >>> import torch
            >>> TensorLoader((torch.arange(5),), 2, num_replicas=2, rank=1).order(0).tolist()
            [1, 3, 0]
        """
        epoch = self.epoch if epoch is None else epoch
        n = len(self.dataset)
        if not self.shuffle and self.num_replicas == 1:
            return None
        if self.shuffle:
            gen = torch.Generator()
            gen.manual_seed(mix_seed(self.seed, epoch))
            idx = torch.randperm(n, generator=gen)
        else:
            idx = torch.arange(n)
        if self.num_replicas > 1 and n:
            total = self._num_samples() * self.num_replicas
            if total > n:
                idx = torch.cat(
                    [idx, idx[: total - n].repeat(math.ceil((total - n) / n))[: total - n]]
                )
            idx = idx[self.rank :: self.num_replicas]
        return idx

    def __iter__(self) -> Iterator[Any]:
        order = self.order(self.epoch)
        self.epoch += 1
        batches = self._batches(order)
        if self.keys is None:
            return batches
        keys = self.keys
        return (dict(zip(keys, batch)) for batch in batches)

    def _batches(self, order: torch.Tensor | None) -> Iterator[tuple[torch.Tensor, ...]]:
        tensors = self.dataset.tensors
        n = self._num_samples()
        bs = self.batch_size
        stop = (n // bs) * bs if self.drop_last else n
        if order is not None and tensors and order.device != tensors[0].device:
            order = order.to(tensors[0].device)
        for start in range(0, stop, bs):
            end = min(start + bs, n)
            if order is None:
                yield tuple(t[start:end] for t in tensors)
            else:
                idx = order[start:end]
                yield tuple(t.index_select(0, idx) for t in tensors)

    def __repr__(self) -> str:
        return (
            f"TensorLoader(n={len(self.dataset)}, batch_size={self.batch_size}, "
            f"shuffle={self.shuffle}, drop_last={self.drop_last}, seed={self.seed})"
        )
