"""Weight decay by snapshot and restart: the paper's cheaper alternative to range tests.

Train one cycle at a middle weight decay, take a snapshot (model and optimizer) when the
validation loss stops improving, and restart a short run from that snapshot with each
weight decay; the best final validation loss wins.

Example:
    >>> plan = SnapshotPlan(middle=1e-3, others=(1e-2, 1e-4))
    >>> plan.values
    [0.001, 0.01, 0.0001]
"""

from __future__ import annotations

import copy
import math
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from .._format import fmt_lr, fmt_value
from .._validate import choice, in_range, integer, real
from ..step import model_device
from .factories import LossFn, MakeOptimizer, ModelLike, build_optimizer, initial_model
from .grid import check_callables, context, default_signal, short_cycle_options
from .options import SearchOptions, refuse_leftovers, take_options
from .results import SearchResult, register_kind
from .rules import pick_short_run, short_run_rows
from .setters import set_weight_decay
from .trials import Trial, TrialContext, guarded, run_trials

__all__ = ["SnapshotPlan", "WeightDecaySnapshotResult", "weight_decay_snapshot_search"]


class WeightDecaySnapshotResult(SearchResult):
    """Result of :func:`weight_decay_snapshot_search`: the restart table (``rows``),
    ``best``, ``runner_up``, ``reason``, ``histories`` (one per restart) and
    ``extra["snapshot"]`` (when and where the snapshot was taken)."""


register_kind("weight_decay_snapshot", WeightDecaySnapshotResult)


@dataclass(frozen=True)
class SnapshotPlan:
    """How the snapshot search runs.

    Attributes:
        middle: the weight decay of the first cycle; others: the other values tried.
        snapshot_at: None: snapshot at the last epoch that improved the validation
            loss (stopping once it has not improved for ``patience`` epochs, by more
            than ``min_delta``); a fraction ``f``: after ``round(f x epochs)`` epochs.
        restart_epochs: length of each restart; restart: ``"constant"`` (at the LR the
            cycle had at the snapshot) or ``"tail"`` (annealing down from it).
    """

    middle: float = 1e-3
    others: Sequence[float] = (1e-2, 3e-3, 3e-4, 1e-4)
    snapshot_at: float | None = None
    patience: int = 1
    min_delta: float = 0.0
    restart_epochs: int = 1
    restart: str = "constant"

    def __post_init__(self) -> None:
        from .weight_decay import check_weight_decays

        mid = check_weight_decays("middle", [self.middle])[0]
        rest = check_weight_decays("others", self.others)
        if any(v == mid for v in rest):
            raise ValueError(f"others must not contain the middle value {mid!r}")
        object.__setattr__(self, "middle", mid)
        object.__setattr__(self, "others", tuple(rest))
        integer("restart_epochs", self.restart_epochs, least=1)
        integer("patience", self.patience, least=1)
        real("min_delta", self.min_delta)
        choice("restart", self.restart, ("constant", "tail"))
        if self.snapshot_at is not None:
            in_range("snapshot_at", self.snapshot_at, 0.0, 1.0, low_open=True)

    @property
    def values(self) -> list[float]:
        """Every weight decay restarted: the middle value first."""
        return [self.middle, *self.others]

    def at_epoch(self, epochs: int) -> int | None:
        """The fixed snapshot epoch for a cycle of ``epochs`` (None: on plateau)."""
        return None if self.snapshot_at is None else max(1, round(self.snapshot_at * epochs))


_PLAN_FIELDS = tuple(SnapshotPlan.__dataclass_fields__)
_FIELDS = ("epochs", "max_lr", "schedule", "metrics", "select", "grad_clip", "num_iter",
           "start_lr", "end_lr", "lr_find_kw", "method", "seed", "workers", "progress",
           "step_fn")


