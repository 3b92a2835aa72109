"""Callbacks for :class:`onecycle.train.Trainer`.

The protocol is a class with no-op methods; override the ones you need::

    on_fit_start(trainer)                 before the first batch of a fit
    on_epoch_start(trainer, epoch)        epoch = index within the current fit
    on_batch_start(trainer, step)         step = iteration index within the fit
    on_batch_end(trainer, step, loss)     after optimizer and scheduler steps; loss: float
    on_epoch_end(trainer, epoch, record)  record: the epoch record (after validation)
    on_fit_end(trainer)                   always called, also after a stop

Only overridden methods are dispatched, so an unused hook costs nothing per batch.
Raising :class:`StopTraining` from any hook ends the fit cleanly: the history is kept
(``history.meta["stopped"]`` says why) and ``on_fit_end`` still runs. Callbacks that
have state worth resuming implement ``state_dict()`` / ``load_state_dict()``; it is
stored in checkpoints. In a distributed run every rank calls every hook; a callback
that raises :class:`StopTraining` must decide the same way on all ranks (the losses
and metrics it is given are already all-reduced, so the built-ins do).

Inside hooks: ``trainer.fit_history`` is the live history of the current fit,
``trainer.step`` the number of optimizer steps done in it, ``trainer.epoch_in_fit`` and
``trainer.batch_in_epoch`` the position, ``trainer.resuming`` (True in ``on_fit_start``
of a fit continued from a checkpoint), ``trainer.model`` the (unwrapped) model,
``trainer.optimizer``, ``trainer.scheduler`` and ``trainer.is_main`` (rank 0).

Example:
    >>> class PrintEpoch(Callback):
    ...     def on_epoch_end(self, trainer, epoch, record):
    ...         print(epoch, round(record["train_loss"], 3))
"""

from __future__ import annotations

import copy
import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from .. import _validate as check
from .._format import fmt_num
from ..progress import Progress

if TYPE_CHECKING:  # pragma: no cover
    from .trainer import Trainer

__all__ = [
    "Callback",
    "StopTraining",
    "TrainingDiverged",
    "DivergenceWarning",
    "ProgressBar",
    "DivergenceGuard",
    "EarlyStopping",
    "Checkpoint",
    "HOOKS",
]

HOOKS = (
    "on_fit_start",
    "on_fit_end",
    "on_epoch_start",
    "on_epoch_end",
    "on_batch_start",
    "on_batch_end",
)


class StopTraining(Exception):
    """Raise from a callback hook to end the current fit cleanly.

    >>> str(StopTraining("enough"))
    'enough'
    """


class TrainingDiverged(RuntimeError):
    """Training diverged (raised only with ``DivergenceGuard(action="raise")``).

    Attributes ``info`` (the dict also stored in ``history.meta["diverged"]``) and
    ``history`` (the fit's history up to the stop).
    """

    def __init__(self, message: str, info: dict[str, Any] | None = None, history: Any = None):
        super().__init__(message)
        self.info = info or {}
        self.history = history


class DivergenceWarning(RuntimeWarning):
    """Warning category used when training diverged and was stopped."""


class Callback:
    """Base class: every hook is a no-op. See the module docstring for the protocol.

    >>> class Count(Callback):
    ...     n = 0
    ...     def on_batch_end(self, trainer, step, loss):
    ...         self.n += 1
    """

    def on_fit_start(self, trainer: Trainer) -> None:
        """Called once before training starts (or resumes)."""

    def on_fit_end(self, trainer: Trainer) -> None:
        """Called once when the fit ends, normally or stopped."""

    def on_epoch_start(self, trainer: Trainer, epoch: int) -> None:
        """Called before each epoch's first batch."""

    def on_epoch_end(self, trainer: Trainer, epoch: int, record: dict[str, Any]) -> None:
        """Called after each epoch (after validation) with the epoch record."""

    def on_batch_start(self, trainer: Trainer, step: int) -> None:
        """Called before each batch; ``step`` is the iteration index in the fit."""

    def on_batch_end(self, trainer: Trainer, step: int, loss: float) -> None:
        """Called after each optimizer/scheduler step with the batch loss (a float)."""

    def state_dict(self) -> dict[str, Any]:
        """State to store in checkpoints (plain data and tensors only)."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore state from :meth:`state_dict`."""


