"""The :class:`Trainer`: 1cycle training with validation, checkpoints and resume.

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
import inspect
import json
import math
import os
import random
import tempfile
import time
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..hyper import adapter_for, get_hyper, supports_momentum, validate_hyper
from .callbacks import (
    HOOKS,
    Callback,
    Checkpoint,
    DivergenceGuard,
    DivergenceWarning,
    ProgressBar,
    StopTraining,
    TrainingDiverged,
    overridden_hooks,
    progress_default,
)
from .checkpoint import (
    CheckpointError,
    CheckpointNotFoundError,
    get_rng_state,
    load_checkpoint,
    save_checkpoint,
    set_rng_state,
)
from .distributed import DistContext, set_loader_epoch, shard_loader
from .history import History

__all__ = ["Trainer", "accuracy", "METRICS"]

_FORMAT = "onecycle-trainer-checkpoint"
_VERSION = 1

MetricFn = Callable[[Any, Any], Any]


# --------------------------------------------------------------------------- metrics


def accuracy(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Top-1 accuracy of logits ``outputs`` against class indices ``targets``.

    Multi-class logits ``(N, C)`` use the argmax; one logit per sample ``(N,)`` or
    ``(N, 1)`` is a binary classifier thresholded at 0; one-hot / soft targets of the
    same shape as the outputs are compared by argmax. Returns a 0-d tensor (no sync).

    >>> float(accuracy(torch.tensor([[2.0, 0.0], [0.0, 1.0]]), torch.tensor([0, 0])))
    0.5
    """
    if outputs.ndim >= 2 and outputs.shape[-1] > 1:
        pred = outputs.argmax(-1)
        if targets.shape == outputs.shape:
            targets = targets.argmax(-1)
    else:
        pred = (outputs.reshape(targets.shape) > 0).to(targets.dtype)
    return (pred == targets).float().mean()


METRICS: dict[str, MetricFn] = {"accuracy": accuracy, "acc": accuracy}


def _parse_metrics(metrics: Any) -> dict[str, MetricFn]:
    if metrics is None:
        return {}
    if isinstance(metrics, (str,)) or callable(metrics):
        metrics = [metrics]
    items: list[tuple[str, Any]]
    if isinstance(metrics, Mapping):
        items = [(str(k), v) for k, v in metrics.items()]
    elif isinstance(metrics, Iterable):
        items = []
        for i, m in enumerate(metrics):
            if isinstance(m, str):
                items.append((m, m))
            else:
                name = getattr(m, "__name__", None)
                if not name or name == "<lambda>":
                    name = f"metric{i}"
                items.append((name, m))
    else:
        raise TypeError(f"metrics must be a name, a callable, a list or a dict, got {metrics!r}")
    out: dict[str, MetricFn] = {}
    for name, m in items:
        if isinstance(m, str):
            if m not in METRICS:
                raise ValueError(f"unknown metric {m!r}; built in: {sorted(METRICS)}, or pass "
                                 "a callable(outputs, targets) -> float")
            m = METRICS[m]
        if not callable(m):
            raise TypeError(f"metric {name!r} must be callable(outputs, targets), got {m!r}")
        if name == "loss":
            raise ValueError("a metric cannot be called 'loss' (that name is the loss)")
        if name in out:
            raise ValueError(f"two metrics are called {name!r}; use a dict to name them")
        out[name] = m
    return out


# --------------------------------------------------------------------------- helpers


def _plain(obj: Any) -> Any:
    """JSON-plain copy (tuples -> lists, numpy scalars -> python) for config compare."""
    if isinstance(obj, Mapping):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, (bool, str)) or obj is None:
        return obj
    if isinstance(obj, int):
        return int(obj)
    if isinstance(obj, float):
        return float(obj)
    if hasattr(obj, "item"):
        return obj.item()
    return repr(obj)


