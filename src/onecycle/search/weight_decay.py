"""Weight decay: by range tests (Smith's main method) or by snapshot and restart.

:func:`weight_decay_search` runs the LR range test once per weight decay, every run
from the same initial weights, seed and data order, overlays the curves and picks the
largest weight decay that still lets the network train at a high learning rate
(Smith, "A disciplined approach...", section 4.4). With a ``val_loader`` the early
validation loss measured during each sweep is the signal. ``refine=k`` then bisects
(in log space) ``k`` times between the winner and the next larger value.

:func:`weight_decay_snapshot_search` is the paper's cheaper alternative: train one cycle
at a middle weight decay, take a snapshot when the validation loss stops improving,
and restart short runs from that snapshot with each other weight decay.

Example:
    >>> import torch
    >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
    <torch._C.Generator object at ...>
    >>> x = torch.randn(256, 8); y = (x[:, 0] > 0).long()
    >>> data = [(x[i:i + 32], y[i:i + 32]) for i in range(0, 256, 32)]
    >>> res = weight_decay_search(lambda: torch.nn.Linear(8, 2),
    ...     lambda m: torch.optim.SGD(m.parameters(), lr=0.1, momentum=0.9),
    ...     torch.nn.functional.cross_entropy, data, grid=(1e-3, 1e-4, 0.0), num_iter=30)
    >>> res.best in (1e-3, 1e-4, 0.0), len(res.curves)
    (True, 3)
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import torch
from torch import nn

from ._common import (
    SearchResult,
    Trial,
    TrialContext,
    build_optimizer,
    check_callable,
    check_fraction,
    check_int,
    check_nonnegative,
    check_real,
    check_weight_decays,
    fmt,
    guarded,
    model_device,
    pick_short_run,
    register_kind,
    resolve_model,
    run_trials,
    short_run_rows,
)
from .grid import (
    default_signal,
    finder_options,
    finder_rows,
    rule_text,
    run_finder_grid,
    set_weight_decay,
    short_cycle_options,
)

__all__ = [
    "WeightDecayResult",
    "WeightDecaySnapshotResult",
    "weight_decay_search",
    "weight_decay_snapshot_search",
    "DEFAULT_WEIGHT_DECAYS",
]

#: the default grid: Smith's 1e-2 ... 1e-6, and no weight decay
DEFAULT_WEIGHT_DECAYS: tuple[float, ...] = (1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 0.0)


class WeightDecayResult(SearchResult):
    """Result of :func:`weight_decay_search`.

    ``best`` is the chosen weight decay, ``runner_up`` the next in the ranking,
    ``reason`` the choice in words, ``curves`` one
    :class:`~onecycle.finder.LRFinderResult` per weight decay (aligned with ``values``),
    ``rows`` the numbers read from each curve (``weight_decay``, ``min_loss``,
    ``lr_at_min``, ``lr_diverge``, ``suggested_lr``, ``accepted``, ``selected``, ``why``).
    ``plot()`` overlays the curves with each one's suggestion marked.
    """

    @property
    def suggested_lr(self) -> float | None:
        """The range test's suggested max LR at the chosen weight decay."""
        return self.row(self.best).get("suggested_lr")


class WeightDecaySnapshotResult(SearchResult):
    """Result of :func:`weight_decay_snapshot_search`: the restart table (``rows``),
    ``best``, ``runner_up``, ``reason``, ``histories`` (one per restart) and
    ``extra["snapshot"]`` (when and where the snapshot was taken)."""


register_kind("weight_decay", WeightDecayResult)
register_kind("weight_decay_snapshot", WeightDecaySnapshotResult)


def _setters(v: float) -> list[tuple[str, Callable[..., Any], Any]]:
    return [("weight_decay", set_weight_decay, v)]


def _new_midpoints(tried: Sequence[float], winner: float) -> list[float]:
    """The log-space midpoint between the winner and the next larger value tried.

    The rule takes the largest weight decay that still trains at a high LR, so what a
    refinement can sharpen is the boundary above the winner (the smallest rejected
    value); a midpoint below it would lose to the winner by that same rule.
    """
    grid = sorted(set(tried))
    k = grid.index(winner)
    out: list[float] = []
    if k + 1 < len(grid):
        hi = grid[k + 1]
        out.append(math.sqrt(winner * hi) if winner > 0 else hi / 10.0)
    return [v for v in out if all(not math.isclose(v, t, rel_tol=1e-9, abs_tol=0.0) for t in tried)]


