"""Bad inputs and faults of the Trainer (issue #20), each a fast regression test: the
divergence guard in the first steps, a loader whose len() lies, checkpoints of another
optimizer or malformed ones, a damaged digest key, stale temporaries, an optimizer
over another model, strings as learning rates, overflowing LRs, bad seeds, devices,
clip values and metrics, threads=, progress and the diverged flag."""

from __future__ import annotations

import io
import json
import math
import random
import warnings
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from onecycle.train import (
    Callback,
    CheckpointError,
    DivergenceWarning,
    History,
    ProgressBar,
    Trainer,
    load_checkpoint,
    save_checkpoint,
)

torch.set_num_threads(1)
CE = F.cross_entropy


def bug(reason: str) -> pytest.MarkDecorator:
    return pytest.mark.regression(reason=f"was a bug: {reason}")


def data(n: int = 64, bs: int = 8, d: int = 4, classes: int = 2) -> list[Any]:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, d, generator=g)
    y = torch.randint(0, classes, (n,), generator=g)
    return [(x[i:i + bs], y[i:i + bs]) for i in range(0, n, bs)]


def linear(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Linear(4, 2)


def trainer(model: nn.Module | None = None, opt: Any = None, **kw: Any) -> Trainer:
    model = model if model is not None else linear()
    opt = opt if opt is not None else torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    kw.setdefault("progress", False)
    return Trainer(model, CE, opt, kw.pop("loader", data()), **kw)


def weights(m: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in m.state_dict().items()}


def same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


# ----------------------------------------------------------------------------- item 4


@bug("the divergence guard's floor averaged the first 10 losses, blown-up ones included: "
     "max_lr=1e30 ended with weights ~1e29 and no warning; with 3 epochs it 'restored' "
     "step 8, where the weights were already ~3e29")
@pytest.mark.parametrize("epochs", [1, 3])
def test_a_blow_up_in_the_first_steps_is_caught_and_undone(epochs: int) -> None:
    t = trainer()
    before = weights(t.model)
    with pytest.warns(DivergenceWarning, match=r"at step 1 .*restored to step 0"):
        h = t.fit_one_cycle(epochs, max_lr=1e30)
    assert h.diverged is not None and h.diverged["restored_step"] == 0
    assert same(weights(t.model), before)
    assert h.iterations == 2


def test_an_epoch_that_is_blowing_up_is_not_snapshot_as_good() -> None:
    """An epoch whose mean loss is already far above the best (but whose smoothed loss
    has not crossed the threshold yet) is not kept as the weights to go back to."""
    from types import SimpleNamespace

    from onecycle.train import DivergenceGuard

    model = linear()
    fake = SimpleNamespace(model=model, optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
                           step=0, resuming=False, epoch_in_fit=0, history=History(),
                           fit_history=History())
    guard = DivergenceGuard(factor=4.0)
    guard.on_fit_start(fake)
    for i, loss in enumerate([1.0, 0.9, 0.8]):
        guard.on_batch_end(fake, i, loss)
    fake.step = 3
    guard.on_epoch_end(fake, 0, {"train_loss": 50.0})  # 50 > 4 x best 0.8: not healthy
    guard.on_epoch_end(fake, 0, {"train_loss": float("nan")})
    fake.fit_history.lr.extend([0.1] * 4)
    with pytest.raises(train_stop()):
        guard.on_batch_end(fake, 3, float("inf"))
    assert fake.fit_history.meta["diverged"]["restored_step"] == 0
    guard.on_fit_start(fake)
    fake.step = 3
    guard.on_epoch_end(fake, 0, {"train_loss": 0.85})  # healthy: snapshot taken
    with pytest.raises(train_stop()):
        guard.on_batch_end(fake, 3, float("nan"))
    assert fake.fit_history.meta["diverged"]["restored_step"] == 3


def train_stop() -> type:
    from onecycle.train import StopTraining

    return StopTraining


# ----------------------------------------------------------------------------- item 6


class Lying(list):
    """A loader whose len() is not its number of batches."""

    def __init__(self, batches: list[Any], length: int) -> None:
        super().__init__(batches)
        self.length = length

    def __len__(self) -> int:
        return self.length


@bug("a loader whose len() overstates its batches (len 10, 4 batches) truncated the cycle "
     "silently: training ended near the peak LR")
def test_an_overstated_len_is_caught_at_the_first_epoch_end_and_replanned() -> None:
    from onecycle.schedule import OneCycleSchedule

    t = trainer(loader=Lying(data(n=32), 10))
    with pytest.warns(RuntimeWarning, match=r"len\(\) is 10 but the first epoch had 4 "
                                            r"batches: the schedule is replanned from 30 to 12"):
        h = t.fit_one_cycle(3, max_lr=0.3)
    assert h.iterations == 12 and h.meta["replanned"]["to_steps"] == 12
    assert h.lr[-1] == pytest.approx(OneCycleSchedule(30, 0.3).lr(29), rel=1e-6)
    assert t.steps_per_epoch == 4
    t1 = trainer(loader=Lying(data(n=32), 10))
    with pytest.warns(RuntimeWarning, match=r"planned 10 steps and the fit ran 4.*__len__"):
        t1.fit_one_cycle(1, max_lr=0.3)


def test_an_understated_len_is_replanned_too() -> None:
    t = trainer(loader=Lying(data(n=32), 2))
    with pytest.warns(RuntimeWarning, match="replanned from 6 to 12"):
        h = t.fit_one_cycle(3, max_lr=0.3)
    assert h.iterations == 12 and h.lr[-1] < 0.3 / 100


def test_a_replanned_fit_resumes_exactly(tmp_path: Path) -> None:
    class Crash(Callback):
        def on_batch_end(self, trainer: Any, step: int, loss: float) -> None:
            if step == 6:
                raise RuntimeError("crash")

    def make(**kw: Any) -> Trainer:
        return trainer(loader=Lying(data(n=32), 10), seed=0, **kw)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        ref = make().fit_one_cycle(3, max_lr=0.3)
        with pytest.raises(RuntimeError, match="crash"):
            make(checkpoint_dir=tmp_path, checkpoint_every=2,
                 callbacks=[Crash()]).fit_one_cycle(3, max_lr=0.3)
        h = make(checkpoint_dir=tmp_path).fit_one_cycle(3, max_lr=0.3, resume=True)
    assert h.lr == ref.lr and h.loss == ref.loss


# ----------------------------------------------------------------------------- item 7


def _adam_trainer() -> Trainer:
    m = linear(1)
    return trainer(m, torch.optim.Adam(m.parameters(), lr=1e-3))


def _state(t: Trainer) -> tuple[Any, ...]:
    return (weights(t.model), json.dumps(t.optimizer.state_dict()["param_groups"]),
            {k: {n: v.clone() for n, v in s.items()} for k, s in t.optimizer.state.items()},
            torch.get_rng_state().clone(), random.getstate(), t.history.to_json())


def _same_state(a: tuple[Any, ...], b: tuple[Any, ...]) -> bool:
    return (same(a[0], b[0]) and a[1] == b[1] and a[2].keys() == b[2].keys()
            and torch.equal(a[3], b[3]) and a[4] == b[4] and a[5] == b[5])


@bug("an SGD checkpoint restored into an Adam trainer replaced the param groups, then "
     "failed with KeyError 'step'; the next fit failed with KeyError 'betas'")
@pytest.mark.parametrize("with_type", [True, False])
def test_a_checkpoint_of_another_optimizer_is_refused_before_anything_changes(
        tmp_path: Path, with_type: bool) -> None:
    sgd = trainer()
    sgd.fit(1, lr=0.1)
    path = sgd.save(tmp_path / "sgd.pt")
    if not with_type:  # a checkpoint of an older version names no optimizer type
        p = load_checkpoint(path)
        del p["optimizer_type"]
        save_checkpoint(path, p)
    adam = _adam_trainer()
    adam.fit(1, lr=1e-3)
    before = _state(adam)
    match = r"sgd\.pt.*SGD.*Adam" if with_type else r"sgd\.pt.*has no betas, eps.*Adam"
    with pytest.raises(CheckpointError, match=match):
        adam.restore(path)
    assert _same_state(before, _state(adam))
    assert adam.fit(1, lr=1e-3).iterations == 8  # still trains


@bug("malformed but safe checkpoints half-loaded with raw ValueError/KeyError/RuntimeError, "
     "three of them after overwriting the model")
@pytest.mark.parametrize("damage", [
    "version-abc", "no-optimizer", "no-history", "no-rng", "junk-rng", "junk-rng-list",
    "history-garbage", "fit-garbage", "scaler-junk", "optimizer-state-shape",
    "scheduler-junk", "model-not-tensor",
])
@pytest.mark.parametrize("reader", ["restore", "resume", "load"])
def test_malformed_checkpoints_are_refused_whole(tmp_path: Path, damage: str,
                                                 reader: str) -> None:
    t = trainer(checkpoint_dir=tmp_path / "ck", checkpoint_every=3)

    class Stop(Callback):
        def on_batch_end(self, trainer: Any, step: int, loss: float) -> None:
            if step == 4:
                raise RuntimeError("stop")

    t.callbacks.insert(0, Stop())
    with pytest.raises(RuntimeError):
        t.fit_one_cycle(1, max_lr=0.1)
    p = load_checkpoint(tmp_path / "ck" / "last.pt")
    assert p["fit"] is not None
    _damage(p, damage)
    bad = save_checkpoint(tmp_path / "bad.pt", p)
    other = trainer(linear(5))
    before = _state(other)
    with pytest.raises(CheckpointError, match=r"bad\.pt"):
        if reader == "restore":
            other.restore(bad)
        elif reader == "resume":
            other.fit_one_cycle(1, max_lr=0.1, resume=bad)
        else:
            Trainer.load(bad, other.model, CE, other.optimizer, data(), progress=False)
    assert _same_state(before, _state(other))


def _damage(p: dict[str, Any], how: str) -> None:
    if how == "version-abc":
        p["version"] = "abc"
    elif how.startswith("no-"):
        del p[how[3:]]
    elif how == "junk-rng":
        p["rng"] = {"torch": torch.zeros(3, dtype=torch.uint8), "python": {"version": 3}}
    elif how == "junk-rng-list":
        p["rng"] = ["not a state"]
    elif how == "history-garbage":
        p["history"] = {"lr": [1.0], "momentum": [], "loss": []}
    elif how == "fit-garbage":
        p["fit"]["step"] = "seven"
    elif how == "scaler-junk":
        p["scaler"] = [1, 2]
    elif how == "optimizer-state-shape":
        st = p["optimizer"]["state"][0]
        st["momentum_buffer"] = torch.zeros(7)
    elif how == "scheduler-junk":
        p["fit"]["scheduler"]["schedules"]["lr"] = [{"kind": "nonsense"}]
    elif how == "model-not-tensor":
        p["model"]["weight"] = [1.0, 2.0]


# ----------------------------------------------------------------------------- item 8


@bug("damaging the digest's key name turned off corruption checking: with a bit flipped "
     "in __onecycle_sha256__ and one tensor byte, the altered tensor loaded silently")
def test_a_damaged_digest_key_does_not_turn_off_corruption_checking(tmp_path: Path) -> None:
    w = torch.arange(1000, dtype=torch.float32) + 0.5
    p = save_checkpoint(tmp_path / "c.pt", {"w": w})
    raw = bytearray(p.read_bytes())
    key = raw.find(b"__onecycle_sha256__")
    assert key > 0
    raw[key + 2] ^= 0x01  # "__onecycle..." -> "_^onecycle..."
    at = bytes(raw).find(w.numpy().tobytes())
    raw[at + 4 * 500] ^= 0x01
    bad = tmp_path / "bad.pt"
    bad.write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match=r"bad\.pt has no onecycle SHA-256 digest"):
        load_checkpoint(bad)
    with pytest.raises(CheckpointError, match=r"bad\.pt has no onecycle SHA-256 digest"):
        trainer().restore(bad)


