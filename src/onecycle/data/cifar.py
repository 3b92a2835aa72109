"""CIFAR-10 from the real archive format, with checksums, for users who have the data.

The archive ``cifar-10-python.tar.gz`` holds ``cifar-10-batches-py/`` with five training
batches ``data_batch_1`` .. ``data_batch_5``, ``test_batch`` and ``batches.meta``: Python
pickles of dicts with ``data`` (uint8 ``(N, 3072)``, the red, green and blue planes of
32x32 images, row-major) and ``labels`` (N ints in 0..9), and ``label_names``. They are
read straight from the archive (nothing is extracted) or from an extracted folder,
through the numpy-only unpickler, and every member is checked against the MD5 sums of
the canonical files (:data:`CIFAR10_MD5`) unless ``verify=False``.

CIFAR-10 cannot be fetched on machines without internet access (these tests never
try): put the archive in ``default_data_dir()`` (``load("cifar10")`` looks there), give
its path as ``"cifar10:PATH"``, or call :func:`download_cifar10` where a network is.

Example:
    >>> sorted(CIFAR10_MD5)[:2], CIFAR10_ARCHIVE
    (['batches.meta', 'data_batch_1'], 'cifar-10-python.tar.gz')
"""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from .arrays import from_arrays
from .bundle import DatasetBundle
from .download import download_files
from .locate import DatasetUnavailable, default_data_dir
from .safe_pickle import load_pickle

__all__ = [
    "CIFAR10_ARCHIVE",
    "CIFAR10_ARCHIVE_MD5",
    "CIFAR10_CLASSES",
    "CIFAR10_FOLDER",
    "CIFAR10_MD5",
    "download_cifar10",
    "load_cifar10",
    "read_cifar10",
]

CIFAR10_ARCHIVE = "cifar-10-python.tar.gz"
CIFAR10_FOLDER = "cifar-10-batches-py"
CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/"
#: MD5 of the canonical archive (the only checksum its authors publish).
CIFAR10_ARCHIVE_MD5 = "c58f30108f718f92721af3b95e74349a"
#: MD5 of each member of the canonical archive (as checked by common CIFAR loaders).
CIFAR10_MD5: dict[str, str] = {
    "data_batch_1": "c99cafc152244af753f735de768cd75f",
    "data_batch_2": "d4bba439e000b95fd0a9bffe97cbabec",
    "data_batch_3": "54ebc095f3ab1f0389bbae665268c751",
    "data_batch_4": "634d18415352ddfa80567beed471001a",
    "data_batch_5": "482c414d41f54cd18b22e5b47cb7c3cb",
    "test_batch": "40351d587109b95175f43aff81a1287e",
    "batches.meta": "5ff9c542aee3614f3951f8cda6e48888",
}
CIFAR10_CLASSES: tuple[str, ...] = (
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
)
_TRAIN = tuple(f"data_batch_{i}" for i in range(1, 6))
#: A canonical batch is 30 MB; anything far larger is not a CIFAR batch.
_MAX_MEMBER_BYTES = 64 << 20


def _read_members(path: Path, names: tuple[str, ...]) -> dict[str, bytes]:
    """The bytes of each member ``names`` from an archive or an extracted folder."""
    if path.is_dir():
        folder = path / CIFAR10_FOLDER if (path / CIFAR10_FOLDER).is_dir() else path
        missing = [n for n in names if not (folder / n).is_file()]
        if missing:
            raise ValueError(f"{path}: no {', '.join(missing)} in {folder}")
        return {n: (folder / n).read_bytes() for n in names}
    out = {}
    try:
        with tarfile.open(path, "r:*") as tar:
            for name in names:
                try:
                    info = tar.getmember(f"{CIFAR10_FOLDER}/{name}")
                except KeyError:
                    raise ValueError(
                        f"{path}: the archive has no {CIFAR10_FOLDER}/{name}") from None
                f = tar.extractfile(info) if info.isfile() else None
                if f is None or info.size > _MAX_MEMBER_BYTES:
                    raise ValueError(f"{path}: {info.name} is not a CIFAR-10 batch file")
                out[name] = f.read()
    except (tarfile.TarError, OSError, EOFError) as err:
        raise ValueError(f"{path}: not a readable CIFAR-10 archive ({err})") from None
    return out