def _positive_int(name: str, v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or int(v) < 1:
        raise ValueError(f"{name} must be a positive integer, got {v!r}")
    return int(v)


def _resolve_device(device: Any) -> torch.device:
    if device is None:
        return torch.device("cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} requested but CUDA is not available")
    return dev


def _mover(device: torch.device) -> Callable[[Any], Any] | None:
    if device.type == "cpu":
        return None
    nb = device.type == "cuda"

    def move(obj: Any) -> Any:
        if isinstance(obj, torch.Tensor):
            return obj.to(device, non_blocking=nb)
        if isinstance(obj, (list, tuple)):
            return type(obj)(move(o) for o in obj)
        if isinstance(obj, dict):
            return {k: move(v) for k, v in obj.items()}
        return obj

    return move


def _batch_size(y: Any) -> int:
    shape = getattr(y, "shape", None)
    if shape is not None and len(shape) > 0:
        return int(shape[0])
    try:
        return len(y)
    except TypeError:
        return 1


def _momentum_reader(optimizer: torch.optim.Optimizer) -> Callable[[dict], float] | None:
    key = adapter_for(optimizer).momentum
    if key is None:
        return None
    if key.endswith("[0]"):
        base = key[:-3]
        return lambda g: float(g[base][0])
    return lambda g: float(g[key])


def seed_everything(seed: int) -> None:
    """Seed python ``random``, numpy's global generator and torch (all devices).

    >>> seed_everything(0); a = torch.rand(1); seed_everything(0); bool(torch.rand(1) == a)
    True
    """
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


# --------------------------------------------------------------------------- trainer


class Trainer:
    """Train a model with the 1cycle policy (or a constant LR), validate, checkpoint.

    Args:
        model, loss_fn, optimizer: the usual; ``loss_fn(outputs, targets)`` returns a
            scalar tensor (mean over the batch).
        train_loader: any iterable of ``(x, y)`` batches with ``__len__`` (a
            ``DataLoader`` or an in-memory loader). If it has ``set_epoch(epoch)`` it is
            called every epoch (the trainer's cumulative epoch number), so the data
            order can be a function of (seed, epoch), which exact resume relies on.
        val_loader: optional loader for per-epoch validation (``val_loss``, ``val_<m>``).
        metrics: ``"accuracy"``, a callable ``(outputs, targets) -> float | tensor``,
            a list of those, or a dict ``{name: metric}``.
        grad_clip: clip the global gradient norm to this value (Smith: ~0.1 helps
            high-LR SGD); ``None`` disables.
        device: ``"cpu"`` (default) or ``"cuda"`` / ``"cuda:1"``; the model is moved.
        callbacks: extra :class:`~onecycle.train.callbacks.Callback` objects.
        checkpoint_dir: write ``checkpoint_dir/last.pt`` at every epoch end, at the end
            of a fit and, with ``checkpoint_every=N``, every N iterations.
        progress: tqdm progress bars; default: only on a TTY with ``CI`` unset.
        amp: ``None``, ``"bf16"`` (CPU or CUDA autocast) or ``"fp16"`` (CUDA only,
            with a ``GradScaler``; on CPU it is ignored with a warning).
        seed: seed python/numpy/torch RNGs now (same on every rank).
        divergence_guard: ``True`` (default: a :class:`DivergenceGuard`), ``False``, or
            a configured ``DivergenceGuard``.

    Callbacks run in this order: progress bar, divergence guard, yours, checkpoint.
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
        loss_fn: Callable[[Any, Any], torch.Tensor],
        optimizer: torch.optim.Optimizer,
        train_loader: Iterable[Any],
        val_loader: Iterable[Any] | None = None,
        *,
        metrics: Any = None,
        grad_clip: float | None = None,
        device: str | torch.device | None = None,
        callbacks: Sequence[Callback] = (),
        checkpoint_dir: str | os.PathLike[str] | None = None,
        checkpoint_every: int | None = None,
        progress: bool | None = None,
        amp: str | None = None,
        seed: int | None = None,
        divergence_guard: bool | DivergenceGuard = True,
    ) -> None:
        if not isinstance(model, torch.nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        if not isinstance(optimizer, torch.optim.Optimizer):
            raise TypeError(
                f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}"
            )
        if not callable(loss_fn):
            raise TypeError(f"loss_fn must be callable(outputs, targets), got {loss_fn!r}")
        for name, ld in (("train_loader", train_loader), ("val_loader", val_loader)):
            if ld is None and name == "val_loader":
                continue
            try:
                len(ld)  # type: ignore[arg-type]
            except TypeError:
                raise TypeError(
                    f"{name} must be an iterable of (x, y) batches with __len__ (e.g. a "
                    f"DataLoader), got {type(ld).__name__}"
                ) from None
        if grad_clip is not None:
            grad_clip = float(grad_clip)
            if not (grad_clip > 0 and math.isfinite(grad_clip)):
                raise ValueError(f"grad_clip must be a positive number or None, got {grad_clip!r}")
        if checkpoint_every is not None:
            checkpoint_every = _positive_int("checkpoint_every", checkpoint_every)
            if checkpoint_dir is None:
                raise ValueError("checkpoint_every needs checkpoint_dir")
        if amp not in (None, "bf16", "fp16"):
            raise ValueError(f"amp must be None, 'bf16' or 'fp16', got {amp!r}")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
            raise TypeError(f"seed must be an int or None, got {seed!r}")

        self.device = _resolve_device(device)
        self.dist = DistContext.from_env(self.device)
        if self.dist.active and self.device.type == "cuda":
            self.device = torch.device("cuda", self.dist.local_rank)
        self.seed = None if seed is None else int(seed)
        if self.seed is not None:
            seed_everything(self.seed)

        self.model = model.to(self.device)
        if self.dist.active:
            from torch.nn.parallel import DistributedDataParallel

            ids = [self.device.index] if self.device.type == "cuda" else None
            self.net: torch.nn.Module = DistributedDataParallel(self.model, device_ids=ids)
        else:
            self.net = self.model
        self.loss_fn = loss_fn
        self.optimizer = optimizer
        self.train_loader = shard_loader(
            train_loader, self.dist.rank, self.dist.world_size, train=True, seed=self.seed or 0
        )
        self.val_loader = shard_loader(
            val_loader, self.dist.rank, self.dist.world_size, train=False
        )
        self.metrics = _parse_metrics(metrics)
        self.grad_clip = grad_clip

        # mixed precision
        self.amp = amp
        self._amp_dtype: torch.dtype | None = None
        self.scaler: Any = None
        if amp == "fp16":
            if self.device.type == "cuda":
                self._amp_dtype = torch.float16
                self.scaler = torch.amp.GradScaler("cuda")
            else:
                warnings.warn(
                    "amp='fp16' is only used on CUDA; training in float32 on "
                    f"{self.device.type} (amp='bf16' works on CPU)",
                    RuntimeWarning,
                    stacklevel=2,
                )
                self.amp = None
        elif amp == "bf16":
            self._amp_dtype = torch.bfloat16

        # callbacks: progress, divergence guard, user, checkpoint
        user = list(callbacks)
        for cb in user:
            if not isinstance(cb, Callback):
                raise TypeError(f"callbacks must be Callback instances, got {type(cb).__name__}")
        cbs: list[Callback] = []
        show = progress_default() if progress is None else bool(progress)
        self._progress = show and self.dist.is_main
        if show and self.dist.is_main and not any(isinstance(c, ProgressBar) for c in user):
            cbs.append(ProgressBar())
        if not any(isinstance(c, DivergenceGuard) for c in user):
            if isinstance(divergence_guard, DivergenceGuard):
                cbs.append(divergence_guard)
            elif divergence_guard:
                cbs.append(DivergenceGuard())
        cbs.extend(user)
        self.checkpoint_dir = None if checkpoint_dir is None else Path(checkpoint_dir)
        if self.checkpoint_dir is not None:
            try:
                self.checkpoint_dir.mkdir(parents=True, exist_ok=True)
                fd, probe = tempfile.mkstemp(prefix=".write-test-", dir=self.checkpoint_dir)
                os.close(fd)
                os.unlink(probe)
            except OSError as exc:
                raise CheckpointError(
                    f"checkpoint_dir {self.checkpoint_dir} is not writable: {exc.strerror or exc}"
                ) from exc
            cbs.append(Checkpoint(self.checkpoint_dir, every=checkpoint_every))
        self.callbacks: list[Callback] = cbs

        self.history = History()
        # state of the fit in progress (None / 0 outside a fit)
        self.fit_history: History | None = None
        self.scheduler: Any = None
        self.fit_epochs = 0
        self.fit_status = "idle"
        self.steps_per_epoch = 0
        self.step = 0
        self._epoch_in_fit = 0
        self._batch_in_epoch = 0
        self._loss_sum = 0.0
        self._nb = 0
        self._elapsed = 0.0
        self._t_epoch = 0.0
        self._rng_epoch_start: dict[str, Any] | None = None
        self._resuming = False
        self._fit_index = 0

    # ------------------------------------------------------------------ properties
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
    def epoch(self) -> int:
        """Epochs completed over all fits (the cumulative history's length)."""
        done = len(self.history)
        if self.fit_history is not None:
            done += len(self.fit_history)
        return done

    def _autocast(self) -> Any:
        return torch.autocast(device_type=self.device.type, dtype=self._amp_dtype)

    # ------------------------------------------------------------------ public fits
    def fit_one_cycle(
        self,
        epochs: int,
        max_lr: float | Sequence[float] | None = None,
        *,
        resume: bool | str | os.PathLike[str] = False,
        lr_find_kw: Mapping[str, Any] | None = None,
        **schedule_options: Any,
    ) -> History:
        """Train ``epochs`` epochs with the 1cycle policy, stepping it every iteration.

        Args:
            epochs: number of epochs (the cycle spans ``epochs x len(train_loader)``
                iterations).
            max_lr: peak LR (or one per param group). ``None`` runs the LR range test
                first (``lr_find(**lr_find_kw)``, state restored afterwards) and uses
                its suggestion, recorded in ``history.meta["lr_find"]``; if the test
                finds no usable LR a ``ValueError`` asks for ``max_lr``.
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

        epochs = _positive_int("epochs", epochs)
        options = dict(schedule_options)
        for bad in ("total_steps", "steps_per_epoch", "optimizer"):
            if bad in options:
                raise TypeError(f"fit_one_cycle() got an unexpected keyword {bad!r}")
        if max_lr is not None:
            lrs = list(max_lr) if isinstance(max_lr, (list, tuple)) else [max_lr]
            for v in lrs:
                validate_hyper("lr", v, "max_lr")
        # validate the options now, before a range test spends time
        OneCycleSchedule(2, 1.0, **options)
        if "momentum" in options and options["momentum"] is not None:
            if not supports_momentum(self.optimizer):
                adapter_for(self.optimizer)._key("momentum", type(self.optimizer).__name__)
        args = {"epochs": epochs, "max_lr": _plain(max_lr), "options": _plain(options)}

        def resolve() -> tuple[dict[str, Any], dict[str, Any]]:
            meta: dict[str, Any] = {}
            lr = max_lr
            if lr is None:
                lr, meta["lr_find"] = self._suggest_max_lr(lr_find_kw)
            opts = dict(options)
            if "momentum" not in opts and not supports_momentum(self.optimizer):
                opts["momentum"] = None
                meta["momentum"] = (
                    f"{type(self.optimizer).__name__} has no momentum-like hyper-parameter; "
                    "momentum not cycled"
                )
            return {"max_lr": _plain(lr), "options": _plain(opts)}, meta

        def build(resolved: dict[str, Any], total: int) -> Any:
            opts = dict(resolved["options"])
            if isinstance(opts.get("momentum"), list):
                opts["momentum"] = tuple(opts["momentum"])
            return OneCycle(self.optimizer, resolved["max_lr"], total_steps=total, **opts)

        return self._execute("one_cycle", epochs, args, resolve, build, resume)

    def fit(
        self,
        epochs: int,
        lr: float | Sequence[float],
        *,
        resume: bool | str | os.PathLike[str] = False,
    ) -> History:
        """Train ``epochs`` epochs at a constant learning rate (a baseline, or to go on
        training at a low LR after a cycle). Momentum is left as it is.

        >>> # history = trainer.fit(3, lr=0.01)
        """
        from ..schedule import constant, join
        from ..scheduler import ParamScheduler

        epochs = _positive_int("epochs", epochs)
        lrs = list(lr) if isinstance(lr, (list, tuple)) else [lr]
        for v in lrs:
            validate_hyper("lr", v)
        args = {"epochs": epochs, "lr": _plain(lr)}

        def resolve() -> tuple[dict[str, Any], dict[str, Any]]:
            return {"lr": _plain(lr)}, {}

        def build(resolved: dict[str, Any], total: int) -> Any:
            v = resolved["lr"]
            if isinstance(v, list):
                sched: Any = [join([constant(x)], [0, total]) for x in v]
            else:
                sched = join([constant(v)], [0, total])
            return ParamScheduler(self.optimizer, {"lr": sched}, total_steps=total)

        return self._execute("constant", epochs, args, resolve, build, resume)

    def fit_tail(
        self,
        epochs: int,
        *,
        start_lr: float | None = None,
        end_lr: float | None = None,
        anneal: str = "linear",
        momentum: float | None = None,
        resume: bool | str | os.PathLike[str] = False,
    ) -> History:
        """Continue after a cycle with only a decreasing part: anneal the LR from the
        current value (or ``start_lr``) down to ``end_lr`` (default: start / 100) over
        ``epochs`` epochs, holding momentum at ``momentum`` (default: its current
        value, which after a 1cycle is the high end of the momentum range).

        ``anneal`` is ``"linear"``, ``"cos"`` or ``"exp"``.

        >>> # trainer.fit_one_cycle(5, max_lr=0.8); trainer.fit_tail(2)
        """
        from ..schedule import constant, cosine, exponential, join, linear
        from ..scheduler import ParamScheduler

        curves = {"linear": linear, "cos": cosine, "cosine": cosine, "exp": exponential,
                  "exponential": exponential}
        if anneal not in curves:
            raise ValueError(f"anneal must be 'linear', 'cos' or 'exp', got {anneal!r}")
        epochs = _positive_int("epochs", epochs)
        for v in (start_lr, end_lr):
            if v is not None:
                validate_hyper("lr", v)
        if momentum is not None:
            validate_hyper("momentum", momentum)
            if not supports_momentum(self.optimizer):
                adapter_for(self.optimizer)._key("momentum", type(self.optimizer).__name__)
        args = {"epochs": epochs, "start_lr": start_lr, "end_lr": end_lr, "anneal": anneal,
                "momentum": momentum}

        def resolve() -> tuple[dict[str, Any], dict[str, Any]]:
            starts = get_hyper(self.optimizer, "lr") if start_lr is None else None
            n = len(self.optimizer.param_groups)
            s = starts if starts is not None else [float(start_lr)] * n  # type: ignore[arg-type]
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
            return {"start_lr": s, "end_lr": e, "momentum": mom}, {}

        def build(resolved: dict[str, Any], total: int) -> Any:
            curve = curves[anneal]
            last = max(total - 1, 0)
            lr_s = [join([curve(a, b)], [0, last]) for a, b in
                    zip(resolved["start_lr"], resolved["end_lr"])]
            table: dict[str, Any] = {"lr": lr_s}
            if resolved["momentum"] is not None:
                table["momentum"] = join([constant(resolved["momentum"])], [0, total])
            return ParamScheduler(self.optimizer, table, total_steps=total)

        return self._execute("tail", epochs, args, resolve, build, resume)

    # ------------------------------------------------------------------ finder
    def lr_find(self, **kwargs: Any) -> Any:
        """Run the LR range test on this trainer's model, optimizer, loss and training
        data (model, optimizer and RNG states are restored afterwards). In a
        distributed run every rank must call it (losses are averaged over ranks).

        Keyword arguments go to :func:`onecycle.finder.lr_find`.

        >>> # res = trainer.lr_find(num_iter=100); res.suggest().lr
        """
        from ..finder import lr_find

        try:
            params = inspect.signature(lr_find).parameters
        except (TypeError, ValueError):  # pragma: no cover
            params = {}
        if "device" in params and "device" not in kwargs:
            kwargs["device"] = self.device
        if "progress" in params and "progress" not in kwargs:
            kwargs["progress"] = self._progress
        # under DDP the wrapped model is swept: gradients and losses are averaged over
        # ranks, so every rank sees the same curve and gets the same suggestion
        return lr_find(self.net, self.optimizer, self.loss_fn, self.train_loader, **kwargs)

    def _suggest_max_lr(self, lr_find_kw: Mapping[str, Any] | None) -> tuple[Any, dict[str, Any]]:
        info: dict[str, Any] | None = None
        error: str | None = None
        res = self.lr_find(**dict(lr_find_kw or {}))  # every rank takes part
        if self.dist.is_main:
            sug = res.suggest()
            info = {
                "lr": None if sug.lr is None else float(sug.lr),
                "low": None if getattr(sug, "low", None) is None else float(sug.low),
                "high": None if getattr(sug, "high", None) is None else float(sug.high),
                "method": getattr(sug, "method", None),
                "confidence": getattr(sug, "confidence", None),
                "reason": getattr(sug, "reason", None),
            }
            if info["confidence"] is not None:
                info["confidence"] = _plain(info["confidence"])
            if sug.lr is None:
                error = (
                    "the LR range test found no usable learning rate for fit_one_cycle "
                    f"({info['reason'] or 'no descent in the loss curve'}); look at "
                    "trainer.lr_find().plot() and pass max_lr=... explicitly"
                )
        info, error = self.dist.broadcast_object((info, error))
        if error is not None:
            raise ValueError(error)
        assert info is not None
        return info["lr"], info

    # ------------------------------------------------------------------ evaluation
    def evaluate(self, loader: Iterable[Any] | None = None) -> dict[str, float]:
        """Loss and metrics over ``loader`` (default: the validation loader).

        Each batch's loss and metrics are weighted by its size (exact for losses that
        average over the batch). In a distributed run the sums are all-reduced, so
        every rank returns the same numbers. The model's train/eval mode is restored.

        >>> # trainer.evaluate()  -> {"loss": 0.31, "accuracy": 0.91}
        """
        if loader is None:
            loader = self.val_loader
        elif self.dist.active:
            loader = shard_loader(loader, self.dist.rank, self.dist.world_size, train=False)
        if loader is None:
            raise ValueError("evaluate() needs a loader: pass one or give the trainer val_loader")
        model = self.model
        modes = [(m, m.training) for m in model.modules()]
        model.eval()
        move = _mover(self.device)
        loss_fn = self.loss_fn
        metrics = self.metrics
        total: Any = 0.0
        sums: dict[str, Any] = dict.fromkeys(metrics, 0.0)
        count = 0
        try:
            with torch.no_grad():
                for batch in loader:
                    x, y = _unpack(batch)
                    if move is not None:
                        x, y = move(x), move(y)
                    if self._amp_dtype is not None:
                        with self._autocast():
                            out = model(x)
                            loss = loss_fn(out, y)
                    else:
                        out = model(x)
                        loss = loss_fn(out, y)
                    n = _batch_size(y)
                    total = total + loss.detach().double() * n
                    for name, fn in metrics.items():
                        v = fn(out, y)
                        v = v.detach().double() if isinstance(v, torch.Tensor) else float(v)
                        sums[name] = sums[name] + v * n
                    count += n
        finally:
            for m, flag in modes:  # per module: frozen sub-modules stay frozen
                m.training = flag
        vals = [total, *sums.values()]
        if self.dist.active:
            t = torch.tensor([float(v) for v in vals] + [float(count)], dtype=torch.float64,
                             device=self.device if self.device.type == "cuda" else "cpu")
            self.dist.all_reduce_sum(t)
            vals, count = t[:-1].tolist(), int(t[-1].item())
        if count == 0:
            raise ValueError("evaluate(): the loader yielded no batches")
        out_d = {"loss": float(vals[0]) / count}
        for name, v in zip(metrics, vals[1:]):
            out_d[name] = float(v) / count
        return out_d

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume: model, optimizer, scaler, RNG states of every
        rank, the cumulative history and (inside a fit) the fit's position, scheduler,
        history and callback states. Collective in a distributed run."""
        rng = self.dist.gather_objects(get_rng_state())
        fit: dict[str, Any] | None = None
        hist = self.fit_history
        if hist is not None:
            mid = self._batch_in_epoch > 0
            rng_es = self.dist.gather_objects(self._rng_epoch_start if mid else None)
            fit = {
                "index": self._fit_index,
                "kind": hist.fits[0]["kind"],
                "epochs": self.fit_epochs,
                "args": hist.fits[0]["args"],
                "resolved": hist.fits[0]["resolved"],
                "steps_per_epoch": self.steps_per_epoch,
                "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
                "epoch": self._epoch_in_fit,
                "batch": self._batch_in_epoch,
                "step": self.step,
                "loss_sum": self._loss_sum,
                "batches": self._nb,
                "elapsed": self._elapsed + (time.perf_counter() - self._t_epoch if mid else 0.0),
                "rng_epoch_start": rng_es if mid else None,
                "history": hist.to_dict(),
                "callbacks": {key: c.state_dict() for key, c in self._callback_keys()},
                "finished": self.fit_status in ("completed", "stopped"),
            }
        return {
            "format": _FORMAT,
            "version": _VERSION,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scaler": None if self.scaler is None else self.scaler.state_dict(),
            "rng": rng,
            "world_size": self.dist.world_size,
            "history": self.history.to_dict(),
            "fit": fit,
        }

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write a checkpoint (atomically; rank 0 writes, every rank must call it).

        Use it for Smith's snapshot trick: save after a cycle, try something, and go
        back with :meth:`restore` or :meth:`Trainer.load`.

        >>> # trainer.save("runs/after_cycle1.pt")
        """
        payload = self.state_dict()
        path = Path(path)
        if self.dist.is_main:
            save_checkpoint(path, payload)
        self.dist.barrier()
        return path

    def restore(self, path: str | os.PathLike[str]) -> History:
        """Load model, optimizer, scaler, RNG states and history from a checkpoint.

        A fit that was in progress in the checkpoint is not continued (use
        ``fit_*(..., resume=...)`` for that); its history so far is appended to
        ``trainer.history``. Returns ``trainer.history``.
        """
        p = self._read(path)
        self._check_model(p)
        self.optimizer.load_state_dict(p["optimizer"])  # validates before changing anything
        self._load_core(p)
        self._set_rng(p["rng"])
        fit = p.get("fit")
        if fit is not None:
            self.history.extend(History.from_dict(fit["history"]))
        return self.history

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str],
        model: torch.nn.Module,
        loss_fn: Callable[[Any, Any], torch.Tensor],
        optimizer: torch.optim.Optimizer,
        train_loader: Iterable[Any],
        val_loader: Iterable[Any] | None = None,
        **kwargs: Any,
    ) -> Trainer:
        """A new trainer around ``model``/``optimizer`` with the state from ``path``.

        >>> # t = Trainer.load("runs/after_cycle1.pt", model, loss_fn, opt, train_dl)
        """
        trainer = cls(model, loss_fn, optimizer, train_loader, val_loader, **kwargs)
        trainer.restore(path)
        return trainer

    def _read(self, path: str | os.PathLike[str]) -> dict[str, Any]:
        p = load_checkpoint(path, map_location="cpu")
        if p.get("format") != _FORMAT:
            raise CheckpointError(
                f"{path} is not a onecycle Trainer checkpoint (format={p.get('format')!r})"
            )
        if int(p.get("version", 0)) > _VERSION:
            raise CheckpointError(
                f"{path} was written by a newer onecycle (version {p.get('version')}); upgrade"
            )
        return p

    def _check_model(self, p: dict[str, Any]) -> None:
        own, sd = self.model.state_dict(), p.get("model")
        if not isinstance(sd, Mapping):
            raise CheckpointError("checkpoint has no model state")
        problems = [f"missing {k}" for k in own.keys() - sd.keys()]
        problems += [f"unexpected {k}" for k in sd.keys() - own.keys()]
        problems += [f"{k}: {tuple(sd[k].shape)} in the checkpoint, {tuple(own[k].shape)} here"
                     for k in own.keys() & sd.keys()
                     if hasattr(sd[k], "shape") and tuple(sd[k].shape) != tuple(own[k].shape)]
        if problems:
            raise CheckpointError("checkpoint model does not match this model (size mismatch "
                                  "or different layers): " + "; ".join(sorted(problems)[:10]))

    def _load_core(self, p: dict[str, Any]) -> None:
        self._check_model(p)
        try:
            self.model.load_state_dict(p["model"])
        except RuntimeError as exc:
            raise CheckpointError(f"checkpoint model does not match this model: {exc}") from exc
        if self.scaler is not None and p.get("scaler") is not None:
            self.scaler.load_state_dict(p["scaler"])
        self.history = History.from_dict(p["history"])

    def _set_rng(self, rng: Any) -> None:
        if rng is None:
            return
        if isinstance(rng, dict):
            set_rng_state(rng)
            return
        if len(rng) != self.dist.world_size:
            warnings.warn(
                f"checkpoint has RNG states of {len(rng)} ranks, this run has "
                f"{self.dist.world_size}; the continuation will not be bit-identical",
                RuntimeWarning,
                stacklevel=3,
            )
        set_rng_state(rng[self.dist.rank % len(rng)])

    # ------------------------------------------------------------------ fit machinery
    def _callback_keys(self) -> list[tuple[str, Callback]]:
        """Stable keys for callback states: class name and occurrence ("EarlyStopping#0")."""
        seen: dict[str, int] = {}
        out = []
        for cb in self.callbacks:
            name = type(cb).__name__
            k = seen.get(name, 0)
            seen[name] = k + 1
            out.append((f"{name}#{k}", cb))
        return out

    def _resume_path(self, resume: Any) -> Path:
        if resume is True:
            if self.checkpoint_dir is None:
                raise ValueError(
                    "resume=True needs the trainer's checkpoint_dir (or pass resume=<path>)"
                )
            return self.checkpoint_dir / "last.pt"
        return Path(resume)

    def _plan(
        self, kind: str, args: dict[str, Any], resume: Any, spe: int
    ) -> None | History | dict[str, Any]:
        """Decide how to resume: None (fresh), a History (fit already done), or a plan."""
        if resume is False or resume is None:
            return None
        path = self._resume_path(resume)
        if not path.exists():
            if resume is True:  # "continue if there is something to continue"
                return None
            # an explicit path that is not there is a typo, not a fresh start
            raise CheckpointNotFoundError(
                f"resume={str(resume)!r}: no checkpoint at {path}; pass resume=True to start "
                "fresh when checkpoint_dir has none"
            )
        p = self._read(path)
        f = self._fit_index
        fit = p.get("fit")
        past = History.from_dict(p["history"])
        fi = len(past.fits) if fit is None else int(fit["index"])
        if fi > f:
            # this fit finished before the checkpoint was written: replay its history;
            # the state itself is loaded by the fit the checkpoint belongs to
            done = past.fit(f)
            if done.fits[0].get("kind") != kind:
                raise CheckpointError(
                    f"{path}: fit #{f} in the checkpoint is {done.fits[0].get('kind')!r}, "
                    f"not {kind!r}; the script's fits do not match the checkpoint"
                )
            self.history.extend(done)
            self._fit_index += 1
            return done
        if fi < f:
            # the normal case for the next fit of a script (the checkpoint holds the
            # finished previous fit); an unfinished older fit is odd: say so
            if fit is not None and not fit["finished"]:
                warnings.warn(
                    f"{path} holds an unfinished earlier fit (#{fi}) but this is fit #{f}; "
                    "starting this fit afresh",
                    RuntimeWarning,
                    stacklevel=4,
                )
            return None
        if fit is None:  # saved between fits, right before this one: load and start
            self._load_core(p)
            self.optimizer.load_state_dict(p["optimizer"])
            self._set_rng(p["rng"])
            return None
        if fit["kind"] != kind or _plain(fit["args"]) != _plain(args):
            raise CheckpointError(
                f"{path} holds a {fit['kind']} fit with arguments "
                f"{json.dumps(_plain(fit['args']))}, but resume was asked for a {kind} fit "
                f"with {json.dumps(_plain(args))}; pass the same arguments or remove the file"
            )
        if int(fit["steps_per_epoch"]) != spe:
            raise CheckpointError(
                f"{path} was written with {fit['steps_per_epoch']} batches per epoch, the "
                f"train_loader now has {spe}; resume needs the same data and batch size"
            )
        self._load_core(p)
        hist = History.from_dict(fit["history"])
        if fit["finished"]:
            hist.fits[0]["meta"] = dict(hist.meta)
            self.optimizer.load_state_dict(p["optimizer"])
            self._set_rng(p["rng"])
            self.history.extend(hist)
            self._fit_index += 1
            return hist
        return {"payload": p, "fit": fit, "history": hist}

    def _execute(
        self,
        kind: str,
        epochs: int,
        args: dict[str, Any],
        resolve: Callable[[], tuple[dict[str, Any], dict[str, Any]]],
        build: Callable[[dict[str, Any], int], Any],
        resume: Any,
    ) -> History:
        if self.fit_history is not None:
            raise RuntimeError("a fit is already running on this trainer")
        spe = len(self.train_loader)  # type: ignore[arg-type]
        if self.dist.active:  # unequal step counts would hang DDP: fail clearly instead
            counts = self.dist.gather_objects(spe)
            if len(set(counts)) > 1:
                raise ValueError(
                    f"ranks have different numbers of training batches per epoch {counts}; "
                    "every rank must run the same number of steps (shard evenly)"
                )
        if spe < 1:
            raise ValueError("train_loader has no batches")
        self._groups_before = [
            {k: copy.deepcopy(v) for k, v in g.items() if k != "params"}
            for g in self.optimizer.param_groups
        ]
        total = epochs * spe
        plan = self._plan(kind, args, resume, spe)
        if isinstance(plan, History):
            return plan
        if plan is None:
            resolved, meta = resolve()
            hist = History()
            hist.meta.update(meta)
            hist.fits.append({
                "kind": kind, "epochs": epochs, "start_epoch": 0, "start_iteration": 0,
                "args": _plain(args), "resolved": _plain(resolved), "meta": {},
            })
            sched = build(resolved, total)
        else:
            fit = plan["fit"]
            hist = plan["history"]
            # optimizer first (load_state_dict replaces its param-group dicts), then the
            # scheduler, which writes the saved step's values (the same floats) back
            self.optimizer.load_state_dict(plan["payload"]["optimizer"])
            sched = build(fit["resolved"], total)
            if fit["scheduler"] is not None:
                sched.load_state_dict(fit["scheduler"])
            states = fit.get("callbacks") or {}
            for key, cb in self._callback_keys():
                if key in states:
                    cb.load_state_dict(states[key] or {})
        return self._loop(hist, sched, epochs, spe, plan)

    def _loop(
        self, hist: History, sched: Any, epochs: int, spe: int, plan: dict[str, Any] | None
    ) -> History:
        self.fit_history = hist
        self.scheduler = sched
        self.fit_epochs = epochs
        self.steps_per_epoch = spe
        self.fit_status = "running"
        self._resuming = plan is not None
        self._global_epoch0 = len(self.history)
        # train mode for the fit: an eval-mode model is switched to train mode (as lr_find
        # does); a training model keeps the flags of its sub-modules (frozen BatchNorm)
        if not self.model.training:
            self.model.train()
        self._train_modes = [(m, m.training) for m in self.model.modules()]
        start_epoch, start_batch = 0, 0
        self.step, self._loss_sum, self._nb, self._elapsed = 0, 0.0, 0, 0.0
        if plan is not None:
            fit = plan["fit"]
            start_epoch, start_batch = int(fit["epoch"]), int(fit["batch"])
            self.step = int(fit["step"])
            self._loss_sum, self._nb = float(fit["loss_sum"]), int(fit["batches"])
            self._elapsed = float(fit["elapsed"])
        self._epoch_in_fit, self._batch_in_epoch = start_epoch, start_batch
        hooks = {name: [getattr(cb, name) for cb in self.callbacks if overridden_hooks(cb, name)]
                 for name in HOOKS}
        try:
            for fn in hooks["on_fit_start"]:
                fn(self)
            if plan is not None:
                self._set_rng(plan["payload"]["rng"])
            self._resuming = False
            for epoch in range(start_epoch, epochs):
                skip = start_batch if (plan is not None and epoch == start_epoch) else 0
                self._train_epoch(epoch, skip, hooks, plan if skip else None)
            self.fit_status = "completed"
        except StopTraining as exc:
            self.fit_status = "stopped"
            hist.meta["stopped"] = {
                "reason": str(exc), "epoch": self._epoch_in_fit, "step": self.step,
            }
        except BaseException as exc:
            self.fit_status = "failed"
            if plan is None and self.step == 0:  # no optimizer step was taken: undo the
                for g, vals in zip(self.optimizer.param_groups, self._groups_before):
                    g.update(vals)  # scheduler's first write (lr, momentum, ...)
            if isinstance(exc, Exception):  # 11. say where the fit was
                where = (f"onecycle: {hist.fits[0]['kind']} fit failed at epoch "
                         f"{self._epoch_in_fit}, step {self.step}")
                if self.checkpoint_dir is not None and (self.checkpoint_dir / "last.pt").exists():
                    where += f"; the last checkpoint is {self.checkpoint_dir / 'last.pt'}"
                exc.add_note(where)
            raise
        finally:
            hist.fits[0]["meta"] = dict(hist.meta)
            try:
                for fn in hooks["on_fit_end"]:
                    fn(self)
            finally:
                if self.fit_status != "failed":
                    self.history.extend(hist)
                    self._fit_index += 1
                self.fit_history = None
                self.scheduler = sched
                self._resuming = False
                self._batch_in_epoch = 0
                status = self.fit_status
                self.fit_status = "idle"
        div = hist.meta.get("diverged")
        if status == "stopped" and div:
            if div.get("action") == "raise":
                raise TrainingDiverged(div["message"], div, hist)
            if self.is_main:
                warnings.warn(div["message"], DivergenceWarning, stacklevel=3)
        return hist

    def _train_epoch(
        self,
        epoch: int,
        skip: int,
        hooks: dict[str, list[Callable[..., Any]]],
        plan: dict[str, Any] | None,
    ) -> None:
        hist = self.fit_history
        assert hist is not None
        loader = self.train_loader
        self._epoch_in_fit = epoch
        self._batch_in_epoch = skip
        for fn in hooks["on_epoch_start"]:
            fn(self, epoch)
        set_loader_epoch(loader, self._global_epoch0 + epoch)
        if plan is not None:
            rs = plan["fit"]["rng_epoch_start"]
            if rs is not None:
                self._set_rng(rs)
                self._rng_epoch_start = rs[self.dist.rank % len(rs)]
        else:
            self._rng_epoch_start = get_rng_state()
        self._t_epoch = time.perf_counter()
        it = iter(loader)
        if skip:
            for k in range(skip):
                try:
                    next(it)
                except StopIteration:
                    raise CheckpointError(
                        f"resume: the train_loader ended after {k} batches, the checkpoint "
                        f"was taken after {skip}"
                    ) from None
            self._set_rng(plan["payload"]["rng"] if plan is not None else None)

        # ---- the hot loop: keep it lean (one loss sync, no tensor bookkeeping) ----
        net, opt, loss_fn, sched = self.net, self.optimizer, self.loss_fn, self.scheduler
        for m, flag in self._train_modes:
            m.training = flag
        g0 = opt.param_groups[0]
        mom_get = _momentum_reader(opt)
        lr_l, mom_l, loss_l = hist.lr, hist.momentum, hist.loss
        b_start, b_end = hooks["on_batch_start"], hooks["on_batch_end"]
        move = _mover(self.device)
        clip = self.grad_clip
        params = [p for p in self.model.parameters() if p.requires_grad] if clip else []
        clip_fn = torch.nn.utils.clip_grad_norm_
        scaler = self.scaler
        amp = self._amp_dtype is not None
        mean_loss = self.dist.mean_loss if self.dist.active else None
        loss_sum, nb, step = self._loss_sum, self._nb, self.step
        check_loss = True
        i = skip
        for batch in it:
            if b_start:
                for fn in b_start:
                    fn(self, step)
            if not isinstance(batch, (tuple, list)) or len(batch) != 2:
                raise _bad_batch(batch)
            x, y = batch
            if move is not None:
                x, y = move(x), move(y)
            if amp:
                with self._autocast():
                    out = net(x)
                    loss = loss_fn(out, y)
            else:
                out = net(x)
                loss = loss_fn(out, y)
            if check_loss:  # once per epoch: cheap, and catches a bad loss_fn at once
                _check_loss(loss)
                check_loss = False
            opt.zero_grad(set_to_none=True)
            if scaler is None:
                loss.backward()
                if clip:
                    clip_fn(params, clip)
                opt.step()
            else:
                scaler.scale(loss).backward()
                if clip:
                    scaler.unscale_(opt)
                    clip_fn(params, clip)
                scaler.step(opt)
                scaler.update()
            lr = g0["lr"]
            lr_l.append(lr if type(lr) is float else float(lr))
            mom_l.append(mom_get(g0) if mom_get is not None else None)
            sched.step()
            lv = loss.item() if mean_loss is None else mean_loss(loss)
            loss_l.append(lv)
            loss_sum += lv
            nb += 1
            step += 1
            i += 1
            self.step, self._batch_in_epoch, self._loss_sum, self._nb = step, i, loss_sum, nb
            if b_end:
                for fn in b_end:
                    fn(self, step - 1, lv)
        if nb == 0:
            raise ValueError("train_loader yielded no batches")

        # ---- epoch end ----
        record: dict[str, Any] = {
            "epoch": epoch,
            "iteration": step,
            "train_loss": loss_sum / nb,
            "lr": lr_l[-1],
            "momentum": mom_l[-1],
        }
        if self.val_loader is not None:
            ev = self.evaluate()
            record["val_loss"] = ev.pop("loss")
            for k, v in ev.items():
                record[f"val_{k}"] = v
        record["wall_time"] = self._elapsed + time.perf_counter() - self._t_epoch
        hist.add_record(record)
        self._epoch_in_fit, self._batch_in_epoch = epoch + 1, 0
        self._loss_sum, self._nb, self._elapsed = 0.0, 0, 0.0
        for fn in hooks["on_epoch_end"]:
            fn(self, epoch, record)


def _bad_batch(batch: Any) -> TypeError:
    if isinstance(batch, Mapping):
        what = f"a dict with keys {sorted(map(str, batch))}"
    elif isinstance(batch, (list, tuple)):
        what = f"a {type(batch).__name__} of length {len(batch)}"
    else:
        what = type(batch).__name__
    return TypeError(f"each batch must be an (inputs, targets) pair, got {what}")


def _unpack(batch: Any) -> tuple[Any, Any]:
    if not isinstance(batch, (tuple, list)) or len(batch) != 2:
        raise _bad_batch(batch)
    x, y = batch
    return x, y


def _check_loss(loss: Any) -> None:
    if not isinstance(loss, torch.Tensor):
        raise TypeError(f"the loss (loss_fn result) must be a torch.Tensor, got "
                        f"{type(loss).__name__}")
    if loss.numel() != 1:
        raise ValueError(f"the loss (loss_fn result) must be a scalar, got a tensor of shape "
                         f"{tuple(loss.shape)}; reduce it (e.g. reduction='mean')")
