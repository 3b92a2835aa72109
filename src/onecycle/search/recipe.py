"""The whole disciplined approach in one call: :func:`recipe` -> :class:`Recipe`.

The searches are chained in Smith's order:

1. **batch size**: the largest that fits in memory (:func:`batch_size_search`), capped so
   that an epoch still has ``min_steps_per_epoch`` iterations;
2. **learning rate**: an LR range test at that batch size;
3. **weight decay**: one range test per weight decay (:func:`weight_decay_search`)
   bounds it from above (Smith's rule: the largest value that still trains at a high
   LR); short 1cycle runs (a quarter of the budget, rounded up) for the winner and the
   smaller values (at most 4) then decide by validation loss, because in a 100-iteration
   sweep the decay shrinks the weights by well under 1 % and cannot show its cost (on Fashion-MNIST the range tests
   chose 1e-2, which cost 2 points against no decay); the max LR is then read from the
   chosen weight decay's curve;
4. **momentum**: short 1cycle runs per momentum pair (:func:`momentum_search`), as long
   as the weight-decay runs: one-epoch runs are still in the fast-learning phase, where
   the most aggressive pair wins (on 6000 Fashion-MNIST images, (0.99, 0.9) led at one
   epoch with validation loss 0.75; after five epochs it came last, 0.50 against 0.43;
   `benchmarks/results/recipe_momentum_seed4.md`).

The result is a :class:`Recipe`: a plain, JSON-serialisable 1cycle configuration
(batch size, max LR, div, final div / annihilation, momentum pair, weight decay, epochs,
style) together with the evidence for each choice (the reasons in words and the curves
as lists). ``recipe.train(...)`` runs it with :meth:`Trainer.fit_one_cycle`.

Example:
    >>> import torch
    >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
    <torch._C.Generator object at ...>
    >>> x = torch.randn(512, 8); y = (x[:, 0] + x[:, 1] > 0).long()
    >>> r = recipe(lambda: torch.nn.Linear(8, 2),
    ...            lambda m: torch.optim.SGD(m.parameters(), lr=0.1, momentum=0.9),
    ...            torch.nn.functional.cross_entropy, (x[:384], y[:384]), (x[384:], y[384:]),
    ...            budget_epochs=3, quick=True)
    >>> r.epochs, r.batch_size >= 1, sorted(r.evidence)
    (3, True, ['batch_size', 'max_lr', 'momentum', 'weight_decay'])
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ._common import (
    build_optimizer,
    check_int,
    check_positive,
    confirm_candidates,
    default_confirm_epochs,
    fmt,
    guarded,
    json_clean,
    resolve_model,
    want_progress,
    write_json_atomic,
)
from .grid import set_weight_decay

__all__ = ["Recipe", "recipe"]

_FORMAT = "onecycle.recipe"


class _WithWeightDecay:
    """``make_optimizer`` followed by a fixed weight decay (picklable for workers)."""

    def __init__(self, make_optimizer: Any, weight_decay: float | None) -> None:
        self.make_optimizer = make_optimizer
        self.weight_decay = weight_decay

    def __call__(self, model: nn.Module) -> torch.optim.Optimizer:
        opt = build_optimizer(self.make_optimizer, model)
        if self.weight_decay is not None:
            set_weight_decay(model, opt, self.weight_decay)
        return opt


def _as_tensors(name: str, data: Any) -> tuple[torch.Tensor, torch.Tensor]:
    from torch.utils.data import TensorDataset

    if isinstance(data, TensorDataset):
        tensors = tuple(data.tensors)
    elif isinstance(data, (tuple, list)) and len(data) == 2:
        tensors = tuple(torch.as_tensor(np.asarray(t)) if isinstance(t, np.ndarray) else t
                        for t in data)
    else:
        raise TypeError(
            f"{name} must be a TensorDataset or an (inputs, targets) pair of tensors, got "
            f"{type(data).__name__}"
        )
    if len(tensors) != 2 or not all(isinstance(t, torch.Tensor) for t in tensors):
        raise TypeError(f"{name} must hold exactly two tensors (inputs, targets)")
    x, y = tensors
    if len(x) != len(y) or len(x) == 0:
        raise ValueError(f"{name}: inputs and targets must have the same, non-zero length "
                         f"(got {len(x)} and {len(y)})")
    return x, y


def _loaders(train: tuple[torch.Tensor, torch.Tensor], val: tuple[torch.Tensor, torch.Tensor] | None,
             batch_size: int, eval_batch_size: int | None, seed: int) -> tuple[Any, Any]:
    from ..data import TensorLoader

    tl = TensorLoader(train, batch_size, shuffle=True, seed=seed)
    vl = None
    if val is not None:
        vl = TensorLoader(val, max(1, min(len(val[0]), eval_batch_size or 4 * batch_size)))
    return tl, vl


def _auto_metrics(metrics: Any, y: torch.Tensor) -> Any:
    if metrics != "auto":
        return metrics
    if y.dtype in (torch.int64, torch.int32, torch.int16, torch.uint8) and y.dim() == 1:
        return ["accuracy"]
    return None


# ----------------------------------------------------------------------------- Recipe


@dataclass(eq=False)
class Recipe:
    """A complete 1cycle configuration, with the evidence behind each number.

    Attributes:
        batch_size, eval_batch_size: training and evaluation batch sizes.
        max_lr: the peak learning rate.
        weight_decay: the weight decay (None: the optimizer has none).
        momentum: the ``(high, low)`` cyclical momentum (None: not cycled).
        epochs: the length of the cycle.
        style, div, final_div, pct_start, annihilate: the 1cycle shape (see
            :class:`onecycle.schedule.OneCycleSchedule`); ``annihilate`` is None for the
            styles without an annihilation phase.
        seed: the seed the searches used (and :meth:`train` uses by default).
        evidence: per choice (``batch_size``, ``max_lr``, ``weight_decay``,
            ``momentum``): ``reason`` in words plus the tables and curves (as lists).

    >>> r = Recipe(batch_size=64, max_lr=0.5, weight_decay=1e-4, momentum=(0.95, 0.85),
    ...            epochs=5)
    >>> Recipe.from_dict(json.loads(json.dumps(r.to_dict()))).schedule_options()["momentum"]
    (0.95, 0.85)
    """

    batch_size: int
    max_lr: float
    weight_decay: float | None
    momentum: tuple[float, float] | None
    epochs: int
    style: str = "smith"
    div: float | None = None
    final_div: float | None = None
    pct_start: float | None = None
    annihilate: float | None = None
    eval_batch_size: int | None = None
    seed: int = 0
    evidence: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        from ..schedule import OneCycleSchedule

        self.batch_size = check_int("batch_size", self.batch_size, 1)
        self.epochs = check_int("epochs", self.epochs, 1)
        self.max_lr = check_positive("max_lr", self.max_lr)
        if self.momentum is not None:
            self.momentum = (float(self.momentum[0]), float(self.momentum[1]))
        ref = OneCycleSchedule(100, self.max_lr, style=self.style)
        if self.div is None:
            self.div = ref.div
        if self.final_div is None:
            self.final_div = ref.final_div
        if self.style == "smith" and self.annihilate is None:
            self.annihilate = ref.annihilate
        self.schedule(10)  # validate the whole configuration now

    # -- use ------------------------------------------------------------------
    def schedule_options(self) -> dict[str, Any]:
        """Keyword arguments for ``fit_one_cycle`` / :class:`~onecycle.scheduler.OneCycle`
        (everything but ``epochs`` and ``max_lr``)."""
        opts: dict[str, Any] = {"style": self.style, "div": self.div, "final_div": self.final_div,
                                "momentum": self.momentum}
        if self.pct_start is not None:
            opts["pct_start"] = self.pct_start
        if self.style == "smith":
            opts["annihilate"] = self.annihilate
        return opts

    def schedule(self, steps_per_epoch: int) -> Any:
        """The :class:`~onecycle.schedule.OneCycleSchedule` for ``steps_per_epoch``."""
        from ..schedule import OneCycleSchedule

        return OneCycleSchedule(self.epochs * check_int("steps_per_epoch", steps_per_epoch, 1),
                                self.max_lr, **self.schedule_options())

    @property
    def reasons(self) -> dict[str, str]:
        """The reason for each choice, in words."""
        return {k: str(v.get("reason", "")) for k, v in self.evidence.items()
                if isinstance(v, dict)}

    def summary(self) -> str:
        """A few lines: the configuration and why."""
        lines = [
            f"1cycle ({self.style}) for {self.epochs} epochs: batch size {self.batch_size}, "
            f"max_lr {self.max_lr:.3g} (div {fmt(self.div)}, final_div {fmt(self.final_div)}), "
            f"momentum {fmt(self.momentum)}, weight decay {fmt(self.weight_decay)}",
        ]
        lines += [f"- {k}: {v}" for k, v in self.reasons.items() if v]
        return "\n".join(lines)

    def train(
        self,
        make_model: nn.Module | Callable[[], nn.Module],
        make_optimizer: Callable[[Any], torch.optim.Optimizer],
        loss_fn: Callable[..., torch.Tensor],
        train_data: Any,
        val_data: Any = None,
        *,
        metrics: Any = "auto",
        seed: int | None = None,
        progress: bool | None = None,
        device: str | torch.device | None = None,
        grad_clip: float | None = None,
    ) -> Any:
        """Train with this recipe (``Trainer.fit_one_cycle``) and return the History.

        ``make_model`` is a factory (called with torch seeded by ``seed``, default the
        recipe's, so it starts from the weights the searches saw) or a model, which is
        then trained in place. ``metrics="auto"`` adds accuracy for integer class
        targets. The recipe is recorded in ``history.meta["recipe"]``.
        """
        from ..train import Trainer

        seed = self.seed if seed is None else check_int("seed", seed, 0)
        train = _as_tensors("train_data", train_data)
        val = None if val_data is None else _as_tensors("val_data", val_data)
        model = resolve_model(make_model, seed)
        opt = _WithWeightDecay(make_optimizer, self.weight_decay)(model)
        tl, vl = _loaders(train, val, self.batch_size, self.eval_batch_size, seed)
        trainer = Trainer(model, loss_fn, opt, tl, val_loader=vl,
                          metrics=_auto_metrics(metrics, train[1]), progress=progress, seed=seed,
                          device=device, grad_clip=grad_clip)
        hist = trainer.fit_one_cycle(self.epochs, self.max_lr, **self.schedule_options())
        hist.meta["recipe"] = self.to_dict(evidence=False)
        return hist

    # -- JSON -----------------------------------------------------------------
    def to_dict(self, evidence: bool = True) -> dict[str, Any]:
        """A strict-JSON dict (``evidence=False`` leaves the evidence out)."""
        d: dict[str, Any] = {"format": _FORMAT, "version": 1}
        for k in self.__dataclass_fields__:
            if k == "evidence" and not evidence:
                continue
            d[k] = getattr(self, k)
        return json_clean(d)

    @classmethod
    def from_dict(cls, d: dict[str, Any] | str) -> Recipe:
        """Inverse of :meth:`to_dict` (a JSON string is accepted)."""
        if isinstance(d, str):
            d = json.loads(d)
        if not isinstance(d, dict) or d.get("format") != _FORMAT:
            raise ValueError("not a recipe: expected a dict with format='onecycle.recipe'")
        if int(d.get("version", 1)) > 1:
            raise ValueError(f"recipe version {d['version']} is newer than this onecycle reads")
        kw = {k: d[k] for k in cls.__dataclass_fields__ if k in d}
        if kw.get("momentum") is not None:
            kw["momentum"] = tuple(kw["momentum"])
        return cls(**kw)

    def to_json(self, indent: int | None = 1) -> str:
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the recipe (with its evidence) as JSON, atomically."""
        return write_json_atomic(path, self.to_dict())

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Recipe:
        """Read a recipe written by :meth:`save`."""
        with open(path, encoding="utf-8") as fh:
            return cls.from_dict(json.load(fh))

    def __repr__(self) -> str:
        return (f"Recipe(batch_size={self.batch_size}, max_lr={self.max_lr:.3g}, "
                f"weight_decay={fmt(self.weight_decay)}, momentum={fmt(self.momentum)}, "
                f"epochs={self.epochs}, style={self.style!r})")


# ----------------------------------------------------------------------------- recipe()


def _default_batch_candidates(n_train: int, min_steps: int, epochs: int = 1,
                              min_iterations: int = 0) -> list[int]:
    cap = max(1, n_train // min_steps)
    if min_iterations > 0:
        # a short budget must still give the cycle enough iterations, but never below
        # 32: range tests on smaller batches are dominated by gradient noise (a digits
        # MLP at batch 8 got max LRs 2-3x too high and trained to 0.1-0.8 accuracy)
        cap = min(cap, max(32, n_train * epochs // min_iterations))
    cands = [b for b in (2**k for k in range(3, 16)) if b <= cap]
    return cands or [cap]


def recipe(
    make_model: nn.Module | Callable[[], nn.Module],
    make_optimizer: Callable[[Any], torch.optim.Optimizer],
    loss_fn: Callable[..., torch.Tensor],
    train_data: Any,
    val_data: Any,
    *,
    budget_epochs: int,
    batch_size: int | None = None,
    seed: int = 0,
    quick: bool = False,
    progress: bool | None = None,
    workers: int = 1,
    style: str = "smith",
    weight_decays: Sequence[float] | None = None,
    momentum_pairs: Sequence[Any] | None = None,
    min_steps_per_epoch: int = 20,
    min_iterations: int = 1000,
    memory_budget: int | str | None = None,
    metrics: Any = "auto",
    confirm_epochs: int | None = None,
) -> Recipe:
    """Find a complete 1cycle configuration: batch size -> LR -> weight decay -> momentum.

    Args:
        make_model: a zero-argument model factory (or a model, never modified).
        make_optimizer: ``make_optimizer(model) -> Optimizer`` (or an optimizer class /
            partial); its weight decay and momentum are what the searches vary.
        loss_fn: ``loss_fn(outputs, targets) -> scalar``.
        train_data, val_data: ``TensorDataset``s or ``(inputs, targets)`` tensor pairs
            (loaders are built with :class:`onecycle.data.TensorLoader`).
        budget_epochs: the length of the final cycle.
        batch_size: fix the batch size (None: :func:`batch_size_search`, with candidates
            capped so that an epoch has at least ``min_steps_per_epoch`` iterations and
            the whole budget at least ``min_iterations``, never below 32: the largest
            batch that fits in memory would leave a short budget a few dozen steps,
            too few for the warm-up and the annihilation to do their work).
        seed: the seed of every trial (and of :meth:`Recipe.train`).
        quick: smaller searches (4 weight decays without
            refinement, 2 momentum pairs): for tests and first looks.
        progress: tqdm bars (default: only on a terminal).
        workers: processes for the weight-decay and momentum trials.
        style: the 1cycle style of the recipe (``"smith"``, ``"fastai"``, ``"torch"``).
        weight_decays, momentum_pairs: override the grids.
        memory_budget: for the batch-size search (default: available memory).
        metrics: Trainer metrics for the momentum runs (``"auto"``: accuracy for
            integer class targets).
        confirm_epochs: the length of the 1cycle runs that decide the weight decay
            below the range tests' bound and the momentum pair (default: a quarter of
            the budget, rounded up).
            Weight decay acts per step, so its cost grows with the run: on a 10-epoch
            Fashion-MNIST budget at batch 512, one-epoch runs (105 steps) chose 1e-2 on
            two seeds of five, and those trainings lost 1.6 and 1.4 points against
            torch's defaults at the same LR.

    Returns:
        a :class:`Recipe`; ``recipe.train(make_model, make_optimizer, loss_fn,
        train_data, val_data)`` runs it.
    """
    from ..finder import lr_find
    from ..hyper import adapter_for
    from .batch_size import batch_size_search
    from .momentum import momentum_search
    from .weight_decay import DEFAULT_WEIGHT_DECAYS, weight_decay_search

    budget_epochs = check_int("budget_epochs", budget_epochs, 1)
    seed = check_int("seed", seed, 0)
    min_steps_per_epoch = check_int("min_steps_per_epoch", min_steps_per_epoch, 1)
    min_iterations = check_int("min_iterations", min_iterations, 0)
    if confirm_epochs is None:
        confirm_epochs = default_confirm_epochs(budget_epochs)
    confirm_epochs = check_int("confirm_epochs", confirm_epochs, 1)
    if style not in ("smith", "fastai", "torch"):
        raise ValueError(f"style must be 'smith', 'fastai' or 'torch', got {style!r}")
    train = _as_tensors("train_data", train_data)
    val = _as_tensors("val_data", val_data)
    base = resolve_model(make_model, seed)
    # quick keeps full-length range tests: 50-iteration sweeps put the loss minimum
    # 1.3-1.7x too high (digits MLP, measured) and 1cycle runs at such an LR collapsed
    num_iter = 100
    evidence: dict[str, Any] = {}
    stages = ["batch size", "LR range test", "weight decay", "momentum"]
    bar = None
    if want_progress(progress):
        from tqdm import tqdm

        bar = tqdm(total=len(stages), desc="recipe", leave=False)

    def done(stage: str) -> None:
        if bar is not None:
            bar.set_postfix_str(stage, refresh=False)
            bar.update(1)

    try:
        # 1. batch size
        eval_bs: int | None = None
        if batch_size is None:
            cands = _default_batch_candidates(len(train[0]), min_steps_per_epoch,
                                              budget_epochs, min_iterations)
            n = min(len(train[0]), 256)
            bs_res = batch_size_search(
                base, (train[0][:n], train[1][:n]), loss_fn=loss_fn, candidates=cands,
                memory_budget=memory_budget, measure_throughput=not quick, throughput_iters=2,
                seed=seed, progress=False,
            )
            batch_size, eval_bs = bs_res.train_batch_size, bs_res.eval_batch_size
            ev = bs_res.to_dict()
            ev["reason"] = (bs_res.reason + f" Candidates were capped at {cands[-1]} so that an "
                            f"epoch of {len(train[0])} samples has at least "
                            f"{min_steps_per_epoch} iterations and {budget_epochs} epochs "
                            f"at least {min_iterations}.")
            evidence["batch_size"] = ev
        else:
            batch_size = check_int("batch_size", batch_size, 1)
            evidence["batch_size"] = {"value": batch_size, "reason": "given by the caller"}
        done("batch size")
        tl, vl = _loaders(train, val, batch_size, eval_bs, seed)
        lr_opts = {"num_iter": num_iter, "start_lr": 1e-5, "end_lr": 10.0}

        with guarded(tl, vl):
            # 2. LR range test with the optimizer as built
            net = copy.deepcopy(base)
            opt = build_optimizer(make_optimizer, net)
            ad = adapter_for(opt)
            res = lr_find(net, opt, loss_fn, tl, seed=seed, restore=False, progress=False,
                          **lr_opts)
            sug = res.suggest()
            if sug.lr is None:
                alt = res.suggest("minimum")
                if alt.lr is None:
                    raise ValueError(
                        f"the LR range test found no usable learning rate ({sug.reason}); "
                        "check the model, loss and data, or widen the sweep"
                    )
                sug = alt
            max_lr = float(sug.lr)
            evidence["max_lr"] = {
                "value": max_lr, "suggestion": sug.to_dict(),
                "reason": (f"LR range test at batch size {batch_size} ({len(res)} iterations): "
                           f"{sug.reason}"),
                "lrs": res.lrs.tolist(), "losses": res.losses.tolist(),
            }
            del net, opt
            done("LR range test")

            # 3. weight decay
            wd: float | None = None
            if ad.has("weight_decay"):
                grid = (weight_decays if weight_decays is not None
                        else ((1e-3, 1e-4, 1e-5, 0.0) if quick else DEFAULT_WEIGHT_DECAYS))
                wd_res = weight_decay_search(
                    base, make_optimizer, loss_fn, tl, val_loader=vl, grid=grid,
                    refine=0 if quick else 1, seed=seed, workers=workers, progress=progress,
                    **lr_opts,
                )
                wd = float(wd_res.best)
                evidence["weight_decay"] = wd_res.to_dict()
                cands = confirm_candidates(wd_res.values, wd)
                if len(cands) > 1:
                    # the range tests bound the weight decay from above (larger values
                    # cannot train at a high LR); among the winner and the smaller
                    # values they say little, because a 100-iteration sweep is too short
                    # for weight decay to act: a short 1cycle per value decides, a
                    # quarter of the budget long (the decay's cost grows with the steps)
                    from .grid import grid_search

                    confirm = grid_search(
                        "weight_decay", cands, None, base, make_optimizer, loss_fn, tl,
                        val_loader=vl, mode="short_cycle", epochs=confirm_epochs, max_lr=max_lr,
                        schedule={"style": style}, seed=seed,
                        metrics=_auto_metrics(metrics, train[1]), workers=workers,
                        progress=progress,
                    )
                    wd = float(confirm.best)
                    evidence["weight_decay"]["confirm"] = confirm.to_dict()
                    evidence["weight_decay"]["value"] = wd
                    evidence["weight_decay"]["reason"] = (
                        f"range tests: {wd_res.reason} That is the upper bound; "
                        f"{confirm_epochs} epoch(s) of 1cycle at max_lr {max_lr:.3g} for each "
                        f"of {', '.join(fmt(v) for v in cands)} then decided (a 100-iteration "
                        f"sweep is too short for weight decay to act): {confirm.reason}")
                chosen_lr = wd_res.row(wd).get("suggested_lr")
                if chosen_lr is not None:
                    evidence["max_lr"]["value"] = max_lr = float(chosen_lr)
                    evidence["max_lr"]["reason"] += (
                        f"; final max_lr {max_lr:.3g} read from the range test at the chosen "
                        f"weight decay {fmt(wd)}")
            else:
                evidence["weight_decay"] = {
                    "value": None, "reason": f"{ad.family} has no weight decay"}
            done("weight decay")

            # 4. momentum
            pair: tuple[float, float] | None = None
            if ad.has("momentum"):
                pairs = (momentum_pairs if momentum_pairs is not None
                         else (((0.95, 0.85), (0.9, 0.8)) if quick else None))
                m_res = momentum_search(
                    base, _WithWeightDecay(make_optimizer, wd), loss_fn, tl, vl, max_lr=max_lr,
                    pairs=pairs, epochs=confirm_epochs, schedule={"style": style}, seed=seed,
                    metrics=_auto_metrics(metrics, train[1]), workers=workers,
                    progress=progress,
                )
                pair = tuple(m_res.best)  # type: ignore[assignment]
                evidence["momentum"] = m_res.to_dict()
            else:
                evidence["momentum"] = {"value": None,
                                        "reason": f"{ad.family} has no momentum to cycle"}
            done("momentum")
    finally:
        if bar is not None:
            bar.close()
    return Recipe(batch_size=batch_size, max_lr=max_lr, weight_decay=wd, momentum=pair,
                  epochs=budget_epochs, style=style, eval_batch_size=eval_bs, seed=seed,
                  evidence=evidence)
