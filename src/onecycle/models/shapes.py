"""Checks of a model factory's ``input_shape`` and ``num_classes``, one message each.

Example:
    >>> check_shape((1, 28, 28), 10, image=True)
    (1, 28, 28)
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["check_num_classes", "check_shape"]


def check_num_classes(num_classes: int) -> int:
    """``num_classes`` (outputs) as an int >= 1.

    Example:
        >>> check_num_classes(1)
        1
    """
    if isinstance(num_classes, bool) or int(num_classes) != num_classes or num_classes < 1:
        raise ValueError(f"num_classes must be a positive int, got {num_classes!r}")
    return int(num_classes)


def check_shape(
    input_shape: Sequence[int],
    num_classes: int,
    *,
    image: bool = False,
    dims: int | None = None,
    layout: str = "",
) -> tuple[int, ...]:
    """``input_shape`` as a tuple of positive ints, with ``dims`` entries when given.

    ``image=True`` asks for ``(C, H, W)``; ``dims``/``layout`` for any other fixed
    layout (``dims=2, layout="(C, L)"``).

    Example:
        >>> check_shape((64,), 3, image=True)
        Traceback (most recent call last):
        ...
        ValueError: input_shape must be (C, H, W) for a convolutional model, got (64,) (use mlp for flat features)
    """
    shape = tuple(int(s) for s in input_shape)
    if not shape or any(s < 1 for s in shape):
        raise ValueError(f"input_shape must be positive sizes, got {tuple(input_shape)!r}")
    if image and len(shape) != 3:
        raise ValueError(
            f"input_shape must be (C, H, W) for a convolutional model, got {shape!r} "
            "(use mlp for flat features)"
        )
    if dims is not None and len(shape) != dims:
        raise ValueError(f"input_shape must be {layout or f'{dims} sizes'} for this model, "
                         f"got {shape!r}")
    check_num_classes(num_classes)
    return shape
