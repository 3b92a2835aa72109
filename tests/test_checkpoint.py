"""Checkpoint I/O (atomic, weights-only) and exact resume, including after kill -9."""

from __future__ import annotations

import os
import pickle
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from _train_worker import make_run
from onecycle.train import (
    Callback,
    CheckpointError,
    CheckpointNotFoundError,
    Trainer,
    load_checkpoint,
    save_checkpoint,
)
from onecycle.train.checkpoint import get_rng_state, set_rng_state

torch.set_num_threads(1)
WORKER = Path(__file__).with_name("_train_worker.py")


def same_weights(a: torch.nn.Module | dict, b: torch.nn.Module | dict) -> bool:
    sa = a.state_dict() if hasattr(a, "state_dict") else a
    sb = b.state_dict() if hasattr(b, "state_dict") else b
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


# --------------------------------------------------------------------------- file I/O


def test_save_load_round_trip(tmp_path):
    payload = {"w": torch.arange(3.0), "meta": {"step": 3, "name": "x", "l": [1, 2.5, None]}}
    p = save_checkpoint(tmp_path / "sub" / "c.pt", payload)
    back = load_checkpoint(p)
    assert torch.equal(back["w"], payload["w"]) and back["meta"] == payload["meta"]
    assert [f.name for f in p.parent.iterdir()] == ["c.pt"]  # no temp files left


def test_failed_write_keeps_previous_checkpoint(tmp_path, monkeypatch):
    p = tmp_path / "last.pt"
    save_checkpoint(p, {"v": torch.tensor(1)})

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(CheckpointError, match=r"last\.pt.*disk full.*unchanged"):
        save_checkpoint(p, {"v": torch.tensor(2)})
    monkeypatch.undo()
    assert int(load_checkpoint(p)["v"]) == 1
    assert [f.name for f in tmp_path.iterdir()] == ["last.pt"]


def test_failed_serialisation_keeps_previous_checkpoint(tmp_path, monkeypatch):
    p = tmp_path / "last.pt"
    save_checkpoint(p, {"v": torch.tensor(1)})
    import onecycle.train.checkpoint as ck

    def half_write(f):  # writes part of a file, then fails (as a crash would)
        f.write(b"PK\x03\x04garbage")
        raise RuntimeError("writer crashed")

    with pytest.raises(CheckpointError, match="writer crashed"):
        ck.atomic_write(p, half_write)
    assert int(load_checkpoint(p)["v"]) == 1
    assert [f.name for f in tmp_path.iterdir()] == ["last.pt"]


def test_trainer_checkpoint_write_failure_is_clear(tmp_path, monkeypatch):
    t = make_run("array", checkpoint_dir=tmp_path, checkpoint_every=4)
    t.fit_one_cycle(1, max_lr=0.3)
    before = load_checkpoint(tmp_path / "last.pt")
    monkeypatch.setattr(os, "replace", lambda s, d: (_ for _ in ()).throw(OSError("no space")))
    with pytest.raises(CheckpointError, match="no space"):
        t.fit_one_cycle(1, max_lr=0.3)
    monkeypatch.undo()
    after = load_checkpoint(tmp_path / "last.pt")
    assert same_weights(before["model"], after["model"])


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


def test_malicious_pickle_is_refused(tmp_path):
    marker = str(tmp_path / "pwned")
    p = tmp_path / "evil.pt"
    torch.save({"model": _Evil(marker)}, p)
    with pytest.raises(CheckpointError, match=r"evil\.pt.*not a weights-only"):
        load_checkpoint(p)
    assert not os.path.exists(marker)
    legacy = tmp_path / "legacy.pkl"  # a plain pickle, not torch's zip format
    legacy.write_bytes(pickle.dumps({"x": _Evil(marker)}, protocol=2))
    with pytest.raises(CheckpointError, match=r"legacy\.pkl"):
        load_checkpoint(legacy)
    assert not os.path.exists(marker)


