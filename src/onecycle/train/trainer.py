"""The :class:`Trainer`: 1cycle training with validation, checkpoints and resume.

The trainer holds the parts of a run (model, loss or step function, optimizer,
loaders, :class:`~onecycle.train.options.TrainerOptions`) and its cumulative
:class:`~onecycle.train.History`. Each ``fit*`` method builds its scheduler and hands
the fit to :class:`~onecycle.train.loop.FitLoop`; checkpoints and resume are the
:class:`~onecycle.train.resume.Resumer`'s; metrics and validation live in
:mod:`onecycle.train.metrics`.

Example:
    >>> import torch
    >>> from onecycle.train import Trainer
    >>> _ = torch.manual_seed(0)
    >>> x, y = torch.randn(64, 4), torch.randint(0, 2, (64,))
    >>> loader = [(x[i:i + 16], y[i:i + 16]) for i in range(0, 64, 16)]
    >>> model = torch.nn.Linear(4, 2)
    >>> opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    >>> trainer = Trainer(model, torch.nn.functional.cross_entropy, opt, loader,
    ...                   val_loader=loader, metrics=["accuracy"], progress=False)
    >>> history = trainer.fit_one_cycle(epochs=2, max_lr=0.5)
    >>> len(history), history.iterations, sorted(history[-1])[:3]
    (2, 8, ['epoch', 'iteration', 'lr'])
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Generic, TypeVar

import torch

from .._io import WriteError, check_writable_dir
from .._plain import to_plain
from .._rng import seed_everything
from .._threads import torch_threads
from ..adaptive_clip import AdaptiveClip
from ..hyper import get_hyper, supports_momentum, validate_hyper
from ..progress import progress_mode
from ..step import Numerics, resolve_step
from .callbacks import Callback, Checkpoint, DivergenceGuard, ProgressBar
from .checkpoint import CheckpointError, load_checkpoint
from .distributed import DistContext, shard_loader
from .history import History
from .loop import FitLoop
from .metrics import METRICS, accuracy, evaluate_loader, parse_metrics
from .modes import averaged_weights, has_batchnorm, has_modes, refresh_batchnorm
from .options import (
    TrainerOptions,
    cycle_momentum_default,
    learning_rates,
    positive_int,
    require_momentum,
)
from .resume import Resumer

__all__ = ["Trainer", "accuracy", "METRICS", "seed_everything"]

T = TypeVar("T")
Resume = bool | str | os.PathLike[str]
_TAIL_CURVES = ("linear", "cos", "cosine", "exp", "exponential")
#: what fit_schedule takes: {name: schedule or per-group list}, or total_steps -> that
Schedules = Mapping[str, Any] | Callable[[int], Mapping[str, Any]]


class _LastFit(Generic[T]):
    """A read-only :class:`Trainer` attribute that reads ``attr`` of the current (or
    last) fit's loop, and is ``before`` until the first fit: one rule for the eight
    attributes callbacks read (see :mod:`onecycle.train.callbacks`)."""

    def __init__(self, attr: str, before: T, doc: str) -> None:
        self.attr, self.before, self.__doc__ = attr, before, doc

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, trainer: Any, owner: type | None = None) -> T:
        if trainer is None:
            return self  # type: ignore[return-value]  # the class attribute (docs, help())
        loop = trainer._loop
        return self.before if loop is None else getattr(loop, self.attr)

    def __set__(self, trainer: Any, value: Any) -> None:
        raise AttributeError(f"Trainer.{self.name} is read-only (it comes from the fit)")


def _schedule_specs(table: Any, total: int) -> dict[str, Any]:
    """The JSON specs of ``fit_schedule``'s schedules (what a resumed fit rebuilds them
    from), each checked: it has ``to_dict()`` and spans the fit's ``total`` steps."""
    if not isinstance(table, Mapping) or not table:
        raise TypeError(f"schedules must be a non-empty mapping {{name: schedule}} or a "
                        f"function total_steps -> such a mapping, got {table!r}")

    def spec(name: str, sched: Any) -> dict[str, Any]:
        to_dict = getattr(sched, "to_dict", None)
        if not callable(sched) or not callable(to_dict):
            raise TypeError(f"schedules[{name!r}] must be a schedule of onecycle.schedule "
                            f"(callable, with to_dict() so the fit can resume), got {sched!r}")
        steps = getattr(sched, "total_steps", None)
        if steps is not None and steps != total:
            raise ValueError(
                f"schedules[{name!r}] spans {steps} steps but the fit has {total} optimizer "
                "steps; build it with trainer.steps_for(epochs), or pass a function "
                "total_steps -> schedules")
        return to_plain(to_dict())

    out: dict[str, Any] = {}
    for name, sched in table.items():
        if not isinstance(name, str):
            raise TypeError(f"schedule names must be strings, got {name!r}")
        out[name] = ([spec(name, s) for s in sched] if isinstance(sched, (list, tuple))
                     else spec(name, sched))
    return out


