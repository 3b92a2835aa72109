"""From the command line to a :class:`~onecycle.config.RunConfig`: the defaults, then
the ``--config`` file, then the flags given.

A configuration file is data: a ``package.module:function`` spec in it would run code
when imported, so such a spec is accepted from the command line (the user typed it)
and from a file only with ``--allow-imports``. :func:`allowed_imports` says which keys
may import; the resolvers (:func:`onecycle.data.resolve`, :func:`onecycle.models.resolve`)
refuse the others before importing anything, and :func:`config_for` refuses them early
as a usage error naming the file.

Example:
    >>> from onecycle.cli.parser import build_parser
    >>> args = build_parser().parse_args(["run", "--epochs", "3", "--max-lr", "0.1"])
    >>> overrides(args)
    {'epochs': 3, 'schedule.max_lr': 0.1}
"""

from __future__ import annotations

import argparse
import shlex
from collections.abc import Callable, Sequence
from typing import Any

from ..config import ConfigError, RunConfig, parse_toml

__all__ = ["overrides", "config_for", "allowed_imports", "printer", "command_line", "Usage"]

#: flag attribute -> dotted config key
_KEYS = {
    "dataset": "dataset", "model": "model", "batch_size": "batch_size", "seed": "seed",
    "out": "out", "device": "device", "threads": "threads", "quiet": "quiet",
    "epochs": "epochs", "name": "name", "max_lr": "schedule.max_lr",
    "style": "schedule.style", "optimizer": "optimizer.name",
    "start_lr": "finder.start_lr", "end_lr": "finder.end_lr",
    "num_iter": "finder.num_iter", "method": "finder.method",
    "baseline": "baseline.enabled", "baseline_lr": "baseline.lr", "grad_clip": "grad_clip",
}


class Usage(Exception):
    """A usage error found after parsing (exit status 2)."""


def overrides(args: argparse.Namespace) -> dict[str, Any]:
    """Dotted config keys for the flags that were given (``--weight-decay`` also turns
    the weight-decay search off: the value is given)."""
    out: dict[str, Any] = {}
    for attr, key in _KEYS.items():
        v = getattr(args, attr, None)
        if v is not None:
            out[key] = v
    wd = getattr(args, "weight_decay", None)
    if wd is not None:
        out["weight_decay.value"] = wd
        out["weight_decay.check"] = False
    return out


def allowed_imports(args: argparse.Namespace) -> bool | set[str]:
    """Which of ``dataset`` / ``model`` may be import specs: all with
    ``--allow-imports`` or without a config file, else those given as flags."""
    if getattr(args, "allow_imports", False) or not getattr(args, "config", None):
        return True
    return {k for k in ("dataset", "model") if getattr(args, k, None) is not None}


def _check_file_imports(cfg: RunConfig, args: argparse.Namespace) -> None:
    from .._imports import is_import_spec

    allowed = allowed_imports(args)
    if allowed is True:
        return
    for key in ("dataset", "model"):
        value = getattr(cfg, key)
        if key not in allowed and is_import_spec(value):  # type: ignore[operator]
            raise ConfigError(
                f"{args.config}: {key} = {value!r} is an import path, and importing it runs "
                "code; a config file may name one only with --allow-imports (or pass "
                f"--{key} {value.strip()} on the command line)"
            )


def config_for(args: argparse.Namespace, default_out: str | None = None) -> RunConfig:
    """Defaults, the ``--config`` file, then the flags; ``default_out`` replaces the
    run's default output directory unless the file or ``--out`` sets one."""
    from ..config import load_config

    if args.config:
        _check_file_imports(RunConfig.from_toml(args.config), args)
    changes = overrides(args)
    if default_out is not None and args.out is None and not _file_sets(args.config, "out"):
        changes = {"out": default_out, **changes}
    return load_config(args.config, changes)


def _file_sets(path: str | None, key: str) -> bool:
    if not path:
        return False
    from pathlib import Path

    try:
        return key in parse_toml(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):  # already read and validated by RunConfig.from_toml
        return False


def printer(cfg: RunConfig) -> Callable[[str], None]:
    """``print`` (flushed), or nothing with ``quiet``."""
    if cfg.quiet:
        return lambda _msg: None
    return lambda msg: print(msg, flush=True)


def command_line(argv: Sequence[str]) -> str:
    """The command as typed, shell-quoted (shown in reports to reproduce a run).

    >>> command_line(["run", "--name", "my run"])
    "onecycle run --name 'my run'"
    """
    return f"onecycle {shlex.join(list(argv))}".strip()