# ----------------------------------------------------------------------------- item 9


@bug("stale .last.pt.*.tmp files piled up after kills during writes")
def test_resume_removes_its_own_stale_temporaries(tmp_path: Path) -> None:
    ck = tmp_path / "ck"
    ck.mkdir()
    for name in (".last.pt.a1b2.tmp", ".last.pt.zz.tmp"):
        (ck / name).write_bytes(b"torn")
    (ck / "keep.tmp").write_bytes(b"not ours")
    (ck / ".other.pt.x.tmp").write_bytes(b"not this checkpoint's")
    t = trainer(checkpoint_dir=ck)
    t.fit(1, lr=0.1, resume=True)
    assert sorted(p.name for p in ck.iterdir()) == [".other.pt.x.tmp", "keep.tmp", "last.pt"]


# ----------------------------------------------------------------------------- items 10-14


@bug("an optimizer over another model's parameters trained nothing, silently")
def test_an_optimizer_over_another_models_parameters_is_refused() -> None:
    other = linear(3)
    with pytest.raises(ValueError, match="optimizer holds none of the model's trainable"):
        trainer(linear(), torch.optim.SGD(other.parameters(), lr=0.1))


def test_a_model_without_trainable_parameters_is_refused() -> None:
    m = linear()
    for p in m.parameters():
        p.requires_grad_(False)
    with pytest.raises(ValueError, match="no trainable parameters"):
        trainer(m, torch.optim.SGD(m.parameters(), lr=0.1))