def _batch(raw: bytes, name: str, path: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        d = load_pickle(io.BytesIO(raw))
    except Exception as err:  # noqa: BLE001 - any unpickling failure is a bad file
        raise ValueError(f"{path}: {name} is not a CIFAR-10 batch ({err})") from None
    d = {k.decode() if isinstance(k, bytes) else k: v for k, v in dict(d).items()}
    x = np.asarray(d.get("data"))
    y = np.asarray(d.get("labels"), dtype=np.int64)
    if x.dtype != np.uint8 or x.ndim != 2 or x.shape[1] != 3072 or len(y) != len(x):
        raise ValueError(
            f"{path}: {name} must hold 'data' uint8 (N, 3072) and N 'labels', got "
            f"{x.dtype} {x.shape} and {len(y)} labels"
        )
    if len(y) and (y.min() < 0 or y.max() > 9):
        raise ValueError(f"{path}: {name} has labels outside 0..9")
    return x.reshape(-1, 3, 32, 32), y


def read_cifar10(
    path: str | os.PathLike[str], *, checksums: Mapping[str, str] | None = CIFAR10_MD5
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """``(x_train, y_train, x_test, y_test, class_names)`` from an archive or folder.

    Images are uint8 ``(N, 3, 32, 32)``. ``checksums`` maps member names to MD5 sums
    (default: the canonical files'); ``None`` skips the check. A member that is
    missing, fails its checksum, or does not hold what a CIFAR batch holds raises a
    ``ValueError`` naming the file and the member.

    Example:
        >>> read_cifar10("/data/cifar-10-python.tar.gz")[0].shape  # doctest: +SKIP
        (50000, 3, 32, 32)
    """
    path = Path(path).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"path={str(path)!r}: no CIFAR-10 archive or folder there")
    parts = _read_members(path, (*_TRAIN, "test_batch", "batches.meta"))
    for name, raw in parts.items():
        if checksums is not None and name in checksums:
            got = hashlib.md5(raw).hexdigest()
            if got != checksums[name]:
                raise ValueError(
                    f"{path}: {name} has md5 {got}, expected {checksums[name]} (not the "
                    "canonical CIFAR-10 file; pass verify=False to read it anyway)"
                )
    train = [_batch(parts[n], n, path) for n in _TRAIN]
    xt, yt = _batch(parts["test_batch"], "test_batch", path)
    meta = load_pickle(io.BytesIO(parts["batches.meta"]))
    names = [n.decode() if isinstance(n, bytes) else str(n)
             for n in dict(meta).get("label_names", CIFAR10_CLASSES)]
    x = np.concatenate([b[0] for b in train])
    y = np.concatenate([b[1] for b in train])
    return x, y, xt, yt, names


def load_cifar10(
    path: str | os.PathLike[str] | None = None,
    *,
    verify: bool = True,
    val_fraction: float = 0.1,
    seed: int = 0,
    flatten: bool = False,
) -> DatasetBundle:
    """CIFAR-10 as a bundle: ``(3, 32, 32)`` images in ``[0, 1]``, 10 classes, 50k/10k.

    ``path`` is the archive or an extracted folder; ``None`` looks in
    ``default_data_dir()`` for either. ``verify=False`` skips the checksums (for a
    modified copy). Raises :class:`DatasetUnavailable` saying where to put the data.

    Example:
        >>> load_cifar10().input_shape  # doctest: +SKIP
        (3, 32, 32)
    """
    if path is None:
        root = default_data_dir()
        found = [p for p in (root / CIFAR10_ARCHIVE, root / CIFAR10_FOLDER) if p.exists()]
        if not found:
            raise DatasetUnavailable(
                f"CIFAR-10 is not there: put {CIFAR10_ARCHIVE} (or its extracted "
                f"{CIFAR10_FOLDER}/) in {root}, give its path as 'cifar10:PATH', or run "
                "onecycle.data.download_cifar10() where there is internet access"
            )
        path = found[0]
    x, y, xt, yt, names = read_cifar10(path, checksums=CIFAR10_MD5 if verify else None)
    return from_arrays(x, y, x_test=xt, y_test=yt, val_fraction=val_fraction, seed=seed,
                       flatten=flatten, name="cifar10", classes=names,
                       info={"source": str(path), "verified": bool(verify)})


def download_cifar10(dest: str | os.PathLike[str] | None = None) -> Path:
    """Download the canonical archive to ``dest`` (default ``default_data_dir()``).

    Checked against the archive's published MD5 before it is put in place; afterwards
    ``load("cifar10")`` finds it. Needs internet access (never called by the tests).

    Example:
        >>> download_cifar10("/tmp/cifar")  # doctest: +SKIP
        PosixPath('/tmp/cifar/cifar-10-python.tar.gz')
    """
    target = Path(dest) if dest is not None else default_data_dir()
    download_files([CIFAR10_URL], {CIFAR10_ARCHIVE: f"md5:{CIFAR10_ARCHIVE_MD5}"}, target)
    return target / CIFAR10_ARCHIVE
