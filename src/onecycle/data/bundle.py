"""The :class:`DatasetBundle`: train/validation/test splits in memory, with what they are.

A bundle holds three :class:`~torch.utils.data.TensorDataset` splits, the input shape,
the number of classes (outputs, for regression; the vocabulary size, for a language
model), the normalisation statistics of the training split, and the ``task``
(``"classification"``, ``"regression"`` or ``"language_model"``;
:func:`onecycle.tasks.task_for` turns it into a loss and metrics).

Example:
    >>> import torch
    >>> x, y = torch.rand(20, 3), torch.arange(20) % 2
    >>> ds = TensorDataset(x, y)
    >>> b = DatasetBundle(ds, ds, ds, (3,), 2, *channel_stats(x.numpy()))
    >>> b.task, len(b.mean)
    ('classification', 3)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch
from torch.utils.data import TensorDataset

from .loaders import TensorLoader
from .splits import random_split, stratified_split

__all__ = ["TASK_NAMES", "DatasetBundle", "channel_stats", "check_splits", "tensor_dataset"]

#: What a bundle is for; :func:`onecycle.tasks.task_for` maps each to loss and metrics.
TASK_NAMES: tuple[str, ...] = ("classification", "regression", "language_model")

_SPLITS = ("train", "val", "test")


def channel_stats(x: np.ndarray) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and std of ``x`` (axis 1; per feature for ``(N, D)``).

    A constant channel gets std 1 (so normalising it does not divide by zero); an empty
    array gets mean 0 and std 1.

    Example:
        >>> import numpy as np
        >>> channel_stats(np.array([[0.0, 1.0], [2.0, 1.0]]))
        ((1.0, 1.0), (1.0, 1.0))
    """
    if len(x) == 0:
        c = x.shape[1] if x.ndim >= 2 else 1
        return (0.0,) * c, (1.0,) * c
    c = x.shape[1]
    flat = x.reshape(len(x), c, -1).transpose(1, 0, 2).reshape(c, -1).astype(np.float64)
    mean = flat.mean(axis=1)
    std = flat.std(axis=1)
    std = np.where(std > 1e-12, std, 1.0)
    return tuple(float(m) for m in mean), tuple(float(s) for s in std)


def tensor_dataset(x: np.ndarray, y: np.ndarray, *, task: str = "classification") -> TensorDataset:
    """``(x, y)`` as tensors: float32 inputs, and int64 labels or float32 targets.

    Regression targets stay float32; class labels and token ids become int64 (token
    ids are inputs too, so a language model's inputs are int64 as well).

    Example:
        >>> import numpy as np
        >>> ds = tensor_dataset(np.zeros((2, 3)), np.array([0, 1]))
        >>> ds.tensors[0].dtype, ds.tensors[1].dtype
        (torch.float32, torch.int64)
    """
    x_dtype = np.int64 if task == "language_model" else np.float32
    y_dtype = np.float32 if task == "regression" else np.int64
    return TensorDataset(
        torch.from_numpy(np.ascontiguousarray(x, dtype=x_dtype)),
        torch.from_numpy(np.ascontiguousarray(y, dtype=y_dtype)),
    )


