"""Every file onecycle writes goes through here: written atomically, read back safely.

A write fills a temporary file in the destination folder, flushes and fsyncs it, and
renames it over the destination, so a crash, a full disk or an error never leaves a
half-written file: the previous file stays as it was and no temporary is left behind.
A failure raises :class:`WriteError` (an ``OSError``) naming the file. Reads of JSON
refuse deeply nested documents with a one-line ``ValueError`` instead of a
``RecursionError``. Pure Python (no torch).

Example:
    >>> import tempfile, os
    >>> d = tempfile.mkdtemp()
    >>> p = write_json_atomic(os.path.join(d, "a.json"), {"x": 1})
    >>> read_json(p)
    {'x': 1}
    >>> write_text_atomic(os.path.join(d, "a.txt"), "hi").read_text()
    'hi'
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, TypeVar

T = TypeVar("T")

__all__ = [
    "WriteError",
    "atomic_write",
    "write_bytes_atomic",
    "write_text_atomic",
    "write_json_atomic",
    "save_figure",
    "loads_json",
    "read_json",
    "read_json_as",
    "remove_stale_temporaries",
    "check_writable_dir",
    "MAX_JSON_DEPTH",
]

#: JSON deeper than this is refused: no file onecycle writes nests beyond a dozen levels.
MAX_JSON_DEPTH = 64


class WriteError(OSError):
    """A file could not be written; the previous file at that path is unchanged.

    >>> issubclass(WriteError, OSError)
    True
    """


def _fsync_dir(directory: Path) -> None:
    # makes the rename itself durable; not possible on every platform or filesystem
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _failed(path: Path, exc: BaseException) -> WriteError:
    reason = getattr(exc, "strerror", None) or f"{type(exc).__name__}: {exc}"
    err = WriteError(f"could not write {path}: {reason}; the previous file at that path "
                     "(if any) is unchanged")
    err.errno = getattr(exc, "errno", None)
    return err


def atomic_write(path: str | os.PathLike[str], write: Callable[[IO[bytes]], Any]) -> Path:
    """``write(f)`` fills a temporary binary file that then replaces ``path``.

    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "x.bin")
    >>> atomic_write(p, lambda f: f.write(b"hello")).read_bytes()
    b'hello'
    """
    path = Path(path)
    directory = path.parent
    try:
        directory.mkdir(parents=True, exist_ok=True)
        mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise _failed(path, exc) from exc
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        try:
            os.chmod(tmp, mode)
        except OSError:
            pass
        os.replace(tmp, path)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, Exception) and not isinstance(exc, WriteError):
            raise _failed(path, exc) from exc
        raise
    _fsync_dir(directory)
    return path


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> Path:
    """``data`` written atomically to ``path``."""
    return atomic_write(path, lambda f: f.write(data))


def write_text_atomic(path: str | os.PathLike[str], text: str) -> Path:
    """``text`` (UTF-8) written atomically to ``path``."""
    return write_bytes_atomic(path, text.encode("utf-8"))


def write_json_atomic(path: str | os.PathLike[str], data: Any, *, indent: int | None = 1) -> Path:
    """``data`` as strict JSON (cleaned by :func:`onecycle._plain.to_plain`), atomically.

    >>> import tempfile, os
    >>> p = write_json_atomic(os.path.join(tempfile.mkdtemp(), "a.json"), {"x": (1, 2)})
    >>> open(p).read()
    '{\\n "x": [\\n  1,\\n  2\\n ]\\n}\\n'
    """
    from ._plain import to_plain

    text = json.dumps(to_plain(data), indent=indent, allow_nan=False) + "\n"
    return write_text_atomic(path, text)


def save_figure(fig: Any, path: str | os.PathLike[str], *, dpi: int = 110) -> Path:
    """A matplotlib figure saved as PNG, atomically (the format comes from the suffix)."""
    fmt = Path(path).suffix.lstrip(".") or "png"
    return atomic_write(path, lambda f: fig.savefig(f, format=fmt, dpi=dpi))


def _nesting(text: str) -> int:
    depth = best = 0
    in_str = esc = False
    for ch in text:
        if in_str:
            if esc:
                esc = False
            elif ch == "\\":
                esc = True
            elif ch == '"':
                in_str = False
        elif ch == '"':
            in_str = True
        elif ch in "[{":
            depth += 1
            best = max(best, depth)
        elif ch in "]}":
            depth -= 1
    return best


def loads_json(text: str, what: str = "JSON") -> Any:
    """Parse JSON text, refusing nesting deeper than :data:`MAX_JSON_DEPTH`."""
    if _nesting(text) > MAX_JSON_DEPTH:
        raise ValueError(f"{what} nests deeper than {MAX_JSON_DEPTH} levels; refusing to read it")
    return json.loads(text)


def read_json(path: str | os.PathLike[str]) -> Any:
    """The JSON in ``path``; invalid UTF-8/JSON or absurd nesting is a ``ValueError``
    naming the file."""
    with open(path, "rb") as fh:
        raw = fh.read()
    try:
        return loads_json(raw.decode("utf-8"), str(path))
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path} is not UTF-8 text: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not valid JSON: {exc}") from exc


def read_json_as(path: str | os.PathLike[str], build: Callable[[Any], T], what: str) -> T:
    """``build(json data of path)``; a file that is not valid JSON, or whose data
    ``build`` rejects (ValueError/TypeError/KeyError), raises a ValueError naming ``what``.

    >>> import tempfile, os
    >>> p = write_json_atomic(os.path.join(tempfile.mkdtemp(), "a.json"), {"x": 1})
    >>> read_json_as(p, lambda d: d["x"], "an example")
    1
    """
    try:
        return build(read_json(path))
    except (ValueError, TypeError, KeyError, RecursionError) as exc:
        raise ValueError(f"{path} is not {what}: {type(exc).__name__}: {exc}") from exc


def remove_stale_temporaries(directory: str | os.PathLike[str], name: str) -> list[Path]:
    """Delete temporaries that an interrupted :func:`atomic_write` of ``directory/name``
    left behind (a kill between creating and renaming them). Returns what was removed.

    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp()); _ = (d / ".last.pt.abc.tmp").write_bytes(b"")
    >>> [p.name for p in remove_stale_temporaries(d, "last.pt")]
    ['.last.pt.abc.tmp']
    """
    removed = []
    d = Path(directory)
    if not d.is_dir():
        return removed
    for p in d.glob(f".{name}.*.tmp"):
        try:
            p.unlink()
            removed.append(p)
        except OSError:
            pass
    return removed


def check_writable_dir(directory: str | os.PathLike[str]) -> Path:
    """``directory``, created if needed, after checking that a file can be written in it
    (found before hours of work, not at the first save); a :class:`WriteError` naming it
    otherwise.

    >>> import tempfile
    >>> check_writable_dir(Path(tempfile.mkdtemp()) / "a" / "b").name
    'b'
    """
    d = Path(directory)
    try:
        d.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".onecycle-write-test-", dir=d)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        err = WriteError(f"cannot write to directory {d}: {exc.strerror or exc}")
        err.errno = getattr(exc, "errno", None)
        raise err from exc
    return d