@bug("strings and True were accepted as learning rates")
@pytest.mark.parametrize("call, match", [
    (lambda t: t.fit_one_cycle(1, max_lr="0.1"), r"max_lr must be a real number, got '0\.1'"),
    (lambda t: t.fit_one_cycle(1, max_lr=True), r"max_lr must be a real number, got True"),
    (lambda t: t.fit_one_cycle(1, max_lr=[True]), r"max_lr must be a real number"),
    (lambda t: t.fit(1, lr="0.1"), r"lr must be a real number, got '0\.1'"),
    (lambda t: t.fit_tail(1, start_lr="0.1"), r"start_lr must be a real number"),
])
def test_strings_and_bools_are_not_learning_rates(call: Any, match: str) -> None:
    t = trainer()
    before = weights(t.model)
    with pytest.raises(TypeError, match=match):
        call(t)
    assert same(weights(t.model), before) and t.history.iterations == 0


@bug("Trainer.fit(lr=1e308) failed inside the optimizer with torch's overflow RuntimeError")
@pytest.mark.parametrize("call", [lambda t: t.fit(1, lr=1e308),
                                  lambda t: t.fit_one_cycle(1, max_lr=1e39)])
def test_an_lr_too_large_for_the_parameters_is_a_one_line_value_error(call: Any) -> None:
    t = trainer()
    with pytest.raises(ValueError, match=r"larger than the parameters' dtype can hold") as e:
        call(t)
    assert "\n" not in str(e.value)