def overridden_hooks(cb: Callback, name: str) -> bool:
    """Whether ``cb`` implements hook ``name`` (not just the base no-op)."""
    impl = getattr(type(cb), name, None)
    if impl is None:
        return False
    return impl is not getattr(Callback, name)


# --------------------------------------------------------------------------- progress

#: how each kind of fit is named on progress lines
_FIT_NAMES = {"one_cycle": "fit_one_cycle", "constant": "fit", "tail": "fit_tail",
              "schedule": "fit_schedule"}


def epoch_summary(record: dict[str, Any]) -> str:
    """An epoch record as one short line: losses and validation metrics.

    >>> epoch_summary({"epoch": 0, "train_loss": 0.51234, "val_loss": 0.4, "lr": 0.1})
    'train_loss 0.5123, val_loss 0.4'
    """
    parts = [f"{k} {fmt_num(v)}" for k, v in record.items()
             if (k == "train_loss" or k.startswith("val_")) and isinstance(v, (int, float))]
    return ", ".join(parts)


class ProgressBar(Callback):
    """The fit's progress, through :class:`onecycle.progress.Progress` (rank 0 only): a
    bar on a terminal, bounded lines in a log, one note line per epoch with its results.

    ``progress`` has the meaning of every ``progress=`` argument (``"bar"`` by default
    here: you asked for a bar; the trainer adds one with its own ``progress=``).
    ``refresh_every`` steps between updates of the loss and lr shown. ``leave`` is
    accepted for compatibility: the bar is removed when the fit ends and the epoch
    lines stay.

    >>> bar = ProgressBar(refresh_every=20, progress="lines")
    """

    def __init__(self, refresh_every: int = 10, leave: bool = True, file: Any = None, *,
                 progress: Any = "bar"):
        self.refresh_every = check.integer("refresh_every", refresh_every, least=1)
        self.leave = leave
        self.file = file
        self.progress = progress
        self._report: Progress | None = None

    def on_fit_start(self, trainer: Trainer) -> None:
        if not trainer.is_main:
            return
        kind = trainer.fit_history.fits[0].get("kind", "")
        self._report = Progress(trainer.fit_epochs * trainer.steps_per_epoch,
                                _FIT_NAMES.get(kind, "fit"), progress=self.progress,
                                file=self.file, initial=trainer.step)

    def on_batch_end(self, trainer: Trainer, step: int, loss: float) -> None:
        report = self._report
        if report is None:
            return
        # a bar redraws its postfix, so it is refreshed every few steps; a line is only
        # printed now and then, and must show the step it names
        if report.mode == "lines" or step % self.refresh_every == 0 or report.done + 1 >= report.total:
            report.update(1, loss=loss, lr=trainer.fit_history.lr[-1])
        else:
            report.update(1)

    def on_epoch_end(self, trainer: Trainer, epoch: int, record: dict[str, Any]) -> None:
        if self._report is not None:
            self._report.note(f"epoch {epoch + 1}/{trainer.fit_epochs}: "
                              f"{epoch_summary(record)}")

    def on_fit_end(self, trainer: Trainer) -> None:
        if self._report is not None:
            self._report.close()
            self._report = None


# --------------------------------------------------------------------------- divergence


def _round_sig(x: float, sig: int = 2) -> float:
    if x <= 0 or not math.isfinite(x):
        return x
    return round(x, -int(math.floor(math.log10(abs(x)))) + sig - 1)


