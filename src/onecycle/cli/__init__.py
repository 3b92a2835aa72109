"""The ``onecycle`` command: Leslie Smith's disciplined approach from the shell.

``main(argv)`` parses, runs and returns the exit status (it never calls ``sys.exit``,
so tests call it in-process); the console script and ``python -m onecycle`` wrap it.
The parser is :mod:`onecycle.cli.parser`, the flags become a configuration in
:mod:`onecycle.cli.flags`, the commands are :mod:`onecycle.cli.commands` and
:mod:`onecycle.cli.searches`.

Exit status: 0 success; 2 usage error (bad option or option value, bad configuration
file); 1 runtime failure, reported as one line ``onecycle: error: <cause>`` on stderr
(``--debug`` adds the traceback); 130 interrupted.

Example:
    >>> main(["plot-schedule", "--max-lr", "0.8", "--steps", "100", "--rows", "3"])
    ... # doctest: +ELLIPSIS, +NORMALIZE_WHITESPACE
    1cycle (smith): max_lr=0.8, ...
    0
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Sequence

from ..config import ConfigError
from .flags import Usage
from .parser import PROG, build_parser
from .searches import SEARCHES, NotAvailable

__all__ = ["main", "build_parser", "SEARCHES", "NotAvailable"]


def one_line(err: BaseException) -> str:
    """An exception as one line of text (a KeyError names the key).

    >>> one_line(ValueError("a\\n  b")), one_line(KeyError("k"))
    ('a b', "missing key 'k'")
    """
    text = " ".join(str(err).split())
    if isinstance(err, KeyError) and len(err.args) == 1:
        text = f"missing key {err.args[0]!r}"
    return text or type(err).__name__


def _expected_errors() -> tuple[type[BaseException], ...]:
    errs: list[type[BaseException]] = [ValueError, TypeError, OSError, NotAvailable]
    try:
        from ..data import DatasetUnavailable

        errs.append(DatasetUnavailable)
    except Exception:  # pragma: no cover - data module broken: still report cleanly
        pass
    try:
        from ..train import TrainingDiverged

        errs.append(TrainingDiverged)
    except Exception:  # pragma: no cover
        pass
    return tuple(errs)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``onecycle`` command with ``argv`` (default ``sys.argv[1:]``); return the
    exit status instead of exiting.

    >>> main(["plot-schedule", "--steps", "0"])  # doctest: +SKIP
    2
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, usage errors
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 2)
    debug = bool(getattr(args, "debug", False))
    try:
        return int(args.handler(args, argv) or 0)
    except (ConfigError, Usage) as err:
        if debug:
            traceback.print_exc()
        sub = f" {args.command}" if getattr(args, "command", None) else ""
        print(f"{PROG}{sub}: error: {one_line(err)}", file=sys.stderr)
        print(f"(see '{PROG}{sub} --help')", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except _expected_errors() as err:
        if debug:
            traceback.print_exc()
        print(f"{PROG}: error: {one_line(err)}", file=sys.stderr)
        return 1
    except Exception as err:  # a bug: say so, with the traceback
        traceback.print_exc()
        print(f"{PROG}: internal error: {one_line(err)} (please report this with the "
              "traceback above)", file=sys.stderr)
        return 1
