"""Checksummed downloads, for users with a network (never used by the tests).

A file is fetched from the first URL that works, streamed into a temporary file while
its digest is computed, and renamed into place only when the digest matches (and the
optional ``check`` of its contents passes): a failed or corrupt download never leaves a
file behind. Files already present and valid are kept.

Example:
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "f"; _ = p.write_bytes(b"abc")
    >>> verify_checksum(p, "md5:900150983cd24fb0d6963f7d28e17f72")
"""

from __future__ import annotations

import hashlib
import os
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO

from .._io import atomic_write

__all__ = ["download_files", "file_checksum", "verify_checksum"]


def file_checksum(path: str | os.PathLike[str], algorithm: str = "sha256") -> str:
    """Hex digest of a file (``"sha256"``, ``"md5"``, or any :mod:`hashlib` name).

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "f"; _ = p.write_bytes(b"abc")
        >>> file_checksum(p)[:12]
        'ba7816bf8f01'
    """
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _parse(expected: str) -> tuple[str, str]:
    algorithm, sep, digest = expected.partition(":")
    if not sep or algorithm not in hashlib.algorithms_available or not digest:
        raise ValueError(f"checksum must read 'algorithm:hexdigest' (e.g. 'md5:...'), "
                         f"got {expected!r}")
    return algorithm, digest.lower()


def verify_checksum(path: str | os.PathLike[str], expected: str) -> None:
    """Raise ``ValueError`` unless ``path`` has the ``"algorithm:hexdigest"`` given.

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "f"; _ = p.write_bytes(b"abc")
        >>> verify_checksum(p, "md5:0000")
        Traceback (most recent call last):
        ...
        ValueError: f: md5 checksum 900150983cd24fb0d6963f7d28e17f72 does not match 0000
    """
    algorithm, digest = _parse(expected)
    got = file_checksum(path, algorithm)
    if got != digest:
        raise ValueError(f"{Path(path).name}: {algorithm} checksum {got} does not match {digest}")


def _fetch(url: str, target: Path, expected: str) -> None:
    algorithm, digest = _parse(expected)

    def write(out: IO[bytes]) -> None:
        h = hashlib.new(algorithm)
        with urllib.request.urlopen(url, timeout=60) as r:
            for block in iter(lambda: r.read(1 << 20), b""):
                h.update(block)
                out.write(block)
        if h.hexdigest() != digest:
            raise ValueError(f"{algorithm} checksum {h.hexdigest()} does not match {digest}")

    atomic_write(target, write)


def download_files(
    urls: Sequence[str],
    files: Mapping[str, str],
    dest: str | os.PathLike[str],
    *,
    check: Callable[[Path], None] | None = None,
) -> Path:
    """Fetch each ``name -> "algorithm:hexdigest"`` of ``files`` into ``dest``.

    Each file is tried at ``base + name`` for every base URL in ``urls`` in turn;
    ``check(path)`` may inspect a downloaded file and raise ``ValueError`` (the file is
    then deleted and the next URL tried). Raises ``RuntimeError`` listing every
    failure when no URL gave a valid file.

    Example:
        >>> download_files(["https://example.org/"], {"a.gz": "md5:..."}, "/tmp/x")  # doctest: +SKIP
        PosixPath('/tmp/x')
    """
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    for fname, checksum in files.items():
        target = dest / fname
        if target.is_file():
            try:
                verify_checksum(target, checksum)
                if check is not None:
                    check(target)
                continue
            except ValueError:
                target.unlink()
        errors = []
        for base in urls:
            try:
                _fetch(base + fname, target, checksum)
                if check is not None:
                    check(target)
                break
            except (OSError, ValueError) as err:
                errors.append(f"{base}{fname}: {err}")
                target.unlink(missing_ok=True)
        else:
            raise RuntimeError("download failed:\n  " + "\n  ".join(errors))
    return dest


