"""What 1cycle is compared with: one table of alternatives, each LR rule as data.

Every alternative is an :class:`Alternative`: its name and label, the optimizer
families it runs for, the optional package it needs, its :class:`LRRule` (where its
learning rate comes from, by the rule its authors recommend) and how it is built and
trained -- always through the :class:`~onecycle.train.Trainer`, with schedules that are
:class:`~onecycle.scheduler.ParamScheduler` schedules built from the pure pieces of
:mod:`onecycle.schedule` (``fit_one_cycle`` or ``fit_schedule``), never a special case
in the loop. docs/compare.md gives each rule's source.

============== ========================================= ==============================
name           what                                      learning rate
============== ========================================= ==============================
ours           1cycle (smith style), cyclical momentum   the range test's pick
onecycle_torch torch ``OneCycleLR`` defaults             the same max_lr
warmup_cosine  5 % warm-up, cosine to zero               peak = the same max_lr
linear_decay   linear decay to zero (Li et al. 2020)     peak = the same max_lr
wsd            warm-up, stable, 20 % 1-sqrt cooldown     peak = the same max_lr
constant       constant LR                               the range test's minimum
schedulefree   schedule-free SGD / AdamW, 5 % warm-up    SGD 10 x minimum, AdamW max_lr
prodigy        Prodigy (Adam family), cosine annealing   lr = 1 (D-adapted)
============== ========================================= ==============================

Example:
    >>> rule = ALTERNATIVES["schedulefree"].rule
    >>> rule.factor_for("sgd"), rule.factor_for("adam")
    (10.0, 1.0)
    >>> ALTERNATIVES["prodigy"].skip_reason("sgd")
    'Prodigy is an Adam-type method (Adam with D-adapted step sizes): it is compared only when your optimizer is Adam-like, and yours is SGD'
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from ..hyper import optimizer_family
from ..schedule import constant_lr, linear_decay, warmup_cosine, wsd

__all__ = ["LRRule", "LRPick", "Alternative", "ALTERNATIVES", "FAMILIES", "INSTALL_HINT",
           "SCHEDULE_FREE_WARMUP", "optimizer_family", "select"]

#: optimizer families: SGD, the Adam family (momentum is beta1), anything else
FAMILIES = ("sgd", "adam", "other")
_FAMILY_NAMES = {"sgd": "SGD", "adam": "Adam-like", "other": "neither SGD nor Adam-like"}

#: how the optional packages are installed
INSTALL_HINT = "pip install 'onecycle[compare]'"

#: schedule-free's warm-up, a share of the budget: its README recommends a warm-up
#: (``warmup_steps``); 5 % is the share the warm-up + cosine and WSD baselines use
SCHEDULE_FREE_WARMUP = 0.05


@dataclass(frozen=True)
class LRPick:
    """What the range test (or a given ``max_lr``) offers the LR rules, for one seed and
    budget, one value per param group.

    Attributes:
        max_lr: the cycle's peak, from :func:`onecycle.finder.choose_max_lr` (with the
            budget when that rule takes one).
        minimum: the range test's ``"minimum"`` suggestion (the LR at the loss minimum /
            10) at the same group ratios; ``None`` without a range test or a minimum.
        source: ``"range test"`` or ``"given"``.

    >>> LRPick((0.1,), None, "given").base("minimum")
    [0.01]
    """

    max_lr: tuple[float, ...]
    minimum: tuple[float, ...] | None
    source: str = "range test"

    def base(self, name: str) -> list[float]:
        """The LRs a rule starts from: ``"max_lr"``, ``"minimum"`` (``max_lr / 10`` when
        there is none: the fallback of ``onecycle run``'s baseline) or ``"fixed"`` (1 per
        group, at the groups' ratios)."""
        if name == "max_lr":
            return list(self.max_lr)
        if name == "minimum":
            return list(self.minimum) if self.minimum else [v / 10.0 for v in self.max_lr]
        first = self.max_lr[0]
        return [v / first for v in self.max_lr]


def _for(value: Any, family: str, default: Any) -> Any:
    if isinstance(value, Mapping):
        return value.get(family, value.get("other", default))
    return value


@dataclass(frozen=True)
class LRRule:
    """Where an alternative's learning rate comes from: ``factor x`` a base the range
    test gives (:meth:`LRPick.base`), both possibly per optimizer family.

    Attributes:
        base: ``"max_lr"`` (the cycle's peak), ``"minimum"`` (the range test's minimum
            suggestion) or ``"fixed"`` (an LR-free method's own scale: 1); one, or
            ``{family: base}``.
        factor: one number, or ``{family: number}``.
        source: who recommends it, in a few words (docs/compare.md has the details).
        tunable: whether ``tune="grid"`` may replace the rule by a short grid around it.

    >>> LRRule("max_lr", {"sgd": 10.0, "adam": 1.0}).lrs(LRPick((0.02,), None), "sgd")
    [0.2]
    """

    base: str | Mapping[str, str]
    factor: float | Mapping[str, float] = 1.0
    source: str = ""
    tunable: bool = True

    def factor_for(self, family: str) -> float:
        """The multiplier for an optimizer family."""
        return float(_for(self.factor, family, 1.0))

    def base_for(self, family: str) -> str:
        """The base for an optimizer family."""
        return str(_for(self.base, family, "max_lr"))

    def lrs(self, pick: LRPick, family: str) -> list[float]:
        """One LR per param group for this rule."""
        k = self.factor_for(family)
        return [k * v for v in pick.base(self.base_for(family))]

    def describe(self, family: str) -> str:
        """The rule in words.

        >>> LRRule("max_lr", 10.0).describe("sgd"), LRRule("fixed").describe("adam")
        ('10 x max_lr', 'lr = 1')
        """
        k, base = self.factor_for(family), self.base_for(family)
        if base == "fixed":
            return f"lr = {k:g}"
        what = "max_lr" if base == "max_lr" else "the range test's minimum"
        return what if k == 1 else f"{k:g} x {what}"


# ----------------------------------------------------------------------------- building

Fit = Callable[[Any, int, list[float]], Any]
MakeOptimizer = Callable[[torch.optim.Optimizer, list[float], int], torch.optim.Optimizer]


def _one(lrs: list[float]) -> float | list[float]:
    return lrs[0] if len(lrs) == 1 else lrs


def _cycle(style: str | None) -> Fit:
    def fit(trainer: Any, epochs: int, lrs: list[float]) -> Any:
        options = {} if style is None else {"style": style}
        return trainer.fit_one_cycle(epochs, max_lr=_one(lrs), **options)
    return fit


def _scheduled(builder: Callable[..., Any], **kw: Any) -> Fit:
    def fit(trainer: Any, epochs: int, lrs: list[float]) -> Any:
        def table(total: int) -> dict[str, Any]:
            scheds = [builder(total, lr, **kw) for lr in lrs]
            return {"lr": scheds[0] if len(scheds) == 1 else scheds}
        return trainer.fit_schedule(epochs, table)
    return fit


def _groups(template: torch.optim.Optimizer, lrs: list[float], keys: Sequence[str]) -> list[dict]:
    return [{"params": g["params"], "lr": lr, **{k: g[k] for k in keys if k in g}}
            for g, lr in zip(template.param_groups, lrs)]


def _schedule_free(template: torch.optim.Optimizer, lrs: list[float],
                   total: int) -> torch.optim.Optimizer:
    import schedulefree

    warm = max(1, round(SCHEDULE_FREE_WARMUP * total))
    if optimizer_family(template) == "sgd":
        groups = _groups(template, lrs, ("weight_decay",))
        for g, src in zip(groups, template.param_groups):
            # its momentum must lie in (0, 1); an SGD without momentum gets its default
            m = float(src.get("momentum", 0.0))
            g["momentum"] = m if 0.0 < m < 1.0 else 0.9
        return schedulefree.SGDScheduleFree(groups, lr=lrs[0], warmup_steps=warm)
    groups = _groups(template, lrs, ("betas", "eps", "weight_decay"))
    return schedulefree.AdamWScheduleFree(groups, lr=lrs[0], warmup_steps=warm)


def _prodigy(template: torch.optim.Optimizer, lrs: list[float],
             total: int) -> torch.optim.Optimizer:
    from prodigyopt import Prodigy

    decoupled = isinstance(template, torch.optim.AdamW) or bool(
        template.param_groups[0].get("decoupled_weight_decay", False))
    groups = _groups(template, lrs, ("betas", "eps", "weight_decay"))
    with contextlib.redirect_stdout(io.StringIO()):  # it prints a line about weight decay
        return Prodigy(groups, lr=lrs[0], decouple=decoupled)


def _group_lr(trainer: Any) -> float:
    return float(trainer.fit_history.lr[-1])


def _scheduled_lr(trainer: Any) -> float:
    # schedule-free applies its warm-up inside step(): the LR it used is "scheduled_lr"
    return float(trainer.optimizer.param_groups[0]["scheduled_lr"])


def _prodigy_lr(trainer: Any) -> float:
    g = trainer.optimizer.param_groups[0]  # its step size is d x lr (d: the adapted scale)
    return float(g["d"]) * float(g["lr"])


@dataclass(frozen=True)
class Alternative:
    """One schedule (or optimizer) that 1cycle is compared with (see the module docs).

    Attributes:
        name, label: the key of :data:`ALTERNATIVES` and the name shown.
        rule: its :class:`LRRule`.
        fit: ``fit(trainer, epochs, lrs) -> History`` (through ``fit_one_cycle`` or
            ``fit_schedule``).
        make_optimizer: ``make_optimizer(template, lrs, total_steps)`` for alternatives
            that replace the optimizer (built from the user's ``template``'s groups and
            hyper-parameters); ``None`` keeps the user's optimizer.
        families: the optimizer families it runs for.
        needs: the import name of an optional package it needs.
        read_lr: ``read_lr(trainer)`` after a step: the LR that step used (for plots).
        summary: one line for tables.

    >>> ALTERNATIVES["linear_decay"].label
    'linear decay'
    """

    name: str
    label: str
    rule: LRRule
    fit: Fit = field(repr=False)
    make_optimizer: MakeOptimizer | None = field(default=None, repr=False)
    families: tuple[str, ...] = FAMILIES
    needs: str | None = None
    read_lr: Callable[[Any], float] = field(default=_group_lr, repr=False)
    summary: str = ""

    def skip_reason(self, family: str) -> str | None:
        """Why it cannot run for an optimizer of ``family`` here (None: it can)."""
        if family not in self.families:
            if self.name == "prodigy":
                return ("Prodigy is an Adam-type method (Adam with D-adapted step sizes): it "
                        "is compared only when your optimizer is Adam-like, and yours is "
                        f"{_FAMILY_NAMES[family]}")
            return (f"{self.label} has a variant only for SGD and Adam-like optimizers; "
                    f"yours is {_FAMILY_NAMES[family]}")
        if self.needs is not None and importlib.util.find_spec(self.needs) is None:
            return f"needs the package {self.needs!r}: {INSTALL_HINT}"
        return None


_SAME = "the same max_lr as ours (the like-for-like comparison)"

#: Every alternative, in the order reports show them; ``ours`` first.
ALTERNATIVES: dict[str, Alternative] = {a.name: a for a in [
    Alternative("ours", "1cycle (ours)",
                LRRule("max_lr", 1.0, "the range test: onecycle.finder.choose_max_lr",
                       tunable=False),
                _cycle(None), summary="range test -> max_lr -> 1cycle, cyclical momentum"),
    Alternative("onecycle_torch", "OneCycleLR defaults",
                LRRule("max_lr", 1.0, _SAME, tunable=False), _cycle("torch"),
                summary="torch.optim.lr_scheduler.OneCycleLR's defaults, step for step"),
    Alternative("warmup_cosine", "warm-up + cosine", LRRule("max_lr", 1.0, _SAME),
                _scheduled(warmup_cosine), summary="5 % linear warm-up, cosine to zero"),
    Alternative("linear_decay", "linear decay", LRRule("max_lr", 1.0, _SAME),
                _scheduled(linear_decay),
                summary="linear decay to zero over the budget (Li et al., ICLR 2020)"),
    Alternative("wsd", "WSD", LRRule("max_lr", 1.0, _SAME),
                _scheduled(wsd, shape="1-sqrt"),
                summary="5 % warm-up, stable, 20 % 1-sqrt cooldown (Hägele et al. 2024)"),
    Alternative("constant", "constant LR",
                LRRule("minimum", 1.0, "onecycle run's baseline: the LR at the loss "
                       "minimum / 10"), _scheduled(constant_lr),
                summary="one LR throughout"),
    Alternative("schedulefree", "schedule-free",
                LRRule({"sgd": "minimum", "adam": "max_lr"}, {"sgd": 10.0, "adam": 1.0},
                       "schedulefree README: SGD 10-50x classical rates (the fixed-LR rule "
                       "of thumb), AdamW 1-10x the scheduled LR; the low end of each"),
                _scheduled(constant_lr), _schedule_free, families=("sgd", "adam"),
                needs="schedulefree", read_lr=_scheduled_lr,
                summary="Defazio et al. 2024; evaluated in its averaged weights"),
    Alternative("prodigy", "Prodigy",
                LRRule("fixed", 1.0, "prodigyopt README: keep lr = 1; cosine annealing",
                       tunable=False),
                _scheduled(warmup_cosine, warmup=0.0), _prodigy, families=("adam",),
                needs="prodigyopt", read_lr=_prodigy_lr,
                summary="Mishchenko & Defazio 2024: Adam with a D-adapted step size"),
]}


def select(names: Sequence[str] | None, family: str) -> tuple[list[Alternative], dict[str, str]]:
    """The alternatives to run (``names``: ``None`` for all; ``ours`` always runs,
    first) and ``{name: reason}`` for those that cannot run with this optimizer family
    or without their package. An unknown name is a ``ValueError``.

    >>> run, skipped = select(["linear_decay", "prodigy"], "sgd")
    >>> [a.name for a in run], list(skipped)
    (['ours', 'linear_decay'], ['prodigy'])
    """
    if names is None:
        wanted = list(ALTERNATIVES)
    else:
        if isinstance(names, str):
            names = [names]
        unknown = [n for n in names if n not in ALTERNATIVES]
        if unknown:
            raise ValueError(f"alternatives: unknown {unknown[0]!r}; known: "
                             f"{', '.join(ALTERNATIVES)}")
        wanted = ["ours"] + [n for n in ALTERNATIVES if n in names and n != "ours"]
    run, skipped = [], {}
    for n in wanted:
        reason = ALTERNATIVES[n].skip_reason(family)
        if reason is None:
            run.append(ALTERNATIVES[n])
        else:
            skipped[n] = reason
    return run, skipped

