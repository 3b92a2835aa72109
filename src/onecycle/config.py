"""``RunConfig``: everything ``onecycle run`` needs, with defaults, TOML I/O and strict checks.

A configuration is a small tree: top-level keys (dataset, model, budget, output) and
five tables, ``[finder]``, ``[weight_decay]``, ``[schedule]``, ``[optimizer]`` and
``[baseline]``, plus two free tables of keyword arguments: ``[model_options]`` for the
model factory and ``[data_options]`` for a named dataset. Every key has a type and an
allowed range; an unknown key or a value of the wrong type raises :class:`ConfigError`
(a ``ValueError``) naming the key, the value and what is allowed. A key that is absent keeps its default; TOML has no null, so
an "automatic" value (``schedule.max_lr``: found by the range test) is simply left out.

Example:
    >>> cfg = RunConfig.from_dict({"epochs": 3, "schedule": {"max_lr": 0.5}})
    >>> cfg.epochs, cfg.schedule.max_lr, cfg.dataset
    (3, 0.5, 'digits')
    >>> RunConfig.from_toml_text(cfg.to_toml()) == cfg
    True
    >>> RunConfig.from_dict({"epoch": 3})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    onecycle.config.ConfigError: unknown config key 'epoch' (did you mean 'epochs'?); allowed keys: ...

Command-line flags are applied on top with :meth:`RunConfig.with_overrides`, which takes
dotted keys (``{"schedule.max_lr": 0.5}``) and validates them the same way.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import _validate as _v

try:  # Python >= 3.11
    import tomllib as _toml
except ModuleNotFoundError:  # pragma: no cover - Python 3.10: the tomli backport
    try:
        import tomli as _toml  # type: ignore[no-redef]
    except ModuleNotFoundError:
        _toml = None  # type: ignore[assignment]

__all__ = [
    "BaselineConfig",
    "ConfigError",
    "FinderConfig",
    "OptimizerConfig",
    "RunConfig",
    "ScheduleConfig",
    "WeightDecayConfig",
    "load_config",
    "parse_toml",
    "DATASET_DEFAULTS",
    "dataset_defaults",
    "with_dataset_defaults",
    "to_toml",
    "TOML_PARSER",
]

#: The module that reads TOML (``tomllib``, or the ``tomli`` backport); it only parses
#: data, so a configuration file can never run code.
TOML_PARSER = _toml


def parse_toml(text: str, *, source: str | None = None) -> dict[str, Any]:
    """The TOML document ``text`` as a dict; anything that is not valid TOML (including
    nesting too deep for the parser) is a one-line :class:`ConfigError`.

    >>> parse_toml("epochs = 2")
    {'epochs': 2}
    >>> parse_toml("a = " + "[" * 100000)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    onecycle.config.ConfigError: not valid TOML: nested too deeply ...
    """
    where = f"{source}: " if source else ""
    if _toml is None:  # pragma: no cover - Python 3.10 without tomli
        raise ConfigError("reading TOML needs Python >= 3.11 or the 'tomli' package")
    try:
        return _toml.loads(text)
    except _toml.TOMLDecodeError as err:
        raise ConfigError(f"{where}not valid TOML: {err}") from None
    except RecursionError:
        raise ConfigError(f"{where}not valid TOML: nested too deeply for the parser "
                          "(arrays or tables inside each other thousands of times)") from None


class ConfigError(ValueError):
    """An invalid configuration: unknown key, wrong type or value out of range.

    The message names the key (dotted, e.g. ``finder.num_iter``), the value given and
    what is allowed. The CLI treats it as a usage error (exit status 2).

    >>> str(ConfigError("epochs = 0: expected an integer >= 1"))
    'epochs = 0: expected an integer >= 1'
    """


# ---------------------------------------------------------------------------
# field specifications


@dataclass(frozen=True)
class _Spec:
    """How one key is checked: a kind, an optional range check and its description."""

    kind: str  # "int" | "float" | "float|auto" (or "off") | "str" | "bool" | "floats" | "pair" | "table"
    allowed: str
    check: Callable[[Any], bool] | None = None
    optional: bool = False
    choices: tuple[str, ...] = ()
    help: str = ""


def _f(default: Any, kind: str, allowed: str, check: Callable[[Any], bool] | None = None, *,
       optional: bool = False, choices: tuple[str, ...] = (), help: str = "") -> Any:
    spec = _Spec(kind, allowed, check, optional, choices, help)
    if isinstance(default, list | dict):
        return field(default_factory=lambda d=default: type(d)(d), metadata={"spec": spec})
    return field(default=default, metadata={"spec": spec})


def _rule(check: Callable[..., Any], *args: Any, **kw: Any) -> Callable[[Any], bool]:
    """A predicate from one of :mod:`onecycle._validate`'s rules (the one rule per kind
    of value; the configuration words its own message, naming the key)."""
    def ok(v: Any) -> bool:
        try:
            check("value", v, *args, **kw)
        except (TypeError, ValueError):
            return False
        return True

    return ok


_pos = _rule(_v.positive)
_nonneg = _rule(_v.nonnegative)
_unit_open = _rule(_v.in_range, 0.0, 1.0, low_open=True, high_open=True)
_mom = _rule(_v.momentum)
_seed = _rule(_v.seed)


def _grad_clip(value: Any) -> bool:
    """The Trainer's own ``grad_clip`` rule (``"off"`` was turned into None before)."""
    from .step import check_grad_clip

    try:
        check_grad_clip(value)
    except (TypeError, ValueError):
        return False
    return True