def test_missing_and_corrupt_files(tmp_path):
    with pytest.raises(CheckpointNotFoundError, match="no checkpoint"):
        load_checkpoint(tmp_path / "nope.pt")
    with pytest.raises(FileNotFoundError):
        load_checkpoint(tmp_path / "nope.pt")
    p = save_checkpoint(tmp_path / "c.pt", {"w": torch.zeros(1000)})
    data = p.read_bytes()
    (tmp_path / "trunc.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=r"trunc\.pt.*(truncated|corrupt)"):
        load_checkpoint(tmp_path / "trunc.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint at all")
    with pytest.raises(CheckpointError, match=r"junk\.pt"):
        load_checkpoint(tmp_path / "junk.pt")
    save_checkpoint(tmp_path / "list.pt", {"a": 1})
    torch.save([1, 2], tmp_path / "list.pt")
    with pytest.raises(CheckpointError, match="expected a dict"):
        load_checkpoint(tmp_path / "list.pt")
    t = make_run("array")
    with pytest.raises(CheckpointError, match="not a onecycle Trainer checkpoint"):
        t.restore(p)


def test_a_changed_byte_in_tensor_data_is_refused(tmp_path):
    w = torch.arange(1000, dtype=torch.float32) + 0.5
    p = save_checkpoint(tmp_path / "c.pt", {"w": w, "step": 7})
    back = load_checkpoint(p)
    assert set(back) == {"w", "step"}  # the digest is checked and removed
    data = bytearray(p.read_bytes())
    at = bytes(data).find(w.numpy().tobytes())
    assert at > 0  # the tensor's bytes are stored verbatim in the file
    data[at + 4 * 500] ^= 0x01  # one bit of w[500]'s mantissa
    (tmp_path / "flip.pt").write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match=r"flip\.pt is corrupt.*SHA-256 digest"):
        load_checkpoint(tmp_path / "flip.pt")


def test_digest_covers_values_shapes_and_dtypes(tmp_path):
    from onecycle.train.checkpoint import CHECKSUM_KEY, _digest

    base = {"w": torch.zeros(2, 3), "meta": {"step": 3, "lr": [0.1, 0.2]}}
    d = _digest(base)
    assert d == _digest({"w": torch.zeros(2, 3), "meta": {"step": 3, "lr": [0.1, 0.2]}})
    for changed in ({"w": torch.zeros(3, 2), "meta": base["meta"]},
                    {"w": torch.zeros(2, 3, dtype=torch.float64), "meta": base["meta"]},
                    {"w": torch.zeros(2, 3), "meta": {"step": 4, "lr": [0.1, 0.2]}},
                    {"w": torch.zeros(2, 3), "meta": {"step": 3, "lr": (0.1, 0.2)}},
                    {"w": torch.zeros(2, 3), "meta": {"step": 3, "lr": [0.1, 0.2]}, "x": None}):
        assert _digest(changed) != d
    bf = {"h": torch.ones(3, dtype=torch.bfloat16), "s": torch.tensor(2.0)}  # 0-d, bf16
    assert load_checkpoint(save_checkpoint(tmp_path / "bf.pt", bf))["h"].dtype == torch.bfloat16
    # a file written by something else (no digest) is refused: nothing could tell a
    # damaged one from a good one; it loads with an explicit opt-in
    torch.save({"w": torch.ones(2)}, tmp_path / "plain.pt")
    with pytest.raises(CheckpointError, match=r"plain\.pt has no onecycle SHA-256 digest"):
        load_checkpoint(tmp_path / "plain.pt")
    assert set(load_checkpoint(tmp_path / "plain.pt", verify=False)) == {"w"}
    with pytest.raises(ValueError, match="reserved"):
        save_checkpoint(tmp_path / "r.pt", {CHECKSUM_KEY: "x"})


def test_rng_state_is_weights_only_safe_and_exact(tmp_path):
    random.seed(1)
    np.random.seed(2)
    torch.manual_seed(3)
    st = get_rng_state()
    expect = (random.random(), float(np.random.rand()), float(torch.rand(1)))
    p = save_checkpoint(tmp_path / "rng.pt", {"rng": st})
    random.seed(9)
    np.random.seed(9)
    torch.manual_seed(9)
    set_rng_state(load_checkpoint(p)["rng"])
    assert (random.random(), float(np.random.rand()), float(torch.rand(1))) == expect


# --------------------------------------------------------------------------- exact resume