class DivergenceGuard(Callback):
    """Stop when the loss diverges and put back the last good weights.

    Divergence is a non-finite loss, or a smoothed loss (bias-corrected EMA, ``beta``)
    above ``factor x max(best, floor)``: ``best`` is the best smoothed loss of this fit
    and ``floor = rel_floor x`` the mean of the first 10 losses of the trainer's
    cumulative history (the untrained loss, kept across fits and in checkpoints), so
    that noise on a near-zero loss late in training is not mistaken for divergence.
    Losses above ``factor**2 x`` the very first one are left out of that mean: the first
    loss is computed before any update, so it is always a sane one, and a run that
    blows up within its first steps must not raise its own floor. During the first
    ``warmup`` iterations of a fit, while ``best`` is still noisy, the factor is
    ``factor**2``.

    Good weights (model and optimizer state) are snapshotted in CPU memory at fit start,
    at every epoch end and, with ``snapshot_every=N``, every N iterations -- but only
    while the loss looks healthy (the epoch's mean loss, or the step's loss, within
    ``factor x max(best, floor)``), so a blow-up that has not yet crossed the threshold
    is never kept as "good".

    On divergence the snapshot is restored, ``history.meta["diverged"]`` (also
    ``history.diverged``) records ``step``, ``lr``, ``loss``, ``restored_step``,
    ``suggested_max_lr`` and a ``message`` such as ``"loss became nan at step 37
    (lr=3.2); weights restored to step 30; try max_lr <= 1.1"``, and the fit stops.
    ``action="warn"`` (default): the fit returns its history and a
    :class:`DivergenceWarning` is emitted; ``action="raise"``: :class:`TrainingDiverged`
    is raised after the clean stop.

    The trainer adds one by default (``Trainer(divergence_guard=False)`` disables it).

    >>> guard = DivergenceGuard(factor=4.0, snapshot_every=100)
    """

    def __init__(
        self,
        factor: float = 4.0,
        *,
        beta: float = 0.98,
        warmup: int = 10,
        rel_floor: float = 0.1,
        snapshot_every: int | None = None,
        action: str = "warn",
    ):
        factor = check.real("factor", factor)
        if not factor > 1:
            raise ValueError(f"factor must be > 1, got {factor!r}")
        self.factor = factor
        self.beta = check.in_range("beta", beta, 0.0, 1.0, high_open=True)
        self.warmup = check.integer("warmup", warmup, least=0)
        self.rel_floor = check.in_range("rel_floor", rel_floor, 0.0, 1.0, high_open=True)
        self.snapshot_every = (None if snapshot_every is None
                               else check.integer("snapshot_every", snapshot_every, least=1))
        self.action = check.choice("action", action, ("warn", "raise"))
        self._floor = 0.0
        self._floor_n = 0
        self._reset()
        self._snapshot: dict[str, Any] | None = None
        self._snapshot_step = 0

    def _reset(self) -> None:
        self._avg = 0.0
        self._n = 0
        self._best = math.inf

    def state_dict(self) -> dict[str, Any]:
        return {"avg": self._avg, "n": self._n, "best": self._best}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._avg = float(state.get("avg", 0.0))
        self._n = int(state.get("n", 0))
        self._best = float(state.get("best", math.inf))

    def _take_snapshot(self, trainer: Trainer) -> None:
        model = {k: v.detach().to("cpu", copy=True) for k, v in trainer.model.state_dict().items()}
        opt = _cpu_copy(trainer.optimizer.state_dict())
        self._snapshot = {"model": model, "optimizer": opt}
        self._snapshot_step = trainer.step

    def _restore(self, trainer: Trainer) -> None:
        if self._snapshot is None:
            return
        trainer.model.load_state_dict(self._snapshot["model"])
        # Optimizer.load_state_dict casts state to the params' device/dtype.
        trainer.optimizer.load_state_dict(copy.deepcopy(self._snapshot["optimizer"]))

    def _update_floor(self, trainer: Trainer) -> None:
        src = trainer.history.loss[:10]
        if len(src) < 10 and trainer.fit_history is not None:
            src = src + trainer.fit_history.loss[: 10 - len(src)]
        self._floor_n = len(src)
        first = next((v for v in src if math.isfinite(v)), None)
        if first is None:
            self._floor = 0.0
            return
        cap = self.factor * self.factor * abs(first)
        vals = [v for v in src if math.isfinite(v) and v <= cap]
        self._floor = self.rel_floor * sum(vals) / len(vals) if vals else 0.0

    def _limit(self, factor: float) -> float:
        """The smoothed loss above which the run counts as diverged."""
        return factor * (self._best if self._best > self._floor else self._floor)

    def on_fit_start(self, trainer: Trainer) -> None:
        if not trainer.resuming:
            self._reset()
        self._update_floor(trainer)
        self._take_snapshot(trainer)

    def on_fit_end(self, trainer: Trainer) -> None:
        self._snapshot = None  # free memory

    def on_epoch_end(self, trainer: Trainer, epoch: int, record: dict[str, Any]) -> None:
        loss = record.get("train_loss", math.nan)
        if math.isfinite(loss) and loss <= self._limit(self.factor):
            self._take_snapshot(trainer)

    def on_batch_end(self, trainer: Trainer, step: int, loss: float) -> None:
        if loss - loss != 0.0:  # nan or +-inf, without a function call
            self._diverged(trainer, step, loss, f"loss became {loss}")
        self._n += 1
        self._avg = self.beta * self._avg + (1.0 - self.beta) * loss
        smooth = self._avg / (1.0 - self.beta**self._n)
        if self._floor_n < 10:
            self._update_floor(trainer)
        # during warm-up the best value is still noisy: only a much larger jump counts
        factor = self.factor if self._n > self.warmup else self.factor * self.factor
        limit = self._limit(factor)
        if smooth > limit:
            self._diverged(
                trainer, step, loss,
                f"smoothed loss {smooth:.4g} exceeded {factor:g} x its best "
                f"({limit / factor:.4g})",
            )
        if smooth < self._best:
            self._best = smooth
        if (self.snapshot_every is not None and (step + 1) % self.snapshot_every == 0
                and loss <= self._limit(self.factor)):
            self._take_snapshot(trainer)

    def _diverged(self, trainer: Trainer, step: int, loss: float, what: str) -> None:
        hist = trainer.fit_history
        lr = hist.lr[step] if step < len(hist.lr) else hist.lr[-1]
        # Smith: the largest workable max_lr sits a few times below the divergence point.
        suggested = _round_sig(lr / 3.0)
        self._restore(trainer)
        restored = self._snapshot_step
        msg = (
            f"{what} at step {step} (lr={lr:.3g}); weights restored to step {restored}; "
            f"try max_lr <= {suggested:g}"
        )
        info = {
            "step": int(step),
            "epoch": int(trainer.epoch_in_fit),
            "lr": float(lr),
            "loss": float(loss),
            "restored_step": int(restored),
            "suggested_max_lr": float(suggested),
            "message": msg,
            "action": self.action,
        }
        hist.meta["diverged"] = info
        raise StopTraining(msg)


