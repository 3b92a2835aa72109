"""Finished steps on disk, so an interrupted run continues where it stopped.

A :class:`StepStore` is a folder (``<out>/steps``) holding one JSON file per finished
step (written atomically, the moment the step ends) and a checkpoint folder per training
step (the Trainer resumes from it bit for bit). ``run.json`` records what the steps were
computed for (the configuration, less what does not change results): a resumed run with
other settings is refused instead of mixing two runs.

With ``resume=False`` the folder is emptied first, so nothing of an older run is reused;
with ``resume=True`` every step whose file is there and reads back is taken as it is.

Example:
    >>> import tempfile
    >>> store = StepStore(tempfile.mkdtemp(), {"seed": 0})
    >>> store.step("answer", lambda: {"x": 42}, dict, dict)
    {'x': 42}
    >>> again = StepStore(store.root, {"seed": 0}, resume=True)
    >>> again.step("answer", lambda: 1 / 0, dict, dict), again.reused
    ({'x': 42}, ['answer'])
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

__all__ = ["StepStore", "ResumeMismatch"]

T = TypeVar("T")

_NONE = {"none": True}


class ResumeMismatch(ValueError):
    """``--resume`` into a folder whose finished steps came from other settings.

    >>> issubclass(ResumeMismatch, ValueError)
    True
    """


class StepStore:
    """One JSON file per finished step under ``root`` (see the module docs).

    Args:
        root: the folder (created).
        fingerprint: plain data describing what the steps depend on; a resumed store
            whose ``run.json`` differs raises :class:`ResumeMismatch` naming the keys.
        resume: reuse the steps already there (else start afresh).
    """

    def __init__(self, root: str | os.PathLike[str], fingerprint: Mapping[str, Any], *,
                 resume: bool = False) -> None:
        from .._io import read_json, write_json_atomic
        from .._plain import to_plain

        self.root = Path(root)
        self.resume = bool(resume)
        self.reused: list[str] = []
        want = to_plain(dict(fingerprint))
        old = self.root / "run.json"
        if self.resume and old.is_file():
            try:
                have = read_json(old)
            except (OSError, ValueError):
                have = None
            if have != want:
                raise ResumeMismatch(self._mismatch(have, want))
        elif self.root.exists():
            shutil.rmtree(self.root)
        self.root.mkdir(parents=True, exist_ok=True)
        write_json_atomic(old, want)

    def _mismatch(self, have: Any, want: dict[str, Any]) -> str:
        if not isinstance(have, dict):
            keys = "its run.json is unreadable"
        else:
            diff = sorted(k for k in set(have) | set(want) if have.get(k) != want.get(k))
            keys = "different " + ", ".join(diff)
        return (f"cannot resume from {self.root}: its finished steps were computed with other "
                f"settings ({keys}); run without --resume to start again, or give the same "
                "settings")

    def checkpoint_dir(self, name: str) -> Path:
        """The checkpoint folder of the training step ``name``."""
        return self.root / name

    def step(self, name: str, compute: Callable[[], T], save: Callable[[T], Any],
             load: Callable[[Any], T]) -> T:
        """The step's result: read back when resuming and its file is there and valid,
        else ``compute()``, saved at once as ``save(result)`` (JSON-ready data). A
        result of None is stored as such. A training step's checkpoint folder is removed
        once its result is saved."""
        from .._io import read_json, write_json_atomic

        path = self.root / f"{name}.json"
        if self.resume and path.is_file():
            try:
                data = read_json(path)
                result = None if data == _NONE else load(data)
            except (OSError, ValueError, TypeError, KeyError):
                pass  # a damaged file: the step runs again
            else:
                self.reused.append(name)
                return result  # type: ignore[return-value]
        result = compute()
        write_json_atomic(path, _NONE if result is None else save(result))
        ckpt = self.checkpoint_dir(name)
        if ckpt.is_dir():
            shutil.rmtree(ckpt, ignore_errors=True)
        return result