def _describe(value: Any) -> str:
    """A value as the user would have written it (TOML-ish)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, Mapping):
        return "a table"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_describe(v) for v in value) + "]"
    return repr(value)


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    out = float(value)
    return None if math.isnan(out) else out


def _as_numbers(value: Any, kind: str) -> list[float] | None:
    if isinstance(value, str | bytes) or not isinstance(value, list | tuple):
        return None
    items = [_as_number(v) for v in value]
    if any(v is None for v in items):
        return None
    if (kind == "pair" and len(items) != 2) or (kind == "floats" and not items):
        return None
    return items  # type: ignore[return-value]


#: option keys the run sets itself, per table: the model is built as
#: ``factory(input_shape, num_classes, **model_options)``, the data as
#: ``onecycle.data.resolve(dataset, val_fraction=, seed=, **data_options)``
_RESERVED_OPTIONS = {
    "model_options": (("input_shape", "num_classes", "allow_imports", "spec"),
                      "the model is built as factory(input_shape, num_classes, "
                      "**model_options), from the data"),
    "data_options": (("val_fraction", "seed", "flatten", "allow_imports", "spec"),
                     "set them as top-level keys (val_fraction, seed)"),
}


def _as_table(key: str, value: Any) -> dict[str, Any] | None:
    if not isinstance(value, Mapping):
        return None
    reserved, why = _RESERVED_OPTIONS.get(key, ((), ""))
    for k, v in value.items():
        if not isinstance(k, str) or not k.isidentifier():
            raise ConfigError(
                f"config key '{key}.{k}' is invalid: option names must be Python identifiers"
            )
        if k in reserved:
            raise ConfigError(f"config key '{key}.{k}' is not allowed: the run sets it ({why})")
        _check_plain(f"{key}.{k}", v)
    return dict(value)


def _coerce(key: str, value: Any, spec: _Spec) -> Any:
    """Check ``value`` against ``spec``; return it normalised (ints to floats etc.)."""

    def bad(extra: str = "") -> ConfigError:
        msg = f"config key '{key}' = {_describe(value)} is invalid: expected {spec.allowed}"
        return ConfigError(msg + extra)

    if value is None:
        if spec.optional:
            return None
        raise bad()
    kind = spec.kind
    if kind == "int":
        out: Any = _as_int(value)
    elif kind == "float":
        out = _as_number(value)
    elif kind == "float|auto":
        if value == "off":  # TOML has no null: the word for "no clipping"
            return None
        out = value if value == "auto" else _as_number(value)
    elif kind == "str":
        out = value if isinstance(value, str) else None
        if out is not None and spec.choices and out not in spec.choices:
            close = difflib.get_close_matches(out, spec.choices, n=1)
            raise bad(f" (did you mean {close[0]!r}?)" if close else "")
    elif kind == "bool":
        out = value if isinstance(value, bool) else None
    elif kind in ("floats", "pair"):
        out = _as_numbers(value, kind)
    elif kind == "table":
        out = _as_table(key, value)
    else:  # pragma: no cover - programming error
        raise AssertionError(kind)
    if out is None:
        raise bad()
    if spec.check is not None:
        vals = out if isinstance(out, list) else [out]
        if not all(spec.check(v) for v in vals):
            raise bad()
    return out


def _check_plain(key: str, v: Any) -> None:
    """Free-form option values must be TOML-representable scalars or lists of them."""
    if isinstance(v, bool | int | float | str):
        return
    if isinstance(v, list | tuple) and all(isinstance(x, bool | int | float | str) for x in v):
        return
    raise ConfigError(
        f"config key '{key}' = {_describe(v)} is invalid: expected a number, string, "
        "boolean or a list of them"
    )


# ---------------------------------------------------------------------------
# sections

_SUGGEST_METHODS = ("auto", "valley", "steep", "minimum", "slide")


@dataclass
class FinderConfig:
    """``[finder]``: the LR range test.

    >>> FinderConfig().num_iter
    100
    """

    start_lr: float = _f(1e-5, "float", "a number > 0", _pos, help="first LR of the sweep")
    end_lr: float = _f(10.0, "float", "a number > 0 (and > start_lr)", _pos,
                       help="last LR of the sweep")
    num_iter: int = _f(100, "int", "an integer >= 10", lambda v: v >= 10,
                       help="iterations of the sweep")
    mode: str = _f("exp", "str", "one of 'exp', 'linear'", choices=("exp", "linear"),
                   help="spacing of the LRs")
    method: str = _f("auto", "str", "one of " + ", ".join(repr(m) for m in _SUGGEST_METHODS),
                     choices=_SUGGEST_METHODS, help="suggestion method")


@dataclass
class WeightDecayConfig:
    """``[weight_decay]``: the weight decay, and the search that picks it.

    ``value`` is used for the first range test, and for training when ``check`` is
    false; with ``check = true`` (default) the search runs a short range test per entry
    of ``grid`` around the first test's max_lr and picks the largest weight decay that
    still reaches the best loss at a high LR; ``confirm = true`` adds short 1cycle runs
    that decide below that value (see docs/searches.md for what each costs).

    >>> WeightDecayConfig().grid
    [0.001, 0.0001, 0.0]
    """

    value: float = _f(1e-4, "float", "a number >= 0", _nonneg,
                      help="weight decay of the range test (and of training when check = false)")
    check: bool = _f(True, "bool", "true or false", help="run the weight-decay search")
    grid: list[float] = _f([1e-3, 1e-4, 0.0], "floats",
                           "a non-empty list of numbers >= 0", _nonneg,
                           help="weight decays tried by the search")
    confirm: bool = _f(False, "bool", "true or false",
                       help="decide among the range tests' bound and the smaller values by "
                       "short 1cycle runs (a quarter of the epochs each; costly)")


@dataclass
class ScheduleConfig:
    """``[schedule]``: the 1cycle policy (see :class:`onecycle.schedule.OneCycleSchedule`).

    Keys left out take the style's defaults; ``max_lr`` left out is found by the range
    test.

    >>> ScheduleConfig().style
    'smith'
    """

    max_lr: float | None = _f(None, "float", "a number > 0", _pos, optional=True,
                              help="peak LR (default: found by the LR range test)")
    style: str = _f("smith", "str", "one of 'smith', 'fastai', 'torch'",
                    choices=("smith", "fastai", "torch"), help="family of defaults")
    div: float | None = _f(None, "float", "a number > 0", _pos, optional=True,
                           help="initial LR = max_lr / div (default: the style's)")
    final_div: float | None = _f(None, "float", "a number > 0", _pos, optional=True,
                                 help="final LR = max_lr / final_div (default: the style's)")
    pct_start: float | None = _f(None, "float", "a number in (0, 1)", _unit_open,
                                 optional=True, help="fraction of the steps going up (default: the style's)")
    annihilate: float | None = _f(None, "float", "a number in [0, 1)", _mom, optional=True,
                                  help="smith style: fraction of the steps annihilating (default: 0.1)")
    momentum: list[float] = _f([0.95, 0.85], "pair", "a pair [high, low] of numbers in [0, 1)",
                               _mom, help="cyclical momentum (high, low)")
    cycle_momentum: bool = _f(True, "bool", "true or false", help="cycle the momentum")


@dataclass
class OptimizerConfig:
    """``[optimizer]``: the optimizer family and its constant momentum.

    ``momentum`` is SGD's momentum (beta1 for Adam/AdamW) used by the range test and the
    constant-LR baseline; the 1cycle run cycles it (``schedule.momentum``).

    >>> OptimizerConfig().name
    'sgd'
    """

    name: str = _f("sgd", "str", "one of 'sgd', 'adam', 'adamw'",
                   choices=("sgd", "adam", "adamw"), help="optimizer")
    momentum: float = _f(0.9, "float", "a number in [0, 1)", _mom,
                         help="momentum / beta1 outside the cycle")
    nesterov: bool = _f(False, "bool", "true or false", help="SGD: Nesterov momentum")

    def build(self, params: Any, lr: float, weight_decay: float) -> Any:
        """The torch optimizer over ``params``: the one place a configuration becomes an
        optimizer. ``momentum`` is SGD's momentum or Adam's beta1 (beta2 stays 0.999).

        >>> import torch
        >>> opt = OptimizerConfig().build(torch.nn.Linear(2, 2).parameters(), 0.1, 1e-4)
        >>> type(opt).__name__, opt.param_groups[0]["momentum"]
        ('SGD', 0.9)
        """
        import torch

        if self.name == "sgd":
            return torch.optim.SGD(params, lr=lr, momentum=self.momentum,
                                   nesterov=self.nesterov and self.momentum > 0,
                                   weight_decay=weight_decay)
        cls = torch.optim.AdamW if self.name == "adamw" else torch.optim.Adam
        return cls(params, lr=lr, betas=(self.momentum, 0.999), weight_decay=weight_decay)


@dataclass
class BaselineConfig:
    """``[baseline]``: the constant-LR run trained for comparison.

    ``lr`` left out: the range test's ``minimum`` suggestion (the LR at the loss minimum
    / 10), or ``max_lr / 10`` when the range test did not run.

    >>> BaselineConfig().enabled
    True
    """

    enabled: bool = _f(True, "bool", "true or false", help="train the baseline")
    lr: float | None = _f(None, "float", "a number > 0", _pos, optional=True,
                          help="constant LR (default: the range test's 'minimum' suggestion, else max_lr / 10)")


#: Per-dataset defaults of the keys a configuration leaves out, chosen so that
#: ``onecycle run --dataset NAME`` trains to something meaningful in a few minutes at most
#: on two CPU cores (docs/cli.md has the measured times and headlines). The model comes
#: from the dataset's source (:func:`onecycle.data.default_model`, its one owner) and is
#: not repeated here. A table (``optimizer``, ``weight_decay``, ...) is merged key by key:
#: a configuration that sets ``optimizer.momentum`` keeps the dataset's optimizer.
#:
#: * ``mnist``: the small CNN of the digits default costs minutes per epoch on a laptop's
#:   CPU, while LeNet-5 at batch 128 reaches 99 % test accuracy in 3 epochs of 1cycle.
#: * ``mnist1d``: the 1-D CNN at batch 64 (57 steps an epoch) for 40 epochs: the task is
#:   not saturated, so epochs keep paying. Gradients clipped at norm 1: on some seeds the
#:   range test's pick sits at the edge of what SGD survives, and one bad step there
#:   leaves the network at chance for the rest of the cycle.
#: * ``text``: the character transformer under AdamW, on 64-character windows at batch
#:   16 (309 optimizer steps an epoch); the range test sweeps 1e-6 .. 1, the span where
#:   Adam's LRs live, and the weight decays are AdamW's decoupled ones (0.1 .. 0), an
#:   order of magnitude above SGD's L2 values.
#: * ``diabetes``: 319 training patients: a narrow MLP with dropout (the default width
#:   fits the noise within a few epochs, ending at the RMSE of the mean), batch 32, and a
#:   200-iteration range test, since a 100-iteration one over 10 batches an epoch is too
#:   noisy for a pick. ``model_options`` apply to the default model only.
DATASET_DEFAULTS: dict[str, dict[str, Any]] = {
    "mnist": {"batch_size": 128, "epochs": 3},
    "mnist1d": {"batch_size": 64, "epochs": 40, "grad_clip": 1.0},
    "text": {"batch_size": 16, "epochs": 5, "data_options": {"seq_len": 64},
             "optimizer": {"name": "adamw"}, "finder": {"start_lr": 1e-6, "end_lr": 1.0},
             "weight_decay": {"value": 0.01, "grid": [0.1, 0.01, 0.0]}},
    "diabetes": {"batch_size": 32, "epochs": 15, "finder": {"num_iter": 200},
                 "model_options": {"hidden": [64], "dropout": 0.2},
                 "weight_decay": {"value": 1e-3, "grid": [1e-2, 1e-3, 1e-4]}},
}


def dataset_defaults(dataset: Any) -> dict[str, Any]:
    """The defaults of a named dataset (``"text:PATH"`` and aliases too): its source's
    model and its :data:`DATASET_DEFAULTS`; ``{}`` for anything else (a path, an import
    spec).

    >>> dataset_defaults("text:notes.txt")["model"], dataset_defaults("x.npz")
    ('char_transformer', {})
    """
    if not isinstance(dataset, str):
        return {}
    from .data import find_source

    found = find_source(dataset)
    if found is None:
        return {}
    source = found[0]
    return {"model": source.default_model,
            **json.loads(json.dumps(DATASET_DEFAULTS.get(source.name, {})))}


def with_dataset_defaults(data: Mapping[str, Any]) -> Mapping[str, Any]:
    """``data`` with the defaults of its dataset (:func:`dataset_defaults`) for the keys
    it leaves out; tables are merged key by key, so every key ``data`` sets wins.

    >>> with_dataset_defaults({"dataset": "mnist", "epochs": 5})["epochs"]
    5
    >>> with_dataset_defaults({"dataset": "text", "optimizer": {"momentum": 0.8}})["optimizer"]
    {'name': 'adamw', 'momentum': 0.8}
    >>> "model_options" in with_dataset_defaults({"dataset": "diabetes", "model": "lenet"})
    False
    """
    extra = dataset_defaults(data.get("dataset")) if isinstance(data, Mapping) else {}
    if not extra:
        return data
    if data.get("model", extra["model"]) != extra["model"]:
        extra.pop("model_options", None)  # the options of the dataset's model, not another's
    merged: dict[str, Any] = dict(extra)
    for key, value in data.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return merged


def _set_dotted(data: dict[str, Any], dotted: str, value: Any) -> None:
    node = data
    parts = dotted.split(".")
    for p in parts[:-1]:
        child = node.get(p)
        if not isinstance(child, dict):
            child = node[p] = {} if child is None else child
        if not isinstance(child, dict):
            raise ConfigError(f"unknown config key '{dotted}'")
        node = child
    node[parts[-1]] = value


_SECTIONS: dict[str, type] = {
    "finder": FinderConfig,
    "weight_decay": WeightDecayConfig,
    "schedule": ScheduleConfig,
    "optimizer": OptimizerConfig,
    "baseline": BaselineConfig,
}


@dataclass
class RunConfig:
    """The configuration of ``onecycle run`` (and the other commands' shared options).

    Top-level keys: ``name``, ``dataset``, ``model``, ``epochs``, ``batch_size``,
    ``seed``, ``out``, ``val_fraction``, ``device``, ``grad_clip``, ``threads``, ``quiet``,
    ``model_options`` (a table of keyword arguments for the model factory) and
    ``data_options`` (for a named dataset, e.g. ``seq_len`` of ``text``); tables
    ``finder``, ``weight_decay``, ``schedule``, ``optimizer``, ``baseline``.

    >>> cfg = RunConfig()
    >>> cfg.dataset, cfg.model, cfg.out
    ('digits', 'small_cnn', 'onecycle-run')
    >>> cfg.with_overrides({"schedule.style": "fastai"}).schedule.style
    'fastai'
    """

    name: str | None = _f(None, "str", "a string", optional=True, help="run name shown in the report (default: dataset + model)")
    dataset: str = _f("digits", "str", "a dataset name, a path or 'module:function'",
                      lambda v: bool(v.strip()), help="dataset")
    model: str = _f("small_cnn", "str", "a model name or 'module:function'",
                    lambda v: bool(v.strip()), help="model")
    epochs: int = _f(8, "int", "an integer >= 1", lambda v: v >= 1, help="training epochs")
    batch_size: int = _f(64, "int", "an integer >= 1", lambda v: v >= 1, help="batch size")
    seed: int = _f(0, "int", f"an integer in [0, {_v.MAX_SEED}]", _seed, help="random seed")
    out: str = _f("onecycle-run", "str", "a directory path", lambda v: bool(v.strip()),
                  help="output directory")
    val_fraction: float = _f(0.1, "float", "a number in (0, 1)", _unit_open,
                             help="validation share of the training split")
    device: str | None = _f(None, "str", "a torch device such as 'cpu' or 'cuda'",
                            optional=True, help="torch device (default: cuda if available, else cpu)")
    grad_clip: float | str | None = _f(
        "auto", "float|auto", "a number > 0, 'auto' or 'off'", _grad_clip,
        optional=True, help="'auto': clip only a step whose gradient norm spikes above 3x "
        "its recent median (docs/training.md); a number: clip every step to it; 'off'")
    threads: int | None = _f(None, "int", "an integer >= 1", lambda v: v >= 1, optional=True,
                             help="torch CPU threads (default: 1 for small models, "
                             "else torch's default)")
    quiet: bool = _f(False, "bool", "true or false", help="no progress output")
    model_options: dict[str, Any] = _f({}, "table", "a table of keyword arguments",
                                       help="model factory options")
    data_options: dict[str, Any] = _f({}, "table", "a table of keyword arguments",
                                      help="options of a named dataset (text: seq_len)")
    finder: FinderConfig = field(default_factory=FinderConfig)
    weight_decay: WeightDecayConfig = field(default_factory=WeightDecayConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    baseline: BaselineConfig = field(default_factory=BaselineConfig)

    # -- construction -------------------------------------------------------------

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str | None = None) -> RunConfig:
        """Build a config from a (TOML-shaped) mapping, checking every key strictly.

        ``source`` (a file name) prefixes error messages.

        Keys a dataset has its own defaults for (:data:`DATASET_DEFAULTS`) take them
        when ``data`` leaves them out.

        >>> RunConfig.from_dict({"finder": {"num_iter": 30}}).finder.num_iter
        30
        >>> RunConfig.from_dict({"dataset": "mnist"}).model
        'lenet'
        """
        try:
            return _build(cls, with_dataset_defaults(data), prefix="")
        except ConfigError as err:
            if source:
                raise ConfigError(f"{source}: {err}") from None
            raise

    @classmethod
    def from_toml_text(cls, text: str, *, source: str | None = None) -> RunConfig:
        """Parse TOML text (see :meth:`from_dict`).

        >>> RunConfig.from_toml_text('epochs = 2').epochs
        2
        """
        return cls.from_dict(parse_toml(text, source=source), source=source)

    @classmethod
    def from_toml(cls, path: str | os.PathLike[str]) -> RunConfig:
        """Read a TOML file. A missing or unreadable file is a :class:`ConfigError`.

        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "c.toml"
        >>> _ = p.write_text('model = "small_cnn"')
        >>> RunConfig.from_toml(p).model
        'small_cnn'
        """
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as err:
            raise ConfigError(f"cannot read config file '{p}': {err}") from None
        return cls.from_toml_text(text, source=str(p))

    def with_overrides(self, overrides: Mapping[str, Any]) -> RunConfig:
        """A copy with dotted keys replaced (``{"schedule.max_lr": 0.5}``), validated.

        >>> RunConfig().with_overrides({"epochs": 2, "baseline.enabled": False}).epochs
        2
        """
        data = self.to_dict()
        for dotted, value in overrides.items():
            parts = dotted.split(".")
            node = data
            for p in parts[:-1]:
                if p not in node or not isinstance(node[p], dict):
                    raise ConfigError(f"unknown config key '{dotted}'")
                node = node[p]
            if parts[-1] not in node and parts[0] not in _RESERVED_OPTIONS:
                raise ConfigError(f"unknown config key '{dotted}'")
            node[parts[-1]] = value
        return type(self).from_dict(data)

    # -- output ---------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """A plain nested dict (``None`` for automatic values), JSON-ready.

        >>> RunConfig().to_dict()["finder"]["num_iter"]
        100
        """
        return json.loads(json.dumps(dataclasses.asdict(self)))

    def to_toml(self, *, comments: bool = True) -> str:
        """The configuration as TOML text (automatic values are omitted or commented).

        >>> "epochs = 8" in RunConfig().to_toml()
        True
        """
        return to_toml(self.to_dict(), comments=comments, specs=_specs_tree(type(self)))

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write ``.toml`` or ``.json`` (by suffix), atomically: a failed write leaves the
        previous file as it was. Returns the path."""
        from ._io import write_json_atomic, write_text_atomic

        p = Path(path)
        if p.suffix.lower() == ".json":
            return write_json_atomic(p, self.to_dict(), indent=2)
        return write_text_atomic(p, self.to_toml())

    def describe_keys(self) -> list[tuple[str, str, str]]:
        """``(dotted key, allowed values, help)`` for every key (for documentation).

        >>> ("epochs", "an integer >= 1", "training epochs") in RunConfig().describe_keys()
        True
        """
        rows: list[tuple[str, str, str]] = []
        for f in dataclasses.fields(self):
            spec = f.metadata.get("spec")
            if spec is not None:
                rows.append((f.name, spec.allowed, spec.help))
            else:
                for g in dataclasses.fields(_SECTIONS[f.name]):
                    s = g.metadata["spec"]
                    rows.append((f"{f.name}.{g.name}", s.allowed, s.help))
        return rows


def _build(cls: type, data: Mapping[str, Any], prefix: str) -> Any:
    if not isinstance(data, Mapping):
        raise ConfigError(
            f"config key '{prefix.rstrip('.')}' = {_describe(data)} is invalid: expected a table"
        )
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        if key not in fields:
            allowed = ", ".join(fields)
            close = difflib.get_close_matches(str(key), list(fields), n=1)
            hint = f" (did you mean '{prefix}{close[0]}'?)" if close else ""
            where = f" in [{prefix.rstrip('.')}]" if prefix else ""
            raise ConfigError(f"unknown config key '{dotted}'{hint}; allowed keys{where}: {allowed}")
        f = fields[key]
        spec = f.metadata.get("spec")
        if spec is None:  # a section
            kwargs[key] = _build(_SECTIONS[key], value, prefix=f"{dotted}.")
        else:
            kwargs[key] = _coerce(dotted, value, spec)
    obj = cls(**kwargs)
    if cls is RunConfig:
        _cross_checks(obj)
    return obj


def _cross_checks(cfg: RunConfig) -> None:
    f = cfg.finder
    if not f.end_lr > f.start_lr:
        raise ConfigError(
            f"config keys 'finder.start_lr' = {f.start_lr!r} and 'finder.end_lr' = "
            f"{f.end_lr!r} are invalid: expected start_lr < end_lr"
        )
    if cfg.schedule.cycle_momentum:
        from ._validate import momentum_cycle

        try:
            momentum_cycle("schedule.momentum", cfg.schedule.momentum)
        except (TypeError, ValueError) as err:
            raise ConfigError(
                f"config key 'schedule.momentum' = {_describe(cfg.schedule.momentum)} is "
                f"invalid: {err}"
            ) from None


def _specs_tree(cls: type) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        spec = f.metadata.get("spec")
        out[f.name] = spec if spec is not None else _specs_tree(_SECTIONS[f.name])
    return out


# ---------------------------------------------------------------------------
# TOML writing (tomllib reads only)


def _toml_str(s: str) -> str:
    body = json.dumps(s, ensure_ascii=False)
    return body.replace("\x7f", "\\u007f")


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, str):
        return _toml_str(v)
    if isinstance(v, list | tuple):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    raise TypeError(f"cannot write {type(v).__name__} as a TOML value")


