"""Arrays in, a :class:`~onecycle.data.DatasetBundle` out: scaling, layout, labels, splits.

Example:
    >>> import numpy as np
    >>> b = from_arrays(np.zeros((50, 4), dtype=np.uint8), np.arange(50) % 2)
    >>> b.input_shape, b.num_classes, (len(b.train), len(b.val), len(b.test))
    ((4,), 2, (36, 4, 10))
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from .. import _validate as check
from .bundle import DatasetBundle, channel_stats, check_splits, tensor_dataset
from .splits import TEST_FRACTION, TEST_SPLIT_SEED, random_split, stratified_split

__all__ = [
    "as_numpy",
    "assemble",
    "encode_labels",
    "from_arrays",
    "regression_from_arrays",
    "split_off",
    "to_float01",
    "to_nchw",
]

Split = tuple[np.ndarray, np.ndarray]


def as_numpy(a: Any) -> np.ndarray:
    """``a`` as a numpy array (tensors are detached and moved to the CPU).

    Example:
        >>> import torch
        >>> as_numpy(torch.ones(2)).tolist()
        [1.0, 1.0]
    """
    return a.detach().cpu().numpy() if isinstance(a, torch.Tensor) else np.asarray(a)


def to_float01(x: np.ndarray) -> np.ndarray:
    """Integer images are scaled by their dtype's maximum; floats are kept.

    Example:
        >>> import numpy as np
        >>> to_float01(np.array([0, 255], dtype=np.uint8)).tolist()
        [0.0, 1.0]
    """
    x = np.asarray(x)
    if x.dtype == np.bool_:
        return x.astype(np.float32)
    if np.issubdtype(x.dtype, np.integer):
        return (x.astype(np.float32) / float(np.iinfo(x.dtype).max)).astype(np.float32)
    if not np.issubdtype(x.dtype, np.floating):
        raise ValueError(f"inputs must be numeric, got dtype {x.dtype}")
    return x.astype(np.float32, copy=False)


def to_nchw(x: np.ndarray) -> np.ndarray:
    """(N,D) stays; (N,H,W) -> (N,1,H,W); channels-last (N,H,W,C) -> (N,C,H,W).

    Example:
        >>> import numpy as np
        >>> to_nchw(np.zeros((2, 8, 8, 3))).shape
        (2, 3, 8, 8)
    """
    if x.ndim == 1:
        raise ValueError(f"inputs need a sample axis and at least one feature axis, got {x.shape}")
    if x.ndim == 2:
        return x
    if x.ndim == 3:
        return x[:, None, :, :]
    if x.ndim == 4:
        # channels-last when the last axis looks like colour channels (1, 3 or 4) and is
        # smaller than axis 1; ambiguous shapes are read as channels-first
        channels_last = x.shape[3] in (1, 3, 4) and x.shape[3] < x.shape[1]
        return np.ascontiguousarray(x.transpose(0, 3, 1, 2)) if channels_last else x
    raise ValueError(f"inputs must have 2 to 4 axes (N,D), (N,H,W) or (N,C,H,W); got {x.shape}")


def _integral(values: np.ndarray) -> bool:
    if np.issubdtype(values.dtype, np.integer):
        return True
    return bool(np.issubdtype(values.dtype, np.floating) and np.all(np.isfinite(values))
                and np.all(values == np.round(values)))


def encode_labels(
    *ys: np.ndarray, num_names: int | None = None
) -> tuple[list[np.ndarray], list[str]]:
    """Labels as class indices ``0..K-1``, and the class names, from the unique values.

    Non-negative integer labels that are dense (every unique value below twice their
    number) are kept as they are, so ``{0, 1, 3}`` keeps index 3 and an unused class 2;
    anything else -- strings, negative or sparse ids such as ``{0, 1, 2, 10**9}`` -- is
    mapped to the sorted unique values, which become the class names. Only the unique
    values are ever enumerated, so one outlier label cannot make a huge class list.
    With ``num_names`` (class names were given), integer labels in ``[0, num_names)``
    are indices into those names and are always kept.

    Example:
        >>> import numpy as np
        >>> (y,), classes = encode_labels(np.array([0, 2, 10**9]))
        >>> y.tolist(), classes
        ([0, 1, 2], ['0', '2', '1000000000'])
    """
    arrays = [np.asarray(y).reshape(-1) for y in ys]
    allv = np.concatenate(arrays) if arrays else np.zeros(0, dtype=np.int64)
    uniq = np.unique(allv)
    bound = 2 * uniq.size if num_names is None else max(num_names, 2 * uniq.size)
    if uniq.size and _integral(uniq) and uniq[0] >= 0 and uniq[-1] < bound:
        k = int(uniq[-1]) + 1
        return [a.astype(np.int64) for a in arrays], [str(i) for i in range(k)]
    names = [str(int(u)) if _integral(uniq) else str(u) for u in uniq]
    return [np.searchsorted(uniq, a).astype(np.int64) for a in arrays], names


def _pair(x: Any, y: Any, what: str) -> Split:
    xs = to_nchw(to_float01(as_numpy(x)))
    ys = as_numpy(y).reshape(-1)
    if len(xs) != len(ys):
        prefix = "x" if what == "train" else "x_test"
        label = "y" if what == "train" else "y_test"
        raise ValueError(f"{prefix} has {len(xs)} samples but {label} has {len(ys)}")
    return xs, ys


def assemble(
    train: Split,
    val: Split,
    test: Split,
    *,
    name: str,
    task: str = "classification",
    num_classes: int,
    classes: Sequence[str] | None = None,
    info: Mapping[str, Any] | None = None,
    flatten: bool = False,
) -> DatasetBundle:
    """A bundle from finished splits: the statistics are measured on ``train``.

    The step every source ends with; the arrays are already in their final layout and
    labels already encoded.

    Example:
        >>> import numpy as np
        >>> s = (np.ones((4, 2)), np.array([0, 1, 0, 1]))
        >>> assemble(s, s, s, name="toy", num_classes=2).mean
        (1.0, 1.0)
    """
    check_splits(name, (len(train[0]), len(val[0]), len(test[0])))
    mean, std = channel_stats(train[0]) if task != "language_model" else ((), ())
    bundle = DatasetBundle(
        train=tensor_dataset(*train, task=task),
        val=tensor_dataset(*val, task=task),
        test=tensor_dataset(*test, task=task),
        input_shape=tuple(int(s) for s in train[0].shape[1:]),
        num_classes=int(num_classes),
        mean=mean,
        std=std,
        name=name,
        classes=[str(c) for c in classes] if classes is not None else [],
        info=dict(info or {}),
        task=task,
    )
    return bundle.flattened() if flatten else bundle


def split_off(
    x: np.ndarray, y: np.ndarray, fraction: float, seed: int, *, stratify: bool
) -> tuple[Split, Split]:
    """``((x, y) kept, (x, y) taken)``: a stratified or random ``fraction`` taken out.

    Example:
        >>> import numpy as np
        >>> kept, taken = split_off(np.arange(10)[:, None], np.arange(10) % 2, 0.2, 0,
        ...                         stratify=True)
        >>> len(kept[0]), sorted(taken[1].tolist())
        (8, [0, 1])
    """
    if stratify:
        keep, take = stratified_split(y, fraction, seed=seed)
    else:
        keep, take = random_split(len(y), fraction, seed=seed)
    return (x[keep], y[keep]), (x[take], y[take])


def from_arrays(
    x: np.ndarray | torch.Tensor,
    y: np.ndarray | torch.Tensor,
    *,
    x_test: np.ndarray | torch.Tensor | None = None,
    y_test: np.ndarray | torch.Tensor | None = None,
    val_fraction: float = 0.1,
    seed: int = 0,
    flatten: bool = False,
    test_fraction: float = TEST_FRACTION,
    name: str = "arrays",
    classes: Sequence[str] | None = None,
    info: Mapping[str, Any] | None = None,
) -> DatasetBundle:
    """Build a classification :class:`DatasetBundle` from arrays.

    ``x`` may be ``(N, D)`` features, ``(N, H, W)`` grey images, ``(N, C, H, W)`` or
    channels-last ``(N, H, W, C)`` images (recognised when ``C`` is 1, 3 or 4 and
    smaller than ``H``; ambiguous shapes are read as channels-first). Integer inputs
    (e.g. ``uint8`` pixels) are scaled to ``[0, 1]`` by their dtype's maximum; float
    inputs are kept as they are. Labels are encoded by :func:`encode_labels`; given
    ``classes`` name the indices ``0..len(classes)-1``.

    Without ``x_test``/``y_test`` a stratified ``test_fraction`` is set aside as test
    split with a fixed seed (independent of ``seed``). The validation split is a
    stratified ``val_fraction`` of the remaining training data, drawn with ``seed``.

    Example:
        >>> import numpy as np
        >>> rng = np.random.default_rng(0)
        >>> b = from_arrays(rng.random((100, 5)), np.arange(100) % 2)
        >>> len(b.train), len(b.val), len(b.test), b.input_shape
        (72, 8, 20, (5,))
    """
    if (x_test is None) != (y_test is None):
        raise ValueError("give both x_test and y_test, or neither")
    val_fraction = check.in_range("val_fraction", val_fraction, 0.0, 1.0, high_open=True)
    x_np, y_np = _pair(x, y, "train")
    n_names = None if classes is None else len(classes)
    if x_test is not None:
        xt, yt = _pair(x_test, y_test, "test")
        if xt.shape[1:] != x_np.shape[1:]:
            raise ValueError(
                f"x_test samples are {xt.shape[1:]} but x samples are {x_np.shape[1:]}"
            )
        (y_np, yt), found = encode_labels(y_np, yt, num_names=n_names)
        rest: Split = (x_np, y_np)
        test: Split = (xt, yt)
    else:
        test_fraction = check.in_range("test_fraction", test_fraction, 0.0, 1.0,
                                       low_open=True, high_open=True)
        (y_np,), found = encode_labels(y_np, num_names=n_names)
        rest, test = split_off(x_np, y_np, test_fraction, TEST_SPLIT_SEED, stratify=True)
    train, val = split_off(*rest, val_fraction, seed, stratify=True)
    names = [str(c) for c in classes] if classes is not None else found
    if classes is not None and len(names) < len(found):
        raise ValueError(f"{len(names)} class names given but labels go up to {len(found) - 1}")
    return assemble(
        train, val, test, name=name, num_classes=max(len(names), len(found)), classes=names,
        info={"val_fraction": val_fraction, "seed": seed, **dict(info or {})},
        flatten=flatten,
    )


def regression_from_arrays(
    x: np.ndarray | torch.Tensor,
    y: np.ndarray | torch.Tensor,
    *,
    val_fraction: float = 0.1,
    seed: int = 0,
    test_fraction: float = TEST_FRACTION,
    name: str = "regression",
    target_names: Sequence[str] | None = None,
    info: Mapping[str, Any] | None = None,
) -> DatasetBundle:
    """Build a regression :class:`DatasetBundle`: float features, standardised targets.

    ``x`` is ``(N, D)`` (or any shape :func:`to_nchw` accepts), ``y`` is ``(N,)`` or
    ``(N, k)``. A random ``test_fraction`` is set aside with a fixed seed, then a random
    ``val_fraction`` of the rest with ``seed`` (no stratification: targets have no
    classes). Targets are standardised with the training split's mean and std, stored
    as ``info["target_mean"]``/``info["target_std"]`` (lists, one per target) so
    predictions can be turned back: ``y = pred * std + mean``. Features are normalised
    by the loaders with the training split's per-feature statistics, as for any bundle.
    ``num_classes`` is the number of targets (the model's outputs).

    Example:
        >>> import numpy as np
        >>> rng = np.random.default_rng(0)
        >>> b = regression_from_arrays(rng.random((50, 3)), rng.random(50) * 100)
        >>> b.task, b.num_classes, tuple(b.train.tensors[1].shape)
        ('regression', 1, (36, 1))
    """
    val_fraction = check.in_range("val_fraction", val_fraction, 0.0, 1.0, high_open=True)
    test_fraction = check.in_range("test_fraction", test_fraction, 0.0, 1.0, low_open=True,
                                   high_open=True)
    xs = to_nchw(as_numpy(x).astype(np.float32))
    ys = as_numpy(y).astype(np.float64)
    ys = ys.reshape(len(ys), -1) if ys.ndim else ys.reshape(1, 1)
    if len(xs) != len(ys):
        raise ValueError(f"x has {len(xs)} samples but y has {len(ys)}")
    if not (np.all(np.isfinite(xs)) and np.all(np.isfinite(ys))):
        raise ValueError(f"dataset {name!r}: x and y must be finite (found NaN or inf)")
    rest, test = split_off(xs, ys, test_fraction, TEST_SPLIT_SEED, stratify=False)
    train, val = split_off(*rest, val_fraction, seed, stratify=False)
    mean = train[1].mean(axis=0) if len(train[1]) else np.zeros(ys.shape[1])
    std = train[1].std(axis=0) if len(train[1]) else np.ones(ys.shape[1])
    std = np.where(std > 1e-12, std, 1.0)

    def standard(s: Split) -> Split:
        return s[0], ((s[1] - mean) / std).astype(np.float32)

    names = list(target_names) if target_names is not None else [
        f"target{i}" for i in range(ys.shape[1])] if ys.shape[1] > 1 else ["target"]
    meta = {"val_fraction": val_fraction, "seed": seed, **dict(info or {}),
            "target_mean": [float(m) for m in mean], "target_std": [float(s) for s in std]}
    return assemble(standard(train), standard(val), standard(test), name=name,
                    task="regression", num_classes=ys.shape[1], classes=names, info=meta)
