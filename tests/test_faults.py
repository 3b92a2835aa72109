"""Faults: kill -9 while a checkpoint is being written, a full disk, NaN mid-run, and
exceptions (or Ctrl-C) from user code. A run is never lost and never silently wrong.

Already covered elsewhere (not repeated here): kill -9 between checkpoint writes and
exact resume (``test_checkpoint.py::test_kill_9_mid_epoch_then_resume_is_bit_identical``),
a crash in a callback then exact resume (``test_checkpoint.py``), ``os.replace``
failing (``test_checkpoint.py``), divergence by a huge LR or poisoned weights
(``test_trainer.py``), a NaN loss stopping the range test without a step and an
exception in ``step_fn`` (``test_finder.py``).
"""

from __future__ import annotations

import errno
import io
import math
import os
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F

from onecycle.finder import LRFinderResult, lr_find

train = pytest.importorskip("onecycle.train")
import onecycle.train.checkpoint as ckmod  # noqa: E402
from _train_worker import ArrayLoader, blobs, make_run  # noqa: E402

Callback = train.Callback
CheckpointError = train.CheckpointError
DivergenceWarning = train.DivergenceWarning
History = train.History
load_checkpoint = train.load_checkpoint
save_checkpoint = train.save_checkpoint

torch.set_num_threads(1)
WORKER = Path(__file__).with_name("_fault_worker.py")
ENOSPC = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def same_state(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def tmp_files(d: Path) -> list[str]:
    return sorted(p.name for p in d.iterdir() if p.name.endswith(".tmp"))


@pytest.fixture(scope="module")
def reference() -> tuple[dict[str, torch.Tensor], History]:
    """The uninterrupted run: 2 epochs x 10 batches, array loader."""
    t = make_run("array")
    h = t.fit_one_cycle(2, max_lr=0.5)
    return {k: v.clone() for k, v in t.model.state_dict().items()}, h


def _worker(*args: str) -> subprocess.Popen[bytes]:
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONHASHSEED="0", PYTHONUNBUFFERED="1")
    return subprocess.Popen([sys.executable, str(WORKER), *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=30)
    for f in (proc.stdout, proc.stderr):
        if f is not None:
            f.close()


# ----------------------------------------------------------------------------- kill -9


def test_kill_9_during_a_checkpoint_write_keeps_the_previous_one_and_resume_is_exact(
        tmp_path: Path, reference: Any) -> None:
    """The 3rd checkpoint write is torn (half its bytes on disk) and the process is
    killed there: last.pt still holds the 2nd checkpoint, the torn temporary file is
    refused by the loader and ignored by resume, and the resumed run ends with exactly
    the weights and losses of an uninterrupted run."""
    ck = tmp_path / "ck"
    proc = _worker("stall-save", "--ckpt", str(ck), "--every", "4", "--stall-at", "3")
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().decode()  # blocks until the stall (or exit)
        if not line.startswith("STALL"):
            raise AssertionError(f"worker did not stall: {line!r} {proc.stderr.read().decode()}")
        torn = Path(line.split(" ", 1)[1].strip())
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        _stop(proc)
    assert proc.returncode == -signal.SIGKILL
    assert torn.parent == ck and torn.exists() and torn.name.endswith(".tmp")
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        load_checkpoint(torn)
    state = load_checkpoint(ck / "last.pt")  # the previous checkpoint, intact
    assert state["fit"]["step"] == 8 and not state["fit"]["finished"]

    t = make_run("array", checkpoint_dir=ck, checkpoint_every=4)
    h = t.fit_one_cycle(2, max_lr=0.5, resume=True)
    ref_state, ref_h = reference
    assert same_state(t.model.state_dict(), ref_state)
    assert h.loss == ref_h.loss and h.lr == ref_h.lr and h.momentum == ref_h.momentum
    assert load_checkpoint(ck / "last.pt")["fit"]["finished"]


def test_kill_9_while_a_big_write_is_in_flight_never_tears_the_file(tmp_path: Path) -> None:
    """A process overwrites a 16 MiB checkpoint in a loop; it is frozen (SIGSTOP) at a
    moment when its temporary file exists, i.e. in the middle of a write, and then
    killed. The checkpoint file is a complete, self-consistent earlier version."""
    target = tmp_path / "ckpt.pt"
    n = 16 * (1 << 20) // 4
    proc = _worker("write-loop", "--path", str(target), "--mib", "16")
    killed_mid_write = False
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline().decode()
        assert first.startswith("SAVED 0"), proc.stderr.read().decode()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not killed_mid_write:
            if any(p.endswith(".tmp") for p in os.listdir(tmp_path)):
                os.kill(proc.pid, signal.SIGSTOP)  # frozen: the file system stops changing
                if tmp_files(tmp_path):
                    os.kill(proc.pid, signal.SIGKILL)
                    killed_mid_write = True
                else:  # the write finished between the two looks: try the next one
                    os.kill(proc.pid, signal.SIGCONT)
        assert killed_mid_write, "never caught a write in flight"
        proc.wait(timeout=30)
    finally:
        _stop(proc)
    assert tmp_files(tmp_path), "the temporary file of the interrupted write is left"
    state = load_checkpoint(target)
    w = state["w"]
    assert w.numel() == n and bool((w == float(state["step"])).all())


# ----------------------------------------------------------------------------- disk full


def _enospc_fsync(real: Any) -> Any:
    def fsync(fd: int) -> None:
        if os.path.isfile(f"/proc/self/fd/{fd}"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real(fd)

    return fsync


class _HalfThenFull(io.RawIOBase):
    """A binary file that accepts half of each write, then reports a full disk."""

    def __init__(self, f: Any) -> None:
        self.f = f

    def writable(self) -> bool:
        return True

    def write(self, b: Any) -> int:
        data = bytes(b)
        self.f.write(data[: len(data) // 2])
        self.f.flush()
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def fileno(self) -> int:
        return self.f.fileno()

    def close(self) -> None:
        self.f.close()
        super().close()


@pytest.mark.parametrize("where", ["write", "fsync"])
def test_disk_full_keeps_the_old_checkpoint_and_says_why(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str) -> None:
    p = save_checkpoint(tmp_path / "last.pt", {"v": torch.arange(1000.0)})
    old = p.read_bytes()
    if where == "fsync":
        monkeypatch.setattr(ckmod.os, "fsync", _enospc_fsync(os.fsync))
    else:
        real_fdopen = os.fdopen

        def fdopen(fd: int, mode: str = "r", *a: Any, **k: Any) -> Any:
            f = real_fdopen(fd, mode, *a, **k)
            return _HalfThenFull(f) if "w" in mode and "b" in mode else f

        monkeypatch.setattr(ckmod.os, "fdopen", fdopen)
    with pytest.raises(CheckpointError,
                       match=r"could not write .*last\.pt: OSError: \[Errno 28\] No space left"
                             r".*previous file .* is unchanged") as info:
        save_checkpoint(p, {"v": torch.arange(2000.0)})
    monkeypatch.undo()
    assert isinstance(info.value.__cause__, OSError)
    assert info.value.__cause__.errno == errno.ENOSPC
    assert p.read_bytes() == old and torch.equal(load_checkpoint(p)["v"], torch.arange(1000.0))
    assert tmp_files(tmp_path) == []


def test_disk_full_during_training_fails_clearly_and_the_run_resumes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reference: Any) -> None:
    """The 3rd checkpoint hits a full disk: the fit stops with a CheckpointError (the
    OSError attached), nothing half-done is recorded, the 2nd checkpoint is intact, and
    once there is space again the run resumes to the uninterrupted result."""
    ck = tmp_path / "ck"
    t = make_run("array", checkpoint_dir=ck, checkpoint_every=4)
    real = os.fsync
    calls = {"n": 0}

    def fsync(fd: int) -> None:
        if os.path.isfile(f"/proc/self/fd/{fd}"):
            calls["n"] += 1
            if calls["n"] >= 3:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real(fd)

    monkeypatch.setattr(ckmod.os, "fsync", fsync)
    with pytest.raises(CheckpointError, match=r"last\.pt.*No space left on device"):
        t.fit_one_cycle(2, max_lr=0.5)
    monkeypatch.undo()
    assert t.history.iterations == 0 and t.fit_history is None and t.fit_status == "idle"
    assert tmp_files(ck) == []
    assert load_checkpoint(ck / "last.pt")["fit"]["step"] == 8
    t2 = make_run("array", checkpoint_dir=ck, checkpoint_every=4)
    h = t2.fit_one_cycle(2, max_lr=0.5, resume=True)
    ref_state, ref_h = reference
    assert same_state(t2.model.state_dict(), ref_state) and h.loss == ref_h.loss


def test_disk_full_when_saving_a_finder_result_or_a_history(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lrs = np.geomspace(1e-4, 1, 20)
    r1 = LRFinderResult(lrs, np.linspace(2, 1, 20), np.linspace(2, 1, 20))
    p = r1.save(tmp_path / "finder.json")
    old = p.read_bytes()
    h = History()
    h.add_iteration(0.1, 0.9, 1.0)
    hp = h.save(tmp_path / "history.json")
    old_h = hp.read_bytes()
    monkeypatch.setattr(ckmod.os, "fsync", _enospc_fsync(os.fsync))  # `os` is one module
    r2 = LRFinderResult(lrs, np.linspace(3, 1, 20), np.linspace(3, 1, 20))
    with pytest.raises(OSError) as info:
        r2.save(p)
    assert info.value.errno == errno.ENOSPC
    h.add_iteration(0.2, 0.9, 0.5)
    with pytest.raises(CheckpointError, match=r"history\.json.*No space left"):
        h.save(hp)
    monkeypatch.undo()
    assert p.read_bytes() == old and hp.read_bytes() == old_h
    assert tmp_files(tmp_path) == []
    assert np.array_equal(LRFinderResult.load(p).losses, r1.losses)


# ----------------------------------------------------------------------------- NaN mid-run


class PoisonLoader(ArrayLoader):
    """Batches of an ArrayLoader; batch ``at`` (counted over all epochs) has NaN inputs."""

    def __init__(self, *a: Any, at: int, value: float = math.nan, **k: Any) -> None:
        super().__init__(*a, **k)
        self.at, self.value, self.served = at, value, 0

    def __iter__(self):  # noqa: ANN204
        for x, y in super().__iter__():
            if self.served == self.at:
                x = torch.full_like(x, self.value)
            self.served += 1
            yield x, y


def _poisoned_trainer(tmp_path: Path, at: int, value: float = math.nan) -> Any:
    x, y = blobs(n=192)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(12, 32), nn.ReLU(), nn.Linear(32, 4))
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    loader = PoisonLoader(x[:160], y[:160], batch_size=32, at=at, value=value)

    class EpochWeights(Callback):  # runs after the guard's epoch-end snapshot
        def __init__(self) -> None:
            self.saved: list[dict[str, torch.Tensor]] = []

        def on_fit_start(self, trainer: Any) -> None:
            self.saved.append({k: v.clone() for k, v in trainer.model.state_dict().items()})

        def on_epoch_end(self, trainer: Any, epoch: int, record: Any) -> None:
            self.saved.append({k: v.clone() for k, v in trainer.model.state_dict().items()})

    spy = EpochWeights()
    t = train.Trainer(model, F.cross_entropy, opt, loader, progress=False, seed=0,
                      callbacks=[spy], checkpoint_dir=tmp_path / "ck", checkpoint_every=2)
    return t, spy


@pytest.mark.parametrize("at, value, restored_epochs", [
    (7, math.nan, 1),   # epoch 1, batch 2: back to the end of epoch 0
    (0, math.nan, 0),   # the very first batch: back to the initial weights
    (12, math.inf, 2),  # +inf inputs: inf/nan loss in epoch 2
])
def test_nan_mid_training_stops_restores_the_last_good_weights_and_saves_them(
        tmp_path: Path, at: int, value: float, restored_epochs: int) -> None:
    t, spy = _poisoned_trainer(tmp_path, at, value)
    with pytest.warns(DivergenceWarning, match=rf"loss became (nan|inf) at step {at} "):
        h = t.fit_one_cycle(4, max_lr=0.2)
    info = h.meta["diverged"]
    assert info["step"] == at and not math.isfinite(h.loss[at]) and h.iterations == at + 1
    assert info["restored_step"] == 5 * restored_epochs
    good = spy.saved[restored_epochs]
    assert same_state(t.model.state_dict(), good)
    assert all(torch.isfinite(v).all() for st in t.optimizer.state.values()
               for v in st.values() if torch.is_tensor(v))
    # the checkpoint on disk holds the restored (finite) weights, and the stopped fit
    # counts as finished: resuming does not train on from a poisoned state
    disk = load_checkpoint(tmp_path / "ck" / "last.pt")
    assert same_state(disk["model"], good) and disk["fit"]["finished"]
    t2, _ = _poisoned_trainer(tmp_path, at=10**9)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        h2 = t2.fit_one_cycle(4, max_lr=0.2, resume=True)
    assert h2.iterations == at + 1 and h2.meta["diverged"]["step"] == at
    assert same_state(t2.model.state_dict(), good)


def test_nan_mid_finder_stops_flags_and_restores_everything() -> None:
    x, y = blobs(n=256)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(12, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Linear(32, 4))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    batches = [(x[i:i + 32], y[i:i + 32]) for i in range(0, 256, 32)]
    batches[5] = (torch.full_like(batches[5][0], math.nan), batches[5][1])
    before = {k: v.clone() for k, v in model.state_dict().items()}
    torch.manual_seed(42)
    rng_before = torch.get_rng_state()
    res = lr_find(model, opt, F.cross_entropy, batches, start_lr=1e-4, end_lr=1.0,
                  num_iter=30, progress=False)
    assert res.stop_reason == "non-finite" and res.diverged and res.stop_index == 5
    assert len(res.lrs) == 6 and math.isnan(res.losses[5])
    assert same_state(model.state_dict(), before) and len(opt.state) == 0
    assert opt.param_groups[0]["lr"] == 1e-3 and torch.equal(torch.get_rng_state(), rng_before)
    s = res.suggest()  # the NaN point is cut; five points are too few for "auto"
    assert s.lr is None and "too short" in s.reason and "non-finite" in s.reason
    # restore=False keeps the sweep's state, but the NaN step was never applied
    res2 = lr_find(model, opt, F.cross_entropy, batches, start_lr=1e-4, end_lr=1.0,
                   num_iter=30, progress=False, restore=False)
    assert res2.stop_index == 5
    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert not same_state(model.state_dict(), before)


# ----------------------------------------------------------------------------- user code raises


class Boom(Exception):
    pass


def _raiser(hook: str, at: int, exc: BaseException) -> Callback:
    class Raise(Callback):
        pass

    def fire(self: Any, trainer: Any, *args: Any) -> None:
        pos = trainer.step if hook != "on_epoch_start" else args[0]
        if hook in ("on_fit_start",) or pos >= at:
            raise exc

    setattr(Raise, hook, fire)
    return Raise()


class FitEndSpy(Callback):
    def __init__(self) -> None:
        self.calls = 0
        self.status: list[str] = []

    def on_fit_end(self, trainer: Any) -> None:
        self.calls += 1
        self.status.append(trainer.fit_status)


@pytest.mark.parametrize("hook, at", [
    ("on_fit_start", 0), ("on_epoch_start", 1), ("on_batch_start", 13),
    ("on_batch_end", 5), ("on_epoch_end", 0), ("loss_fn", 6),
])
def test_exception_in_user_code_propagates_and_the_trainer_stays_consistent(
        tmp_path: Path, hook: str, at: int, reference: Any) -> None:
    err = Boom(f"user code failed in {hook}")
    spy = FitEndSpy()
    ck = tmp_path / "ck"
    cbs: list[Callback] = [spy]
    t = make_run("array", checkpoint_dir=ck, checkpoint_every=4, callbacks=cbs)
    if hook == "loss_fn":
        calls = {"n": 0}

        def loss(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            if torch.is_grad_enabled():
                calls["n"] += 1
                if calls["n"] > at:
                    raise err
            return F.cross_entropy(out, y)

        t.loss_fn = loss
    else:
        t.callbacks.insert(1, _raiser(hook, at, err))
    saved_before = (ck / "last.pt").read_bytes() if (ck / "last.pt").exists() else None
    with pytest.raises(Boom) as info:
        t.fit_one_cycle(2, max_lr=0.5)
    assert info.value is err  # the user's exception itself, not a wrapper
    assert spy.calls == 1 and spy.status == ["failed"]  # on_fit_end still ran
    assert t.fit_history is None and t.fit_status == "idle"
    assert t.history.iterations == 0 and t.history.fits == []  # nothing half-done recorded
    if (ck / "last.pt").exists():  # the last periodic save: a consistent, unfinished fit
        st = load_checkpoint(ck / "last.pt")
        assert not st["fit"]["finished"]
        assert st["fit"]["step"] % 4 == 0 or st["fit"]["batch"] == 0  # periodic or epoch end
        assert tmp_files(ck) == []
    else:
        assert saved_before is None
    # the trainer is usable again, and resuming gives the uninterrupted result
    t2 = make_run("array", checkpoint_dir=ck, checkpoint_every=4)
    h = t2.fit_one_cycle(2, max_lr=0.5, resume=True)
    assert same_state(t2.model.state_dict(), reference[0]) and h.loss == reference[1].loss


def test_ctrl_c_during_training_keeps_a_consistent_checkpoint_and_resumes(
        tmp_path: Path, reference: Any) -> None:
    ck = tmp_path / "ck"
    t = make_run("array", checkpoint_dir=ck, checkpoint_every=3,
                 callbacks=[_raiser("on_batch_end", 14, KeyboardInterrupt())])
    with pytest.raises(KeyboardInterrupt):
        t.fit_one_cycle(2, max_lr=0.5)
    st = load_checkpoint(ck / "last.pt")
    assert st["fit"]["step"] == 12 and not st["fit"]["finished"]
    t2 = make_run("array", checkpoint_dir=ck, checkpoint_every=3)
    h = t2.fit_one_cycle(2, max_lr=0.5, resume=True)
    assert same_state(t2.model.state_dict(), reference[0]) and h.loss == reference[1].loss


@pytest.mark.regression(reason="was a bug: an exception from user code leaves the trainer "
                   "with no hint of where the fit was (fit #, epoch, step, last checkpoint)")
def test_exception_from_user_code_carries_the_fit_position(tmp_path: Path) -> None:
    t = make_run("array", checkpoint_dir=tmp_path, checkpoint_every=4,
                 callbacks=[_raiser("on_batch_end", 5, Boom("x"))])
    with pytest.raises(Boom) as info:
        t.fit_one_cycle(2, max_lr=0.5)
    notes = " ".join(getattr(info.value, "__notes__", []))
    assert "step 5" in notes and "last.pt" in notes


@pytest.mark.parametrize("where", ["step_fn-ctrl-c", "loader-raises"])
def test_interrupted_range_test_restores_everything(where: str) -> None:
    x, y = blobs(n=256)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(12, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Linear(32, 4))
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    batches = [(x[i:i + 32], y[i:i + 32]) for i in range(0, 256, 32)]
    before = {k: v.clone() for k, v in model.state_dict().items()}
    groups = [dict((k, v) for k, v in g.items() if k != "params") for g in opt.param_groups]
    n = {"i": 0}

    def step(m: nn.Module, b: Any) -> torch.Tensor:
        n["i"] += 1
        if where == "step_fn-ctrl-c" and n["i"] == 7:
            raise KeyboardInterrupt
        return F.cross_entropy(m(b[0]), b[1])

    class Flaky:
        def __iter__(self):  # noqa: ANN204
            for i, b in enumerate(batches):
                if i == 4:
                    raise OSError("data source went away")
                yield b

    loader: Any = Flaky() if where == "loader-raises" else batches
    exc: type[BaseException] = KeyboardInterrupt if where == "step_fn-ctrl-c" else OSError
    rng = torch.get_rng_state()
    with pytest.raises(exc):
        lr_find(model, opt, None, loader, step_fn=step, num_iter=20, progress=False)
    assert same_state(model.state_dict(), before) and len(opt.state) == 0
    assert [dict((k, v) for k, v in g.items() if k != "params")
            for g in opt.param_groups] == groups
    assert model.training and torch.equal(torch.get_rng_state(), rng)