def _check_parts(model: Any, loss_fn: Any, optimizer: Any, loaders: Mapping[str, Any],
                 step_fn: Any) -> None:
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(
            f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}")
    resolve_step(loss_fn, step_fn)  # loss_fn may be None only with a step_fn
    for name, ld in loaders.items():
        if ld is None and name == "val_loader":
            continue
        try:
            len(ld)
        except TypeError:
            raise TypeError(
                f"{name} must be an iterable of (x, y) batches with __len__ (e.g. a "
                f"DataLoader), got {type(ld).__name__}"
            ) from None
    trainable = {id(p) for p in model.parameters() if p.requires_grad}
    if not trainable:
        raise ValueError("the model has no trainable parameters (every parameter has "
                         "requires_grad=False): there is nothing to train")
    held = [p for g in optimizer.param_groups for p in g["params"]]
    if not any(id(p) in trainable for p in held):
        raise ValueError(
            f"the optimizer holds none of the model's trainable parameters ({len(held)} "
            "parameters of something else), so training would change nothing: build it "
            "from this model, e.g. torch.optim.SGD(model.parameters(), ...)")


class Trainer:
    """Train a model with the 1cycle policy (or a constant LR), validate, checkpoint.

    Args:
        model, optimizer: the model (moved to ``device``) and an optimizer over its
            parameters.
        loss_fn: ``loss_fn(outputs, targets)`` returning a scalar (mean over the
            batch), for ``(inputs, targets)`` batches; may be ``None`` with ``step_fn``.
        train_loader: any iterable of batches with ``__len__`` (a ``DataLoader`` or an
            in-memory loader). If it has ``set_epoch(epoch)`` it is called every epoch
            (the trainer's cumulative epoch number), so the data order can be a
            function of (seed, epoch), which exact resume relies on.
        val_loader: optional loader for per-epoch validation (``val_loss``, ``val_<m>``).
        options: a :class:`~onecycle.train.options.TrainerOptions` (the grouped form).
        **keywords: the same options as flat keywords, overriding ``options``:
            ``step_fn``, ``eval_fn``, ``accumulation_steps``, ``grad_clip``, ``amp``,
            ``device``, ``threads``, ``metrics``, ``seed``, ``callbacks``,
            ``divergence_guard``, ``checkpoint_dir``, ``checkpoint_every``,
            ``progress`` (see :class:`~onecycle.train.options.TrainerOptions`).

    Callbacks run in this order: progress, divergence guard, yours, checkpoint.
    ``trainer.history`` is cumulative over all fits; every ``fit*`` call returns the
    :class:`History` of that call alone.

    >>> model = torch.nn.Linear(2, 2)
    >>> opt = torch.optim.AdamW(model.parameters())
    >>> t = Trainer(model, torch.nn.functional.cross_entropy, opt, [(torch.ones(1, 2),
    ...             torch.tensor([0]))], progress=False)
    >>> t.device
    device(type='cpu')
    """

    def __init__(
        self,
        model: torch.nn.Module,
        loss_fn: Callable[[Any, Any], torch.Tensor] | None,
        optimizer: torch.optim.Optimizer,
        train_loader: Iterable[Any],
        val_loader: Iterable[Any] | None = None,
        *,
        options: TrainerOptions | None = None,
        **keywords: Any,
    ) -> None:
        opts = TrainerOptions.build(options, keywords)
        _check_parts(model, loss_fn, optimizer,
                     {"train_loader": train_loader, "val_loader": val_loader}, opts.step_fn)
        self.options = opts
        device: torch.device = opts.device  # type: ignore[assignment]
        self.dist = DistContext.from_env(device)
        if self.dist.active and device.type == "cuda":
            device = torch.device("cuda", self.dist.local_rank)
        self.device = device
        self.numerics = Numerics(amp=opts.amp, grad_clip=opts.grad_clip,
                                 accumulation_steps=opts.accumulation_steps, device=device)
        self.seed = opts.seed
        if self.seed is not None:
            seed_everything(self.seed)
        self.model = model.to(device)
        self.net = self._wrap(self.model)
        self.loss_fn = loss_fn
        self.step_fn = opts.step_fn
        self.eval_fn = opts.eval_fn
        self.optimizer = optimizer
        self.train_loader = shard_loader(train_loader, self.dist.rank, self.dist.world_size,
                                         train=True, seed=self.seed or 0)
        self.val_loader = shard_loader(val_loader, self.dist.rank, self.dist.world_size,
                                       train=False)
        self.metrics = parse_metrics(opts.metrics)
        self.grad_clip = opts.grad_clip
        self.amp = opts.amp
        self.scaler: Any = torch.amp.GradScaler(device.type) if opts.amp == "fp16" else None
        # grad_clip="auto"'s running median: one per trainer, across fits and checkpoints
        self.adaptive_clip = AdaptiveClip() if opts.grad_clip == "auto" else None
        self.checkpoint_dir: Path | None = opts.checkpoint_dir  # type: ignore[assignment]
        self.callbacks: list[Callback] = self._callbacks(opts)
        self.history = History()
        self.resumer = Resumer(self)
        self.fit_index = 0  # fits of this trainer so far: the index of the next one
        self._loop: FitLoop | None = None

    def _wrap(self, model: torch.nn.Module) -> torch.nn.Module:
        if not self.dist.active:
            return model
        from torch.nn.parallel import DistributedDataParallel

        ids = [self.device.index] if self.device.type == "cuda" else None
        return DistributedDataParallel(model, device_ids=ids)

    def _callbacks(self, opts: TrainerOptions) -> list[Callback]:
        user = list(opts.callbacks)
        cbs: list[Callback] = []
        show = progress_mode(opts.progress) != "off" and self.dist.is_main
        if show and not any(isinstance(c, ProgressBar) for c in user):
            cbs.append(ProgressBar(progress=opts.progress))
        if not any(isinstance(c, DivergenceGuard) for c in user):
            if isinstance(opts.divergence_guard, DivergenceGuard):
                cbs.append(opts.divergence_guard)
            elif opts.divergence_guard:
                cbs.append(DivergenceGuard())
        cbs.extend(user)
        if self.checkpoint_dir is not None:
            self._probe_checkpoint_dir(self.checkpoint_dir)
            cbs.append(Checkpoint(self.checkpoint_dir, every=opts.checkpoint_every))
        return cbs

    @staticmethod
    def _probe_checkpoint_dir(directory: Path) -> None:
        # found at construction, not at the first save after an epoch of training
        try:
            check_writable_dir(directory)
        except WriteError as exc:
            raise CheckpointError(f"checkpoint_dir {directory} is not writable: "
                                  f"{exc.__cause__ or exc}") from exc.__cause__

    # ------------------------------------------------------------------ state of a fit
    @property
    def is_main(self) -> bool:
        """True on rank 0 (and in a single process)."""
        return self.dist.is_main

    @property
    def rank(self) -> int:
        return self.dist.rank

    @property
    def world_size(self) -> int:
        return self.dist.world_size

    @property
    def active_loop(self) -> FitLoop | None:
        """The :class:`~onecycle.train.loop.FitLoop` of the fit in progress, if any."""
        loop = self._loop
        return loop if loop is not None and loop.running else None

    @property
    def fit_history(self) -> History | None:
        """The live history of the fit in progress (None outside a fit)."""
        loop = self.active_loop
        return None if loop is None else loop.history

    # what callbacks read of the current (or last) fit: (attribute of its loop, the
    # value before any fit, doc)
    fit_status = _LastFit("status", "idle", """``"idle"``, or ``"running"``/
        ``"completed"``/``"stopped"``/``"failed"`` inside a fit (the last three while its
        ``on_fit_end`` hooks run).""")
    scheduler = _LastFit("scheduler", None, "The scheduler of the current (or last) fit.")
    step = _LastFit("step", 0, "Optimizer steps done in the current (or last) fit.")
    fit_epochs = _LastFit("epochs", 0, "Epochs of the current (or last) fit.")
    steps_per_epoch = _LastFit("steps_per_epoch", 0,
                               "Optimizer steps per epoch of the current (or last) fit.")
    epoch_in_fit = _LastFit("epoch", 0, "Index of the current epoch within the fit.")
    batch_in_epoch = _LastFit("batch", 0, "Batches of the current epoch consumed so far.")
    resuming = _LastFit("resuming", False, "True while a fit continued from a checkpoint "
                        "starts (``on_fit_start``).")

    @property
    def epoch(self) -> int:
        """Epochs completed over all fits (the cumulative history's length)."""
        done = len(self.history)
        if self.fit_history is not None:
            done += len(self.fit_history)
        return done

    def callback_keys(self) -> list[tuple[str, Callback]]:
        """Stable keys for callback states: class name and occurrence ("EarlyStopping#0")."""
        seen: dict[str, int] = {}
        out = []
        for cb in self.callbacks:
            name = type(cb).__name__
            k = seen.get(name, 0)
            seen[name] = k + 1
            out.append((f"{name}#{k}", cb))
        return out

    # ------------------------------------------------------------------ public fits
    def fit_one_cycle(
        self,
        epochs: int,
        max_lr: float | Sequence[float] | None = None,
        *,
        resume: Resume = False,
        lr_find_kw: Mapping[str, Any] | None = None,
        **schedule_options: Any,
    ) -> History:
        """Train ``epochs`` epochs with the 1cycle policy, stepping it every optimizer step.

        Args:
            epochs: number of epochs (the cycle spans ``epochs x`` the optimizer steps
                of an epoch: ``ceil(len(train_loader) / accumulation_steps)``).
            max_lr: peak LR (or one per param group). ``None`` runs the LR range test
                first (:meth:`lr_find` with ``lr_find_kw``: the trainer's step function,
                numerics and device, state restored afterwards) and takes the peak from
                :func:`onecycle.finder.choose_max_lr` for this cycle's budget (its
                optimizer steps and warm-up: see :mod:`onecycle.finder.budget`), one per
                param group at the ratios the sweep kept; recorded in
                ``history.meta["lr_find"]``. A curve
                without a usable LR raises :class:`onecycle.finder.NoUsableLR` (a
                ``ValueError``) asking for ``max_lr``.
            resume: ``True`` continues from ``checkpoint_dir/last.pt`` if it exists
                (without one the fit starts normally); a path continues from that file
                (which must exist: ``CheckpointNotFoundError`` otherwise). Either way
                at the exact iteration, with the same result as an uninterrupted run.
            **schedule_options: :class:`~onecycle.scheduler.OneCycle` options
                (``style``, ``div``, ``final_div``, ``pct_start``, ``annihilate``,
                ``anneal``, ``three_phase``, ``momentum``, ``on_end``).

        Momentum (beta1 for Adam) is cycled by default. If you pass no ``momentum``
        and the optimizer has no momentum-like hyper-parameter (Adagrad, ...), the
        trainer passes ``momentum=None`` for you (noted in ``history.meta``); passing
        a momentum range to such an optimizer is an error.

        >>> # history = trainer.fit_one_cycle(5, max_lr=0.8, style="fastai")
        """
        from ..schedule import OneCycleSchedule
        from ..scheduler import OneCycle

        epochs = positive_int("epochs", epochs)
        options = dict(schedule_options)
        for bad in ("total_steps", "steps_per_epoch", "optimizer"):
            if bad in options:
                raise TypeError(f"fit_one_cycle() got an unexpected keyword {bad!r}")
        if max_lr is not None:
            learning_rates("max_lr", max_lr, self.optimizer)
        OneCycleSchedule.check_options(**options)  # before a range test spends time
        if options.get("momentum") is not None:
            require_momentum(self.optimizer)
        args = {"epochs": epochs, "max_lr": to_plain(max_lr), "options": to_plain(options)}

        def resolve() -> tuple[dict[str, Any], dict[str, Any]]:
            meta: dict[str, Any] = {}
            lr = max_lr
            if lr is None:
                checked = OneCycleSchedule.check_options(**options)
                lr, meta["lr_find"] = self._suggest_max_lr(
                    lr_find_kw, total_steps=self.steps_for(epochs), style=checked["style"],
                    warmup=checked["pct_start"] * self.steps_for(epochs))
            opts, note = cycle_momentum_default(self.optimizer, options)
            if note is not None:
                meta["momentum"] = note
            return {"max_lr": to_plain(lr), "options": to_plain(opts)}, meta

        def build(resolved: dict[str, Any], total: int) -> Any:
            opts = dict(resolved["options"])
            if isinstance(opts.get("momentum"), list):
                opts["momentum"] = tuple(opts["momentum"])
            return OneCycle(self.optimizer, resolved["max_lr"], total_steps=total, **opts)

        return self._execute("one_cycle", epochs, args, resolve, build, resume)

    def fit(self, epochs: int, lr: float | Sequence[float], *, resume: Resume = False) -> History:
        """Train ``epochs`` epochs at a constant learning rate (a baseline, or to go on
        training at a low LR after a cycle). Momentum is left as it is.

        >>> # history = trainer.fit(3, lr=0.01)
        """
        from ..schedule import constant, join
        from ..scheduler import ParamScheduler

        epochs = positive_int("epochs", epochs)
        learning_rates("lr", lr, self.optimizer)
        args = {"epochs": epochs, "lr": to_plain(lr)}

        def resolve() -> tuple[dict[str, Any], dict[str, Any]]:
            return {"lr": to_plain(lr)}, {}

        def build(resolved: dict[str, Any], total: int) -> Any:
            v = resolved["lr"]
            if isinstance(v, list):
                sched: Any = [join([constant(x)], [0, total]) for x in v]
            else:
                sched = join([constant(v)], [0, total])
            return ParamScheduler(self.optimizer, {"lr": sched}, total_steps=total)

        return self._execute("constant", epochs, args, resolve, build, resume)

    def fit_schedule(self, epochs: int, schedules: Schedules, *,
                     resume: Resume = False) -> History:
        """Train ``epochs`` epochs with any schedules of :mod:`onecycle.schedule` driving
        the optimizer's hyper-parameters, one step per optimizer step (a
        :class:`~onecycle.scheduler.ParamScheduler`, as every fit uses).

        Args:
            epochs: number of epochs.
            schedules: ``{name: schedule}`` -- ``"lr"``, ``"momentum"``,
                ``"weight_decay"`` or any param-group key -> a schedule, or a list of
                them (one per param group) -- or a function ``total_steps -> {...}``
                that builds them for the fit's length (:meth:`steps_for`). Every
                schedule needs ``to_dict()`` (all of :mod:`onecycle.schedule` have it),
                so the fit can be resumed; one with ``total_steps`` must span the fit.
            resume: as for :meth:`fit_one_cycle`.

        Hyper-parameters without a schedule are left as they are (momentum too).

        >>> # from onecycle.schedule import linear_decay
        >>> # trainer.fit_schedule(3, lambda T: {"lr": linear_decay(T, 0.1)})
        """
        from ..schedule import schedule_from_dict
        from ..scheduler import ParamScheduler

        epochs = positive_int("epochs", epochs)
        total = self.steps_for(epochs)
        table = schedules
        if not isinstance(schedules, Mapping) and not hasattr(schedules, "to_dict") \
                and callable(schedules):
            table = schedules(total)
        specs = _schedule_specs(table, total)
        args = {"epochs": epochs, "schedules": specs}

        def resolve() -> tuple[dict[str, Any], dict[str, Any]]:
            return {"schedules": specs}, {}

        def build(resolved: dict[str, Any], total: int) -> Any:
            built = {name: ([schedule_from_dict(d) for d in spec] if isinstance(spec, list)
                            else schedule_from_dict(spec))
                     for name, spec in resolved["schedules"].items()}
            return ParamScheduler(self.optimizer, built, total_steps=total)

        return self._execute("schedule", epochs, args, resolve, build, resume)

    def steps_for(self, epochs: int) -> int:
        """Optimizer steps of a fit of ``epochs`` epochs on this trainer's data:
        ``epochs x ceil(len(train_loader) / accumulation_steps)``.

        >>> # trainer.steps_for(3)  -> 63 for 21 batches per epoch
        """
        epochs = positive_int("epochs", epochs)
        return epochs * -(-self._batches_per_epoch() // self.numerics.accumulation_steps)

    def fit_tail(
        self,
        epochs: int,
        *,
        start_lr: float | None = None,
        end_lr: float | None = None,
        anneal: str = "linear",
        momentum: float | None = None,
        resume: Resume = False,
    ) -> History:
        """Continue after a cycle with only a decreasing part: anneal the LR from the
        current value (or ``start_lr``) down to ``end_lr`` (default: start / 100) over
        ``epochs`` epochs, holding momentum at ``momentum`` (default: its current
        value, which after a 1cycle is the high end of the momentum range).

        ``anneal`` is ``"linear"``, ``"cos"`` or ``"exp"``.

        >>> # trainer.fit_one_cycle(5, max_lr=0.8); trainer.fit_tail(2)
        """
        if anneal not in _TAIL_CURVES:
            raise ValueError(f"anneal must be 'linear', 'cos' or 'exp', got {anneal!r}")
        epochs = positive_int("epochs", epochs)
        for name, v in (("start_lr", start_lr), ("end_lr", end_lr)):
            if v is not None:
                learning_rates(name, v, self.optimizer)
        if momentum is not None:
            validate_hyper("momentum", momentum)
            require_momentum(self.optimizer)
        args = {"epochs": epochs, "start_lr": start_lr, "end_lr": end_lr, "anneal": anneal,
                "momentum": momentum}

        def resolve() -> tuple[dict[str, Any], dict[str, Any]]:
            return self._tail_values(start_lr, end_lr, momentum), {}

        def build(resolved: dict[str, Any], total: int) -> Any:
            return self._tail_scheduler(resolved, anneal, total)

        return self._execute("tail", epochs, args, resolve, build, resume)

    def _tail_values(self, start_lr: float | None, end_lr: float | None,
                     momentum: float | None) -> dict[str, Any]:
        n = len(self.optimizer.param_groups)
        s = get_hyper(self.optimizer, "lr") if start_lr is None else [float(start_lr)] * n
        e = [x / 100.0 for x in s] if end_lr is None else [float(end_lr)] * n
        for a, b in zip(s, e):
            if b > a:
                raise ValueError(
                    f"fit_tail anneals the LR down, but end_lr={b:g} > start_lr={a:g}; "
                    "use fit_one_cycle or fit to raise it"
                )
        mom = momentum
        if mom is None and supports_momentum(self.optimizer):
            mom = get_hyper(self.optimizer, "momentum")[0]
        return {"start_lr": s, "end_lr": e, "momentum": mom}

    def _tail_scheduler(self, resolved: dict[str, Any], anneal: str, total: int) -> Any:
        from ..schedule import constant, cosine, exponential, join, linear
        from ..scheduler import ParamScheduler

        curve = {"linear": linear, "cos": cosine, "cosine": cosine, "exp": exponential,
                 "exponential": exponential}[anneal]
        last = max(total - 1, 0)
        lr_s = [join([curve(a, b)], [0, last]) for a, b in
                zip(resolved["start_lr"], resolved["end_lr"])]
        table: dict[str, Any] = {"lr": lr_s}
        if resolved["momentum"] is not None:
            table["momentum"] = join([constant(resolved["momentum"])], [0, total])
        return ParamScheduler(self.optimizer, table, total_steps=total)

    # ------------------------------------------------------------------ finder
    def lr_find(self, **kwargs: Any) -> Any:
        """Run the LR range test on this trainer's model, optimizer, step function and
        training data, under the trainer's numerics (``amp``, ``grad_clip``,
        ``accumulation_steps``, device) and ``threads``, so the curve is measured as the
        fit will train. Model, optimizer and RNG states are restored afterwards. In a
        distributed run every rank must call it (losses are averaged over ranks).

        Keyword arguments go to :func:`onecycle.finder.lr_find` and override the
        trainer's (``grad_clip=None`` sweeps without clipping, for instance).

        >>> # res = trainer.lr_find(num_iter=100); res.suggest().lr
        """
        from ..finder import lr_find

        kwargs.setdefault("numerics", self.numerics)
        kwargs.setdefault("threads", self.options.threads)
        kwargs.setdefault("progress", self.options.progress if self.is_main else False)
        if self.step_fn is not None:
            kwargs.setdefault("step_fn", self.step_fn)
        # under DDP the wrapped model is swept: gradients and losses are averaged over
        # ranks, so every rank sees the same curve and gets the same suggestion
        return lr_find(self.net, self.optimizer, self.loss_fn, self.train_loader, **kwargs)

    def _suggest_max_lr(self, lr_find_kw: Mapping[str, Any] | None, *, total_steps: int,
                        style: str, warmup: float) -> tuple[Any, dict[str, Any]]:
        from ..finder import NoUsableLR, choose_max_lr

        res = self.lr_find(**dict(lr_find_kw or {}))  # every rank takes part
        info: dict[str, Any] | None = None
        error: NoUsableLR | None = None
        if self.dist.is_main:
            try:
                info = to_plain(choose_max_lr(res, total_steps=total_steps, style=style,
                                              warmup=warmup).to_dict())
            except NoUsableLR as exc:
                error = exc
        info, error = self.dist.broadcast_object((info, error))
        if error is not None:
            raise error
        assert info is not None
        per_group = info.get("per_group") or [info["lr"]]
        return (per_group if len(per_group) > 1 else info["lr"]), info

    # ------------------------------------------------------------------ evaluation
    def evaluate(self, loader: Iterable[Any] | None = None) -> dict[str, float]:
        """Loss and metrics over ``loader`` (default: the validation loader).

        Each batch's loss and metrics are weighted by its size (exact for losses that
        average over the batch); batches go through ``eval_fn`` (default: the step
        function), and metrics see its outputs and targets (see
        :mod:`onecycle.train.metrics`). In a distributed run the sums are all-reduced,
        so every rank returns the same numbers. The model's train/eval mode is restored.

        >>> # trainer.evaluate()  -> {"loss": 0.31, "accuracy": 0.91}
        """
        if loader is None:
            loader = self.val_loader
        elif self.dist.active:
            loader = shard_loader(loader, self.dist.rank, self.dist.world_size, train=False)
        if loader is None:
            raise ValueError("evaluate() needs a loader: pass one or give the trainer val_loader")
        fn = self.eval_fn if self.eval_fn is not None else self.step_fn
        source = ("eval_fn" if self.eval_fn is not None else
                  "step_fn" if self.step_fn is not None else "loss_fn")
        # a schedule-free optimizer is judged in its averaged weights (onecycle.train.modes)
        with torch_threads(self.options.threads), averaged_weights(self.optimizer):
            if has_modes(self.optimizer) and has_batchnorm(self.model):
                refresh_batchnorm(self.model, self.train_loader,
                                  resolve_step(self.loss_fn, self.step_fn), self.numerics)
            return evaluate_loader(self.model, loader, resolve_step(self.loss_fn, fn),
                                   self.metrics, self.numerics, dist=self.dist, source=source)

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume: model, optimizer, scaler, RNG states of every
        rank, the cumulative history and (inside a fit) the fit's position, scheduler,
        history and callback states. Collective in a distributed run. With a schedule-free
        optimizer the weights are its averaged ones (copied: training goes on from the
        other sequence)."""
        with averaged_weights(self.optimizer) as switched:
            state = self.resumer.state_dict()
            return copy.deepcopy(state) if switched else state

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write a checkpoint (atomically; rank 0 writes, every rank must call it).

        Use it for Smith's snapshot trick: save after a cycle, try something, and go
        back with :meth:`restore` or :meth:`Trainer.load`.

        >>> # trainer.save("runs/after_cycle1.pt")
        """
        with averaged_weights(self.optimizer):  # schedule-free: its README's rule
            return self.resumer.save(Path(path))

    def restore(self, path: str | os.PathLike[str]) -> History:
        """Load model, optimizer, scaler, RNG states and history from a checkpoint,
        validated whole first: a checkpoint that does not fit this trainer raises a
        :class:`CheckpointError` and changes nothing.

        A fit that was in progress in the checkpoint is not continued (use
        ``fit_*(..., resume=...)`` for that); its history so far is appended to
        ``trainer.history``. Returns ``trainer.history``.
        """
        return self.resumer.restore(path)

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str],
        model: torch.nn.Module,
        loss_fn: Callable[[Any, Any], torch.Tensor] | None,
        optimizer: torch.optim.Optimizer,
        train_loader: Iterable[Any],
        val_loader: Iterable[Any] | None = None,
        **kwargs: Any,
    ) -> Trainer:
        """A new trainer around ``model``/``optimizer`` with the state from ``path``
        (the file is read, and refused if unsafe or corrupt, before anything is built).

        >>> # t = Trainer.load("runs/after_cycle1.pt", model, loss_fn, opt, train_dl)
        """
        raw = load_checkpoint(path, map_location="cpu")
        trainer = cls(model, loss_fn, optimizer, train_loader, val_loader, **kwargs)
        trainer.resumer.apply_snapshot(trainer.resumer.validate(raw, path))
        return trainer

    # ------------------------------------------------------------------ fit machinery
    def _batches_per_epoch(self) -> int:
        n = len(self.train_loader)  # type: ignore[arg-type]
        if self.dist.active:  # unequal step counts would hang DDP: fail clearly instead
            counts = self.dist.gather_objects(n)
            if len(set(counts)) > 1:
                raise ValueError(
                    f"ranks have different numbers of training batches per epoch {counts}; "
                    "every rank must run the same number of steps (shard evenly)"
                )
        if n < 1:
            raise ValueError("train_loader has no batches")
        return n

    def _execute(
        self,
        kind: str,
        epochs: int,
        args: dict[str, Any],
        resolve: Callable[[], tuple[dict[str, Any], dict[str, Any]]],
        build: Callable[[dict[str, Any], int], Any],
        resume: Any,
    ) -> History:
        if self.active_loop is not None:
            raise RuntimeError("a fit is already running on this trainer")
        with torch_threads(self.options.threads):
            batches = self._batches_per_epoch()
            groups_before = [{k: copy.deepcopy(v) for k, v in g.items() if k != "params"}
                             for g in self.optimizer.param_groups]
            total = epochs * -(-batches // self.numerics.accumulation_steps)
            plan = self.resumer.plan(kind, args, resume, batches)
            if isinstance(plan, History):
                return plan
            if plan is None:
                resolved, meta = resolve()
                hist = History()
                hist.meta.update(meta)
                hist.fits.append({
                    "kind": kind, "epochs": epochs, "start_epoch": 0, "start_iteration": 0,
                    "args": to_plain(args), "resolved": to_plain(resolved), "meta": {},
                })
                sched = build(resolved, total)
            else:
                hist = plan.history
                # optimizer first (load_state_dict replaces its param-group dicts), then
                # the scheduler, which writes the saved step's values (the same floats)
                self.resumer.load_optimizer(plan.checkpoint)
                sched = build(plan.fit["resolved"], total)
                if plan.fit.get("scheduler") is not None:
                    sched.load_state_dict(plan.fit["scheduler"])
                states = plan.fit.get("callbacks") or {}
                for key, cb in self.callback_keys():
                    if key in states:
                        cb.load_state_dict(states[key] or {})
            self._loop = FitLoop(self, hist, sched, epochs=epochs, batches_per_epoch=batches,
                                 groups_before=groups_before, start=plan)
            return self._loop.run()
