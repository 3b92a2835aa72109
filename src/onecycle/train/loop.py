"""The training loop of one fit: epochs of batches, one schedule step per optimizer step.

:class:`FitLoop` runs a fit that the :class:`~onecycle.train.Trainer` has planned (a
fresh fit, or one continued from a checkpoint at any iteration). Per optimizer step:

1. ``accumulation_steps`` micro-batches: each is moved to the device whole, its loss
   computed by the step function (under autocast with ``amp``) and backpropagated as
   ``loss / accumulation_steps`` (:class:`onecycle.step.OptimizerStep`); the last group
   of an epoch may be short, and then averages the micro-batches it has. Under DDP all
   but the last micro-batch of a group run under ``no_sync``, so gradients are
   all-reduced once per optimizer step, not once per micro-batch;
2. the optimizer step (unscale, clip, step); the lr and momentum it used are recorded,
   and steps the clip cut are counted in ``history.meta["clipped_steps"]`` (with
   ``grad_clip="auto"`` the running median is the trainer's, kept across fits and in
   checkpoints);
3. the schedule advances -- unless fp16's GradScaler skipped the step for inf/NaN
   gradients, so the LR never runs ahead of the optimizer (skips are counted in
   ``history.meta["skipped_steps"]``);
4. the loss (the mean of the micro-batches, averaged over ranks) is read once, as a
   float, and the ``on_batch_end`` callbacks run.

The per-batch path does one host sync (reading the loss), no tensor bookkeeping, and
dispatches only callback hooks that are overridden. The step function's result is
checked in full on the first batch of every epoch, then read without the checks.

A loader whose ``len()`` is wrong is caught at the end of the fit's first epoch: the
schedule is replanned to the batches the epoch really had (``scheduler.replan``) with a
warning, or, when the fit is already over, the warning says the cycle was cut short.

Example:
    >>> import torch
    >>> from onecycle.train import Trainer
    >>> model = torch.nn.Linear(2, 2)
    >>> data = [(torch.randn(4, 2), torch.tensor([0, 1, 0, 1]))] * 3
    >>> t = Trainer(model, torch.nn.functional.cross_entropy,
    ...             torch.optim.SGD(model.parameters(), lr=0.1), data, progress=False,
    ...             accumulation_steps=2)
    >>> t.fit(1, lr=0.1).iterations  # 3 batches in groups of 2: a full and a short one
    2
"""

from __future__ import annotations

import contextlib
import time
import warnings
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import torch

from ..hyper import adapter_for
from ..step import OptimizerStep, read_output, resolve_step, to_device
from .callbacks import HOOKS, DivergenceWarning, StopTraining, TrainingDiverged, overridden_hooks
from .checkpoint import CheckpointError, get_rng_state
from .distributed import set_loader_epoch
from .history import History
from .modes import set_eval_mode, set_train_mode

if TYPE_CHECKING:  # pragma: no cover
    from .resume import ResumePoint
    from .trainer import Trainer

__all__ = ["FitLoop", "momentum_reader"]

Hooks = dict[str, list[Callable[..., Any]]]


def momentum_reader(optimizer: torch.optim.Optimizer) -> Callable[[dict], float] | None:
    """A fast reader of group 0's momentum (beta1 for Adam), or None without one.

    >>> opt = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], betas=(0.9, 0.99))
    >>> momentum_reader(opt)(opt.param_groups[0])
    0.9
    """
    key = adapter_for(optimizer).momentum
    if key is None:
        return None
    if key.endswith("[0]"):
        base = key[:-3]
        return lambda g: float(g[base][0])
    return lambda g: float(g[key])


_SYNCED = contextlib.nullcontext()


def _all_reduce_gradients(net: Any) -> None:
    """Average the gradients over DDP's process group, as its last backward would."""
    import torch.distributed as dist

    group = getattr(net, "process_group", None)
    world = dist.get_world_size(group)
    for p in net.parameters():
        if p.grad is not None:
            dist.all_reduce(p.grad, group=group)
            p.grad.div_(world)


def _fast_loss(result: Any, source: str) -> Any:
    """The loss of a step result already checked in full on an earlier batch."""
    if type(result) is dict:
        loss = result.get("loss")
        if loss is not None:
            return loss
    elif isinstance(result, torch.Tensor):
        return result
    return read_output(result, training=True, source=source).loss


