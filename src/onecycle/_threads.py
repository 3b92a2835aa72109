"""torch's intra-op thread count for the duration of one call, put back afterwards.

Small CPU models run many times faster on one thread than on torch's default (one per
core) when the cores are shared, but a library must not change torch's global state
behind its user's back. ``threads=`` arguments (the Trainer, the range test, the
command line) therefore set the count on entry and restore the previous one on exit,
also when the work raises.

Example:
    >>> import torch
    >>> before = torch.get_num_threads()
    >>> with torch_threads(1):
    ...     torch.get_num_threads()
    1
    >>> torch.get_num_threads() == before
    True
"""

from __future__ import annotations

from typing import Any

from . import _validate as check

__all__ = ["torch_threads", "check_threads"]


def check_threads(threads: Any, name: str = "threads") -> int | None:
    """``threads`` as an int >= 1, or None (leave torch's setting alone).

    >>> check_threads(2), check_threads(None)
    (2, None)
    """
    return None if threads is None else check.integer(name, threads, least=1)


class torch_threads:
    """Context manager: run with ``n`` torch CPU threads (``None``: unchanged), then put
    back the number there was before.

    >>> with torch_threads(None):
    ...     pass
    """

    def __init__(self, n: int | None) -> None:
        self.n = check_threads(n)
        self.before = 0

    def __enter__(self) -> torch_threads:
        import torch

        self.before = torch.get_num_threads()
        if self.n is not None and self.n != self.before:
            torch.set_num_threads(self.n)
        return self

    def __exit__(self, *exc: Any) -> None:
        import torch

        if torch.get_num_threads() != self.before:
            torch.set_num_threads(self.before)
