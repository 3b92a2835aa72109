"""Reports of a run: the self-contained HTML page, ``summary.json``, the figures.

* :func:`write_report` / :func:`render_report` (:mod:`onecycle.report.html`) -- the page
  from a summary dict and figures: one file, inline CSS, images as data URIs, every
  string from the user or the run escaped.
* :mod:`onecycle.report.summary` -- what ``onecycle run`` writes: the summary dict built
  from the steps' results, every artefact written atomically.
* :mod:`onecycle.report.figures` -- the run's figures.

``fmt_num``, ``fmt_pct``, ``fmt_seconds`` and ``json_safe`` are kept for callers of the
old module; new code uses :mod:`onecycle._format` and :func:`onecycle._plain.to_plain`.

Example:
    >>> page = render_report({"name": "a <b> run"}, {}, "epochs = 1")
    >>> "a &lt;b&gt; run" in page
    True
"""

from __future__ import annotations

from typing import Any

from .. import _format
from .._plain import to_plain
from .html import figure_png, render_report, write_report

__all__ = ["write_report", "render_report", "figure_png", "json_safe", "fmt_num", "fmt_pct", "fmt_seconds"]


def json_safe(obj: Any) -> Any:
    """``obj`` as strict JSON with every non-finite float as None
    (:func:`onecycle._plain.to_plain` with ``nan=None, inf=(None, None)``).

    >>> json_safe({"a": float("nan"), "b": (1, 2.5), "c": float("inf")})
    {'a': None, 'b': [1, 2.5], 'c': None}
    """
    return to_plain(obj, nan=None, inf=(None, None))


def fmt_num(v: Any, digits: int = 3) -> str:
    """:func:`onecycle._format.fmt_num` with this module's old default of 3 digits.

    >>> fmt_num(0.012345), fmt_num(None), fmt_num(1234.5)
    ('0.0123', '—', '1.23e+03')
    """
    return _format.fmt_num(v, digits)


def fmt_pct(v: Any, digits: int = 1) -> str:
    """:func:`onecycle._format.fmt_pct` with this module's old default of 1 digit.

    >>> fmt_pct(0.9765), fmt_pct(None)
    ('97.7 %', '—')
    """
    return _format.fmt_pct(v, digits)


fmt_seconds = _format.fmt_seconds
