"""The result every search returns: one row per value tried, the choice and why.

:class:`SearchResult` is plain data: ``to_dict()`` is strict JSON, ``from_dict`` /
``save`` / ``load`` round-trip it (the right subclass comes back for each kind, through
:func:`register_kind`), and ``plot()`` draws the search.

Example:
    >>> r = SearchResult(kind="grid", param="dropout", values=[0.0, 0.3], mode="finder",
    ...                  rows=[{"value": 0.0}, {"value": 0.3}], best=0.3, runner_up=0.0,
    ...                  reason="demo")
    >>> SearchResult.from_dict(r.to_dict()).best
    0.3
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .._format import fmt_value
from .._io import JSONFile, check_format
from .._plain import to_plain

__all__ = ["SearchResult", "register_kind"]


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(a == b)
    except Exception:  # arrays and other odd values: never equal
        return False


@dataclass(eq=False)
class SearchResult(JSONFile, format="onecycle.search", what="a search result"):
    """The outcome of a search: one row per value tried, the choice and why.

    Attributes:
        param: the hyper-parameter searched (``"weight_decay"``, ``"dropout"``,
            ``"momentum"``, ...).
        values: the values tried, in the order of ``rows``.
        mode: ``"finder"`` (one LR range test per value), ``"short_cycle"`` (a short
            1cycle training per value) or ``"snapshot"`` (restarts from a snapshot).
        rows: one dict per value (``value``, the measured numbers, ``selected``).
        best: the chosen value; ``runner_up``: the next one in the ranking (or None).
        reason: the choice in plain words; ``rule``: the selection rule in general.
        signal: what was compared (``"val_loss"``, ``"train_loss"``, ...).
        curves: the range tests (finder mode), aligned with ``values``.
        histories: the training histories (short runs), aligned with ``values``.
        config: the search settings; ``extra``: search-specific details.

    ``to_dict()`` is strict JSON (``json.dumps(..., allow_nan=False)`` works);
    ``from_dict``/``save``/``load`` round-trip it; ``plot()`` draws the search.
    """

    kind: str
    param: str
    values: list[Any]
    mode: str
    rows: list[dict[str, Any]]
    best: Any
    runner_up: Any
    reason: str
    rule: str = ""
    signal: str = "val_loss"
    curves: list[Any] = field(default_factory=list)
    histories: list[Any] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def chosen(self) -> Any:
        """Alias of :attr:`best`."""
        return self.best

    def row(self, value: Any) -> dict[str, Any]:
        """The row of ``value``."""
        for r in self.rows:
            if _same(r["value"], value) or _same(to_plain(r["value"]), to_plain(value)):
                return r
        raise KeyError(f"{value!r} was not tried; tried: {self.values!r}")

    def curve(self, value: Any) -> Any:
        """The range test of ``value`` (finder mode)."""
        if not self.curves:
            raise ValueError(f"this {self.mode} search has no range-test curves")
        return self.curves[self.rows.index(self.row(value))]

    def table(self) -> str:
        """The rows as a plain-text table."""
        if not self.rows:
            return ""
        keys = [k for k in self.rows[0] if k not in ("history",)]
        cells = [[fmt_value(r.get(k)) for k in keys] for r in self.rows]
        widths = [max(len(k), *(len(c[i]) for c in cells)) for i, k in enumerate(keys)]
        lines = ["  ".join(k.ljust(w) for k, w in zip(keys, widths))]
        lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths)) for row in cells]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({self.param}: best={fmt_value(self.best)}, "
                f"runner_up={fmt_value(self.runner_up)}, {len(self.values)} values, {self.mode})")

    # JSON: the header and every field (onecycle._io.JSONFile), "chosen" repeating "best"
    def to_dict(self) -> dict[str, Any]:
        """A strict-JSON dict (curves and histories included)."""
        return {**super().to_dict(), "chosen": to_plain(self.best)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> SearchResult:
        """Inverse of :meth:`to_dict` (the right subclass for the ``kind``)."""
        from ..finder import LRFinderResult
        from ..train import History

        check_format(d, cls.json_format, cls.json_what, version=cls.json_version)
        target = _KINDS.get(d.get("kind", ""), cls)

        def val(v: Any) -> Any:
            return tuple(v) if isinstance(v, list) else v

        rows = [dict(r, value=val(r.get("value"))) for r in d.get("rows", [])]
        return target(
            kind=d["kind"], param=d["param"], values=[val(v) for v in d["values"]],
            mode=d["mode"], rows=rows, best=val(d.get("best")),
            runner_up=val(d.get("runner_up")), reason=d.get("reason", ""),
            rule=d.get("rule", ""), signal=d.get("signal", "val_loss"),
            curves=[LRFinderResult.from_dict(c) for c in d.get("curves", [])],
            histories=[History.from_dict(h) for h in d.get("histories", [])],
            config=d.get("config", {}), extra=d.get("extra", {}),
        )

    def plot(self, **kwargs: Any) -> Any:
        """Overlaid range tests (finder mode) or validation-loss bars (short runs)."""
        from ..plots.search import plot_search

        return plot_search(self, **kwargs)


_KINDS: dict[str, type] = {}


def register_kind(name: str, cls: type) -> None:
    """Make :meth:`SearchResult.from_dict` return ``cls`` for results of kind ``name``.

    >>> class MyResult(SearchResult): ...
    >>> register_kind("mine", MyResult)
    """
    _KINDS[name] = cls
