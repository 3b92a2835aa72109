"""How a dataset is split: stratified for classes, at random otherwise, seeded always.

The test split of a source without a standard one is drawn with :data:`TEST_SPLIT_SEED`,
which does not depend on the experiment's seed, so the test set is the same in every
experiment; the validation split is then drawn from the rest with the experiment's seed.

Example:
    >>> import numpy as np
    >>> keep, taken = random_split(10, 0.3, seed=0)
    >>> len(keep), len(taken), sorted(np.concatenate([keep, taken]).tolist()) == list(range(10))
    (7, 3, True)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .. import _validate as check

__all__ = ["TEST_FRACTION", "TEST_SPLIT_SEED", "random_split", "stratified_split"]

#: Fixed seed of the test split drawn for sources without a standard one.
TEST_SPLIT_SEED = 20240
#: Fraction of the data used as test split for sources without a standard one.
TEST_FRACTION = 0.2


def _fraction(fraction: float) -> float:
    return check.in_range("fraction", fraction, 0.0, 1.0, high_open=True)


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
    fraction = _fraction(fraction)
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


def random_split(n: int, fraction: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Split ``range(n)`` into ``(keep, taken)``, ``taken`` a random ``fraction`` of it.

    For targets without classes (regression): exactly ``round(fraction * n)`` indices
    are taken, drawn with ``numpy.random.default_rng(seed)``; both arrays are sorted.

    Example:
        >>> keep, taken = random_split(5, 0.4, seed=1)
        >>> len(keep), len(taken)
        (3, 2)
    """
    fraction = _fraction(fraction)
    n = check.integer("n", n, least=0)
    n_take = int(round(fraction * n))
    taken = np.sort(np.random.default_rng(seed).permutation(n)[:n_take]).astype(np.int64)
    mask = np.ones(n, dtype=bool)
    mask[taken] = False
    return np.flatnonzero(mask), taken
