"""The datasets bundled with scikit-learn: ``digits`` (the offline default) and ``diabetes``.

Both ship inside scikit-learn, so they load instantly and offline.

Example:
    >>> b = load_diabetes()
    >>> b.task, b.input_shape, b.num_classes
    ('regression', (10,), 1)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .arrays import from_arrays, regression_from_arrays
from .bundle import DatasetBundle

__all__ = ["load_diabetes", "load_digits"]


def load_digits(**kw: Any) -> DatasetBundle:
    """scikit-learn's 1797 8x8 digits as ``(1, 8, 8)`` images in ``[0, 1]``, 10 classes.

    Example:
        >>> load_digits().input_shape
        (1, 8, 8)
    """
    from sklearn.datasets import load_digits as sk_digits

    d = sk_digits()
    x = (d.images.astype(np.float32) / 16.0)[:, None, :, :]
    return from_arrays(
        x,
        d.target.astype(np.int64),
        name="digits",
        **kw,
        info={"source": "sklearn.datasets.load_digits"},
    )


def load_diabetes(*, val_fraction: float = 0.1, seed: int = 0, flatten: bool = False
                  ) -> DatasetBundle:
    """scikit-learn's diabetes regression set: 442 patients, 10 features, one target.

    The raw (unscaled) features and the disease-progression target, split at random
    (test 20 %, fixed; validation ``val_fraction`` of the rest, by ``seed``); the
    target is standardised with the training split's statistics (see
    :func:`~onecycle.data.arrays.regression_from_arrays`), so an MSE of 1 is what
    predicting the mean gets. ``flatten`` changes nothing (the inputs are flat).

    Example:
        >>> b = load_diabetes(seed=1)
        >>> (len(b.train), len(b.val), len(b.test)), b.classes
        ((319, 35, 88), ['disease progression'])
    """
    from sklearn.datasets import load_diabetes as sk_diabetes

    d = sk_diabetes(scaled=False)
    return regression_from_arrays(
        d.data, d.target, val_fraction=val_fraction, seed=seed, name="diabetes",
        target_names=["disease progression"], info={"source": "sklearn.datasets.load_diabetes"},
    )
