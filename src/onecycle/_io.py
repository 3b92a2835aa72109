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

import dataclasses
import json
import os
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, Any, ClassVar, TypeVar

T = TypeVar("T")
R = TypeVar("R", bound="JSONFile")

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
    "check_format",
    "JSONFile",
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


def check_format(data: Any, fmt: str, what: str, *, version: int = 1,
                 required: bool = True) -> Mapping[str, Any]:
    """``data`` itself once it is a JSON object of format ``fmt`` and a version this
    onecycle reads (``<= version``): the header rule of every result read back.

    Not an object is a ``TypeError``; another ``"format"`` or a newer ``"version"`` a
    ``ValueError`` naming ``what``. ``required=False`` also accepts an object without a
    ``"format"`` key (files written before their format was named).

    >>> check_format({"format": "onecycle.x", "version": 1}, "onecycle.x", "an x")["version"]
    1
    >>> check_format({"format": "other"}, "onecycle.x", "an x")
    Traceback (most recent call last):
    ...
    ValueError: not an x: format='other' (expected 'onecycle.x')
    """
    if not isinstance(data, Mapping):
        raise TypeError(f"{what} must be a JSON object, got {type(data).__name__}")
    got = data.get("format", None if required else fmt)
    if got != fmt:
        raise ValueError(f"not {what}: format={got!r} (expected {fmt!r})")
    v = data.get("version", 1)
    try:
        newer = isinstance(v, bool) or int(v) > version
    except (TypeError, ValueError):
        newer = True
    if newer:
        raise ValueError(f"{what} has version {v!r}, newer than this onecycle reads "
                         f"({version}); upgrade onecycle")
    return data


class JSONFile:
    """A result kept as one JSON file: ``to_dict``/``from_dict``, ``to_json``, ``save``
    (atomic) and ``load`` (safe) written once, here, for every result class.

    A subclass names, as class keywords, its ``format`` (the ``"format"`` key of its
    files, :attr:`json_format`) and ``what`` (what a file of it is, in error messages),
    and raises ``version`` when its layout changes. For a dataclass the default
    ``to_dict`` writes the header and every field, and ``from_dict`` checks the header
    (:func:`check_format`) and reads back the fields present; a class with more to say
    overrides those two and keeps ``save``/``load``.

    >>> import dataclasses, tempfile, os
    >>> @dataclasses.dataclass
    ... class Point(JSONFile, format="demo.point", what="a point"):
    ...     x: float = 0.0
    >>> p = Point(2.5).save(os.path.join(tempfile.mkdtemp(), "p.json"))
    >>> Point.load(p), Point(1.0).to_dict()
    (Point(x=2.5), {'format': 'demo.point', 'version': 1, 'x': 1.0})
    """

    __slots__ = ()  # subclasses with __slots__ (History) keep them
    json_format: ClassVar[str] = ""
    json_version: ClassVar[int] = 1
    json_what: ClassVar[str] = "a onecycle result"

    def __init_subclass__(cls, *, format: str | None = None, what: str | None = None,
                          version: int | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # a subclass of a result class (a kind of search result) keeps its files' header
        if format is not None:
            cls.json_format = format
        if what is not None:
            cls.json_what = what
        if version is not None:
            cls.json_version = version

    def json_header(self) -> dict[str, Any]:
        """``{"format": ..., "version": ...}``, the first keys of every file."""
        return {"format": self.json_format, "version": self.json_version}

    def to_dict(self) -> dict[str, Any]:
        """A strict-JSON dict: the header, then every dataclass field."""
        from ._plain import to_plain

        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}  # type: ignore[arg-type]
        return to_plain({**self.json_header(), **fields})

    @classmethod
    def from_dict(cls: type[R], d: Mapping[str, Any]) -> R:
        """Inverse of :meth:`to_dict`: the header checked, the fields present read."""
        check_format(d, cls.json_format, cls.json_what, version=cls.json_version)
        names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        return cls(**{k: v for k, v in d.items() if k in names})

    def to_json(self, indent: int | None = 1) -> str:
        """:meth:`to_dict` as strict JSON text."""
        from ._plain import to_plain

        return json.dumps(to_plain(self.to_dict()), indent=indent, allow_nan=False)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write :meth:`to_dict` as JSON, atomically (see :func:`atomic_write`)."""
        return write_json_atomic(path, self.to_dict())

    @classmethod
    def load(cls: type[R], path: str | os.PathLike[str]) -> R:
        """Read a file written by :meth:`save` (JSON only: nothing in it is executed;
        a file that is not one is a ``ValueError`` naming it)."""
        return read_json_as(path, cls.from_dict, cls.json_what)
