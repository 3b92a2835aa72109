"""``History``: what happened during training, per iteration and per epoch.

Per iteration (one entry per optimizer step): ``lr`` and ``momentum`` of the first
param group as used by that step, and the training ``loss`` of that batch.
Per epoch: a record (dict) with at least ``epoch``, ``iteration`` (iterations done at
the end of the epoch), ``train_loss``, ``lr``, ``momentum``, ``wall_time`` and, with a
validation loader, ``val_loss`` and ``val_<metric>`` for every metric.

``history[i]`` indexes epoch records, ``len(history)`` is the number of epochs.
Numbering is local to the history: a fit's history starts at epoch 0 and iteration 0;
:meth:`History.extend` appends another history and renumbers it to follow on, which
is how the trainer keeps its cumulative ``trainer.history`` over successive fits.

Example:
    >>> h = History()
    >>> h.add_iteration(lr=0.1, momentum=0.9, loss=2.3)
    >>> h.add_record({"epoch": 0, "iteration": 1, "train_loss": 2.3})
    >>> h[-1]["train_loss"], len(h)
    (2.3, 1)
"""

from __future__ import annotations

import copy
import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .._io import JSONFile, check_format
from .._plain import from_plain, to_plain

__all__ = ["History", "higher_is_better"]

_FORMAT = "onecycle-history"
_VERSION = 1


