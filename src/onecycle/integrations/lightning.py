"""PyTorch Lightning callbacks: the 1cycle schedule per step, and our LR range test.

Lightning is optional: importing this module never imports it; using a class without
Lightning installed raises an ``ImportError`` that says ``pip install
onecycle[lightning]``.

* :class:`OneCycleCallback` builds a :class:`onecycle.scheduler.OneCycle` on the
  first optimizer when training starts (``total_steps`` =
  ``trainer.estimated_stepping_batches``, which accounts for gradient accumulation)
  and steps it after every optimizer step. Do not also return an LR scheduler from
  ``configure_optimizers``. Its state is saved in Lightning checkpoints, so a resumed
  run continues the schedule at the exact step.
* :class:`LRFinderCallback` runs :func:`onecycle.finder.lr_find` when training starts
  (model, optimizer and RNG states restored afterwards), using the module's
  ``training_step`` as the loss, and picks the peak with
  :func:`onecycle.finder.choose_max_lr` (a curve without a usable LR raises
  ``NoUsableLR``). With ``OneCycleCallback(max_lr=None)`` placed after it, the cycle
  uses that pick, one peak per param group at the sweep's ratios.

Example:
    >>> import onecycle.integrations.lightning as oc_pl    # Lightning not imported yet
    >>> # trainer = lightning.Trainer(callbacks=[oc_pl.OneCycleCallback(max_lr=0.5)])
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Iterator
from typing import Any

__all__ = ["OneCycleCallback", "LRFinderCallback"]  # noqa: F822 (module __getattr__)

_HINT = (
    "onecycle.integrations.lightning needs PyTorch Lightning: pip install onecycle[lightning]"
)


def _base() -> type:
    """Lightning's ``Callback`` class (``lightning.pytorch`` or ``pytorch_lightning``)."""
    for name in ("lightning.pytorch", "pytorch_lightning"):
        try:
            return importlib.import_module(name).Callback
        except ImportError:
            continue
    raise ImportError(_HINT)


_CLASSES: dict[str, type] = {}


@contextlib.contextmanager
def _quiet_logging(module: Any) -> Iterator[None]:
    """``self.log`` outside Lightning's loop would fail: make it a no-op meanwhile."""
    saved = {k: module.__dict__[k] for k in ("log", "log_dict") if k in module.__dict__}
    object.__setattr__(module, "log", lambda *a, **k: None)
    object.__setattr__(module, "log_dict", lambda *a, **k: None)
    try:
        yield
    finally:
        for k in ("log", "log_dict"):
            module.__dict__.pop(k, None)
        module.__dict__.update(saved)


def _one_cycle_class(Base: type) -> type:
    """The OneCycleCallback class on Lightning's ``Callback``."""

    class _OneCycleCallback(Base):  # type: ignore[misc, valid-type]
        def __init__(self, max_lr: Any = None, *, record: bool = False, **options: Any):
            super().__init__()
            self.max_lr = max_lr
            self.options = options
            self.record = record
            self.scheduler: Any = None
            self.lrs: list[float] = []
            self.momentums: list[float | None] = []
            self._pending: dict[str, Any] | None = None

        def _resolve_max_lr(self, trainer: Any) -> Any:
            if self.max_lr is not None:
                return self.max_lr
            for cb in trainer.callbacks:
                if cb.__class__.__name__ == "LRFinderCallback" and cb.choice is not None:
                    per_group = cb.choice.per_group
                    return list(per_group) if len(per_group) > 1 else cb.choice.lr
            raise ValueError(
                "OneCycleCallback(max_lr=None) needs an LRFinderCallback before it in "
                "the callbacks list, or pass max_lr"
            )

        def on_train_start(self, trainer: Any, pl_module: Any) -> None:
            from ..scheduler import OneCycle
            from ..train.options import cycle_momentum_default

            if not trainer.optimizers:
                raise ValueError("OneCycleCallback: configure_optimizers returned no optimizer")
            opt = trainer.optimizers[0]
            total = int(trainer.estimated_stepping_batches)
            opts, _ = cycle_momentum_default(opt, self.options)
            self.scheduler = OneCycle(opt, self._resolve_max_lr(trainer), total_steps=total,
                                      **opts)
            if self._pending is not None:
                self.scheduler.load_state_dict(self._pending)
                self._pending = None
            else:
                # a run resumed without our state: join the schedule at the right step
                for _ in range(int(trainer.global_step)):
                    self.scheduler.step()

        def on_before_optimizer_step(self, trainer: Any, pl_module: Any, optimizer: Any) -> None:
            if self.record and self.scheduler is not None:
                cur = self.scheduler.current_values()
                self.lrs.append(cur["lr"][0])
                mom = cur.get("momentum")
                self.momentums.append(mom[0] if mom else None)

        def on_train_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any,
                               batch_idx: int) -> None:
            s = self.scheduler
            if s is None:
                return
            # step once per optimizer step (gradient accumulation skips batches)
            while s.last_epoch < trainer.global_step:
                s.step()

        def state_dict(self) -> dict[str, Any]:
            return {"scheduler": None if self.scheduler is None else self.scheduler.state_dict()}

        def load_state_dict(self, state_dict: dict[str, Any]) -> None:
            self._pending = state_dict.get("scheduler")

    return _OneCycleCallback