class _Snapshotter:
    """Trainer callback: snapshot at the last improvement of the validation loss and stop
    once it has not improved for ``patience`` epochs (or snapshot at a fixed epoch)."""

    def __init__(self, at_epoch: int | None, patience: int, min_delta: float) -> None:
        self.at_epoch = at_epoch
        self.patience = patience
        self.min_delta = min_delta
        self.best = math.inf
        self.wait = 0
        self.snapshot: dict[str, Any] | None = None
        self.how = ""

    def _take(self, trainer: Any, epoch: int, record: dict[str, Any]) -> None:
        from ..hyper import adapter_for

        g0 = trainer.optimizer.param_groups[0]
        ad = adapter_for(trainer.optimizer)
        self.snapshot = {
            "model": {k: v.detach().to("cpu", copy=True)
                      for k, v in trainer.model.state_dict().items()},
            "optimizer": copy.deepcopy(trainer.optimizer.state_dict()),
            "epoch": epoch,
            "iteration": int(record.get("iteration", 0)),
            "lr": float(g0["lr"]),
            "momentum": ad.get(g0, "momentum") if ad.has("momentum") else None,
            "val_loss": record.get("val_loss"),
        }

    def on_epoch_end(self, trainer: Any, epoch: int, record: dict[str, Any]) -> None:
        from ..train import StopTraining

        if self.at_epoch is not None:
            if epoch + 1 >= self.at_epoch:
                self._take(trainer, epoch, record)
                self.how = f"at a fixed point: after epoch {epoch + 1} of the cycle"
                raise StopTraining("snapshot taken")
            return
        v = record.get("val_loss")
        v = math.inf if v is None or not math.isfinite(v) else float(v)
        if v < self.best - self.min_delta:
            self.best = v
            self.wait = 0
            self._take(trainer, epoch, record)
            return
        self.wait += 1
        if self.wait >= self.patience:
            self.how = (f"when the validation loss stopped improving (no improvement for "
                        f"{self.patience} epoch(s) after epoch {self.snapshot['epoch'] + 1})"
                        if self.snapshot is not None else "")
            raise StopTraining("validation loss stopped improving")


def _middle_run(ctx: TrialContext, o: SearchOptions, plan: SnapshotPlan, copts: dict[str, Any],
                max_lr: float) -> tuple[Any, _Snapshotter]:
    """The cycle at the middle weight decay, with the snapshot taken on the way."""
    from ..train import Callback, DivergenceGuard, DivergenceWarning, Trainer

    net = copy.deepcopy(ctx.model)
    opt = build_optimizer(ctx.make_optimizer, net)
    set_weight_decay(net, opt, plan.middle)
    snap = _Snapshotter(plan.at_epoch(copts["epochs"]), plan.patience, plan.min_delta)

    class _CB(Callback):
        def on_epoch_end(self, trainer: Any, epoch: int, record: dict[str, Any]) -> None:
            snap.on_epoch_end(trainer, epoch, record)

    if ctx.loader_epoch is not None and hasattr(ctx.train_loader, "set_epoch"):
        ctx.train_loader.set_epoch(ctx.loader_epoch)
    trainer = Trainer(net, ctx.loss_fn, opt, ctx.train_loader, val_loader=ctx.val_loader,
                      metrics=ctx.metrics, grad_clip=ctx.grad_clip, device=model_device(net),
                      progress=o.progress, seed=ctx.seed, callbacks=[_CB()],
                      divergence_guard=DivergenceGuard(action="warn"), step_fn=ctx.step_fn)
    schedule = {k: v for k, v in copts.items() if k not in ("epochs", "max_lr")}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DivergenceWarning)
        hist = trainer.fit_one_cycle(copts["epochs"], max_lr, **schedule)
    if snap.snapshot is None:
        raise RuntimeError(
            f"the middle run (weight_decay={fmt_value(plan.middle)}) never produced a finite "
            "validation loss, so there is no snapshot to restart from; lower max_lr"
        )
    return hist, snap


