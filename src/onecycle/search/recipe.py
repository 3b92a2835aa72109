"""The whole disciplined approach in one call: :func:`recipe` -> :class:`Recipe`.

The searches are chained in Smith's order, each one a step of
:mod:`onecycle.search.steps` (the same steps ``onecycle run`` uses):

1. **batch size**: the largest that fits in memory (:func:`batch_size_search`), capped so
   that an epoch still has ``min_steps_per_epoch`` iterations;
2. **learning rate**: an LR range test at that batch size;
3. **weight decay**: one range test per weight decay bounds it from above (Smith's
   rule: the largest value that still trains at a high LR); short 1cycle runs (a
   quarter of the budget, rounded up) for the winner and the smaller values (at most
   4) then decide by validation loss, because in a 100-iteration sweep the decay
   shrinks the weights by well under 1 % and cannot show its cost; the max LR is then
   read from the chosen weight decay's curve;
4. **momentum**: short 1cycle runs per momentum pair (:func:`momentum_search`), as long
   as the weight-decay runs: one-epoch runs are still in the fast-learning phase, where
   the most aggressive pair wins (see docs/searches.md for the measurements).

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

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from .._format import fmt_lr, fmt_value
from .._io import JSONFile, loads_json
from .._validate import choice, integer, positive
from .._validate import seed as check_seed
from ..step import check_grad_clip
from .factories import (
    LossFn,
    MakeOptimizer,
    ModelLike,
    WithWeightDecay,
    as_tensors,
    auto_metrics,
    build_optimizer,
    initial_model,
    tensor_loaders,
)
from .options import SearchOptions, refuse_leftovers, take_options
from .rules import default_confirm_epochs
from .steps import Problem, RangeTest, momentum_step, range_test, weight_decay_step

__all__ = ["Recipe", "RecipeOptions", "recipe"]

# ----------------------------------------------------------------------------- Recipe


@dataclass(eq=False)
class Recipe(JSONFile, format="onecycle.recipe", what="a recipe"):
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
    >>> Recipe.from_dict(r.to_json()).schedule_options()["momentum"]
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
        from ..schedule import STYLES

        self.batch_size = integer("batch_size", self.batch_size, least=1)
        self.epochs = integer("epochs", self.epochs, least=1)
        self.max_lr = positive("max_lr", self.max_lr)
        if self.momentum is not None:
            self.momentum = (float(self.momentum[0]), float(self.momentum[1]))
        ref = STYLES[choice("style", self.style, tuple(STYLES))]
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

        return OneCycleSchedule(self.epochs * integer("steps_per_epoch", steps_per_epoch, least=1),
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
            f"max_lr {fmt_lr(self.max_lr)} (div {fmt_value(self.div)}, final_div "
            f"{fmt_value(self.final_div)}), momentum {fmt_value(self.momentum)}, weight decay "
            f"{fmt_lr(self.weight_decay)}",
        ]
        lines += [f"- {k}: {v}" for k, v in self.reasons.items() if v]
        return "\n".join(lines)

    def train(
        self,
        make_model: ModelLike,
        make_optimizer: MakeOptimizer,
        loss_fn: LossFn,
        train_data: Any,
        val_data: Any = None,
        *,
        metrics: Any = "auto",
        seed: int | None = None,
        progress: bool | None = None,
        device: str | torch.device | None = None,
        grad_clip: float | str | None = None,
    ) -> Any:
        """Train with this recipe (``Trainer.fit_one_cycle``) and return the History.

        ``make_model`` is a factory (called with torch seeded by ``seed``, default the
        recipe's, so it starts from the weights the searches saw) or a model, which is
        then trained in place. ``metrics="auto"`` adds accuracy for integer class
        targets. The recipe is recorded in ``history.meta["recipe"]``.
        """
        from ..train import Trainer

        seed = self.seed if seed is None else check_seed("seed", seed)
        train = as_tensors("train_data", train_data)
        val = None if val_data is None else as_tensors("val_data", val_data)
        model = initial_model(make_model, seed)
        opt = WithWeightDecay(make_optimizer, self.weight_decay)(model)
        tl, vl = tensor_loaders(train, val, self.batch_size, self.eval_batch_size, seed)
        trainer = Trainer(model, loss_fn, opt, tl, val_loader=vl,
                          metrics=auto_metrics(metrics, train[1]), progress=progress, seed=seed,
                          device=device, grad_clip=grad_clip)
        hist = trainer.fit_one_cycle(self.epochs, self.max_lr, **self.schedule_options())
        hist.meta["recipe"] = self.to_dict(evidence=False)
        return hist

    # -- JSON (save/load/to_json: onecycle._io.JSONFile) ------------------------
    def to_dict(self, evidence: bool = True) -> dict[str, Any]:
        """A strict-JSON dict (``evidence=False`` leaves the evidence out)."""
        d = super().to_dict()
        if not evidence:
            del d["evidence"]
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | str) -> Recipe:
        """Inverse of :meth:`to_dict` (a JSON string is accepted)."""
        return super().from_dict(loads_json(d, cls.json_what) if isinstance(d, str) else d)

    def __repr__(self) -> str:
        return (f"Recipe(batch_size={self.batch_size}, max_lr={fmt_lr(self.max_lr)}, "
                f"weight_decay={fmt_lr(self.weight_decay)}, momentum={fmt_value(self.momentum)}, "
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


@dataclass(frozen=True)
class RecipeOptions:
    """The settings of :func:`recipe` besides the budget, the batch size and the seed.

    Attributes:
        style: the 1cycle style of the recipe (``"smith"``, ``"fastai"``, ``"torch"``).
        weight_decays, momentum_pairs: override the grids.
        min_steps_per_epoch, min_iterations: cap the batch-size candidates so that an
            epoch has at least ``min_steps_per_epoch`` iterations and the whole budget
            at least ``min_iterations``, never below 32: the largest batch that fits in
            memory would leave a short budget a few dozen steps, too few for the
            warm-up and the annihilation to do their work.
        memory_budget: for the batch-size search (default: available memory).
        metrics: Trainer metrics for the short runs (``"auto"``: accuracy for integer
            class targets).
        confirm_epochs: the length of the 1cycle runs that decide the weight decay below
            the range tests' bound and the momentum pair (default: a quarter of the
            budget, rounded up): weight decay acts per step, so its cost grows with the
            run, and one-epoch runs favour the most aggressive momentum pair.
        workers: processes for the weight-decay and momentum trials.
        progress: see :mod:`onecycle.progress`.
        grad_clip: the Trainer's clipping in every trial (a number, ``"auto"`` or None;
            range tests leave ``"auto"`` out); pass the same to :meth:`Recipe.train`.

    >>> RecipeOptions(style="fastai").style
    'fastai'
    """

    style: str = "smith"
    weight_decays: Sequence[float] | None = None
    momentum_pairs: Sequence[Any] | None = None
    min_steps_per_epoch: int = 20
    min_iterations: int = 1000
    memory_budget: int | str | None = None
    metrics: Any = "auto"
    confirm_epochs: int | None = None
    workers: int = 1
    progress: Any = None
    grad_clip: float | str | None = None

    def __post_init__(self) -> None:
        choice("style", self.style, ("smith", "fastai", "torch"))
        object.__setattr__(self, "grad_clip", check_grad_clip(self.grad_clip))
        integer("min_steps_per_epoch", self.min_steps_per_epoch, least=1)
        integer("min_iterations", self.min_iterations, least=0)
        if self.confirm_epochs is not None:
            integer("confirm_epochs", self.confirm_epochs, least=1)


_RECIPE_FIELDS = tuple(RecipeOptions.__dataclass_fields__)
# quick keeps full-length range tests: 50-iteration sweeps put the loss minimum 1.3-1.7x
# too high on a digits MLP and 1cycle runs at such an LR collapsed
_SWEEP = SearchOptions(num_iter=100, start_lr=1e-5, end_lr=10.0)


def _batch_stage(base: nn.Module, train: Any, loss_fn: Any, budget_epochs: int,
                 batch_size: int | None, o: RecipeOptions, quick: bool,
                 seed: int) -> tuple[int, int | None, dict[str, Any]]:
    from .batch_size import batch_size_search

    if batch_size is not None:
        batch_size = integer("batch_size", batch_size, least=1)
        return batch_size, None, {"value": batch_size, "reason": "given by the caller"}
    cands = _default_batch_candidates(len(train[0]), o.min_steps_per_epoch, budget_epochs,
                                      o.min_iterations)
    n = min(len(train[0]), 256)
    res = batch_size_search(base, (train[0][:n], train[1][:n]), loss_fn=loss_fn,
                            candidates=cands, memory_budget=o.memory_budget,
                            measure_throughput=not quick, throughput_iters=2, seed=seed,
                            progress=False)
    ev = res.to_dict()
    ev["reason"] = (res.reason + f" Candidates were capped at {cands[-1]} so that an epoch of "
                    f"{len(train[0])} samples has at least {o.min_steps_per_epoch} iterations "
                    f"and {budget_epochs} epochs at least {o.min_iterations}.")
    return res.train_batch_size, res.eval_batch_size, ev


def _lr_stage(problem: Problem, batch_size: int, budget_epochs: int,
              style: str) -> tuple[RangeTest, dict[str, Any]]:
    import dataclasses

    budget = budget_epochs * max(len(problem.train_loader), 1)
    sweep = dataclasses.replace(_SWEEP, budget=budget, budget_style=style)
    first = range_test(problem, sweep, fallback=("minimum",))
    if first.max_lr is None:
        raise ValueError(
            f"the LR range test found no usable learning rate ({first.suggestion.reason}); "
            "check the model, loss and data, or widen the sweep"
        )
    res = first.curve
    ev = {"value": first.max_lr, "suggestion": first.suggestion.to_dict(),
          "reason": (f"LR range test at batch size {batch_size} ({len(res)} iterations): "
                     f"{first.suggestion.reason}"),
          "lrs": res.lrs.tolist(), "losses": res.losses.tolist()}
    return first, ev


def _wd_stage(problem: Problem, first: RangeTest, o: RecipeOptions, quick: bool, epochs: int,
              evidence: dict[str, Any]) -> tuple[float, float]:
    from .weight_decay import DEFAULT_WEIGHT_DECAYS

    max_lr = float(first.max_lr)  # type: ignore[arg-type]
    grid = (o.weight_decays if o.weight_decays is not None
            else ((1e-3, 1e-4, 1e-5, 0.0) if quick else DEFAULT_WEIGHT_DECAYS))
    choice_ = weight_decay_step(problem, grid, max_lr=max_lr, confirm_epochs=epochs,
                                schedule={"style": o.style}, refine=0 if quick else 1,
                                options=_SWEEP)
    ev = choice_.search.to_dict()
    if choice_.confirm is not None:
        ev.update(confirm=choice_.confirm.to_dict(), value=choice_.value, reason=choice_.reason)
    evidence["weight_decay"] = ev
    if choice_.max_lr is not None:
        evidence["max_lr"]["value"] = max_lr = float(choice_.max_lr)
        evidence["max_lr"]["reason"] += (
            f"; final max_lr {fmt_lr(max_lr)} read from the range test at the chosen weight "
            f"decay {fmt_lr(choice_.value)}")
    return choice_.value, max_lr


def _momentum_stage(problem: Problem, ad: Any, max_lr: float, wd: float | None,
                    o: RecipeOptions, quick: bool, epochs: int) -> tuple[Any, dict[str, Any]]:
    if not ad.has("momentum"):
        return None, {"value": None, "reason": f"{ad.family} has no momentum to cycle"}
    pairs = (o.momentum_pairs if o.momentum_pairs is not None
             else (((0.95, 0.85), (0.9, 0.8)) if quick else None))
    res = momentum_step(problem, max_lr, wd, pairs=pairs, epochs=epochs,
                        schedule={"style": o.style})
    return tuple(res.best), res.to_dict()


def recipe(
    make_model: ModelLike,
    make_optimizer: MakeOptimizer,
    loss_fn: LossFn,
    train_data: Any,
    val_data: Any,
    *,
    budget_epochs: int,
    batch_size: int | None = None,
    seed: int = 0,
    quick: bool = False,
    options: RecipeOptions | None = None,
    **settings: Any,
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
        batch_size: fix the batch size (None: :func:`batch_size_search`, with the
            candidates capped as :class:`RecipeOptions` says).
        seed: the seed of every trial (and of :meth:`Recipe.train`).
        quick: smaller searches (4 weight decays without refinement, 2 momentum pairs):
            for tests and first looks.
        options, **settings: a :class:`RecipeOptions` and/or its fields (``style``,
            ``weight_decays``, ``momentum_pairs``, ``min_steps_per_epoch``,
            ``min_iterations``, ``memory_budget``, ``metrics``, ``confirm_epochs``,
            ``workers``, ``progress``, ``grad_clip``).

    Returns:
        a :class:`Recipe`; ``recipe.train(make_model, make_optimizer, loss_fn,
        train_data, val_data)`` runs it.
    """
    from ..hyper import adapter_for
    from ..progress import Progress

    o = take_options(RecipeOptions, settings, options, _RECIPE_FIELDS)
    refuse_leftovers("recipe", settings)
    budget_epochs = integer("budget_epochs", budget_epochs, least=1)
    seed = check_seed("seed", seed)
    epochs = o.confirm_epochs if o.confirm_epochs is not None else default_confirm_epochs(
        budget_epochs)
    train, val = as_tensors("train_data", train_data), as_tensors("val_data", val_data)
    base = initial_model(make_model, seed)
    ad = adapter_for(build_optimizer(make_optimizer, base))
    evidence: dict[str, Any] = {}
    with Progress(4, "recipe", progress=o.progress) as bar:
        batch_size, eval_bs, evidence["batch_size"] = _batch_stage(
            base, train, loss_fn, budget_epochs, batch_size, o, quick, seed)
        bar.update(1, stage="batch size")
        tl, vl = tensor_loaders(train, val, batch_size, eval_bs, seed)
        problem = Problem(base, make_optimizer, loss_fn, tl, vl, seed=seed,
                    metrics=auto_metrics(o.metrics, train[1]), workers=o.workers,
                    progress=o.progress, grad_clip=o.grad_clip)
        first, evidence["max_lr"] = _lr_stage(problem, batch_size, budget_epochs, o.style)
        max_lr = float(first.max_lr)  # type: ignore[arg-type]
        bar.update(1, stage="LR range test")
        wd: float | None = None
        if ad.has("weight_decay"):
            wd, max_lr = _wd_stage(problem, first, o, quick, epochs, evidence)
        else:
            evidence["weight_decay"] = {"value": None, "reason": f"{ad.family} has no weight decay"}
        bar.update(1, stage="weight decay")
        pair, evidence["momentum"] = _momentum_stage(problem, ad, max_lr, wd, o, quick, epochs)
        bar.update(1, stage="momentum")
    return Recipe(batch_size=batch_size, max_lr=max_lr, weight_decay=wd, momentum=pair,
                  epochs=budget_epochs, style=o.style, eval_batch_size=eval_bs, seed=seed,
                  evidence=evidence)
