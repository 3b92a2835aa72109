"""Trainer checkpoints: what goes in, how one is validated, and how a fit resumes.

:class:`Resumer` is the checkpoint side of a :class:`~onecycle.train.Trainer`: it
builds the trainer's checkpoint payload (:meth:`Resumer.state_dict`), reads one back
(:meth:`Resumer.read`), restores a snapshot (:meth:`Resumer.restore`) and decides how a
``fit_*(..., resume=...)`` call continues (:meth:`Resumer.plan`).

A checkpoint is **validated whole before anything is touched**: its format and
version, the model's layer names and shapes, the optimizer's kind (its param groups
must hold this optimizer's hyper-parameters: an SGD checkpoint cannot go into Adam),
group sizes and per-parameter state shapes, the RNG states (tried and put back), the
histories, the scheduler specs and the fit's position. Anything wrong raises a
:class:`~onecycle.train.CheckpointError` naming the file, and the model, optimizer,
scaler, RNGs and history are exactly as they were.

Example:
    >>> import tempfile, os, torch
    >>> from onecycle.train import Trainer, CheckpointError
    >>> m = torch.nn.Linear(2, 2); data = [(torch.ones(2, 2), torch.tensor([0, 1]))]
    >>> t = Trainer(m, torch.nn.functional.cross_entropy,
    ...             torch.optim.SGD(m.parameters(), lr=0.1), data, progress=False)
    >>> p = t.save(os.path.join(tempfile.mkdtemp(), "c.pt"))
    >>> m2 = torch.nn.Linear(2, 2)
    >>> t2 = Trainer(m2, torch.nn.functional.cross_entropy,
    ...              torch.optim.Adam(m2.parameters()), data, progress=False)
    >>> try:
    ...     t2.restore(p)
    ... except CheckpointError as err:
    ...     print("SGD" in str(err) and "Adam" in str(err))
    True
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from .._io import remove_stale_temporaries
from .._plain import to_plain
from ..adaptive_clip import check_state
from ..schedule import schedule_from_dict
from .checkpoint import (
    CheckpointError,
    CheckpointNotFoundError,
    get_rng_state,
    load_checkpoint,
    save_checkpoint,
    set_rng_state,
)
from .history import History

if TYPE_CHECKING:  # pragma: no cover
    from .trainer import Trainer

__all__ = ["Resumer", "TrainerCheckpoint", "ResumePoint", "FORMAT", "VERSION"]

#: the ``format`` entry of every Trainer checkpoint
FORMAT = "onecycle-trainer-checkpoint"
#: the newest checkpoint layout this code writes and reads
VERSION = 1


def _fail(path: Any, what: str) -> CheckpointError:
    return CheckpointError(f"{path}: {what}")


# --------------------------------------------------------------------------- validation


def _check_header(p: Mapping[str, Any], path: Any) -> None:
    if p.get("format") != FORMAT:
        raise CheckpointError(
            f"{path} is not a onecycle Trainer checkpoint (format={p.get('format')!r})")
    version = p.get("version")
    if isinstance(version, bool) or not isinstance(version, int):
        raise _fail(path, f"the checkpoint's version is {version!r}, not an integer")
    if version > VERSION:
        raise CheckpointError(f"{path} was written by a newer onecycle (version {version}); "
                              "upgrade")
    ws = p.get("world_size", 1)
    if isinstance(ws, bool) or not isinstance(ws, int) or ws < 1:
        raise _fail(path, f"world_size is {ws!r}, not a positive integer")


def _check_model(sd: Any, model: torch.nn.Module, path: Any) -> None:
    if not isinstance(sd, Mapping):
        raise _fail(path, "the checkpoint has no model state")
    own = model.state_dict()
    bad = sorted(str(k) for k, v in sd.items() if not isinstance(v, torch.Tensor))
    problems = [f"{k}: not a tensor" for k in bad]
    problems += [f"missing {k}" for k in own.keys() - sd.keys()]
    problems += [f"unexpected {k}" for k in sd.keys() - own.keys()]
    problems += [f"{k}: {tuple(sd[k].shape)} in the checkpoint, {tuple(own[k].shape)} here"
                 for k in own.keys() & sd.keys()
                 if hasattr(sd[k], "shape") and tuple(sd[k].shape) != tuple(own[k].shape)]
    if problems:
        raise _fail(path, "checkpoint model does not match this model (size mismatch or "
                          "different layers): " + "; ".join(sorted(problems)[:10]))


def _is_hyper(value: Any) -> bool:
    return isinstance(value, (int, float, tuple)) and not isinstance(value, bool)


def _check_groups(groups: Any, optimizer: torch.optim.Optimizer, path: Any) -> list[int]:
    name = type(optimizer).__name__
    own = optimizer.param_groups
    if not isinstance(groups, list) or len(groups) != len(own):
        n = len(groups) if isinstance(groups, list) else groups
        raise _fail(path, f"the optimizer state has {n} param groups, this {name} has "
                          f"{len(own)}")
    ids: list[int] = []
    for i, (g, mine) in enumerate(zip(groups, own)):
        if not isinstance(g, Mapping) or not isinstance(g.get("params"), list):
            raise _fail(path, f"optimizer param group {i} is malformed")
        if len(g["params"]) != len(mine["params"]):
            raise _fail(path, f"optimizer param group {i} holds {len(g['params'])} "
                              f"parameters, this {name}'s holds {len(mine['params'])}")
        missing = sorted(k for k, v in optimizer.defaults.items()
                         if _is_hyper(v) and k in mine and k not in g)
        if missing:
            raise _fail(path, f"the optimizer state was written for another kind of optimizer "
                              f"(param group {i} has no {', '.join(missing)}); this "
                              f"trainer's optimizer is {name}")
        ids.extend(g["params"])
    return ids


def _check_optimizer(sd: Any, saved_type: Any, optimizer: torch.optim.Optimizer,
                     path: Any) -> None:
    name = type(optimizer).__name__
    if not isinstance(sd, Mapping) or not isinstance(sd.get("state"), Mapping):
        raise _fail(path, "the checkpoint has no optimizer state")
    if saved_type is not None and saved_type != name:
        raise _fail(path, f"the optimizer state is a {saved_type}'s; this trainer's optimizer "
                          f"is {name} (build the same optimizer as the run that saved it)")
    ids = _check_groups(sd.get("param_groups"), optimizer, path)
    where = {k: i for i, k in enumerate(ids)}
    params = [p for g in optimizer.param_groups for p in g["params"]]
    for key, st in sd["state"].items():
        if key not in where or not isinstance(st, Mapping):
            raise _fail(path, f"the optimizer state has a malformed entry {key!r}")
        shape = tuple(params[where[key]].shape)
        for field, v in st.items():
            if isinstance(v, torch.Tensor) and v.dim() > 0 and tuple(v.shape) != shape:
                raise _fail(path, f"optimizer state {field!r} of parameter {key} has shape "
                                  f"{tuple(v.shape)}, the parameter {shape}")


def _rng_list(rng: Any, path: Any, what: str) -> list[Mapping[str, Any]]:
    states = [rng] if isinstance(rng, Mapping) else rng
    if not isinstance(states, list) or not states or \
            not all(isinstance(s, Mapping) for s in states):
        raise _fail(path, f"the checkpoint has no usable {what} (got {type(rng).__name__})")
    return states


def _check_rng(rng: Any, path: Any, what: str = "RNG state") -> None:
    """Every state is tried, and the RNGs put back as they were, whatever happens."""
    states = _rng_list(rng, path, what)
    current = get_rng_state()
    try:
        for s in states:
            cuda = s.get("cuda")
            if cuda is not None and not (isinstance(cuda, list) and
                                         all(isinstance(c, torch.Tensor) for c in cuda)):
                raise TypeError("its 'cuda' entry is not a list of tensors")
            set_rng_state({k: v for k, v in s.items() if k != "cuda"})
    except Exception as exc:
        raise _fail(path, f"the {what} cannot be restored ({type(exc).__name__}: {exc})") \
            from None
    finally:
        set_rng_state(current)


def _check_history(data: Any, path: Any, what: str) -> History:
    try:
        return History.from_dict(data)
    except (TypeError, ValueError, KeyError, AttributeError, RecursionError) as exc:
        raise _fail(path, f"{what} is not a readable history ({type(exc).__name__}: {exc})") \
            from None


_FIT_FIELDS: dict[str, Any] = {
    "index": int, "kind": str, "epochs": int, "args": Mapping, "resolved": Mapping,
    "steps_per_epoch": int, "epoch": int, "batch": int, "step": int,
    "loss_sum": (int, float), "batches": int, "elapsed": (int, float), "history": Mapping,
    "finished": bool,
}
_FIT_OPTIONAL: dict[str, Any] = {
    "scheduler": (Mapping, type(None)), "callbacks": (Mapping, type(None)),
    "rng_epoch_start": (list, type(None)), "accumulation_steps": int,
    "optimizer_steps_per_epoch": int,
}


def _check_scheduler(state: Any, path: Any) -> None:
    if state is None:
        return
    last = state.get("last_epoch")
    specs = state.get("schedules", {})
    if isinstance(last, bool) or not isinstance(last, int) or not isinstance(specs, Mapping):
        raise _fail(path, "the scheduler state is malformed")
    try:
        for lst in specs.values():
            for spec in lst:
                if spec is not None:
                    schedule_from_dict(spec)
    except Exception as exc:
        raise _fail(path, f"the scheduler state holds a schedule that cannot be rebuilt "
                          f"({type(exc).__name__}: {exc})") from None


def _check_fit(fit: Any, path: Any) -> History | None:
    if fit is None:
        return None
    if not isinstance(fit, Mapping):
        raise _fail(path, "the fit in progress is malformed")
    for key, kind in _FIT_FIELDS.items():
        v = fit.get(key)
        if not isinstance(v, kind) or (kind is int and isinstance(v, bool)):
            raise _fail(path, f"the fit's {key!r} is {v!r}")
    for key, kind in _FIT_OPTIONAL.items():
        if key in fit and not isinstance(fit[key], kind):
            raise _fail(path, f"the fit's {key!r} is {fit[key]!r}")
    _check_scheduler(fit.get("scheduler"), path)
    if fit.get("rng_epoch_start") is not None:
        _check_rng(fit["rng_epoch_start"], path, "RNG state of the epoch start")
    for key, state in (fit.get("callbacks") or {}).items():
        if state is not None and not isinstance(state, Mapping):
            raise _fail(path, f"the state of callback {key!r} is malformed")
    return _check_history(fit["history"], path, "the fit's history")


# --------------------------------------------------------------------------- the objects


@dataclass
class TrainerCheckpoint:
    """A Trainer checkpoint that passed validation (see the module docs): the payload,
    where it came from, and its histories already parsed."""

    payload: dict[str, Any]
    path: Path
    history: History
    fit_history: History | None

    @property
    def fit(self) -> dict[str, Any] | None:
        """The fit that was in progress when the checkpoint was written, if any."""
        return self.payload.get("fit")


@dataclass
class ResumePoint:
    """Where a fit continues: the checkpoint, its fit section, the fit's history."""

    checkpoint: TrainerCheckpoint
    fit: dict[str, Any]
    history: History