def weight_decay_snapshot_search(
    model: ModelLike,
    make_optimizer: MakeOptimizer,
    loss_fn: LossFn,
    train_loader: Iterable[Any],
    val_loader: Iterable[Any],
    *,
    plan: SnapshotPlan | None = None,
    options: SearchOptions | None = None,
    **settings: Any,
) -> WeightDecaySnapshotResult:
    """Weight decay by snapshot and restart (the paper's cheaper alternative).

    1. Train one cycle of ``epochs`` epochs (default 4) at ``max_lr`` (None: found by a
       range test) with weight decay ``middle``, taking a snapshot (model and
       optimizer state) as :class:`SnapshotPlan` says.
    2. From that snapshot, train ``restart_epochs`` epochs with each weight decay of
       ``[middle, *others]`` (the middle value too, so that every value gets the same
       restart), at constant LR or annealing down (``restart``).
    3. The weight decay with the best final ``select`` (default: validation loss) wins.

    ``plan`` / ``options`` and their fields as keywords (``middle``, ``others``,
    ``snapshot_at``, ``patience``, ``min_delta``, ``restart_epochs``, ``restart``;
    ``epochs``, ``max_lr``, ``schedule``, ``metrics``, ``select``, ``grad_clip``, the
    range-test fields, ``seed``, ``workers``, ``progress``).

    Returns a :class:`WeightDecaySnapshotResult` (``rows``, ``best``,
    ``reason``, ``plot()``: validation-loss bars).

    >>> # res = weight_decay_snapshot_search(model, make_opt, loss, train, val, max_lr=0.5)
    """
    plan = take_options(SnapshotPlan, settings, plan, _PLAN_FIELDS)
    o = SearchOptions.take(settings, options, "weight_decay_snapshot_search", _FIELDS)
    refuse_leftovers("weight_decay_snapshot_search", settings)
    if val_loader is None:
        raise ValueError("weight_decay_snapshot_search needs a val_loader (it compares "
                         "validation losses)")
    check_callables(make_optimizer, loss_fn, o.step_fn)
    signal = default_signal(val_loader, o.select)
    base = initial_model(model, o.seed)
    with guarded(train_loader, val_loader):
        ctx = context(base, make_optimizer, loss_fn, train_loader, val_loader, o)
        copts, extra = short_cycle_options(ctx, o, 4, [("weight_decay", set_weight_decay,
                                                        plan.middle)])
        middle_hist, snap = _middle_run(ctx, o, plan, copts, copts["max_lr"])
        s = snap.snapshot
        assert s is not None
        start = copy.deepcopy(base)
        start.load_state_dict(s["model"])
        rctx = TrialContext(start, make_optimizer, loss_fn, train_loader, val_loader, o.seed,
                            o.metrics, o.grad_clip, ctx.loader_epoch,
                            optimizer_state=s["optimizer"], step_fn=o.step_fn)
        ropts = {"epochs": plan.restart_epochs, "lr": s["lr"], "schedule": plan.restart}
        trials = [Trial("restart", "weight_decay", v,
                        [("weight_decay", set_weight_decay, v)], dict(ropts))
                  for v in plan.values]
        outs = run_trials(rctx, trials, workers=o.workers, progress=o.progress,
                          desc="weight_decay restarts")
    how = snap.how or (f"at the best epoch ({s['epoch'] + 1}): the validation loss "
                       f"improved until the end of the {len(middle_hist)}-epoch run")
    return _result(plan, o, copts, extra, s, how, middle_hist, outs, signal)


def _result(plan: SnapshotPlan, o: SearchOptions, copts: dict[str, Any], extra: dict[str, Any],
            s: dict[str, Any], how: str, middle_hist: Any, outs: list[dict[str, Any]],
            signal: str) -> Any:
    from ..train import History

    values = plan.values
    rows, scores = short_run_rows(values, outs, signal)
    for r in rows:
        r["weight_decay"] = r["value"]
    lr_txt = (f"at constant lr {fmt_lr(s['lr'])}" if plan.restart == "constant"
              else f"annealing from lr {fmt_lr(s['lr'])}")
    best, runner, reason = pick_short_run(
        "weight_decay", values, rows, scores, signal,
        f"{plan.restart_epochs} epoch(s) restarted from the snapshot {lr_txt}")
    reason = f"Snapshot of the weight_decay={fmt_value(plan.middle)} run taken {how}. " + reason
    extra["snapshot"] = {k: v for k, v in s.items() if k not in ("model", "optimizer")}
    extra["snapshot"]["how"] = how
    extra["middle_history"] = middle_hist.to_dict()
    schedule = {k: v for k, v in copts.items() if k not in ("epochs", "max_lr")}
    config = {"middle": plan.middle, "others": list(plan.others), "epochs": copts["epochs"],
              "max_lr": copts["max_lr"], "snapshot_at": plan.snapshot_at,
              "patience": plan.patience, "min_delta": plan.min_delta,
              "restart_epochs": plan.restart_epochs, "restart": plan.restart, "seed": o.seed,
              "schedule": schedule}
    return WeightDecaySnapshotResult(
        kind="weight_decay_snapshot", param="weight_decay", values=values, mode="snapshot",
        rows=rows, best=best, runner_up=runner, reason=reason,
        rule=("Train one cycle at the middle weight decay, snapshot when the validation loss "
              "stops improving, restart a short run from the snapshot per weight decay; the "
              f"best final {signal} wins."),
        signal=signal, histories=[History.from_dict(o_["history"]) for o_ in outs],
        config=config, extra=extra,
    )