def weight_decay_search(
    model: nn.Module | Callable[[], nn.Module],
    make_optimizer: Callable[[Any], torch.optim.Optimizer],
    loss_fn: Callable[..., torch.Tensor],
    train_loader: Iterable[Any],
    *,
    val_loader: Iterable[Any] | None = None,
    grid: Sequence[float] = DEFAULT_WEIGHT_DECAYS,
    refine: int = 0,
    num_iter: int = 100,
    start_lr: float = 1e-5,
    end_lr: float = 10.0,
    tolerance: float = 0.05,
    lr_slack: float = 0.25,
    lr_find_kw: dict[str, Any] | None = None,
    seed: int = 0,
    workers: int = 1,
    progress: bool | None = None,
) -> WeightDecayResult:
    """Pick the weight decay by LR range tests, one per value, from the same start.

    Args:
        model: the initial model (never modified) or a zero-argument factory.
        make_optimizer: ``make_optimizer(model) -> Optimizer`` (or an optimizer class /
            ``functools.partial`` of one, called with the parameters). Its weight decay
            is overwritten by each grid value (groups kept at 0 stay at 0).
        loss_fn, train_loader: as for :func:`onecycle.finder.lr_find`.
        val_loader: when given, each range test also measures the validation loss along
            the sweep (``val_every``), and that early validation loss is the signal.
        grid: the weight decays (>= 0, non-empty, no duplicates).
        refine: bisect in log space between the winner and the next larger value
            this many times (each round runs one more range test; none when the winner
            is the largest value).
        num_iter, start_lr, end_lr, lr_find_kw: the range tests.
        tolerance, lr_slack: the selection rule (below).
        seed: the seed of every range test (same data order and dropout masks).
        workers: run the range tests in this many spawn processes.
        progress: a tqdm bar over the range tests (default: only on a terminal).

    The rule (Smith's "largest weight decay that still trains at a high learning rate",
    made precise): each curve is smoothed without lag and read for its minimum loss
    and the LR of that minimum. A weight decay qualifies when its minimum is within
    ``max(tolerance x the best curve's descent, 2 x the combined noise)`` of the lowest
    minimum and the LR of its minimum is no more than ``lr_slack`` decades below the
    best curve's. The largest qualifying weight decay wins; ``reason`` says why, and
    why each larger value was rejected.

    >>> # res = weight_decay_search(make_model, make_opt, F.cross_entropy, loader)
    >>> # res.best, res.reason, res.plot()
    """
    values = check_weight_decays("grid", grid)
    refine = check_int("refine", refine, 0)
    check_callable("make_optimizer", make_optimizer, "make_optimizer(model) -> Optimizer")
    check_callable("loss_fn", loss_fn, "loss_fn(outputs, targets) -> loss")
    seed = check_int("seed", seed, 0)
    check_nonnegative("tolerance", tolerance)
    check_nonnegative("lr_slack", lr_slack)
    base = resolve_model(model, seed)
    opts = finder_options(num_iter, start_lr, end_lr, val_loader is not None, lr_find_kw)
    with guarded(train_loader, val_loader):
        ctx = TrialContext(base, make_optimizer, loss_fn, train_loader, val_loader, seed,
                           loader_epoch=getattr(train_loader, "epoch", None))
        # fail early (before any range test) on an optimizer without weight decay
        probe = build_optimizer(make_optimizer, copy.deepcopy(base))
        from ..hyper import adapter_for

        if not adapter_for(probe).has("weight_decay"):
            raise ValueError(
                f"optimizer {type(probe).__name__} has no weight_decay hyper-parameter, so "
                "there is nothing to search"
            )
        del probe
        curves = run_finder_grid(ctx, "weight_decay", values, _setters, opts,
                                 workers=workers, progress=progress)
        refined: list[float] = []

        def decide() -> tuple[list[int], list[dict[str, Any]], str, bool]:
            use_val = val_loader is not None and all(len(c.val_losses) >= 3 for c in curves)
            o, r, why = finder_rows("weight_decay", values, curves, use_val=use_val,
                                    prefer="largest", tolerance=tolerance, lr_slack=lr_slack)
            return o, r, why, use_val

        order, rows, reason, use_val = decide()
        for _ in range(refine):
            new = _new_midpoints(values, values[order[0]])
            if not new:
                break
            curves += run_finder_grid(ctx, "weight_decay", new, _setters, opts,
                                      workers=workers, progress=progress)
            values += new
            refined += new
            order, rows, reason, use_val = decide()
    for r in rows:
        r["weight_decay"] = r["value"]
        r["refined"] = any(r["value"] == v for v in refined)
    config = dict(opts, grid=list(check_weight_decays("grid", grid)), refine=refine, seed=seed,
                  tolerance=tolerance, lr_slack=lr_slack, workers=workers)
    return WeightDecayResult(
        kind="weight_decay", param="weight_decay", values=values, mode="finder", rows=rows,
        best=values[order[0]], runner_up=values[order[1]] if len(order) > 1 else None,
        reason=reason, rule=rule_text("weight_decay", "largest", tolerance, lr_slack, use_val),
        signal="val_loss" if use_val else "train_loss", curves=curves, config=config,
    )


