"""MNIST-1D: 10 classes of 1-D signals of length 40, generated offline from templates.

The PyPI package ``mnist1d`` (``pip install mnist1d``) builds the dataset from ten
hand-made digit templates with random padding, scaling, translation, noise and shear.
:func:`load_mnist1d` generates it with the package's default arguments -- 5000
samples, seed 42, the first 4000 for training and the last 1000 for testing, the
standard split -- and never downloads anything. Generating takes about 2 s; the result
is cached for the process. The package seeds numpy's and Python's global random
generators; their states are restored afterwards.

Signals are float32 ``(N, 1, 40)`` (one channel), centred and scaled to unit variance by
the generator; the validation split is a stratified ``val_fraction`` of the 4000.

Example (needs ``pip install mnist1d``, as the tests in tests/test_data_sources.py do):
    >>> b = load_mnist1d()  # doctest: +SKIP
    >>> b.input_shape, b.num_classes, (len(b.train) + len(b.val), len(b.test))  # doctest: +SKIP
    ((1, 40), 10, (4000, 1000))
    >>> MNIST1D_INSTALL
    'pip install mnist1d'
"""

from __future__ import annotations

import functools
import random

import numpy as np

from .. import _validate as check
from .arrays import assemble, split_off
from .bundle import DatasetBundle
from .locate import DatasetUnavailable

__all__ = ["MNIST1D_INSTALL", "generate_mnist1d", "load_mnist1d"]

MNIST1D_INSTALL = "pip install mnist1d"


@functools.lru_cache(maxsize=1)
def _generate() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    try:
        from mnist1d.data import get_dataset_args, make_dataset
    except ImportError as err:
        raise DatasetUnavailable(
            "mnist1d is not installed. Install it from the Python package index with:\n"
            f"    {MNIST1D_INSTALL}\n"
            f"(it generates the data offline from templates) ({err})"
        ) from None
    py_state, np_state = random.getstate(), np.random.get_state()
    try:
        d = make_dataset(get_dataset_args())
    finally:  # make_dataset seeds the global generators: give users theirs back
        random.setstate(py_state)
        np.random.set_state(np_state)
    arrays = (d["x"], d["y"], d["x_test"], d["y_test"])
    for a in arrays:
        a.setflags(write=False)
    return arrays  # type: ignore[return-value]


def generate_mnist1d() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(x_train, y_train, x_test, y_test)``: 4000 + 1000 signals of length 40 (read-only).

    Example:
        >>> x, y, xt, yt = generate_mnist1d()  # doctest: +SKIP
        >>> x.shape, xt.shape  # doctest: +SKIP
        ((4000, 40), (1000, 40))
    """
    return _generate()


def load_mnist1d(
    *, val_fraction: float = 0.1, seed: int = 0, flatten: bool = False
) -> DatasetBundle:
    """MNIST-1D as a bundle: ``(1, 40)`` signals, 10 classes, the standard 4000/1000 split.

    ``flatten=True`` gives ``(40,)`` inputs for an MLP.

    Example:
        >>> load_mnist1d(flatten=True).input_shape  # doctest: +SKIP
        (40,)
    """
    val_fraction = check.in_range("val_fraction", val_fraction, 0.0, 1.0, high_open=True)
    x, y, xt, yt = generate_mnist1d()
    signals = x.astype(np.float32)[:, None, :]
    test = (xt.astype(np.float32)[:, None, :], yt.astype(np.int64))
    train, val = split_off(signals, y.astype(np.int64), val_fraction, seed, stratify=True)
    return assemble(
        train, val, test, name="mnist1d", num_classes=10,
        info={"source": "mnist1d.data.make_dataset (default arguments, seed 42)",
              "val_fraction": val_fraction, "seed": seed},
        flatten=flatten,
    )