def _toml_key(k: str) -> str:
    if k and all(c.isalnum() or c in "_-" for c in k) and k.isascii():
        return k
    return _toml_str(k)


def to_toml(data: Mapping[str, Any], *, comments: bool = False,
            specs: Mapping[str, Any] | None = None) -> str:
    """Write a nested mapping of scalars, lists and tables as TOML text.

    ``None`` values are left out (with ``comments=True`` they are written as a comment
    naming the key, so the file shows every knob).

    >>> print(to_toml({"a": 1, "t": {"b": [1.0, 2.5], "c": None}}), end="")
    a = 1
    <BLANKLINE>
    [t]
    b = [1.0, 2.5]
    """
    lines: list[str] = []

    def scalars(d: Mapping[str, Any], sp: Mapping[str, Any] | None) -> None:
        for k, v in d.items():
            if isinstance(v, Mapping):
                continue
            spec = sp.get(k) if sp else None
            if v is None and isinstance(spec, _Spec) and spec.kind == "float|auto":
                v = "off"  # the key's default is not None: None must be written out
            if v is None:
                if comments:
                    note = f": {spec.help}" if isinstance(spec, _Spec) and spec.help else ""
                    lines.append(f"# {_toml_key(k)} is not set{note}")
                continue
            lines.append(f"{_toml_key(k)} = {_toml_value(v)}")

    def tables(d: Mapping[str, Any], sp: Mapping[str, Any] | None, path: str) -> None:
        for k, v in d.items():
            if not isinstance(v, Mapping):
                continue
            name = f"{path}.{_toml_key(k)}" if path else _toml_key(k)
            sub = sp.get(k) if isinstance(sp, Mapping) else None
            sub = sub if isinstance(sub, Mapping) else None
            if lines:
                lines.append("")
            lines.append(f"[{name}]")
            scalars(v, sub)
            tables(v, sub, name)

    scalars(data, specs)
    tables(data, specs, "")
    return "\n".join(lines) + "\n"


def load_config(
    path: str | os.PathLike[str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> RunConfig:
    """Defaults, then the TOML file at ``path`` (if any), then ``overrides`` (dotted keys).

    The dataset's own defaults (:data:`DATASET_DEFAULTS`) fill the keys neither the file
    nor ``overrides`` set. Errors in the file name it.

    >>> load_config(overrides={"epochs": 1}).epochs
    1
    >>> load_config(overrides={"dataset": "mnist"}).batch_size
    128
    """
    data: dict[str, Any] = {}
    if path is not None:
        RunConfig.from_toml(path)  # every key of the file checked, errors naming it
        data = parse_toml(Path(path).read_text(encoding="utf-8"), source=str(path))
    for dotted, value in (overrides or {}).items():
        _set_dotted(data, dotted, value)
    return RunConfig.from_dict(data)