@bug("History.load of deeply nested JSON raised RecursionError")
def test_history_load_of_deeply_nested_json_is_a_value_error(tmp_path: Path) -> None:
    p = tmp_path / "h.json"
    p.write_text('{"meta": ' + "[" * 5000 + "]" * 5000 + "}")
    with pytest.raises(ValueError, match="nests deeper"):
        History.load(p)


@pytest.mark.parametrize("kw, exc, match", [
    ({"seed": 2**70}, ValueError, r"seed must be an integer in \[0, "),
    ({"seed": "1"}, TypeError, r"seed must be an integer"),
    ({"device": "bogus"}, ValueError, r"device='bogus'"),
    ({"grad_clip": "a"}, TypeError, r"grad_clip must be a number > 0, 'auto' or None, got 'a'"),
    ({"accumulation_steps": 0}, ValueError, r"accumulation_steps must be an integer >= 1"),
    ({"threads": 0}, ValueError, r"threads must be an integer >= 1"),
    ({"progress": "loud"}, ValueError, r"progress must be"),
    ({"step_fn": 3}, TypeError, r"step_fn must be callable"),
    ({"divergence_guard": "yes"}, TypeError, r"divergence_guard must be"),
])
def test_bad_trainer_options_name_the_argument(kw: dict[str, Any], exc: type, match: str) -> None:
    with pytest.raises(exc, match=match):
        trainer(**kw)


def test_a_metric_returning_a_string_is_a_type_error_naming_it() -> None:
    t = trainer(metrics={"f1": lambda o, y: "high"})
    with pytest.raises(TypeError, match=r"metric 'f1' result must be a real number, got 'high'"):
        t.evaluate(data())


def test_a_detached_loss_is_a_clear_error() -> None:
    m = linear()
    t = Trainer(m, lambda o, y: CE(o, y).detach(), torch.optim.SGD(m.parameters(), lr=0.1),
                data(), progress=False)
    with pytest.raises(ValueError, match=r"loss \(loss_fn result\) does not require grad"):
        t.fit(1, lr=0.1)


# ----------------------------------------------------------------------------- threads


def test_threads_apply_during_each_call_and_are_put_back() -> None:
    seen: list[int] = []

    class Threads(Callback):
        def on_batch_end(self, trainer: Any, step: int, loss: float) -> None:
            seen.append(torch.get_num_threads())

    torch.set_num_threads(2)
    try:
        t = trainer(threads=1, callbacks=[Threads()], val_loader=data())
        t.fit(1, lr=0.1)
        assert set(seen) == {1} and torch.get_num_threads() == 2
        t.evaluate()
        t.lr_find(num_iter=5)
        assert torch.get_num_threads() == 2
        seen.clear()
        trainer(callbacks=[Threads()]).fit(1, lr=0.1)  # threads=None: torch's setting
        assert set(seen) == {2}
    finally:
        torch.set_num_threads(1)


