"""Integrations with other training frameworks (optional dependencies, imported lazily).

* :mod:`onecycle.integrations.lightning`: ``OneCycleCallback`` and ``LRFinderCallback``
  for PyTorch Lightning (``pip install onecycle[lightning]``).

Example:
    >>> import onecycle.integrations.lightning  # does not import Lightning itself
"""

from __future__ import annotations

__all__ = ["lightning"]