def _lr_finder_class(Base: type) -> type:
    """The LRFinderCallback class on Lightning's ``Callback``."""

    class _LRFinderCallback(Base):  # type: ignore[misc, valid-type]
        def __init__(self, *, method: str | None = None, **finder_kw: Any):
            super().__init__()
            self.method = method
            self.finder_kw = finder_kw
            self.result: Any = None
            self.suggestion: Any = None
            self.choice: Any = None

        def on_train_start(self, trainer: Any, pl_module: Any) -> None:
            from ..finder import choose_max_lr, lr_find
            from ..step import read_output

            if self.result is not None or trainer.global_step > 0:
                return  # once per fit, not again on resume
            loader = trainer.train_dataloader
            if loader is None:
                raise ValueError("LRFinderCallback: no training dataloader")
            opt = trainer.optimizers[0]

            def step_fn(model: Any, batch: Any) -> Any:
                return read_output(model.training_step(batch, 0), source="training_step").loss

            kw = dict(self.finder_kw)
            kw.setdefault("progress", False)
            kw.setdefault("device", pl_module.device)
            with _quiet_logging(pl_module):
                self.result = lr_find(pl_module, opt, None, loader, step_fn=step_fn, **kw)
            # the one rule from a curve to a cycle's peak (NoUsableLR says why not)
            self.choice = choose_max_lr(self.result, method=self.method)
            self.suggestion = self.choice.suggestion

    return _LRFinderCallback


def _make_classes() -> dict[str, type]:
    if _CLASSES:
        return _CLASSES
    Base = _base()
    for name, factory in (("OneCycleCallback", _one_cycle_class),
                          ("LRFinderCallback", _lr_finder_class)):
        cls = factory(Base)
        cls.__name__ = cls.__qualname__ = name
        cls.__module__ = __name__
        _CLASSES[name] = cls
    return _CLASSES


_DOCS = {
    "OneCycleCallback": """``OneCycleCallback(max_lr, *, record=False, **schedule_options)``:
    the 1cycle policy (with cyclical momentum) stepped after every optimizer step of a
    Lightning Trainer. ``max_lr=None`` takes the suggestion of an ``LRFinderCallback``
    listed before it. ``record=True`` keeps the lr/momentum used at each step in
    ``.lrs`` and ``.momentums``. Schedule options are those of
    :class:`onecycle.scheduler.OneCycle`.

    >>> # lightning.Trainer(max_epochs=5, callbacks=[OneCycleCallback(0.5)])
    """,
    "LRFinderCallback": """``LRFinderCallback(*, method=None, **lr_find_options)``: run the
    LR range test at the start of training; ``.result`` (an ``LRFinderResult``),
    ``.choice`` (the :class:`~onecycle.finder.MaxLRChoice`) and ``.suggestion`` are kept
    on the callback. The module's ``training_step`` provides the loss.

    >>> # lightning.Trainer(callbacks=[LRFinderCallback(), OneCycleCallback(None)])
    """,
}


def _missing(name: str) -> type:
    """Stand-in class when Lightning is not installed: using it raises ImportError."""

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        raise ImportError(_HINT)

    return type(name, (), {"__init__": __init__, "__doc__": _DOCS[name], "__module__": __name__})


def __getattr__(name: str) -> Any:
    # Resolved on first access, so importing this module never imports Lightning.
    if name in _DOCS:
        try:
            cls = _make_classes()[name]
        except ImportError:
            return _missing(name)
        cls.__doc__ = _DOCS[name]
        globals()[name] = cls
        return cls
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
