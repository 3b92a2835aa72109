"""Checkpoint files: atomic writes, safe loads, and RNG state capture.

A checkpoint is a plain dictionary of tensors, numbers, strings, lists and dicts,
written with :func:`torch.save` and read back with ``torch.load(weights_only=True)``,
so loading one never runs code from the file. Files are written atomically by
:func:`onecycle._io.atomic_write` (a temporary file in the same directory, flushed,
``fsync``-ed and renamed over the target): a crash or ``kill -9`` at any moment leaves
either the old checkpoint or the new one, never a torn file. Every checkpoint carries a
SHA-256 digest of its contents (tensor bytes, dtypes, shapes, keys and plain values)
under ``CHECKSUM_KEY``; loading verifies it, so a flipped bit in tensor data is refused
instead of silently loaded. A file without a valid digest (written by another tool, or
with the digest's own key damaged) is refused too, unless the caller opts in with
``load_checkpoint(path, verify=False)``.

Example:
    >>> import tempfile, os, torch
    >>> from onecycle.train.checkpoint import save_checkpoint, load_checkpoint
    >>> d = tempfile.mkdtemp()
    >>> p = save_checkpoint(os.path.join(d, "last.pt"), {"w": torch.ones(2)})
    >>> load_checkpoint(p)["w"]
    tensor([1., 1.])
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import torch

from .. import _io
from .._rng import rng_state, set_rng_state

__all__ = [
    "CheckpointError",
    "CheckpointNotFoundError",
    "save_checkpoint",
    "load_checkpoint",
    "atomic_write",
    "get_rng_state",
    "set_rng_state",
    "CHECKSUM_KEY",
]

#: the payload key holding the digest; :func:`load_checkpoint` checks and removes it
CHECKSUM_KEY = "__onecycle_sha256__"


class CheckpointError(ValueError):
    """A checkpoint could not be written or read (corrupt, unsafe, incompatible).

    >>> isinstance(CheckpointError("x"), ValueError)
    True
    """


class CheckpointNotFoundError(CheckpointError, FileNotFoundError):
    """There is no checkpoint file at the given path.

    >>> issubclass(CheckpointNotFoundError, FileNotFoundError)
    True
    """


def atomic_write(path: str | os.PathLike[str], write: Callable[[IO[bytes]], Any]) -> Path:
    """:func:`onecycle._io.atomic_write`, failing with a :class:`CheckpointError` that
    names the file and the cause (the ``OSError`` stays attached as ``__cause__``).

    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "x.txt")
    >>> _ = atomic_write(p, lambda f: f.write(b"hello"))
    >>> open(p, "rb").read()
    b'hello'
    """
    try:
        return _io.atomic_write(path, write)
    except _io.WriteError as err:
        cause = err.__cause__ if err.__cause__ is not None else err
        raise CheckpointError(
            f"could not write {Path(path)}: {type(cause).__name__}: {cause}; "
            "the previous file at that path (if any) is unchanged"
        ) from cause


def _tensor_bytes(t: torch.Tensor) -> memoryview | bytes:
    t = t.detach()
    if t.layout != torch.strided:
        t = t.to_dense()
    t = t.cpu().contiguous().reshape(-1)
    try:
        return memoryview(t.view(torch.uint8).numpy())
    except (RuntimeError, TypeError):  # quantized and other exotic dtypes
        return repr(t.tolist()).encode()


def _digest(obj: Any) -> str:
    """SHA-256 over a checkpoint payload: keys, plain values, tensor dtype/shape/bytes."""
    h = hashlib.sha256()

    def walk(o: Any) -> None:
        if isinstance(o, torch.Tensor):
            h.update(f"T{o.dtype}{tuple(o.shape)}:".encode())
            h.update(_tensor_bytes(o))
        elif isinstance(o, dict):
            h.update(f"D{len(o)}:".encode())
            for k, v in o.items():
                h.update(f"K{type(k).__name__}{k!r}:".encode())
                walk(v)
        elif isinstance(o, (list, tuple)):
            h.update(f"{'L' if isinstance(o, list) else 'U'}{len(o)}:".encode())
            for v in o:
                walk(v)
        else:
            h.update(f"V{type(o).__name__}{o!r};".encode())

    walk(obj)
    return h.hexdigest()


def save_checkpoint(path: str | os.PathLike[str], payload: dict[str, Any]) -> Path:
    """Save ``payload`` (a dict of tensors and plain data) atomically to ``path``.

    Returns the path written. Raises :class:`CheckpointError` if the write fails; the
    previous checkpoint then stays intact.

    >>> import tempfile, os
    >>> p = save_checkpoint(os.path.join(tempfile.mkdtemp(), "c.pt"), {"step": 3})
    >>> p.name
    'c.pt'
    """
    if not isinstance(payload, dict):
        raise TypeError(f"checkpoint payload must be a dict, got {type(payload).__name__}")
    if CHECKSUM_KEY in payload:
        raise ValueError(f"checkpoint payload key {CHECKSUM_KEY!r} is reserved for the digest")
    buf = io.BytesIO()
    torch.save({**payload, CHECKSUM_KEY: _digest(payload)}, buf)
    data = buf.getvalue()
    return atomic_write(path, lambda f: f.write(data))


def load_checkpoint(
    path: str | os.PathLike[str], map_location: str | torch.device | None = "cpu", *,
    verify: bool = True,
) -> dict[str, Any]:
    """Load a checkpoint written by :func:`save_checkpoint`, refusing unsafe pickles.

    The file is read with ``torch.load(weights_only=True)``: a file that needs
    arbitrary Python objects to unpickle is refused with a :class:`CheckpointError`
    (nothing from it is executed). A missing file raises
    :class:`CheckpointNotFoundError`; a truncated or corrupt file, or one whose
    contents no longer match their SHA-256 digest, raises :class:`CheckpointError`.
    So does a file without the digest, unless ``verify=False`` (for a weights-only
    file written by another tool that you trust not to be damaged).

    >>> import tempfile, os
    >>> p = save_checkpoint(os.path.join(tempfile.mkdtemp(), "c.pt"), {"step": 3})
    >>> load_checkpoint(p)
    {'step': 3}
    """
    path = Path(path)
    if not path.exists():
        raise CheckpointNotFoundError(f"no checkpoint file at {path}")
    if path.is_dir():
        raise CheckpointError(f"{path} is a directory, not a checkpoint file")
    try:
        obj = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        msg = str(exc)
        if "weights_only" in msg or "Weights only" in msg or "global" in msg.lower():
            raise CheckpointError(
                f"refusing to load {path}: it is not a weights-only checkpoint (it needs "
                "arbitrary Python objects to unpickle, which could run code). Only load "
                "files you trust with torch.load(weights_only=False) yourself."
            ) from exc
        raise CheckpointError(f"{path} is not a readable checkpoint (corrupt?): {exc}") from exc
    except Exception as exc:  # any parse failure (IndexError, struct.error, ...) of a bad file
        raise CheckpointError(
            f"{path} is not a readable checkpoint (truncated or corrupt): "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    if not isinstance(obj, dict):
        raise CheckpointError(f"{path} holds a {type(obj).__name__}, expected a dict checkpoint")
    if CHECKSUM_KEY not in obj:
        if not verify:
            return obj
        raise CheckpointError(
            f"{path} has no onecycle SHA-256 digest (written by another tool, or the "
            "digest's key was damaged), so it cannot be checked for corruption; pass "
            "verify=False to load_checkpoint to load it anyway"
        )
    stored = obj.pop(CHECKSUM_KEY)
    if not isinstance(stored, str) or stored != _digest(obj):
        raise CheckpointError(
            f"{path} is corrupt: its contents do not match the SHA-256 digest written "
            "with it (a changed byte in the file); use an older checkpoint"
        )
    return obj


# --------------------------------------------------------------------------- RNG state

#: the global RNG states in a weights-only-safe form (one home: :mod:`onecycle._rng`)
get_rng_state = rng_state
