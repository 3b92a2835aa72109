"""The registry of benchmark settings: (dataset, model, optimizer, batch size, budgets).

Every maintained benchmark that trains runs on these settings, and builds them only from
onecycle's public API (``onecycle.data``, ``onecycle.models``, ``onecycle.tasks``,
``onecycle.Trainer``). A setting is small enough that one training run takes seconds to
tens of seconds on one CPU thread; budgets are epochs of its training subset, a short
one (a few hundred optimizer steps or fewer) and a long one.

Which settings and seeds a rule may be designed on is fixed here, before any run:
``DESIGN`` settings with ``DESIGN_SEEDS``; everything else (the ``held_out`` settings,
and seeds 3-4 everywhere) is only used to judge a rule once it is written down.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: seeds a rule may be designed on; the others only judge it
DESIGN_SEEDS = (0, 1, 2)
SEEDS = (0, 1, 2, 3, 4)


@dataclass(frozen=True)
class Setting:
    """One workload. ``grid`` is the 7-point half-decade max_lr grid (its best point is
    the reference every pick is judged against); ``fail_margin`` is how far below the
    seed's best grid run (in the headline's units: accuracy points, bpc, RMSE) a pick
    counts as a failure."""

    name: str
    dataset: str
    model: str
    optimizer: str  # "sgd" or "adamw"
    batch_size: int
    budgets: tuple[int, int]  # epochs: short, long
    grid: tuple[float, ...]
    held_out: bool = False
    train: int | None = None  # training subset (stratified, fixed seed), None: all
    test: int | None = None
    model_options: dict[str, Any] = field(default_factory=dict)
    data_options: dict[str, Any] = field(default_factory=dict)
    weight_decay: float = 5e-4
    momentum: float = 0.9  # SGD momentum / AdamW beta1 before the cycle takes over
    fail_margin: float = 0.5
    needs: str | None = None  # an optional package the setting needs
    why: str = ""


def _grid(lo_exp: float) -> tuple[float, ...]:
    return tuple(round(10 ** (lo_exp + 0.5 * k), 10) for k in range(7))


SGD_GRID = _grid(-3.0)  # 1e-3 .. 1
ADAM_GRID = _grid(-4.0)  # 1e-4 .. 0.1

SETTINGS: dict[str, Setting] = {s.name: s for s in [
    Setting("lenet-mnist", "mnist", "lenet", "sgd", 128, (1, 3), SGD_GRID, train=16384,
            why="the headline, comparable to earlier rounds"),
    Setting("caffe-lenet-mnist", "mnist", "caffe_lenet", "sgd", 128, (1, 3), SGD_GRID,
            held_out=True, train=16384, why="Smith's own network"),
    Setting("bncnn-fashion", "fashion-mnist", "small_cnn", "sgd", 128, (1, 3), SGD_GRID,
            train=16384, model_options={"width": 8}, why="BatchNorm changes what LR tolerates"),
    Setting("mlp-mnist", "mnist", "mlp", "sgd", 128, (1, 4), SGD_GRID, train=16384,
            why="no convolutions"),
    Setting("cnn1d-mnist1d", "mnist1d", "cnn1d", "sgd", 64, (2, 10), SGD_GRID,
            held_out=True, why="unsaturated: schedules separate"),
    Setting("chartf-text", "text", "char_transformer", "adamw", 16, (1, 3), ADAM_GRID,
            data_options={"seq_len": 64}, weight_decay=0.01, fail_margin=0.05,
            why="adaptive optimizer, text, dict batches"),
    Setting("mlp-diabetes", "diabetes", "mlp", "adamw", 32, (20, 80), ADAM_GRID,
            held_out=True, weight_decay=1e-4, fail_margin=0.02, why="regression (RMSE)"),
    Setting("mlp-digits-dropout", "digits", "mlp", "sgd", 32, (2, 10), SGD_GRID,
            model_options={"dropout": 0.1, "hidden": (32,)}, weight_decay=1e-4,
            why="the default run's scale, with dropout"),
    Setting("gpt2-tiny", "text", "hf_gpt2_tiny", "adamw", 16, (1, 3), ADAM_GRID,
            data_options={"seq_len": 64}, held_out=True, weight_decay=0.01, fail_margin=0.05, needs="transformers",
            why="the Hugging Face path"),
]}

DESIGN = tuple(n for n, s in SETTINGS.items() if not s.held_out)


#: the fields of the first version of :class:`Setting`; a field added later enters the
#: fingerprint only when it differs from its default, so adding one keeps the cache
_FIRST_FIELDS = ("name", "dataset", "model", "optimizer", "batch_size", "budgets", "grid",
                 "held_out", "train", "test", "model_options", "weight_decay", "momentum",
                 "fail_margin", "needs", "why")


def signature(setting: Setting) -> str:
    """A short fingerprint of everything that defines a setting: cached trials of a
    setting whose definition changed are not reused."""
    import dataclasses
    import hashlib

    text = "Setting(" + ", ".join(f"{f}={getattr(setting, f)!r}" for f in _FIRST_FIELDS) + ")"
    later = {f.name: getattr(setting, f.name) for f in dataclasses.fields(setting)
             if f.name not in _FIRST_FIELDS and getattr(setting, f.name) != (
                 f.default_factory() if f.default_factory is not dataclasses.MISSING
                 else f.default)}
    if later:
        text += repr(sorted(later.items()))
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def available(setting: Setting) -> bool:
    """Whether the optional package a setting needs is installed."""
    if setting.needs is None:
        return True
    import importlib.util

    return importlib.util.find_spec(setting.needs) is not None


def design_part(name: str, seed: int) -> bool:
    """True for the (setting, seed) pairs a rule may be designed on."""
    return name in DESIGN and seed in DESIGN_SEEDS
