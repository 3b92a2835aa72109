"""Snapshot and restore everything a trial run can change: model, optimizer, RNGs.

:func:`preserved_state` is a context manager used by the range test, the Trainer and
the searches: on exit (normal or by an exception, which propagates) it puts back,
bit for bit,

* every parameter (and its ``.grad``, or its absence) and every buffer of the model,
  persistent or not (BatchNorm ``running_mean``/``running_var``/``num_batches_tracked``),
  written in place so the optimizer's references stay valid;
* the train/eval flag of every sub-module;
* the optimizer's per-parameter state (momentum buffers, Adam moments, step counts:
  entries created during the run are removed) and every key of every param group
  (``lr``, ``momentum``, ``betas``, ``weight_decay``, ``initial_lr``, ...);
* the RNG states of python ``random``, numpy's global generator, torch's CPU generator
  and, once CUDA is initialised, every CUDA device's generator
  (:func:`onecycle._rng.rng_state`);
* the ``state_dict()`` of any ``extras`` (a GradScaler, an LR scheduler, ...).

Tensors are copied to host memory (``where="memory"``, or its synonym ``"cpu"``: the
copies never stay on the GPU, so a snapshot does not double the device memory a model
takes) or written to a temporary file (``where="disk"``: ``torch.save``, read back with
``torch.load(weights_only=True)``, the file removed on exit) for models too large to keep
twice in host memory. Small non-tensor values (hyper-parameters, RNG states, extras)
always stay in memory. Restoring writes the saved values into the live tensors in
place, one at a time, so it does not allocate a second copy on the device either.

Example:
    >>> import torch
    >>> model = torch.nn.Linear(2, 1)
    >>> opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    >>> before = model.weight.clone()
    >>> with preserved_state(model, opt):
    ...     model(torch.ones(1, 2)).sum().backward(); opt.step()
    >>> torch.equal(model.weight, before), len(opt.state)
    (True, 0)
"""

from __future__ import annotations

import copy
import os
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import torch

from .._io import WriteError, atomic_write
from .._rng import rng_state, set_rng_state

# rng_state / set_rng_state live in onecycle._rng (one home for the RNG helpers); they
# stay importable from here for the code that used them from this module
__all__ = ["StateSnapshot", "preserved_state", "rng_state", "set_rng_state", "WHERE"]

#: where a snapshot keeps its tensors: host (CPU) memory, or a temporary file
WHERE = ("memory", "cpu", "disk")


def _is_tensor(v: Any) -> bool:
    return isinstance(v, torch.Tensor)


def _check_where(where: Any) -> str:
    if where is True:
        return "memory"
    if not isinstance(where, str) or where not in WHERE:
        raise ValueError(f"where must be one of {', '.join(map(repr, WHERE))} (or True for "
                         f"'memory'), got {where!r}")
    return "memory" if where == "cpu" else where


def _check_parts(model: Any, optimizer: Any, extras: Sequence[Any]) -> None:
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if optimizer is not None and not hasattr(optimizer, "param_groups"):
        raise TypeError(
            f"optimizer must be a torch.optim.Optimizer or None, got {type(optimizer).__name__}"
        )
    for e in extras:
        if not (hasattr(e, "state_dict") and hasattr(e, "load_state_dict")):
            raise TypeError(
                f"extras must have state_dict() and load_state_dict(), got {type(e).__name__}"
            )


def _spill_error(path: str, exc: BaseException) -> WriteError:
    reason = getattr(exc, "strerror", None) or f"{type(exc).__name__}: {exc}"
    err = WriteError(
        f"could not write the state snapshot {path}: {reason}; free space in that folder "
        "(or point TMPDIR elsewhere), or keep the snapshot in host memory with "
        "restore='memory'"
    )
    err.errno = getattr(exc, "errno", None)
    return err