# ----------------------------------------------------------------------------- snapshot


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
        g0 = trainer.optimizer.param_groups[0]
        from ..hyper import adapter_for

        ad = adapter_for(trainer.optimizer)
        mom = ad.get(g0, "momentum") if ad.has("momentum") else None
        self.snapshot = {
            "model": {k: v.detach().to("cpu", copy=True)
                      for k, v in trainer.model.state_dict().items()},
            "optimizer": copy.deepcopy(trainer.optimizer.state_dict()),
            "epoch": epoch,
            "iteration": int(record.get("iteration", 0)),
            "lr": float(g0["lr"]),
            "momentum": mom,
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


def weight_decay_snapshot_search(
    model: nn.Module | Callable[[], nn.Module],
    make_optimizer: Callable[[Any], torch.optim.Optimizer],
    loss_fn: Callable[..., torch.Tensor],
    train_loader: Iterable[Any],
    val_loader: Iterable[Any],
    *,
    max_lr: float | None = None,
    epochs: int = 4,
    middle: float = 1e-3,
    others: Sequence[float] = (1e-2, 3e-3, 3e-4, 1e-4),
    snapshot_at: float | None = None,
    patience: int = 1,
    min_delta: float = 0.0,
    restart_epochs: int = 1,
    restart: str = "constant",
    schedule: dict[str, Any] | None = None,
    metrics: Any = None,
    select: str | None = None,
    grad_clip: float | None = None,
    num_iter: int = 100,
    start_lr: float = 1e-5,
    end_lr: float = 10.0,
    lr_find_kw: dict[str, Any] | None = None,
    seed: int = 0,
    workers: int = 1,
    progress: bool | None = None,
) -> WeightDecaySnapshotResult:
    """Weight decay by snapshot and restart (the paper's cheaper alternative).

    1. Train one cycle of ``epochs`` epochs at ``max_lr`` (None: found by a range test)
       with weight decay ``middle``. Take a snapshot (model and optimizer state) at the
       last epoch that improved the validation loss, and stop once it has not improved
       for ``patience`` epochs; with ``snapshot_at=f`` the snapshot is taken after
       ``round(f x epochs)`` epochs instead.
    2. From that snapshot, train ``restart_epochs`` epochs with each weight decay of
       ``[middle, *others]`` (the middle value too, so that every value gets the same
       restart), at the LR the cycle had at the snapshot (``restart="constant"``) or
       annealing down from it (``restart="tail"``).
    3. The weight decay with the best final ``select`` (default: validation loss) wins.

    Returns a :class:`WeightDecaySnapshotResult` (``rows``, ``best``, ``reason``,
    ``plot()``: validation-loss bars).

    >>> # res = weight_decay_snapshot_search(model, make_opt, loss, train, val, max_lr=0.5)
    """
    mid = check_weight_decays("middle", [middle])[0]
    rest = check_weight_decays("others", others)
    if any(v == mid for v in rest):
        raise ValueError(f"others must not contain the middle value {mid!r}")
    values = [mid, *rest]
    if val_loader is None:
        raise ValueError("weight_decay_snapshot_search needs a val_loader (it compares "
                         "validation losses)")
    check_callable("make_optimizer", make_optimizer, "make_optimizer(model) -> Optimizer")
    check_callable("loss_fn", loss_fn, "loss_fn(outputs, targets) -> loss")
    epochs = check_int("epochs", epochs, 1)
    restart_epochs = check_int("restart_epochs", restart_epochs, 1)
    patience = check_int("patience", patience, 1)
    min_delta = check_real("min_delta", min_delta)
    if restart not in ("constant", "tail"):
        raise ValueError(f"restart must be 'constant' or 'tail', got {restart!r}")
    at_epoch = None
    if snapshot_at is not None:
        at_epoch = max(1, round(check_fraction("snapshot_at", snapshot_at) * epochs))
    seed = check_int("seed", seed, 0)
    signal = default_signal(val_loader, select)
    base = resolve_model(model, seed)
    from ..train import DivergenceGuard, DivergenceWarning, History, Trainer

    with guarded(train_loader, val_loader):
        ctx = TrialContext(base, make_optimizer, loss_fn, train_loader, val_loader, seed,
                           metrics, grad_clip, getattr(train_loader, "epoch", None))
        copts, extra = short_cycle_options(ctx, epochs, max_lr, schedule,
                                           (num_iter, start_lr, end_lr, lr_find_kw),
                                           _setters(mid))
        copts.pop("epochs")
        max_lr = copts.pop("max_lr")
        # 1. the middle run
        net = copy.deepcopy(base)
        opt = build_optimizer(make_optimizer, net)
        set_weight_decay(net, opt, mid)
        snap = _Snapshotter(at_epoch, patience, min_delta)
        from ..train import Callback

        class _CB(Callback):
            def on_epoch_end(self, trainer: Any, epoch: int, record: dict[str, Any]) -> None:
                snap.on_epoch_end(trainer, epoch, record)

        if ctx.loader_epoch is not None and hasattr(train_loader, "set_epoch"):
            train_loader.set_epoch(ctx.loader_epoch)
        trainer = Trainer(net, loss_fn, opt, train_loader, val_loader=val_loader,
                          metrics=metrics, grad_clip=grad_clip, device=model_device(net),
                          progress=progress, seed=seed, callbacks=[_CB()],
                          divergence_guard=DivergenceGuard(action="warn"))
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DivergenceWarning)
            middle_hist = trainer.fit_one_cycle(epochs, max_lr, **copts)
        if snap.snapshot is None:
            raise RuntimeError(
                f"the middle run (weight_decay={fmt(mid)}) never produced a finite validation "
                "loss, so there is no snapshot to restart from; lower max_lr"
            )
        s = snap.snapshot
        how = snap.how or (f"at the best epoch ({s['epoch'] + 1}): the validation loss "
                           f"improved until the end of the {len(middle_hist)}-epoch run")
        # 2. restarts
        start = copy.deepcopy(base)
        start.load_state_dict(s["model"])
        rctx = TrialContext(start, make_optimizer, loss_fn, train_loader, val_loader, seed,
                            metrics, grad_clip, ctx.loader_epoch, optimizer_state=s["optimizer"])
        ropts = {"epochs": restart_epochs, "lr": s["lr"], "schedule": restart}
        trials = [Trial("restart", "weight_decay", v, _setters(v), dict(ropts)) for v in values]
        outs = run_trials(rctx, trials, workers=workers, progress=progress,
                          desc="weight_decay restarts")
    rows, scores = short_run_rows(values, outs, signal)
    for r in rows:
        r["weight_decay"] = r["value"]
    lr_txt = (f"at constant lr {s['lr']:.3g}" if restart == "constant"
              else f"annealing from lr {s['lr']:.3g}")
    best, runner, reason = pick_short_run(
        "weight_decay", values, rows, scores, signal,
        f"{restart_epochs} epoch(s) restarted from the snapshot {lr_txt}")
    reason = f"Snapshot of the weight_decay={fmt(mid)} run taken {how}. " + reason
    extra["snapshot"] = {k: v for k, v in s.items() if k not in ("model", "optimizer")}
    extra["snapshot"]["how"] = how
    extra["middle_history"] = middle_hist.to_dict()
    config = {"middle": mid, "others": rest, "epochs": epochs, "max_lr": max_lr,
              "snapshot_at": snapshot_at, "patience": patience, "min_delta": min_delta,
              "restart_epochs": restart_epochs, "restart": restart, "seed": seed,
              "schedule": copts}
    return WeightDecaySnapshotResult(
        kind="weight_decay_snapshot", param="weight_decay", values=values, mode="snapshot",
        rows=rows, best=best, runner_up=runner, reason=reason,
        rule=("Train one cycle at the middle weight decay, snapshot when the validation loss "
              "stops improving, restart a short run from the snapshot per weight decay; the "
              f"best final {signal} wins."),
        signal=signal, histories=[History.from_dict(o["history"]) for o in outs],
        config=config, extra=extra,
    )