@dataclass
class DatasetBundle:
    """Train/validation/test splits in memory, with their shape, classes and statistics.

    ``train``, ``val`` and ``test`` hold un-normalised ``float32`` inputs (values in
    ``[0, 1]`` for images) and ``int64`` labels (``float32`` targets of shape ``(N, k)``
    for regression; ``int64`` token ids for a language model). ``mean`` and ``std``
    are per-channel statistics of ``train`` (per feature for 2-D tabular inputs; empty
    when the inputs are not normalised, as token ids are not); :meth:`loaders` applies
    them. The validation split was carved out of the source's training split.

    ``task`` says what the bundle is for (see :mod:`onecycle.tasks`); ``vocab`` is a
    language model's vocabulary (:class:`onecycle.data.text.CharVocab`); with
    ``batch_keys`` (e.g. ``("input_ids", "labels")``) the loaders yield dicts with those
    keys instead of ``(x, y)`` tuples.

    Example:
        >>> from onecycle.data import load
        >>> b = load("digits")
        >>> len(b.train) + len(b.val) + len(b.test)
        1797
        >>> train, val, test = b.loaders(32)
    """

    train: TensorDataset
    val: TensorDataset
    test: TensorDataset
    input_shape: tuple[int, ...]
    num_classes: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    name: str = "custom"
    classes: list[str] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)
    task: str = "classification"
    vocab: Any = None
    batch_keys: tuple[str, ...] = ()
    _normalized: dict[str, tuple[torch.Tensor, torch.Tensor]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        if self.task not in TASK_NAMES:
            raise ValueError(
                f"task must be one of {', '.join(repr(t) for t in TASK_NAMES)}, got {self.task!r}"
            )
        self.batch_keys = tuple(self.batch_keys)
        if self.batch_keys and len(self.batch_keys) != 2:
            raise ValueError(f"batch_keys must name the two tensors (inputs, labels), got "
                             f"{self.batch_keys!r}")
        if not self.classes:
            self.classes = [str(i) for i in range(self.num_classes)]

    def __repr__(self) -> str:
        task = "" if self.task == "classification" else f", task={self.task!r}"
        return (
            f"DatasetBundle(name={self.name!r}, train={len(self.train)}, val={len(self.val)}, "
            f"test={len(self.test)}, input_shape={self.input_shape}, "
            f"num_classes={self.num_classes}{task})"
        )

    # -- normalisation ------------------------------------------------------------
    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """Return ``(x - mean) / std`` for a batch shaped like this bundle's inputs.

        Bundles without statistics (token ids) return ``x`` unchanged.

        Example:
            >>> from onecycle.data import load
            >>> b = load("digits")
            >>> x = b.normalize(b.train.tensors[0])
            >>> abs(float(x.mean())) < 1e-4
            True
        """
        if not self.mean:
            return x
        c = len(self.mean)
        mean = torch.tensor(self.mean, dtype=x.dtype, device=x.device).view(1, c, 1)
        std = torch.tensor(self.std, dtype=x.dtype, device=x.device).view(1, c, 1)
        shape = x.shape
        per_channel = math.prod(shape[1:]) // c if len(shape) > 1 else 1
        return ((x.reshape(shape[0], c, per_channel) - mean) / std).reshape(shape)

    def split(self, which: str, *, normalize: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
        """``(x, y)`` tensors of ``which`` (``"train"``, ``"val"`` or ``"test"``).

        Example:
            >>> from onecycle.data import load
            >>> x, y = load("digits").split("test", normalize=False)
            >>> float(x.min()) >= 0.0 and float(x.max()) <= 1.0
            True
        """
        if which not in _SPLITS:
            raise ValueError(f"which={which!r} is not a split (allowed: 'train', 'val', 'test')")
        x, y = getattr(self, which).tensors
        if not normalize or not self.mean:
            return x, y
        if which not in self._normalized:
            self._normalized[which] = (self.normalize(x), y)
        return self._normalized[which]

    # -- loaders ------------------------------------------------------------------
    def loaders(
        self,
        batch_size: int,
        *,
        eval_batch_size: int | None = None,
        shuffle: bool = True,
        seed: int = 0,
        normalize: bool = True,
        drop_last: bool = False,
        device: str | torch.device | None = None,
    ) -> tuple[TensorLoader, TensorLoader | None, TensorLoader]:
        """Return ``(train_loader, val_loader, test_loader)`` as :class:`TensorLoader` s.

        The training loader shuffles (seeded by ``seed``) and may ``drop_last``; the
        evaluation loaders keep the order and use ``eval_batch_size`` (default
        ``max(batch_size, 256)``). ``val_loader`` is ``None`` when the validation split
        is empty (``val_fraction=0``). ``device`` moves the data there once. Batches
        are ``(x, y)`` tuples, or dicts keyed by :attr:`batch_keys` when it is set.

        Example:
            >>> from onecycle.data import load
            >>> tr, va, te = load("digits").loaders(100, seed=1)
            >>> len(tr), sum(len(y) for _, y in te)
            (13, 359)
        """
        eval_bs = eval_batch_size if eval_batch_size is not None else max(batch_size, 256)
        keys = self.batch_keys or None
        train = TensorLoader(
            self.split("train", normalize=normalize),
            batch_size,
            shuffle=shuffle,
            drop_last=drop_last,
            seed=seed,
            device=device,
            keys=keys,
        )
        val = (
            TensorLoader(self.split("val", normalize=normalize), eval_bs, device=device,
                         keys=keys)
            if len(self.val)
            else None
        )
        test = TensorLoader(self.split("test", normalize=normalize), eval_bs, device=device,
                            keys=keys)
        return train, val, test

    # -- helpers ------------------------------------------------------------------
    def _with_splits(self, train: TensorDataset, val: TensorDataset, test: TensorDataset,
                     **changes: Any) -> DatasetBundle:
        return replace(self, train=train, val=val, test=test, classes=list(self.classes),
                       info=dict(self.info), **changes)

    def flattened(self) -> DatasetBundle:
        """The same bundle with inputs flattened to ``(N, prod(input_shape))``.

        Example:
            >>> from onecycle.data import load
            >>> load("digits").flattened().input_shape
            (64,)
        """
        if len(self.input_shape) == 1:
            return self
        d = math.prod(self.input_shape)

        def flat(ds: TensorDataset) -> TensorDataset:
            x, y = ds.tensors
            return TensorDataset(x.reshape(len(x), d), y)

        out = self._with_splits(flat(self.train), flat(self.val), flat(self.test),
                                input_shape=(d,))
        out.info["image_shape"] = tuple(self.input_shape)
        return out

    def subset(
        self,
        train: int | None = None,
        val: int | None = None,
        test: int | None = None,
        *,
        seed: int = 0,
    ) -> DatasetBundle:
        """A smaller bundle with subsets of each split (statistics kept).

        Stratified by class for classification, drawn at random otherwise.

        Example:
            >>> from onecycle.data import load
            >>> small = load("digits").subset(train=200, test=100)
            >>> len(small.train), len(small.test)
            (200, 100)
        """
        stratified = self.task == "classification"

        def take(ds: TensorDataset, n: int | None, s: int) -> TensorDataset:
            if n is None or n >= len(ds):
                return ds
            x, y = ds.tensors
            if stratified:
                _, idx = stratified_split(y.numpy(), n / len(ds), seed=s)
            else:
                _, idx = random_split(len(ds), n / len(ds), seed=s)
            idx_t = torch.as_tensor(idx)
            return TensorDataset(x[idx_t], y[idx_t])

        return self._with_splits(
            take(self.train, train, seed), take(self.val, val, seed + 1),
            take(self.test, test, seed + 2),
        )

    def describe(self) -> dict[str, Any]:
        """A JSON-friendly summary (for reports and logs).

        Example:
            >>> from onecycle.data import load
            >>> load("digits").describe()["sizes"]
            {'train': 1294, 'val': 144, 'test': 359}
        """
        return {
            "name": self.name,
            "task": self.task,
            "input_shape": list(self.input_shape),
            "num_classes": self.num_classes,
            "classes": list(self.classes),
            "sizes": {"train": len(self.train), "val": len(self.val), "test": len(self.test)},
            "mean": list(self.mean),
            "std": list(self.std),
            **{k: v for k, v in self.info.items() if isinstance(v, str | int | float | bool)},
        }


def check_splits(name: str, sizes: Sequence[int]) -> None:
    """Refuse a dataset whose training or test split came out empty, naming it.

    Example:
        >>> check_splits("toy", (0, 0, 1))
        Traceback (most recent call last):
        ...
        ValueError: dataset 'toy' has 1 sample(s): too few for a training split (0) and a test split (1); give more samples (or x_test/y_test for the test split)
    """
    n_train, n_val, n_test = sizes
    if n_train == 0 or n_test == 0:
        raise ValueError(
            f"dataset {name!r} has {n_train + n_val + n_test} sample(s): too few for a "
            f"training split ({n_train}) and a test split ({n_test}); give more samples "
            "(or x_test/y_test for the test split)"
        )