# ----------------------------------------------------------------------------- progress


def test_progress_lines_are_bounded_and_epochs_noted(monkeypatch: pytest.MonkeyPatch) -> None:
    import onecycle.progress as prog

    clock = iter(range(10**6))
    monkeypatch.setattr(prog.time, "monotonic", lambda: float(next(clock)))
    buf = io.StringIO()
    t = trainer(loader=data(n=400), callbacks=[ProgressBar(file=buf, progress="lines")])
    t.fit(3, lr=0.1)
    lines = buf.getvalue().splitlines()
    epochs = [ln for ln in lines if ": epoch " in ln]
    assert len(epochs) == 3 and epochs[0].startswith("fit: epoch 1/3: train_loss ")
    steps = [ln for ln in lines if ln not in epochs]
    assert 1 <= len(steps) <= 12 and steps[-1].startswith("fit: 150/150")


@pytest.mark.parametrize("kind", ["fit_one_cycle", "fit", "fit_schedule"])
def test_progress_lines_name_the_kind_of_fit(kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import onecycle.progress as prog
    from onecycle.schedule import linear_decay

    clock = iter(range(10**6))  # every step "takes a second": lines are printed
    monkeypatch.setattr(prog.time, "monotonic", lambda: float(next(clock)))
    buf = io.StringIO()
    t = trainer(callbacks=[ProgressBar(file=buf, progress="lines")])
    {"fit_one_cycle": lambda: t.fit_one_cycle(1, max_lr=0.1),
     "fit": lambda: t.fit(1, lr=0.1),
     "fit_schedule": lambda: t.fit_schedule(1, lambda n: {"lr": linear_decay(n, 0.1)})}[kind]()
    assert buf.getvalue().splitlines()[-1].startswith(f"{kind}: epoch 1/1: ")


def test_progress_false_is_silent(capsys: pytest.CaptureFixture[str]) -> None:
    trainer(progress=False).fit(1, lr=0.1)
    out = capsys.readouterr()
    assert out.err == "" and out.out == ""


# ----------------------------------------------------------------------------- diverged flag


def test_history_diverged_tells_a_stopped_fit_from_a_good_one() -> None:
    good = trainer().fit(1, lr=0.1)
    assert good.diverged is None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DivergenceWarning)
        t = trainer()
        bad = t.fit_one_cycle(1, max_lr=1e30)
    assert bad.diverged is not None and "try max_lr" in bad.diverged["message"]
    assert t.history.diverged == bad.diverged and math.isfinite(bad.diverged["lr"])


def test_an_unwritable_checkpoint_dir_is_found_at_construction(tmp_path: Path) -> None:
    from onecycle._io import WriteError, check_writable_dir

    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(WriteError, match=r"cannot write to directory .*file/ck"):
        check_writable_dir(blocker / "ck")
    with pytest.raises(CheckpointError, match=r"checkpoint_dir .*file/ck is not writable"):
        trainer(checkpoint_dir=blocker / "ck")
    assert check_writable_dir(tmp_path / "a" / "b").is_dir()
    assert sorted(p.name for p in (tmp_path / "a" / "b").iterdir()) == []


def test_histories_keep_their_on_disk_format_both_ways(tmp_path: Path) -> None:
    """The JSON a history was written as before the one cleaner (to_plain) still reads,
    and what is written now is the same text."""
    old = ('{"format": "onecycle-history", "version": 1, "lr": [0.1, 0.2], '
           '"momentum": [0.9, null], "loss": [1.5, "nan"], "records": [{"epoch": 0, '
           '"iteration": 2, "train_loss": "inf", "val_loss": 0.5}], "meta": {"x": '
           '[1, "-inf"]}, "fits": [{"kind": "constant", "start_epoch": 0, '
           '"start_iteration": 0}]}')
    p = tmp_path / "old.json"
    p.write_text(old)
    h = History.load(p)
    assert h.lr == [0.1, 0.2] and h.momentum == [0.9, None] and math.isnan(h.loss[1])
    assert h.records[0]["train_loss"] == math.inf and h.meta["x"] == [1, -math.inf]
    assert json.loads(h.to_json()) == json.loads(old)