class Crash(Callback):
    def __init__(self, at):
        self.at = at

    def on_batch_end(self, trainer, step, loss):
        if step == self.at:
            raise RuntimeError("simulated crash")


@pytest.fixture(scope="module")
def reference():
    """Uninterrupted runs (3 epochs x 10 batches), one per loader kind."""
    out = {}
    for kind in ("torch", "array"):
        t = make_run(kind)
        h = t.fit_one_cycle(3, max_lr=0.5)
        out[kind] = (t.model.state_dict(), h)
    return out


@pytest.mark.parametrize("kind,crash_at", [("torch", 7), ("torch", 19), ("array", 13)])
def test_resume_after_crash_is_bit_identical(tmp_path, reference, kind, crash_at):
    t = make_run(kind, checkpoint_dir=tmp_path, checkpoint_every=3, callbacks=[Crash(crash_at)])
    with pytest.raises(RuntimeError, match="simulated crash"):
        t.fit_one_cycle(3, max_lr=0.5)
    ck = load_checkpoint(tmp_path / "last.pt")
    assert not ck["fit"]["finished"]
    t2 = make_run(kind, checkpoint_dir=tmp_path, checkpoint_every=3)
    h = t2.fit_one_cycle(3, max_lr=0.5, resume=True)
    ref_state, ref_h = reference[kind]
    assert same_weights(t2.model.state_dict(), ref_state)
    assert h.loss == ref_h.loss and h.lr == ref_h.lr and h.momentum == ref_h.momentum
    strip = [{k: v for k, v in r.items() if k != "wall_time"} for r in h]
    assert strip == [{k: v for k, v in r.items() if k != "wall_time"} for r in ref_h]


def test_resume_with_max_lr_from_range_test_does_not_rerun_it(tmp_path, monkeypatch):
    class FakeResult:  # what choose_max_lr reads of an LRFinderResult
        config: dict = {}

        def suggest(self, method=None):
            from onecycle.finder import Suggestion

            return Suggestion(0.5, 0.2, 0.8, "auto", 0.9, "fake")

    t = make_run("array", checkpoint_dir=tmp_path, checkpoint_every=3, callbacks=[Crash(11)])
    monkeypatch.setattr(t, "lr_find", lambda **kw: FakeResult())
    with pytest.raises(RuntimeError):
        t.fit_one_cycle(3)
    t2 = make_run("array", checkpoint_dir=tmp_path)

    def must_not_run(**kw):
        raise AssertionError("range test run again on resume")

    monkeypatch.setattr(t2, "lr_find", must_not_run)
    h = t2.fit_one_cycle(3, resume=True)
    assert h.meta["lr_find"]["lr"] == 0.5 and h.fits[0]["resolved"]["max_lr"] == 0.5
    ref = make_run("array")
    ref.fit_one_cycle(3, max_lr=0.5)
    assert same_weights(t2.model, ref.model)


def test_resume_of_a_finished_fit_does_not_train_again(tmp_path, reference):
    t = make_run("array", checkpoint_dir=tmp_path)
    t.fit_one_cycle(3, max_lr=0.5)
    t2 = make_run("array", checkpoint_dir=tmp_path)
    h = t2.fit_one_cycle(3, max_lr=0.5, resume=True)
    assert same_weights(t2.model.state_dict(), reference["array"][0])
    assert h.loss == reference["array"][1].loss and len(t2.history) == 3


def test_resume_without_checkpoint_starts_fresh_and_mismatch_is_refused(tmp_path, reference):
    t = make_run("array", checkpoint_dir=tmp_path)
    t.fit_one_cycle(3, max_lr=0.5, resume=True)  # nothing to resume yet
    assert same_weights(t.model.state_dict(), reference["array"][0])
    t2 = make_run("array", checkpoint_dir=tmp_path)
    with pytest.raises(CheckpointError, match="same arguments"):
        t2.fit_one_cycle(3, max_lr=0.4, resume=True)
    with pytest.raises(ValueError, match="checkpoint_dir"):
        make_run("array").fit_one_cycle(1, max_lr=0.1, resume=True)