class Resumer:
    """Checkpoint payloads, validation and resume planning for one trainer (module docs).

    >>> import torch
    >>> from onecycle.train import Trainer
    >>> m = torch.nn.Linear(2, 2)
    >>> t = Trainer(m, torch.nn.functional.cross_entropy,
    ...             torch.optim.SGD(m.parameters(), lr=0.1), [(torch.ones(1, 2),
    ...             torch.tensor([0]))], progress=False)
    >>> sorted(t.resumer.state_dict())[:5]
    ['adaptive_clip', 'fit', 'format', 'history', 'model']
    """

    def __init__(self, trainer: Trainer) -> None:
        self.trainer = trainer

    # ---- writing
    def state_dict(self) -> dict[str, Any]:
        """The trainer's checkpoint payload (collective in a distributed run)."""
        t = self.trainer
        rng = t.dist.gather_objects(get_rng_state())
        loop = t.active_loop
        return {
            "format": FORMAT,
            "version": VERSION,
            "model": t.model.state_dict(),
            "optimizer": t.optimizer.state_dict(),
            "optimizer_type": type(t.optimizer).__name__,
            "scaler": None if t.scaler is None else t.scaler.state_dict(),
            "adaptive_clip": None if t.adaptive_clip is None else t.adaptive_clip.state_dict(),
            "rng": rng,
            "world_size": t.dist.world_size,
            "history": t.history.to_dict(),
            "fit": None if loop is None else loop.position(),
        }

    def save(self, path: Path) -> Path:
        payload = self.state_dict()
        if self.trainer.dist.is_main:
            save_checkpoint(path, payload)
        self.trainer.dist.barrier()
        return path

    # ---- reading
    def read(self, path: Any) -> TrainerCheckpoint:
        """Load and validate a checkpoint against this trainer; touches nothing."""
        return self.validate(load_checkpoint(path, map_location="cpu"), path)

    def validate(self, p: dict[str, Any], path: Any) -> TrainerCheckpoint:
        """Check a loaded payload against this trainer (see the module docs)."""
        t = self.trainer
        _check_header(p, path)
        _check_model(p.get("model"), t.model, path)
        _check_optimizer(p.get("optimizer"), p.get("optimizer_type"), t.optimizer, path)
        scaler = p.get("scaler")
        if scaler is not None and not (isinstance(scaler, Mapping) and scaler):
            raise _fail(path, "the GradScaler state is malformed")
        if p.get("adaptive_clip") is not None:
            try:
                check_state(p["adaptive_clip"])
            except ValueError as exc:
                raise _fail(path, str(exc)) from None
        if "rng" not in p:
            raise _fail(path, "the checkpoint has no RNG state")
        _check_rng(p["rng"], path)
        if "history" not in p:
            raise _fail(path, "the checkpoint has no history")
        history = _check_history(p["history"], path, "the history")
        fit_history = _check_fit(p.get("fit"), path)
        return TrainerCheckpoint(p, Path(path), history, fit_history)

    # ---- applying (only validated checkpoints)
    def load_core(self, ck: TrainerCheckpoint) -> None:
        """Model, GradScaler and cumulative history from ``ck``."""
        t = self.trainer
        try:
            t.model.load_state_dict(ck.payload["model"])
        except RuntimeError as exc:  # pragma: no cover - validated before
            raise _fail(ck.path, f"checkpoint model does not match this model: {exc}") from exc
        if t.scaler is not None and ck.payload.get("scaler") is not None:
            t.scaler.load_state_dict(ck.payload["scaler"])
        if t.adaptive_clip is not None and ck.payload.get("adaptive_clip") is not None:
            t.adaptive_clip.load_state_dict(ck.payload["adaptive_clip"])
        t.history = ck.history.copy()

    def load_optimizer(self, ck: TrainerCheckpoint) -> None:
        self.trainer.optimizer.load_state_dict(ck.payload["optimizer"])

    def set_rng(self, rng: Any) -> None:
        """Restore this rank's RNG state from a checkpoint's (one per rank) states."""
        if rng is None:
            return
        if isinstance(rng, Mapping):
            set_rng_state(rng)
            return
        dist = self.trainer.dist
        if len(rng) != dist.world_size:
            warnings.warn(
                f"checkpoint has RNG states of {len(rng)} ranks, this run has "
                f"{dist.world_size}; the continuation will not be bit-identical",
                RuntimeWarning,
                stacklevel=4,
            )
        set_rng_state(rng[dist.rank % len(rng)])

    def restore(self, path: Any) -> History:
        """Model, optimizer, scaler, RNG states and history from ``path`` (a fit that
        was in progress is not continued; its history so far is appended)."""
        ck = self.read(path)
        self.apply_snapshot(ck)
        return self.trainer.history

    def apply_snapshot(self, ck: TrainerCheckpoint) -> None:
        self.load_optimizer(ck)
        self.load_core(ck)
        self.set_rng(ck.payload["rng"])
        if ck.fit_history is not None:
            self.trainer.history.extend(ck.fit_history)

    # ---- planning a resumed fit
    def checkpoint_path(self, resume: Any) -> Path:
        if resume is True:
            if self.trainer.checkpoint_dir is None:
                raise ValueError(
                    "resume=True needs the trainer's checkpoint_dir (or pass resume=<path>)"
                )
            return self.trainer.checkpoint_dir / "last.pt"
        return Path(resume)

    def plan(self, kind: str, args: dict[str, Any], resume: Any,
             batches: int) -> None | History | ResumePoint:
        """How a fit starts: ``None`` (afresh), a :class:`History` (the fit finished
        before the checkpoint: its recorded history, nothing to train) or a
        :class:`ResumePoint`."""
        if resume is False or resume is None:
            return None
        path = self.checkpoint_path(resume)
        remove_stale_temporaries(path.parent, path.name)  # left by kills during writes
        if not path.exists():
            if resume is True:  # "continue if there is something to continue"
                return None
            # an explicit path that is not there is a typo, not a fresh start
            raise CheckpointNotFoundError(
                f"resume={str(resume)!r}: no checkpoint at {path}; pass resume=True to start "
                "fresh when checkpoint_dir has none"
            )
        ck = self.read(path)
        here = self.trainer.fit_index
        fit = ck.fit
        there = len(ck.history.fits) if fit is None else int(fit["index"])
        if there > here:
            return self._replay(ck, here, kind)
        if there < here:
            # the normal case for the next fit of a script (the checkpoint holds the
            # finished previous fit); an unfinished older fit is odd: say so
            if fit is not None and not fit["finished"]:
                warnings.warn(
                    f"{path} holds an unfinished earlier fit (#{there}) but this is fit "
                    f"#{here}; starting this fit afresh", RuntimeWarning, stacklevel=4)
            return None
        if fit is None:  # saved between fits, right before this one: load and start
            self.load_core(ck)
            self.load_optimizer(ck)
            self.set_rng(ck.payload["rng"])
            return None
        return self._continue(ck, fit, kind, args, batches)

    def _replay(self, ck: TrainerCheckpoint, index: int, kind: str) -> History:
        # this fit finished before the checkpoint was written: replay its history; the
        # state itself is loaded by the fit the checkpoint belongs to
        done = ck.history.fit(index)
        if done.fits[0].get("kind") != kind:
            raise CheckpointError(
                f"{ck.path}: fit #{index} in the checkpoint is {done.fits[0].get('kind')!r}, "
                f"not {kind!r}; the script's fits do not match the checkpoint"
            )
        t = self.trainer
        t.history.extend(done)
        t.fit_index += 1
        return done

    def _continue(self, ck: TrainerCheckpoint, fit: dict[str, Any], kind: str,
                  args: dict[str, Any], batches: int) -> History | ResumePoint:
        path = ck.path
        if fit["kind"] != kind or to_plain(fit["args"]) != to_plain(args):
            raise CheckpointError(
                f"{path} holds a {fit['kind']} fit with arguments "
                f"{json.dumps(to_plain(fit['args']))}, but resume was asked for a {kind} fit "
                f"with {json.dumps(to_plain(args))}; pass the same arguments or remove the file"
            )
        if fit["steps_per_epoch"] != batches:
            raise CheckpointError(
                f"{path} was written with {fit['steps_per_epoch']} batches per epoch, the "
                f"train_loader now has {batches}; resume needs the same data and batch size"
            )
        k = self.trainer.numerics.accumulation_steps
        if int(fit.get("accumulation_steps", 1)) != k:
            raise CheckpointError(
                f"{path} was written with accumulation_steps={fit.get('accumulation_steps', 1)}"
                f", this trainer has {k}; resume needs the same accumulation"
            )
        self.load_core(ck)
        hist = ck.fit_history
        assert hist is not None
        if fit["finished"]:
            t = self.trainer
            hist.fits[0]["meta"] = dict(hist.meta)
            self.load_optimizer(ck)
            self.set_rng(ck.payload["rng"])
            t.history.extend(hist)
            t.fit_index += 1
            return hist
        return ResumePoint(ck, fit, hist)

