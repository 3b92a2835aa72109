"""Small file helpers shared by modules that must not import each other (no torch)."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

__all__ = ["write_json_atomic", "read_json_as"]


def write_json_atomic(path: str | os.PathLike[str], data: Any) -> Path:
    """Write ``data`` as strict JSON: temp file in the same folder, fsync, rename.

    A crash or an error leaves the previous file untouched and no temp file behind.

    >>> import tempfile, os
    >>> p = write_json_atomic(os.path.join(tempfile.mkdtemp(), "a.json"), {"x": 1})
    >>> open(p).read()
    '{\\n "x": 1\\n}'
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(data, indent=1, allow_nan=False)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.remove(tmp)
        except FileNotFoundError:
            pass
        raise
    return path


def read_json_as(path: str | os.PathLike[str], build: Callable[[Any], T], what: str) -> T:
    """``build(json data of path)``; a file that is not valid UTF-8 JSON, or whose data
    ``build`` rejects (ValueError/TypeError/KeyError), raises a ValueError naming ``what``.

    >>> import tempfile, os
    >>> p = write_json_atomic(os.path.join(tempfile.mkdtemp(), "a.json"), {"x": 1})
    >>> read_json_as(p, lambda d: d["x"], "an example")
    1
    """
    with open(path, "rb") as fh:
        raw = fh.read()
    try:
        return build(json.loads(raw.decode("utf-8")))
    except (ValueError, TypeError, KeyError) as exc:
        raise ValueError(f"{path} is not {what}: {type(exc).__name__}: {exc}") from exc