def _cpu_copy(obj: Any) -> Any:
    if isinstance(obj, torch.Tensor):
        return obj.detach().to("cpu", copy=True)
    if isinstance(obj, dict):
        return {k: _cpu_copy(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_cpu_copy(v) for v in obj]
    if isinstance(obj, tuple):
        return tuple(_cpu_copy(v) for v in obj)
    return copy.deepcopy(obj)


# --------------------------------------------------------------------------- early stopping


class EarlyStopping(Callback):
    """Stop when ``monitor`` (an epoch-record key) has not improved for ``patience`` epochs.

    ``mode`` is "min", "max" or "auto" (max for accuracy-like names). With
    ``restore_best=True`` the best epoch's weights are put back when stopping.
    Note that a 1cycle run reaches its best values at the end of the cycle, so early
    stopping mostly makes sense for ``fit`` (constant LR) baselines.

    >>> es = EarlyStopping("val_loss", patience=2)
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        patience: int = 3,
        *,
        mode: str = "auto",
        min_delta: float = 0.0,
        restore_best: bool = False,
    ):
        from .history import higher_is_better

        self.patience = check.integer("patience", patience, least=0)
        mode = check.choice("mode", mode, ("auto", "min", "max"))
        self.monitor = monitor
        self.mode = ("max" if higher_is_better(monitor) else "min") if mode == "auto" else mode
        self.min_delta = abs(check.real("min_delta", min_delta))
        self.restore_best = restore_best
        self.best: float | None = None
        self.best_epoch: int | None = None
        self.wait = 0
        self._best_weights: dict[str, torch.Tensor] | None = None

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "best_epoch": self.best_epoch, "wait": self.wait}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best = state.get("best")
        self.best_epoch = state.get("best_epoch")
        self.wait = int(state.get("wait", 0))

    def on_fit_start(self, trainer: Trainer) -> None:
        if not trainer.resuming:
            self.best, self.best_epoch, self.wait = None, None, 0
            self._best_weights = None

    def _improved(self, value: float) -> bool:
        if self.best is None:
            return True
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def on_epoch_end(self, trainer: Trainer, epoch: int, record: dict[str, Any]) -> None:
        if self.monitor not in record:
            raise KeyError(
                f"EarlyStopping monitors {self.monitor!r} but the epoch record has only "
                f"{sorted(record)}; pass a val_loader for val_* keys"
            )
        value = float(record[self.monitor])
        if math.isfinite(value) and self._improved(value):
            self.best, self.best_epoch, self.wait = value, epoch, 0
            if self.restore_best:
                self._best_weights = {k: v.detach().to("cpu", copy=True)
                                      for k, v in trainer.model.state_dict().items()}
            return
        self.wait += 1
        if self.wait > self.patience:
            if self.restore_best and self._best_weights is not None:
                trainer.model.load_state_dict(self._best_weights)
            raise StopTraining(
                f"early stopping: {self.monitor} did not improve for {self.wait} epochs "
                f"(best {self.best:.4g} at epoch {self.best_epoch})"
            )


# --------------------------------------------------------------------------- checkpoints


class Checkpoint(Callback):
    """Write ``directory/filename`` every ``every`` iterations, at each epoch end and
    at fit end (rank 0 writes; every rank takes part in gathering RNG states).

    The trainer adds one when given ``checkpoint_dir`` (``checkpoint_every`` -> ``every``).
    Resume with ``trainer.fit_one_cycle(..., resume=True)``.

    >>> import tempfile
    >>> ck = Checkpoint(tempfile.mkdtemp(), every=50)
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        every: int | None = None,
        *,
        at_epoch_end: bool = True,
        filename: str = "last.pt",
    ):
        self.directory = Path(directory)
        self.every = None if every is None else check.integer("every", every, least=1)
        self.at_epoch_end = at_epoch_end
        self.filename = filename

    @property
    def path(self) -> Path:
        """The checkpoint file."""
        return self.directory / self.filename

    def on_batch_end(self, trainer: Trainer, step: int, loss: float) -> None:
        every = self.every
        if every is not None and (step + 1) % every == 0:
            trainer.save(self.path)

    def on_epoch_end(self, trainer: Trainer, epoch: int, record: dict[str, Any]) -> None:
        if self.at_epoch_end:
            trainer.save(self.path)

    def on_fit_end(self, trainer: Trainer) -> None:
        if trainer.fit_status == "failed":
            return  # keep the last consistent checkpoint after a crash
        trainer.save(self.path)