class StateSnapshot:
    """A restorable copy of a model's, an optimizer's and the RNGs' state.

    ``restore()`` may be called any number of times (the range test restores between
    repeated runs); ``close()`` removes the temporary file of ``where="disk"``.
    Normally used through :func:`preserved_state`.

    >>> import torch
    >>> m = torch.nn.Linear(1, 1); snap = StateSnapshot(m)
    >>> with torch.no_grad(): _ = m.weight.add_(1)
    >>> snap.restore(); snap.close()
    """

    def __init__(
        self,
        model: torch.nn.Module,
        optimizer: torch.optim.Optimizer | None = None,
        *,
        where: str | bool = "memory",
        extras: Sequence[Any] = (),
        tmpdir: str | os.PathLike[str] | None = None,
    ) -> None:
        self.where = _check_where(where)
        _check_parts(model, optimizer, extras)
        self.model = model
        self.optimizer = optimizer
        self.extras = list(extras)
        self.kept = False
        self._tensors: list[torch.Tensor] | None = []
        self._path: str | None = None
        # model: (module, kind, name, tensor index or None, grad index or None)
        self._model_entries: list[tuple[torch.nn.Module, str, str, int | None, int | None]] = []
        self._capture_model(model)
        self._modes = [(m, m.training) for m in model.modules()]
        self._opt_state: list[tuple[Any, dict[str, Any]]] = []
        self._opt_groups: list[tuple[list[Any], dict[str, Any]]] = []
        if optimizer is not None:
            self._capture_optimizer(optimizer)
        self._extras_state = [copy.deepcopy(e.state_dict()) for e in self.extras]
        self._rng = rng_state()
        if self.where == "disk":
            self._spill(tmpdir)

    def _capture_model(self, model: torch.nn.Module) -> None:
        seen: set[int] = set()
        for module in model.modules():
            for name, p in module._parameters.items():
                if p is None or id(p) in seen:
                    continue
                seen.add(id(p))
                g = None if p.grad is None else self._stash(p.grad)
                self._model_entries.append((module, "param", name, self._stash(p), g))
            for name, b in module._buffers.items():
                if b is None or id(b) in seen:
                    continue
                seen.add(id(b))
                self._model_entries.append((module, "buffer", name, self._stash(b), None))

    def _capture_optimizer(self, optimizer: torch.optim.Optimizer) -> None:
        for p, st in optimizer.state.items():
            self._opt_state.append((p, {k: self._pack(v) for k, v in st.items()}))
        for g in optimizer.param_groups:
            vals = {k: self._pack(v) for k, v in g.items() if k != "params"}
            self._opt_groups.append((list(g["params"]), vals))

    def _spill(self, tmpdir: str | os.PathLike[str] | None) -> None:
        """Move the host copies into a temporary file (``where="disk"``).

        A full or unwritable temporary folder is an ``OSError`` naming the file, with
        the way out, instead of torch's bare "basic_ios::clear: iostream error".
        """
        tensors = self._tensors
        try:
            fd, path = tempfile.mkstemp(prefix="onecycle-state-", suffix=".pt", dir=tmpdir)
            os.close(fd)
        except OSError as exc:
            folder = tempfile.gettempdir() if tmpdir is None else os.fspath(tmpdir)
            raise _spill_error(os.path.join(folder, "onecycle-state-*.pt"), exc) from exc
        try:
            atomic_write(path, lambda f: torch.save(tensors, f))
        except BaseException as exc:
            try:
                os.remove(path)
            except OSError:
                pass
            if isinstance(exc, Exception):
                raise _spill_error(path, exc.__cause__ or exc) from exc
            raise
        self._path = path
        self._tensors = None

    # -- packing
    def _stash(self, t: torch.Tensor) -> int:
        assert self._tensors is not None
        self._tensors.append(t.detach().to("cpu", copy=True))
        return len(self._tensors) - 1

    def _pack(self, v: Any) -> Any:
        if _is_tensor(v):
            return ("__tensor__", self._stash(v), v.device, v.requires_grad)
        return ("__value__", copy.deepcopy(v))

    def _load(self) -> list[torch.Tensor]:
        if self._tensors is not None:
            return self._tensors
        if self._path is None:
            raise RuntimeError("this snapshot was closed: its temporary file is gone")
        return torch.load(self._path, map_location="cpu", weights_only=True)

    @staticmethod
    def _into(current: Any, saved: torch.Tensor, device: Any) -> torch.Tensor:
        """Write ``saved`` into ``current`` in place when compatible, else a fresh copy."""
        if (
            _is_tensor(current)
            and current.shape == saved.shape
            and current.dtype == saved.dtype
            and current.device == torch.device(device)
        ):
            with torch.no_grad():
                current.copy_(saved)
            return current
        return saved.to(device, copy=True)

    def _unpack(self, packed: Any, current: Any, tensors: list[torch.Tensor]) -> Any:
        if packed[0] == "__tensor__":
            _, i, device, requires_grad = packed
            out = self._into(current, tensors[i], device)
            if out.requires_grad != requires_grad and out.is_leaf:
                out.requires_grad_(requires_grad)
            return out
        return copy.deepcopy(packed[1])

    # -- restore
    def restore(self) -> None:
        """Put everything back as it was when the snapshot was taken."""
        tensors = self._load()
        with torch.no_grad():
            for module, kind, name, i, gi in self._model_entries:
                assert i is not None
                table = module._parameters if kind == "param" else module._buffers
                cur = table.get(name)
                saved = tensors[i]
                if cur is None:
                    continue  # removed by the run: nothing sensible to write into
                if cur.shape == saved.shape and cur.dtype == saved.dtype:
                    cur.copy_(saved)
                else:  # replaced by a differently shaped tensor: put a copy back
                    new = saved.to(cur.device, copy=True)
                    table[name] = torch.nn.Parameter(new, cur.requires_grad) if kind == "param" else new
                    cur = table[name]
                if kind == "param":
                    if gi is None:
                        cur.grad = None
                    else:
                        g = tensors[gi]
                        if cur.grad is not None and cur.grad.shape == g.shape and cur.grad.dtype == g.dtype:
                            cur.grad.copy_(g)
                        else:
                            cur.grad = g.to(cur.device, copy=True)
        for m, flag in self._modes:
            m.training = flag

        opt = self.optimizer
        if opt is not None:
            old = dict(opt.state)
            opt.state.clear()
            for p, st in self._opt_state:
                cur_st = old.get(p, {})
                opt.state[p] = {k: self._unpack(v, cur_st.get(k), tensors) for k, v in st.items()}
            groups = opt.param_groups
            del groups[len(self._opt_groups):]
            for i, (params, vals) in enumerate(self._opt_groups):
                if i >= len(groups):
                    groups.append({"params": list(params)})
                g = groups[i]
                for k in [k for k in g if k != "params" and k not in vals]:
                    del g[k]
                g["params"] = list(params)
                for k, v in vals.items():
                    g[k] = self._unpack(v, g.get(k), tensors)

        for e, sd in zip(self.extras, self._extras_state, strict=True):
            e.load_state_dict(copy.deepcopy(sd))
        set_rng_state(self._rng)

    def keep(self) -> None:
        """Do not restore on leaving :func:`preserved_state` (keep what the run did)."""
        self.kept = True

    def close(self) -> None:
        """Free the snapshot (removes the temporary file of ``where="disk"``)."""
        if self._path is not None:
            try:
                os.remove(self._path)
            except FileNotFoundError:
                pass
            self._path = None
        self._tensors = None

    @property
    def path(self) -> str | None:
        """The temporary file of ``where="disk"`` (None otherwise or once closed)."""
        return self._path

    def __del__(self) -> None:  # a forgotten disk snapshot should not leave files behind
        try:
            self.close()
        except Exception:
            pass


@contextmanager
def preserved_state(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
    where: str | bool = "memory",
    *,
    extras: Sequence[Any] = (),
    tmpdir: str | os.PathLike[str] | None = None,
) -> Iterator[StateSnapshot]:
    """Run a block, then put model, optimizer, RNGs (and ``extras``) back bit for bit.

    ``where`` is ``"memory"`` (copies in host memory, the default; ``"cpu"`` is a synonym)
    or ``"disk"`` (a temporary file, removed afterwards). Exceptions raised in the block propagate after the
    restore. Call ``snap.keep()`` inside the block to keep the new state instead.

    >>> import torch
    >>> model = torch.nn.BatchNorm1d(3).eval()
    >>> with preserved_state(model, where="disk") as snap:
    ...     _ = model.train()(torch.randn(4, 3))
    >>> int(model.num_batches_tracked), model.training, snap.path is None
    (0, False, True)
    """
    snap = StateSnapshot(model, optimizer, where=where, extras=extras, tmpdir=tmpdir)
    try:
        yield snap
    finally:
        try:
            if not snap.kept:
                snap.restore()
        finally:
            snap.close()
