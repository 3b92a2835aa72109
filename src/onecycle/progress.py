"""Progress on long work: a tqdm bar on a terminal, plain lines in a log, or nothing.

Every long loop in onecycle (the range test, a fit, a search's trials) reports through
:class:`Progress`. ``progress=`` arguments everywhere mean the same thing:

* ``False`` -- silent;
* ``True`` -- a bar on a terminal, lines otherwise;
* ``None`` (the default) -- a bar when stderr is a terminal and ``CI`` is unset,
  otherwise lines;
* ``"bar"`` / ``"lines"`` -- that, wherever the output goes.

Lines go to stderr at a bounded rate, so a log or a notebook shows how far the work is
without being flooded: one line each time another tenth of the work is done or
``every_s`` seconds have passed, whichever comes first, with the step, the numbers the
loop reports (loss, lr) and the time left. Work that finishes within ``quiet_s`` seconds
prints no lines at all (5 s by default: a short fit in a log is reported by its caller).

Example:
    >>> import io
    >>> out = io.StringIO()
    >>> with Progress(4, "demo", progress="lines", file=out, quiet_s=0) as p:
    ...     for i in range(4):
    ...         p.update(loss=1.0 / (i + 1))
    >>> out.getvalue().splitlines()[0].startswith("demo: 1/4 (25%)")
    True
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

__all__ = ["Progress", "progress_mode", "MODES"]

MODES = ("bar", "lines", "off")


def _is_tty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def progress_mode(progress: Any, stream: Any = None) -> str:
    """``"bar"``, ``"lines"`` or ``"off"`` for a ``progress=`` argument (module docs).

    >>> progress_mode(False), progress_mode("lines")
    ('off', 'lines')
    """
    if progress is False:
        return "off"
    if isinstance(progress, str):
        if progress not in MODES:
            raise ValueError(f"progress must be True, False, None, 'bar', 'lines' or 'off', "
                             f"got {progress!r}")
        return progress
    if progress is not None and progress is not True:
        raise TypeError(f"progress must be True, False, None, 'bar', 'lines' or 'off', "
                        f"got {progress!r}")
    tty = _is_tty(sys.stderr if stream is None else stream)
    if progress is None:
        return "bar" if tty and "CI" not in os.environ else "lines"
    return "bar" if tty else "lines"


def _eta(seconds: float) -> str:
    s = int(round(seconds))
    if s < 60:
        return f"{s}s"
    m, s = divmod(s, 60)
    return f"{m}m{s:02d}s" if m < 60 else f"{m // 60}h{m % 60:02d}m"


def _info(info: dict[str, Any]) -> str:
    parts = []
    for k, v in info.items():
        parts.append(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}")
    return ", ".join(parts)


class Progress:
    """A progress report over ``total`` units of work (see the module docs).

    Args:
        total: units of work (steps, trials); ``None`` or 0 when unknown.
        desc: what is being done, shown first on each line.
        progress: the ``progress=`` argument of the caller.
        file: where to write (default stderr).
        every_s: the longest gap between two lines.
        quiet_s: lines only once the work has run this long.
        initial: units already done (a resumed run).
    """

    def __init__(
        self, total: int | None, desc: str, *, progress: Any = None, file: Any = None,
        every_s: float = 30.0, quiet_s: float = 5.0, initial: int = 0,
    ) -> None:
        self.total = int(total or 0)
        self.desc = desc
        self.file = sys.stderr if file is None else file
        self.mode = progress_mode(progress, self.file)
        self.every_s = float(every_s)
        self.quiet_s = float(quiet_s)
        self.done = int(initial)
        self.info: dict[str, Any] = {}
        self._t0 = self._last = time.monotonic()
        self._start_done = self.done
        self._next_tenth = self._tenth_after(self.done)
        self._printed = False
        self._printed_at = -1
        self._bar: Any = None
        if self.mode == "bar":
            from tqdm.auto import tqdm

            self._bar = tqdm(total=self.total or None, initial=self.done, desc=desc,
                             leave=False, file=self.file, dynamic_ncols=True)

    def _tenth_after(self, done: int) -> int:
        if self.total <= 0:
            return 1 << 62
        k = (10 * done) // self.total + 1
        return -(-k * self.total // 10)

    def update(self, n: int = 1, **info: Any) -> None:
        """``n`` more units done; ``info`` (e.g. ``loss=0.3``) is shown with them."""
        self.done += n
        if info:
            self.info.update(info)
        if self.mode == "off":
            return
        if self._bar is not None:
            self._bar.update(n)
            if info:
                self._bar.set_postfix({k: (f"{v:.4g}" if isinstance(v, float) else v)
                                       for k, v in self.info.items()}, refresh=False)
            return
        now = time.monotonic()
        due = self.done >= self._next_tenth or now - self._last >= self.every_s
        if due and now - self._t0 >= self.quiet_s:
            self._line(now)
        if self.done >= self._next_tenth:
            self._next_tenth = self._tenth_after(self.done)

    def _line(self, now: float) -> None:
        head = f"{self.desc}: {self.done}"
        if self.total > 0:
            head += f"/{self.total} ({100 * self.done // self.total}%)"
        parts = [head]
        if self.info:
            parts.append(_info(self.info))
        rate_done = self.done - self._start_done
        if self.total > 0 and 0 < rate_done and self.done < self.total:
            left = (now - self._t0) / rate_done * (self.total - self.done)
            parts.append(f"ETA {_eta(left)}")
        print(", ".join(parts), file=self.file, flush=True)
        self._last = now
        self._printed = True
        self._printed_at = self.done

    def note(self, text: str) -> None:
        """One line of text (an epoch's results), shown in every mode but ``off``."""
        if self.mode == "off":
            return
        if self._bar is not None:
            self._bar.write(f"{self.desc}: {text}", file=self.file)
        elif time.monotonic() - self._t0 >= self.quiet_s:
            print(f"{self.desc}: {text}", file=self.file, flush=True)
            self._printed = True

    def close(self) -> None:
        """End the report (a bar is removed; lines end with a final one if any printed)."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        elif self.mode == "lines" and self._printed and self.done != self._printed_at:
            self._line(time.monotonic())
        self.mode = "off"

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