def test_resume_across_several_fits(tmp_path):
    def script(trainer, crash=None):
        trainer.fit_one_cycle(2, max_lr=0.5, resume=True)
        if crash is not None:
            trainer.callbacks.insert(0, crash)
        trainer.fit_tail(1, resume=True)
        return trainer

    ref = script(make_run("torch", checkpoint_dir=tmp_path / "ref"))
    d = tmp_path / "run"
    with pytest.raises(RuntimeError):
        script(make_run("torch", checkpoint_dir=d, checkpoint_every=4), crash=Crash(5))
    t = script(make_run("torch", checkpoint_dir=d, checkpoint_every=4))
    assert same_weights(t.model, ref.model)
    assert t.history.loss == ref.history.loss
    assert [f["kind"] for f in t.history.fits] == ["one_cycle", "tail"]


def test_save_and_load_snapshot(tmp_path):
    ref = make_run("array")  # reference: one cycle, then a low constant LR
    ref.fit_one_cycle(1, max_lr=0.5)
    ref_after_cycle = {k: v.clone() for k, v in ref.model.state_dict().items()}
    ref_cycle_loss = list(ref.history.loss)
    ref.fit(1, lr=0.01)

    t = make_run("array")
    t.fit_one_cycle(1, max_lr=0.5)
    t.save(tmp_path / "snap.pt")
    t.fit(1, lr=0.3)  # wander off ...
    t2 = make_run("array")  # ... and come back, in a new trainer
    t3 = Trainer.load(tmp_path / "snap.pt", t2.model, t2.loss_fn, t2.optimizer,
                      t2.train_loader, t2.val_loader, progress=False)
    assert same_weights(t3.model.state_dict(), ref_after_cycle)
    assert t3.history.loss == ref_cycle_loss and len(t3.history.fits) == 1
    # the restored trainer (RNG, optimizer state, epoch count) continues exactly
    t3.fit(1, lr=0.01)
    assert same_weights(t3.model, ref.model)
    assert t3.history.loss == ref.history.loss


# --------------------------------------------------------------------------- kill -9


def _run_worker(args, **kw):
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONHASHSEED="0")
    return subprocess.Popen([sys.executable, str(WORKER), "resume", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)


def test_kill_9_mid_epoch_then_resume_is_bit_identical(tmp_path, reference):
    ck = tmp_path / "ck"
    proc = _run_worker(["--ckpt", str(ck), "--out", str(tmp_path / "x.pt"), "--every", "3",
                        "--slow", "0.05"])
    target = ck / "last.pt"
    deadline = time.monotonic() + 60
    try:
        while not target.exists():
            if proc.poll() is not None:
                raise AssertionError(proc.stderr.read().decode())
            if time.monotonic() > deadline:
                raise AssertionError("no checkpoint appeared")
            time.sleep(0.01)
        time.sleep(0.12)  # a couple more batches: the kill lands mid-epoch, between saves
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stdout.close()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    state = load_checkpoint(target)
    pos = state["fit"]
    assert not pos["finished"] and 0 < pos["step"] < 30
    assert not (tmp_path / "x.pt").exists()
    # resume here (the worker's main_resume with --resume does the same in a process)
    t = make_run("torch", checkpoint_dir=ck, checkpoint_every=3)
    h = t.fit_one_cycle(3, max_lr=0.5, resume=True)
    ref_state, ref_h = reference["torch"]
    assert same_weights(t.model.state_dict(), ref_state)
    assert h.loss == ref_h.loss and h.lr == ref_h.lr


def test_resume_from_an_explicit_missing_path_is_an_error(tmp_path):
    """resume=True with no checkpoint starts fresh; a mistyped explicit path must not."""
    import torch

    from onecycle.train import Trainer
    from onecycle.train.checkpoint import CheckpointNotFoundError

    torch.manual_seed(0)
    model = torch.nn.Linear(4, 3)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    data = [(torch.randn(8, 4), torch.randint(0, 3, (8,))) for _ in range(3)]
    t = Trainer(model, torch.nn.functional.cross_entropy, opt, data, progress=False,
                checkpoint_dir=tmp_path)
    with pytest.raises(CheckpointNotFoundError, match="no checkpoint"):
        t.fit(1, lr=0.1, resume=tmp_path / "typo.pt")
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    h = t.fit(1, lr=0.1, resume=True)  # nothing to resume: a fresh fit
    assert len(h) == 1