class History(JSONFile, format=_FORMAT, version=_VERSION, what="a onecycle history"):
    """Training history: per-iteration ``lr``/``momentum``/``loss`` and epoch records.

    Attributes:
        lr, momentum, loss: per-iteration lists (momentum entries are ``None`` when
            the optimizer has no momentum-like hyper-parameter).
        records: per-epoch dicts (also reachable as ``history[i]``).
        meta: free-form dict (``"lr_find"``, ``"diverged"``, ``"stopped"``,
            ``"skipped_steps"``, ``"clipped_steps"``, ``"replanned"``, ...).
        fits: one dict per fit call covered by this history (``kind``, ``epochs``,
            ``start_epoch``, ``start_iteration``, ``config``, ``meta``).

    >>> h = History()
    >>> h.add_iteration(0.1, 0.9, 1.0); h.add_iteration(0.2, 0.88, 0.5)
    >>> h.iterations, h.loss
    (2, [1.0, 0.5])
    """

    __slots__ = ("lr", "momentum", "loss", "records", "meta", "fits")

    def __init__(self) -> None:
        self.lr: list[float] = []
        self.momentum: list[float | None] = []
        self.loss: list[float] = []
        self.records: list[dict[str, Any]] = []
        self.meta: dict[str, Any] = {}
        self.fits: list[dict[str, Any]] = []

    # ------------------------------------------------------------------ building
    def add_iteration(self, lr: float, momentum: float | None, loss: float) -> None:
        """Append one iteration's values."""
        self.lr.append(lr)
        self.momentum.append(momentum)
        self.loss.append(loss)

    def add_record(self, record: dict[str, Any]) -> None:
        """Append one epoch record (a dict)."""
        self.records.append(dict(record))

    def extend(self, other: History) -> History:
        """Append ``other`` after this history (renumbering its epochs and iterations).

        Returns ``self``. ``meta`` is updated with ``other.meta`` (later fits win);
        each fit's own meta stays in ``fits[i]["meta"]``.

        >>> a, b = History(), History()
        >>> a.add_iteration(0.1, None, 1.0); a.add_record({"epoch": 0, "iteration": 1})
        >>> b.add_iteration(0.01, None, 0.5); b.add_record({"epoch": 0, "iteration": 1})
        >>> [r["epoch"] for r in a.extend(b)], a.iterations
        ([0, 1], 2)
        """
        if not isinstance(other, History):
            raise TypeError(f"can only extend with a History, got {type(other).__name__}")
        e0, i0 = len(self.records), len(self.loss)
        other = other.copy() if other is self else other
        self.lr.extend(other.lr)
        self.momentum.extend(other.momentum)
        self.loss.extend(other.loss)
        for r in other.records:
            r = dict(r)
            if isinstance(r.get("epoch"), int):
                r["epoch"] += e0
            if isinstance(r.get("iteration"), int):
                r["iteration"] += i0
            self.records.append(r)
        for f in other.fits:
            f = copy.deepcopy(f)
            f["start_epoch"] = f.get("start_epoch", 0) + e0
            f["start_iteration"] = f.get("start_iteration", 0) + i0
            self.fits.append(f)
        self.meta.update(copy.deepcopy(other.meta))
        return self

    def fit(self, index: int) -> History:
        """The part of this history produced by fit number ``index`` (renumbered from 0).

        >>> h = History(); h.fits.append({"kind": "constant", "start_epoch": 0,
        ...     "start_iteration": 0, "epochs": 1}); h.fit(0).fits[0]["kind"]
        'constant'
        """
        n = len(self.fits)
        if not -n <= index < n:
            raise IndexError(f"fit index {index} out of range ({n} fits)")
        index %= n
        f = self.fits[index]
        e0, i0 = f.get("start_epoch", 0), f.get("start_iteration", 0)
        if index + 1 < n:
            e1 = self.fits[index + 1].get("start_epoch", len(self.records))
            i1 = self.fits[index + 1].get("start_iteration", len(self.loss))
        else:
            e1, i1 = len(self.records), len(self.loss)
        h = History()
        h.lr, h.momentum, h.loss = self.lr[i0:i1], self.momentum[i0:i1], self.loss[i0:i1]
        for r in self.records[e0:e1]:
            r = dict(r)
            if isinstance(r.get("epoch"), int):
                r["epoch"] -= e0
            if isinstance(r.get("iteration"), int):
                r["iteration"] -= i0
            h.records.append(r)
        g = copy.deepcopy(f)
        g["start_epoch"], g["start_iteration"] = 0, 0
        h.fits = [g]
        h.meta = copy.deepcopy(g.get("meta", {}))
        return h

    def copy(self) -> History:
        """A deep copy."""
        return History.from_dict(self.to_dict(encode=False))

    # ------------------------------------------------------------------ access
    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int | slice) -> Any:
        return self.records[index]

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.records)

    def __repr__(self) -> str:
        last = ""
        if self.records:
            keys = ("train_loss", "val_loss", "val_accuracy")
            parts = [f"{k}={self.records[-1][k]:.4g}" for k in keys
                     if isinstance(self.records[-1].get(k), (int, float))]
            last = ", last: " + ", ".join(parts) if parts else ""
        return f"History(epochs={len(self.records)}, iterations={len(self.loss)}{last})"

    @property
    def iterations(self) -> int:
        """Number of iterations (optimizer steps) recorded."""
        return len(self.loss)

    @property
    def epochs(self) -> int:
        """Number of epoch records."""
        return len(self.records)

    @property
    def diverged(self) -> dict[str, Any] | None:
        """What the divergence guard recorded when it stopped a fit of this history
        (``step``, ``lr``, ``loss``, ``restored_step``, ``message``, ...), else None.
        A command line exits 1 when the history a fit returned has it set (a trainer's
        cumulative history keeps the last divergence of any of its fits).

        >>> h = History(); h.diverged is None
        True
        """
        info = self.meta.get("diverged")
        return info if isinstance(info, dict) and info else None

    def column(self, key: str) -> list[Any]:
        """Values of ``key`` over the epoch records (``None`` where missing).

        >>> h = History(); h.add_record({"val_loss": 0.5}); h.column("val_loss")
        [0.5]
        """
        return [r.get(key) for r in self.records]

    def keys(self) -> list[str]:
        """All keys appearing in the epoch records, in first-seen order."""
        seen: dict[str, None] = {}
        for r in self.records:
            for k in r:
                seen.setdefault(k, None)
        return list(seen)

    def best(self, key: str = "val_loss", mode: str = "auto") -> dict[str, Any]:
        """The epoch record with the best ``key`` (``mode``: "min", "max" or "auto":
        max for accuracy-like keys, min otherwise).

        >>> h = History(); h.add_record({"val_loss": 0.5}); h.add_record({"val_loss": 0.4})
        >>> h.best()["val_loss"]
        0.4
        """
        rows = [r for r in self.records if isinstance(r.get(key), (int, float))
                and math.isfinite(r[key])]
        if not rows:
            raise KeyError(f"no epoch record has a finite {key!r}; keys: {self.keys()}")
        if mode == "auto":
            mode = "max" if higher_is_better(key) else "min"
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min', 'max' or 'auto', got {mode!r}")
        pick = max if mode == "max" else min
        return pick(rows, key=lambda r: r[key])

    # ------------------------------------------------------------------ I/O
    def to_dict(self, encode: bool = True) -> dict[str, Any]:
        """A JSON-ready dict (non-finite floats encoded as "nan"/"inf"/"-inf", by
        :func:`onecycle._plain.to_plain`).

        >>> History.from_dict(History().to_dict()).iterations
        0
        """
        d = {
            **self.json_header(),
            "lr": list(self.lr),
            "momentum": list(self.momentum),
            "loss": list(self.loss),
            "records": [dict(r) for r in self.records],
            "meta": copy.deepcopy(self.meta),
            "fits": copy.deepcopy(self.fits),
        }
        return to_plain(d, nan="nan") if encode else d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> History:
        """Rebuild a history from :meth:`to_dict` output."""
        check_format(data, cls.json_format, cls.json_what, version=cls.json_version,
                     required=False)
        data = from_plain(data)
        h = cls()
        h.lr = [float(v) for v in data.get("lr", [])]
        h.momentum = [None if v is None else float(v) for v in data.get("momentum", [])]
        h.loss = [float(v) for v in data.get("loss", [])]
        if not len(h.lr) == len(h.momentum) == len(h.loss):
            raise ValueError("corrupt history: lr, momentum and loss lists differ in length")
        h.records = [dict(r) for r in data.get("records", [])]
        h.meta = dict(data.get("meta", {}))
        h.fits = [dict(f) for f in data.get("fits", [])]
        return h

    # to_json and load: onecycle._io.JSONFile's
    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the history as JSON, atomically. Returns the path. A history is saved
        next to its checkpoints, so a failure is a ``CheckpointError`` naming the file,
        as theirs is.

        >>> import tempfile, os
        >>> p = History().save(os.path.join(tempfile.mkdtemp(), "h.json"))
        >>> History.load(p).iterations
        0
        """
        from .checkpoint import atomic_write

        data = self.to_json(indent=1).encode("utf-8")
        return atomic_write(path, lambda f: f.write(data))

    # ------------------------------------------------------------------ plotting
    def plot(self, **kwargs: Any) -> Any:
        """A matplotlib ``Figure``: losses, metrics, and the lr/momentum schedule.

        See :func:`onecycle.plots.history.plot_history` for the options.
        """
        from ..plots.history import plot_history

        return plot_history(self, **kwargs)


def higher_is_better(key: str) -> bool:
    """Whether a larger value of an epoch-record key is better (accuracy-like names).

    >>> higher_is_better("val_accuracy"), higher_is_better("val_loss")
    (True, False)
    """
    k = key.lower()
    return any(s in k for s in ("acc", "f1", "auc", "precision", "recall", "score", "iou"))