class FitLoop:
    """One fit of a trainer (see the module docs); :meth:`run` trains and returns the
    fit's :class:`History`. The trainer reads the position (``step``, ``epoch``,
    ``batch``) and the ``status`` from here while the fit runs."""

    def __init__(
        self, trainer: Trainer, history: History, scheduler: Any, *, epochs: int,
        batches_per_epoch: int, groups_before: list[dict[str, Any]],
        start: ResumePoint | None = None,
    ) -> None:
        self.trainer = trainer
        self.history = history
        self.scheduler = scheduler
        self.epochs = epochs
        self.batches_per_epoch = batches_per_epoch
        self.k = trainer.numerics.accumulation_steps
        self.steps_per_epoch = -(-batches_per_epoch // self.k)
        self.groups_before = groups_before
        self.start = start
        self.status = "idle"
        self.resuming = start is not None
        self.epoch = self.batch = self.step = 0
        self.loss_sum, self.nb, self.elapsed, self.t_epoch = 0.0, 0, 0.0, 0.0
        self.skipped = int(history.meta.get("skipped_steps", 0))
        self.clipped = int(history.meta.get("clipped_steps", 0))
        self.rng_epoch_start: dict[str, Any] | None = None
        if start is not None:
            self._resume_position(start.fit)

    def _resume_position(self, fit: dict[str, Any]) -> None:
        self.epoch, self.batch = int(fit["epoch"]), int(fit["batch"])
        self.step = int(fit["step"])
        self.loss_sum, self.nb = float(fit["loss_sum"]), int(fit["batches"])
        self.elapsed = float(fit["elapsed"])
        self.steps_per_epoch = int(fit.get("optimizer_steps_per_epoch", self.steps_per_epoch))

    @property
    def running(self) -> bool:
        """True from the start of :meth:`run` until its last ``on_fit_end`` hook."""
        return self.status != "idle"

    # ------------------------------------------------------------------ the fit
    def run(self) -> History:
        """Train the planned epochs; the trainer's cumulative history is extended with
        this fit's history unless the fit failed."""
        t, hist = self.trainer, self.history
        self.status = "running"
        self.epoch0 = len(t.history)
        model = t.model
        # train mode for the fit: an eval-mode model is switched to train mode (as lr_find
        # does); a training model keeps the flags of its sub-modules (frozen BatchNorm)
        if not model.training:
            model.train()
        self.train_modes = [(m, m.training) for m in model.modules()]
        set_train_mode(t.optimizer)  # schedule-free: steps are taken from its y sequence
        self.step_fn = resolve_step(t.loss_fn, t.step_fn)
        self.source = "step_fn" if t.step_fn is not None else "loss_fn"
        self.runner = OptimizerStep(model, t.optimizer, t.numerics, scaler=t.scaler,
                                    adaptive=t.adaptive_clip)
        self.read_momentum = momentum_reader(t.optimizer)
        hooks = {name: [getattr(cb, name) for cb in t.callbacks if overridden_hooks(cb, name)]
                 for name in HOOKS}
        try:
            self._epochs(hooks)
            self.status = "completed"
        except StopTraining as exc:
            self.status = "stopped"
            hist.meta["stopped"] = {"reason": str(exc), "epoch": self.epoch, "step": self.step}
        except BaseException as exc:
            self._failed(exc)
            raise
        finally:
            self._finish(hooks)
        return self._divergence_outcome()

    def _epochs(self, hooks: Hooks) -> None:
        for fn in hooks["on_fit_start"]:
            fn(self.trainer)
        start = self.start
        if start is not None:
            self.trainer.resumer.set_rng(start.checkpoint.payload["rng"])
        self.resuming = False
        first = self.epoch
        for epoch in range(first, self.epochs):
            skip = self.batch if (start is not None and epoch == first) else 0
            self._epoch(epoch, skip, hooks, start if skip else None)

    def _failed(self, exc: BaseException) -> None:
        self.status = "failed"
        t = self.trainer
        set_eval_mode(t.optimizer)  # before the groups' flags are put back below
        if self.start is None and self.step == 0:  # no optimizer step was taken: undo the
            for g, vals in zip(t.optimizer.param_groups, self.groups_before):
                g.update(vals)  # scheduler's first write (lr, momentum, ...)
        if isinstance(exc, Exception):  # say where the fit was
            where = (f"onecycle: {self.history.fits[0]['kind']} fit failed at epoch "
                     f"{self.epoch}, step {self.step}")
            last = None if t.checkpoint_dir is None else t.checkpoint_dir / "last.pt"
            if last is not None and last.exists():
                where += f"; the last checkpoint is {last}"
            exc.add_note(where)

    def _finish(self, hooks: Hooks) -> None:
        t, hist = self.trainer, self.history
        hist.fits[0]["meta"] = dict(hist.meta)
        set_eval_mode(t.optimizer)  # schedule-free: the fit leaves its averaged weights
        try:
            for fn in hooks["on_fit_end"]:
                fn(t)
        finally:
            if self.status != "failed":
                t.history.extend(hist)
                t.fit_index += 1
            self.final_status = self.status
            self.status = "idle"
            self.batch = 0
            self.resuming = False

    def _divergence_outcome(self) -> History:
        hist = self.history
        div = hist.meta.get("diverged")
        if self.final_status == "stopped" and div:
            if div.get("action") == "raise":
                raise TrainingDiverged(div["message"], div, hist)
            if self.trainer.is_main:
                warnings.warn(div["message"], DivergenceWarning, stacklevel=4)
        return hist

    # ------------------------------------------------------------------ one epoch
    def _epoch(self, epoch: int, skip: int, hooks: Hooks, start: ResumePoint | None) -> None:
        t = self.trainer
        self.epoch, self.batch = epoch, skip
        for fn in hooks["on_epoch_start"]:
            fn(t, epoch)
        set_loader_epoch(t.train_loader, self.epoch0 + epoch)
        if start is not None:
            rs = start.fit["rng_epoch_start"]
            if rs is not None:
                t.resumer.set_rng(rs)
                self.rng_epoch_start = rs[t.dist.rank % len(rs)]
        else:
            self.rng_epoch_start = get_rng_state()
        self.t_epoch = time.perf_counter()
        it = iter(t.train_loader)
        if skip:
            self._skip(it, skip)
            t.resumer.set_rng(start.checkpoint.payload["rng"] if start is not None else None)
        for m, flag in self.train_modes:
            m.training = flag
        self._batches(it, hooks)
        self._end_epoch(epoch, hooks)

    def _skip(self, it: Iterator[Any], skip: int) -> None:
        for k in range(skip):
            try:
                next(it)
            except StopIteration:
                raise CheckpointError(
                    f"resume: the train_loader ended after {k} batches, the checkpoint "
                    f"was taken after {skip}"
                ) from None

    def _batches(self, it: Iterator[Any], hooks: Hooks) -> None:
        # the hot loop: keep it lean (one loss sync per optimizer step, no bookkeeping)
        t = self.trainer
        net, step_fn, source, runner = t.net, self.step_fn, self.source, self.runner
        numerics = t.numerics
        amp = numerics.amp is not None
        device = numerics.device
        move = device is not None and device.type != "cpu"
        k = self.k
        # DDP all-reduces at every backward; within an accumulation group only the last
        # micro-batch's needs to (the others run under no_sync and just accumulate)
        defer = k != 1 and hasattr(net, "no_sync")
        n = self.batches_per_epoch
        pending = False  # the gradients hold micro-batches no rank has all-reduced yet
        b_start = hooks["on_batch_start"]
        checked = False
        micro, acc, i = 0, None, self.batch
        for batch in it:
            if b_start and micro == 0:
                for fn in b_start:
                    fn(t, self.step)
            if move:
                batch = to_device(batch, device)
            pending = defer and micro + 1 < k and i + 1 < n
            with net.no_sync() if pending else _SYNCED:
                if amp:
                    with numerics.autocast(device):
                        result = step_fn(net, batch)
                else:
                    result = step_fn(net, batch)
                if checked:
                    loss = _fast_loss(result, source)
                else:  # once per epoch: cheap, and catches a bad step or loss at once
                    loss = read_output(result, training=True, source=source).loss
                    checked = True
                runner.backward(loss)
            i += 1
            micro += 1
            if k != 1:
                acc = loss.detach() if acc is None else acc + loss.detach()
                if micro < k:
                    continue
                loss = acc
            self.batch = i
            self._optimizer_step(loss, micro, hooks)
            micro, acc = 0, None
        if micro:  # the epoch's last group is short: it averages what it has
            self.batch = i
            if pending:  # the loader ended before the len() it gave
                _all_reduce_gradients(net)
            self._rescale_gradients(k / micro)
            self._optimizer_step(acc, micro, hooks)

    def _rescale_gradients(self, factor: float) -> None:
        grads = [p.grad for g in self.trainer.optimizer.param_groups for p in g["params"]
                 if p.grad is not None]
        if grads:
            torch._foreach_mul_(grads, factor)

    def _optimizer_step(self, loss: Any, micro: int, hooks: Hooks) -> None:
        t, hist = self.trainer, self.history
        opt = t.optimizer
        report = self.runner.step()
        g0 = opt.param_groups[0]
        lr = g0["lr"]
        hist.lr.append(lr if type(lr) is float else float(lr))
        read_mom = self.read_momentum
        hist.momentum.append(read_mom(g0) if read_mom is not None else None)
        if report.taken:
            self.scheduler.step()
        else:
            self.skipped += 1
            hist.meta["skipped_steps"] = self.skipped
        if report.clipped:
            self.clipped += 1
            hist.meta["clipped_steps"] = self.clipped
        dist = t.dist
        lv = loss.item() if not dist.active else dist.mean_loss(loss)
        if micro != 1:
            lv /= micro
        hist.loss.append(lv)
        self.loss_sum += lv
        self.nb += 1
        step = self.step
        self.step = step + 1
        for fn in hooks["on_batch_end"]:
            fn(t, step, lv)

    # ------------------------------------------------------------------ epoch end
    def _end_epoch(self, epoch: int, hooks: Hooks) -> None:
        t, hist = self.trainer, self.history
        if self.nb == 0:
            raise ValueError("train_loader yielded no batches")
        if epoch == 0:
            self._check_epoch_length()
        record: dict[str, Any] = {
            "epoch": epoch,
            "iteration": self.step,
            "train_loss": self.loss_sum / self.nb,
            "lr": hist.lr[-1],
            "momentum": hist.momentum[-1],
        }
        if t.val_loader is not None:
            ev = t.evaluate()
            record["val_loss"] = ev.pop("loss")
            for name, v in ev.items():
                record[f"val_{name}"] = v
        record["wall_time"] = self.elapsed + time.perf_counter() - self.t_epoch
        hist.add_record(record)
        self.epoch, self.batch = epoch + 1, 0
        self.loss_sum, self.nb, self.elapsed = 0.0, 0, 0.0
        for fn in hooks["on_epoch_end"]:
            fn(t, epoch, record)

    def _check_epoch_length(self) -> None:
        """A loader whose len() is wrong would cut the cycle short or run past its end."""
        declared, seen = self.batches_per_epoch, self.batch
        if seen == declared:
            return
        steps = -(-seen // self.k)
        total = self.epochs * steps
        sched = self.scheduler
        what = (f"the train_loader's len() is {declared} but the first epoch had {seen} "
                "batches")
        can = getattr(sched, "total_steps", None) is not None and total - 1 >= self.step
        if can and total != sched.total_steps:
            old = sched.total_steps
            sched.replan(total_steps=total)
            self.steps_per_epoch = steps
            self.history.meta["replanned"] = {"declared_batches": declared,
                                              "batches": seen, "from_steps": old,
                                              "to_steps": total}
            msg = (f"{what}: the schedule is replanned from {old} to {total} steps so the "
                   "cycle still ends at the end of the fit; fix the loader's __len__")
        else:
            msg = (f"{what}: the schedule planned {self.epochs * self.steps_per_epoch} "
                   f"steps and the fit ran {self.epochs * steps}, so the cycle did not end "
                   "where it should; fix the loader's __len__")
        if self.trainer.is_main:
            warnings.warn(msg, RuntimeWarning, stacklevel=6)

    # ------------------------------------------------------------------ checkpoints
    def position(self) -> dict[str, Any]:
        """The fit's part of a checkpoint: position, schedule, history, callback states
        (collective in a distributed run: every rank gathers the RNG states)."""
        t, hist = self.trainer, self.history
        mid = self.batch > 0
        rng_es = t.dist.gather_objects(self.rng_epoch_start if mid else None)
        return {
            "index": t.fit_index,
            "kind": hist.fits[0]["kind"],
            "epochs": self.epochs,
            "args": hist.fits[0]["args"],
            "resolved": hist.fits[0]["resolved"],
            "steps_per_epoch": self.batches_per_epoch,
            "optimizer_steps_per_epoch": self.steps_per_epoch,
            "accumulation_steps": self.k,
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
            "epoch": self.epoch,
            "batch": self.batch,
            "step": self.step,
            "loss_sum": self.loss_sum,
            "batches": self.nb,
            "elapsed": self.elapsed + (time.perf_counter() - self.t_epoch if mid else 0.0),
            "rng_epoch_start": rng_es if mid else None,
            "history": hist.to_dict(),
            "callbacks": {key: c.state_dict() for key, c in t.callback_keys()},
            "finished": self.status in ("completed", "stopped"),
        }
