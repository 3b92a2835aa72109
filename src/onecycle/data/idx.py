"""IDX files (the MNIST format): the codec, and directories of them as datasets.

Example:
    >>> import tempfile, pathlib, numpy as np
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> write_idx(d / "train-images-idx3-ubyte.gz", np.zeros((3, 2, 2), dtype=np.uint8))
    >>> write_idx(d / "train-labels-idx1-ubyte.gz", np.array([0, 1, 0], dtype=np.uint8))
    >>> is_idx_dir(d), read_idx(d / "train-labels-idx1-ubyte.gz").tolist()
    (True, [0, 1, 0])
"""

from __future__ import annotations

import gzip
import math
import os
import re
import struct
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .._io import write_bytes_atomic
from .arrays import from_arrays
from .bundle import DatasetBundle
from .locate import DatasetUnavailable

__all__ = [
    "find_idx_files",
    "is_idx_dir",
    "load_idx_dir",
    "read_idx",
    "read_maybe_gzip",
    "write_idx",
]

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


def read_maybe_gzip(path: Path) -> bytes:
    """The bytes of ``path``, gunzipped when they start with the gzip magic number.

    Example:
        >>> import gzip, tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "f.gz"; _ = p.write_bytes(gzip.compress(b"hi"))
        >>> read_maybe_gzip(p)
        b'hi'
    """
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
    data = read_maybe_gzip(path)
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
    write_bytes_atomic(path, payload)


def find_idx_files(directory: Path) -> dict[str, Path]:
    """Map ``train_images``/``train_labels``/``test_images``/``test_labels`` to files.

    Names are matched by their tokens (``train``; ``t10k`` or ``test``; ``images`` or
    ``idx3``; ``labels`` or ``idx1``); uncompressed files are preferred over ``.gz``.

    Example:
        >>> import tempfile, pathlib, numpy as np
        >>> d = pathlib.Path(tempfile.mkdtemp())
        >>> write_idx(d / "train-labels-idx1-ubyte", np.zeros(2, dtype=np.uint8))
        >>> sorted(find_idx_files(d))
        ['train_labels']
    """
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


def is_idx_dir(directory: Path) -> bool:
    """Whether ``directory`` holds at least the training images and labels as IDX files.

    Example:
        >>> import tempfile, pathlib
        >>> is_idx_dir(pathlib.Path(tempfile.mkdtemp()))
        False
    """
    found = find_idx_files(directory)
    return "train_images" in found and "train_labels" in found


def load_idx_dir(
    directory: Path, *, name: str, classes: Sequence[str] | None = None, **kw: Any
) -> DatasetBundle:
    """A :class:`DatasetBundle` from a directory of IDX files (see :func:`find_idx_files`).

    ``kw`` are :func:`~onecycle.data.from_arrays`'s split options.

    Example:
        >>> import tempfile, pathlib, numpy as np
        >>> d = pathlib.Path(tempfile.mkdtemp())
        >>> write_idx(d / "train-images-idx3-ubyte", np.zeros((10, 2, 2), dtype=np.uint8))
        >>> write_idx(d / "train-labels-idx1-ubyte", (np.arange(10) % 2).astype(np.uint8))
        >>> load_idx_dir(d, name="toy").input_shape
        (1, 2, 2)
    """
    files = find_idx_files(directory)
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
