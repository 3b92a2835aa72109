"""Bad-input catalogue: every public entry point refuses bad input loudly and touches nothing.

Each case names one bad input, the exception type it must raise (``ValueError`` /
``TypeError`` or the library's documented subclass: ``CheckpointError``,
``CheckpointNotFoundError``, ``ConfigError``, ``OSError`` for paths), and a regex the
message must match: the argument's name and, where sensible, the bad value and what is
allowed. After the exception the model's ``state_dict`` tensors, the optimizer's state
and every param-group value, the trainer's history and every file under the test's
directory (bytes and mtime) must be exactly as they were.

CLI cases (``onecycle ...``) check the exit status (2: usage, 1: runtime), a one-line
message on stderr without a traceback, and that the configuration file and a previous
run's output directory are untouched.

``BEHAVIOUR`` tests at the end document what happens with inputs that are legal but
easy to get wrong (a model in eval mode).
"""

from __future__ import annotations

import copy
import math
import os
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F

from onecycle.finder import LRFinderResult, lr_find
from onecycle.schedule import OneCycleSchedule, constant, join
from onecycle.scheduler import OneCycle, ParamScheduler

train = pytest.importorskip("onecycle.train")
Trainer = train.Trainer
History = train.History
CheckpointError = train.CheckpointError
CheckpointNotFoundError = train.CheckpointNotFoundError
load_checkpoint = train.load_checkpoint
save_checkpoint = train.save_checkpoint

torch.set_num_threads(1)

NAN, INF = math.nan, math.inf


# ----------------------------------------------------------------------------- environment


class TwoLayer(nn.Module):
    def __init__(self, out: int = 3) -> None:
        super().__init__()
        self.a = nn.Linear(4, 8)
        self.b = nn.Linear(8, out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.b(torch.relu(self.a(x)))


@dataclass
class Env:
    """A fresh model, optimizers, data and a directory of files for one case."""

    tmp: Path
    model: nn.Module
    opt: torch.optim.Optimizer  # SGD, two param groups (lr 0.1 and 0.05), momentum 0.9
    ada_model: nn.Module
    ada: torch.optim.Optimizer  # Adagrad: no momentum-like hyper-parameter
    data: list[tuple[torch.Tensor, torch.Tensor]]
    trainers: list[Any] = field(default_factory=list)

    def trainer(self, loader: Any = None, loss_fn: Any = F.cross_entropy, **kw: Any) -> Any:
        kw.setdefault("progress", False)
        t = Trainer(self.model, loss_fn, self.opt, self.data if loader is None else loader, **kw)
        self.trainers.append(t)
        return t

    def ada_trainer(self, **kw: Any) -> Any:
        t = Trainer(self.ada_model, F.cross_entropy, self.ada, self.data, progress=False, **kw)
        self.trainers.append(t)
        return t

    def find(self, **kw: Any) -> Any:
        kw.setdefault("progress", False)
        kw.setdefault("num_iter", 8)
        loss = kw.pop("loss_fn", F.cross_entropy)
        loader = kw.pop("loader", self.data)
        return lr_find(self.model, self.opt, loss, loader, **kw)

    @property
    def blocker(self) -> Path:
        """A regular file: any path below it cannot be created, even by root."""
        return self.tmp / "blocker"


def _data() -> list[tuple[torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(48, 4, generator=g)
    y = torch.randint(0, 3, (48,), generator=g)
    return [(x[i:i + 16], y[i:i + 16]) for i in range(0, 48, 16)]


def _trained_sgd(model: nn.Module) -> torch.optim.Optimizer:
    opt = torch.optim.SGD(
        [{"params": model.a.parameters()}, {"params": model.b.parameters(), "lr": 0.05}],
        lr=0.1, momentum=0.9,
    )
    for x, y in _data()[:2]:  # momentum buffers exist: the optimizer state is not empty
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
    return opt


@pytest.fixture(scope="module")
def file_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Files the cases read (and must leave alone), written once per module."""
    root = tmp_path_factory.mktemp("tree")
    (root / "blocker").write_text("not a directory")
    data = _data()
    ck = root / "ck"
    save_checkpoint(ck / "other.pt", {"format": "something-else", "w": torch.ones(2)})
    torch.manual_seed(1)
    other = TwoLayer(out=5)  # same layer names, different shapes
    Trainer(other, F.cross_entropy, _trained_sgd(other), data, progress=False).save(
        ck / "mismatch.pt")
    torch.manual_seed(2)
    model = TwoLayer()
    good = Trainer(model, F.cross_entropy, _trained_sgd(model), data,
                   progress=False).save(ck / "good.pt")
    blob = good.read_bytes()
    (ck / "truncated.pt").write_bytes(blob[: len(blob) // 2])
    (ck / "junk.pt").write_bytes(b"this is not a checkpoint")
    (ck / "empty.pt").write_bytes(b"")
    newer = load_checkpoint(good)
    newer["version"] = 999
    save_checkpoint(ck / "newer.pt", newer)
    LRFinderResult(np.array([0.1, 1.0]), np.array([1.0, 2.0]), np.array([1.0, 1.5])).save(
        root / "result.json")
    return root


@pytest.fixture
def env(tmp_path: Path, file_tree: Path) -> Env:
    shutil.copytree(file_tree, tmp_path, dirs_exist_ok=True)
    torch.manual_seed(0)
    model = TwoLayer()
    opt = _trained_sgd(model)
    ada_model = TwoLayer()
    ada = torch.optim.Adagrad(ada_model.parameters(), lr=0.1)
    return Env(tmp_path, model, opt, ada_model, ada, _data())


# ----------------------------------------------------------------------------- snapshots


def _files(root: Path) -> dict[str, tuple[bytes, int]]:
    out = {}
    for dirpath, _dirs, names in os.walk(root):
        for n in names:
            p = Path(dirpath) / n
            out[str(p.relative_to(root))] = (p.read_bytes(), p.stat().st_mtime_ns)
    return out


def _groups(opt: torch.optim.Optimizer) -> list[dict[str, Any]]:
    return [{k: copy.deepcopy(v) for k, v in g.items() if k != "params"}
            for g in opt.param_groups]


def _opt_state(opt: torch.optim.Optimizer) -> dict[str, Any]:
    sd = opt.state_dict()
    return {k: {n: v.clone() if torch.is_tensor(v) else copy.deepcopy(v) for n, v in st.items()}
            for k, st in sd["state"].items()}


def _snapshot(e: Env) -> dict[str, Any]:
    return {
        "models": [{k: v.detach().clone() for k, v in m.state_dict().items()}
                   for m in (e.model, e.ada_model)],
        "modes": [[s.training for s in m.modules()] for m in (e.model, e.ada_model)],
        "groups": [_groups(o) for o in (e.opt, e.ada)],
        "opt_state": [_opt_state(o) for o in (e.opt, e.ada)],
        "files": _files(e.tmp),
    }


def _same_tensors(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return a.keys() == b.keys() and all(
        torch.equal(a[k], b[k]) if torch.is_tensor(a[k]) else _same_tensors(a[k], b[k])
        if isinstance(a[k], dict) else a[k] == b[k] for k in a)


def assert_untouched(before: dict[str, Any], e: Env) -> None:
    after = _snapshot(e)
    for i, (m0, m1) in enumerate(zip(before["models"], after["models"])):
        assert _same_tensors(m0, m1), f"model {i} state_dict changed"
    assert before["modes"] == after["modes"], "train/eval modes changed"
    assert before["groups"] == after["groups"], "optimizer param groups changed"
    for s0, s1 in zip(before["opt_state"], after["opt_state"]):
        assert s0.keys() == s1.keys() and all(_same_tensors(s0[k], s1[k]) for k in s0), \
            "optimizer state changed"
    assert before["files"].keys() == after["files"].keys(), (
        f"files created/removed: {sorted(set(before['files']) ^ set(after['files']))}")
    for k in before["files"]:
        assert before["files"][k] == after["files"][k], f"file {k} changed"
    for t in e.trainers:
        assert t.history.iterations == 0 and len(t.history.fits) == 0, "history changed"
        assert t.fit_history is None and t.fit_status == "idle"


# ----------------------------------------------------------------------------- helpers


def bug(reason: str) -> pytest.MarkDecorator:
    """Marks a regression test for a bug this suite found (fixed since)."""
    return pytest.mark.regression(reason=f"was a bug: {reason}")


BUG_MAX_LR_NAME = bug("OneCycle / fit_one_cycle report a bad max_lr as 'lr must be ...' "
                      "(validate_hyper('lr', ...)): the message does not name max_lr")
BUG_PARTIAL_WRITE = bug("ParamScheduler writes group 0 before validating group 1's value: "
                        "a rejected schedule leaves the optimizer half-changed")
BUG_BOOL_STEPS = bug("_int_steps accepts True as total_steps (bool is numbers.Integral)")
BUG_STR_LR = bug("schedule._real accepts a string ('0.1') as a number via float()")
BUG_DICT_BATCH = bug("Trainer unpacks a dict batch {'x','y'} into its two keys; the model "
                     "then fails with an unrelated message instead of 'batch must be a pair'")
BUG_LOSS_CHECK = bug("Trainer does not check the loss: non-scalar -> torch RuntimeError, "
                     "non-tensor -> AttributeError, neither naming the loss")
BUG_CKPT_DIR = bug("Trainer(checkpoint_dir=<unwritable>) is only noticed at the first save, "
                   "after an epoch of training changed the model, and as a raw OSError")
BUG_MKDIR = bug("atomic_write creates the directory outside its try: an unwritable "
                "directory raises a raw NotADirectoryError, not the documented CheckpointError")
BUG_FAILED_FIT_HYPERS = bug("a fit that fails on its first batch (before any optimizer step) "
                             "leaves the optimizer with the new scheduler's lr/momentum")
BUG_LOAD_EXC = bug("load_checkpoint lets IndexError / struct.error from torch's unpickler "
                   "escape for some corrupt files instead of raising CheckpointError")
BUG_PARTIAL_LOAD = bug("Trainer.restore of a checkpoint whose shapes do not match copies "
                       "the matching tensors before raising: the model is half-loaded")


@dataclass(frozen=True)
class Case:
    call: Callable[[Env], Any]
    exc: type[BaseException] | tuple[type[BaseException], ...]
    match: str
    prepare: Callable[[Env], Any] | None = None  # run before the "before" snapshot


def case(id_: str, call: Callable[[Env], Any], exc: Any, match: str,
         marks: Any = (), prepare: Callable[[Env], Any] | None = None) -> Any:
    return pytest.param(Case(call, exc, match, prepare), id=id_, marks=marks)


def _schedule(v: float) -> Any:
    return join([constant(v)], [0, 10])


# ----------------------------------------------------------------------------- the catalogue

CASES = [
    # -- pure schedule: learning rates
    case("schedule-max_lr-zero", lambda e: OneCycleSchedule(100, 0.0),
         ValueError, r"max_lr must be a finite number > 0, got 0\.0"),
    case("schedule-max_lr-negative", lambda e: OneCycleSchedule(100, -0.1),
         ValueError, r"max_lr must be a finite number > 0, got -0\.1"),
    case("schedule-max_lr-nan", lambda e: OneCycleSchedule(100, NAN),
         ValueError, r"max_lr must be a finite number > 0, got nan"),
    case("schedule-max_lr-inf", lambda e: OneCycleSchedule(100, INF),
         ValueError, r"max_lr must be a finite number > 0, got inf"),
    case("schedule-max_lr-string", lambda e: OneCycleSchedule(100, "0.1"),
         TypeError, r"max_lr must be a real number, got '0\.1'", BUG_STR_LR),
    case("schedule-div-zero", lambda e: OneCycleSchedule(100, 0.1, div=0),
         ValueError, r"div must be a finite number > 0, got 0"),
    # -- pure schedule: steps
    case("schedule-total_steps-zero", lambda e: OneCycleSchedule(0, 0.1),
         ValueError, r"total_steps must be an integer >= 1, got 0"),
    case("schedule-total_steps-negative", lambda e: OneCycleSchedule(-5, 0.1),
         ValueError, r"total_steps must be an integer >= 1, got -5"),
    case("schedule-total_steps-fraction", lambda e: OneCycleSchedule(2.5, 0.1),
         TypeError, r"total_steps must be an integer >= 1, got 2\.5"),
    case("schedule-total_steps-bool", lambda e: OneCycleSchedule(True, 0.1),
         TypeError, r"total_steps must be an integer >= 1, got True", BUG_BOOL_STEPS),
    # -- pure schedule: pct_start
    case("schedule-pct_start-zero", lambda e: OneCycleSchedule(100, 0.1, pct_start=0),
         ValueError, r"pct_start must be in \(0, 1\), got 0"),
    case("schedule-pct_start-one", lambda e: OneCycleSchedule(100, 0.1, pct_start=1),
         ValueError, r"pct_start must be in \(0, 1\), got 1"),
    case("schedule-pct_start-above-one",
         lambda e: OneCycleSchedule(100, 0.1, pct_start=1.5, style="torch"),
         ValueError, r"pct_start must be in \(0, 1\), got 1\.5"),
    case("schedule-pct_start-nan", lambda e: OneCycleSchedule(100, 0.1, pct_start=NAN),
         ValueError, r"pct_start must be in \(0, 1\), got nan"),
    # -- pure schedule: momentum
    case("schedule-momentum-one", lambda e: OneCycleSchedule(100, 0.1, momentum=(1.0, 0.85)),
         ValueError, r"momentum values must be in \[0, 1\), got \(1\.0, 0\.85\)"),
    case("schedule-momentum-above-one",
         lambda e: OneCycleSchedule(100, 0.1, momentum=(0.95, 1.2)),
         ValueError, r"momentum values must be in \[0, 1\), got \(0\.95, 1\.2\)"),
    case("schedule-momentum-negative",
         lambda e: OneCycleSchedule(100, 0.1, momentum=(0.95, -0.1)),
         ValueError, r"momentum values must be in \[0, 1\), got \(0\.95, -0\.1\)"),
    case("schedule-momentum-one-value", lambda e: OneCycleSchedule(100, 0.1, momentum=(0.9,)),
         ValueError, r"momentum must be a \(high, low\) pair .*got \(0\.9,\)"),
    # -- torch scheduler
    case("OneCycle-max_lr-zero", lambda e: OneCycle(e.opt, max_lr=0.0, total_steps=10),
         ValueError, r"\bmax_lr\b.*> 0.*got 0\.0", BUG_MAX_LR_NAME),
    case("OneCycle-max_lr-nan", lambda e: OneCycle(e.opt, max_lr=NAN, total_steps=10),
         ValueError, r"\bmax_lr\b.*finite.*got nan", BUG_MAX_LR_NAME),
    case("OneCycle-max_lr-inf-in-list", lambda e: OneCycle(e.opt, [0.1, INF], total_steps=10),
         ValueError, r"max_lr\[1\] must be a finite number > 0, got inf"),
    case("OneCycle-max_lr-list-too-short", lambda e: OneCycle(e.opt, [0.1], total_steps=10),
         ValueError, r"max_lr has 1 values for 2 param groups"),
    case("OneCycle-max_lr-list-too-long",
         lambda e: OneCycle(e.opt, [0.1, 0.2, 0.3], total_steps=10),
         ValueError, r"max_lr has 3 values for 2 param groups"),
    case("OneCycle-total_steps-zero", lambda e: OneCycle(e.opt, 0.1, total_steps=0),
         ValueError, r"total_steps must be an integer >= 1, got 0"),
    case("OneCycle-total_steps-negative", lambda e: OneCycle(e.opt, 0.1, total_steps=-3),
         ValueError, r"total_steps must be an integer >= 1, got -3"),
    case("OneCycle-no-length", lambda e: OneCycle(e.opt, 0.1),
         ValueError, r"give total_steps, or both epochs and steps_per_epoch"),
    case("OneCycle-epochs-contradict",
         lambda e: OneCycle(e.opt, 0.1, total_steps=10, epochs=3, steps_per_epoch=4),
         ValueError, r"total_steps=10 contradicts epochs=3 x steps_per_epoch=4"),
    case("OneCycle-pct_start-one", lambda e: OneCycle(e.opt, 0.1, total_steps=10, pct_start=1),
         ValueError, r"pct_start must be in \(0, 1\), got 1"),
    case("OneCycle-momentum-one",
         lambda e: OneCycle(e.opt, 0.1, total_steps=10, momentum=(1.0, 0.9)),
         ValueError, r"momentum values must be in \[0, 1\)"),
    case("OneCycle-no-momentum-optimizer", lambda e: OneCycle(e.ada, 0.1, total_steps=10),
         ValueError, r"Adagrad has no momentum-like hyper-parameter.*momentum=None"),
    case("OneCycle-no-momentum-optimizer-explicit",
         lambda e: OneCycle(e.ada, 0.1, total_steps=10, momentum=(0.95, 0.85)),
         ValueError, r"Adagrad has no momentum-like hyper-parameter"),
    case("OneCycle-not-an-optimizer", lambda e: OneCycle(e.model, 0.1, total_steps=10),
         TypeError, r"optimizer must be a torch\.optim\.Optimizer, got TwoLayer"),
    case("ParamScheduler-momentum-on-Adagrad",
         lambda e: ParamScheduler(e.ada, {"momentum": _schedule(0.9)}),
         ValueError, r"Adagrad has no momentum-like hyper-parameter"),
    case("ParamScheduler-list-mismatch",
         lambda e: ParamScheduler(e.opt, {"lr": [_schedule(0.1)]}),
         ValueError, r"schedules\['lr'\] has 1 entries for 2 param groups"),
    case("ParamScheduler-nan-value-second-group",
         lambda e: ParamScheduler(e.opt, {"lr": [_schedule(0.5), _schedule(NAN)]}),
         ValueError, r"must be a number, got NaN", BUG_PARTIAL_WRITE),
    case("ParamScheduler-negative-lr",
         lambda e: ParamScheduler(e.opt, {"lr": _schedule(-1.0)}),
         ValueError, r"gave -1\.0 at step 0 \(param group 0\); lr must be a finite number >= 0"),
    # -- LR range test: the sweep
    case("lr_find-start_lr-zero", lambda e: e.find(start_lr=0.0),
         ValueError, r"start_lr must be a finite number > 0, got 0\.0"),
    case("lr_find-start_lr-negative", lambda e: e.find(start_lr=-1e-3),
         ValueError, r"start_lr must be a finite number > 0, got -0\.001"),
    case("lr_find-start_lr-nan", lambda e: e.find(start_lr=NAN),
         ValueError, r"start_lr must be a finite number > 0, got nan"),
    case("lr_find-start_lr-inf", lambda e: e.find(start_lr=INF),
         ValueError, r"start_lr must be a finite number > 0, got inf"),
    case("lr_find-end_lr-nan", lambda e: e.find(end_lr=NAN),
         ValueError, r"end_lr must be a finite number > 0, got nan"),
    case("lr_find-end_lr-inf", lambda e: e.find(end_lr=INF),
         ValueError, r"end_lr must be a finite number > 0, got inf"),
    case("lr_find-end_lr-zero", lambda e: e.find(end_lr=0),
         ValueError, r"end_lr must be a finite number > 0, got 0"),
    case("lr_find-start-equals-end", lambda e: e.find(start_lr=0.1, end_lr=0.1),
         ValueError, r"start_lr must be < end_lr, got start_lr=0\.1, end_lr=0\.1"),
    case("lr_find-start-above-end", lambda e: e.find(start_lr=1.0, end_lr=1e-3),
         ValueError, r"start_lr must be < end_lr, got start_lr=1\.0, end_lr=0\.001"),
    case("lr_find-num_iter-one", lambda e: e.find(num_iter=1),
         ValueError, r"num_iter must be an integer >= 2, got 1"),
    case("lr_find-num_iter-zero", lambda e: e.find(num_iter=0),
         ValueError, r"num_iter must be an integer >= 2, got 0"),
    case("lr_find-num_iter-negative", lambda e: e.find(num_iter=-5),
         ValueError, r"num_iter must be an integer >= 2, got -5"),
    case("lr_find-num_iter-bool", lambda e: e.find(num_iter=True),
         TypeError, r"num_iter must be an integer >= 2, got True"),
    case("lr_find-optimizer-lr-zero", lambda e: e.find(),
         ValueError, r"param group 1 has lr=0\.0; every group needs a finite lr > 0",
         prepare=lambda e: e.opt.param_groups[1].__setitem__("lr", 0.0)),
    # -- LR range test: data and loss
    case("lr_find-empty-loader", lambda e: e.find(loader=[]),
         ValueError, r"train_loader yielded no batches"),
    case("lr_find-dict-batches", lambda e: e.find(loader=[{"x": e.data[0][0], "y": e.data[0][1]}]),
         TypeError, r"\(inputs, targets\) pair, got a dict with keys \['x', 'y'\].*step_fn"),
    case("lr_find-triple-batches", lambda e: e.find(loader=[(*e.data[0], e.data[0][1])]),
         TypeError, r"\(inputs, targets\) pair, got a tuple of length 3"),
    case("lr_find-bare-tensor-batches", lambda e: e.find(loader=[e.data[0][0]]),
         TypeError, r"\(inputs, targets\) pair, got a tensor of shape \(16, 4\)"),
    case("lr_find-loss-not-scalar",
         lambda e: e.find(loss_fn=lambda o, t: F.cross_entropy(o, t, reduction="none")),
         ValueError, r"loss .* must be a scalar, got a tensor of shape \(16,\)"),
    case("lr_find-loss-not-a-tensor", lambda e: e.find(loss_fn=lambda o, t: 1.0),
         TypeError, r"loss .* must be a torch\.Tensor, got float"),
    case("lr_find-loss-detached",
         lambda e: e.find(loss_fn=lambda o, t: F.cross_entropy(o, t).detach()),
         ValueError, r"loss .* does not require grad"),
    # -- Trainer: learning rates
    case("fit-lr-zero", lambda e: e.trainer().fit(1, lr=0.0),
         ValueError, r"lr must be a finite number > 0, got 0\.0"),
    case("fit-lr-negative", lambda e: e.trainer().fit(1, lr=-0.1),
         ValueError, r"lr must be a finite number > 0, got -0\.1"),
    case("fit-lr-nan", lambda e: e.trainer().fit(1, lr=NAN),
         ValueError, r"lr must be a finite number > 0, got nan"),
    case("fit-lr-inf", lambda e: e.trainer().fit(1, lr=INF),
         ValueError, r"lr must be a finite number > 0, got inf"),
    case("fit-lr-list-mismatch", lambda e: e.trainer().fit(1, lr=[0.1, 0.2, 0.3]),
         ValueError, r"'lr'\] has 3 entries for 2 param groups"),
    case("fit_one_cycle-max_lr-zero", lambda e: e.trainer().fit_one_cycle(1, max_lr=0.0),
         ValueError, r"\bmax_lr\b.*> 0.*got 0\.0", BUG_MAX_LR_NAME),
    case("fit_one_cycle-max_lr-nan", lambda e: e.trainer().fit_one_cycle(1, max_lr=NAN),
         ValueError, r"\bmax_lr\b.*finite.*got nan", BUG_MAX_LR_NAME),
    case("fit_one_cycle-max_lr-list-mismatch",
         lambda e: e.trainer().fit_one_cycle(1, max_lr=[0.1]),
         ValueError, r"max_lr has 1 values for 2 param groups"),
    case("fit_one_cycle-epochs-zero", lambda e: e.trainer().fit_one_cycle(0, max_lr=0.1),
         ValueError, r"epochs must be a positive integer, got 0"),
    case("fit_one_cycle-pct_start-above-one",
         lambda e: e.trainer().fit_one_cycle(1, max_lr=0.1, pct_start=1.5),
         ValueError, r"pct_start must be in \(0, 1\), got 1\.5"),
    case("fit_one_cycle-momentum-one",
         lambda e: e.trainer().fit_one_cycle(1, max_lr=0.1, momentum=(1.0, 0.9)),
         ValueError, r"momentum values must be in \[0, 1\)"),
    case("fit_one_cycle-momentum-on-Adagrad",
         lambda e: e.ada_trainer().fit_one_cycle(1, max_lr=0.1, momentum=(0.95, 0.85)),
         ValueError, r"Adagrad has no momentum-like hyper-parameter"),
    case("fit_tail-momentum-on-Adagrad", lambda e: e.ada_trainer().fit_tail(1, momentum=0.9),
         ValueError, r"Adagrad has no momentum-like hyper-parameter"),
    case("fit_tail-end-above-start",
         lambda e: e.trainer().fit_tail(1, start_lr=0.01, end_lr=0.1),
         ValueError, r"fit_tail anneals the LR down, but end_lr=0\.1 > start_lr=0\.01"),
    case("fit_tail-bad-anneal", lambda e: e.trainer().fit_tail(1, anneal="sqrt"),
         ValueError, r"anneal must be 'linear', 'cos' or 'exp', got 'sqrt'"),
    case("Trainer-grad_clip-nan", lambda e: e.trainer(grad_clip=NAN),
         ValueError, r"grad_clip must be a number > 0, 'auto' or None, got nan"),
    case("Trainer-checkpoint_every-zero",
         lambda e: e.trainer(checkpoint_every=0, checkpoint_dir=e.tmp / "ck"),
         ValueError, r"checkpoint_every must be a positive integer, got 0"),
    # -- Trainer: data and loss
    case("fit-empty-loader", lambda e: e.trainer(loader=[]).fit(1, lr=0.1),
         ValueError, r"train_loader has no batches"),
    case("fit-no-len-loader", lambda e: e.trainer(loader=iter(e.data)),
         TypeError, r"train_loader must be an iterable of \(x, y\) batches with __len__"),
    case("fit-triple-batches", lambda e: e.trainer(loader=[(*e.data[0], e.data[0][1])]).fit(
        1, lr=0.1), TypeError, r"each batch must be an \(inputs, targets\) pair, got (a )?tuple",
        BUG_FAILED_FIT_HYPERS),
    case("fit-bare-tensor-batches", lambda e: e.trainer(loader=[e.data[0][0]]).fit(1, lr=0.1),
         TypeError, r"each batch must be an \(inputs, targets\) pair, got (a )?[Tt]ensor",
         BUG_FAILED_FIT_HYPERS),
    case("fit-dict-batches",
         lambda e: e.trainer(loader=[{"x": e.data[0][0], "y": e.data[0][1]}]).fit(1, lr=0.1),
         TypeError, r"\(inputs, targets\) pair, got (a )?dict", BUG_DICT_BATCH),
    case("fit-loss-not-scalar",
         lambda e: e.trainer(loss_fn=lambda o, t: F.cross_entropy(o, t, reduction="none")).fit(
             1, lr=0.1), ValueError, r"loss.*scalar.*shape \(16,\)", BUG_LOSS_CHECK),
    case("fit-loss-not-a-tensor",
         lambda e: e.trainer(loss_fn=lambda o, t: 1.0).fit(1, lr=0.1),
         TypeError, r"loss.*torch\.Tensor.*float", BUG_LOSS_CHECK),
    # -- checkpoints: missing, corrupt, foreign
    case("load_checkpoint-missing", lambda e: load_checkpoint(e.tmp / "ck" / "missing.pt"),
         CheckpointNotFoundError, r"no checkpoint file at .*missing\.pt"),
    case("load_checkpoint-truncated", lambda e: load_checkpoint(e.tmp / "ck" / "truncated.pt"),
         CheckpointError, r"truncated\.pt is not a readable checkpoint \(truncated or corrupt\)"),
    case("load_checkpoint-junk", lambda e: load_checkpoint(e.tmp / "ck" / "junk.pt"),
         CheckpointError, r"junk\.pt is not a readable checkpoint", BUG_LOAD_EXC),
    case("load_checkpoint-empty-file", lambda e: load_checkpoint(e.tmp / "ck" / "empty.pt"),
         CheckpointError, r"empty\.pt is not a readable checkpoint"),
    case("load_checkpoint-directory", lambda e: load_checkpoint(e.tmp / "ck"),
         CheckpointError, r"ck is a directory, not a checkpoint file"),
    case("restore-missing", lambda e: e.trainer().restore(e.tmp / "ck" / "missing.pt"),
         CheckpointNotFoundError, r"no checkpoint file at .*missing\.pt"),
    case("restore-truncated", lambda e: e.trainer().restore(e.tmp / "ck" / "truncated.pt"),
         CheckpointError, r"truncated\.pt is not a readable checkpoint"),
    case("restore-foreign-format", lambda e: e.trainer().restore(e.tmp / "ck" / "other.pt"),
         CheckpointError, r"other\.pt is not a onecycle Trainer checkpoint "
         r"\(format='something-else'\)"),
    case("restore-newer-version", lambda e: e.trainer().restore(e.tmp / "ck" / "newer.pt"),
         CheckpointError, r"newer\.pt was written by a newer onecycle \(version 999\)"),
    case("restore-shape-mismatch", lambda e: e.trainer().restore(e.tmp / "ck" / "mismatch.pt"),
         CheckpointError, r"(?s)checkpoint model does not match this model.*size mismatch",
         BUG_PARTIAL_LOAD),
    case("Trainer.load-missing",
         lambda e: Trainer.load(e.tmp / "ck" / "missing.pt", e.model, F.cross_entropy, e.opt,
                                e.data, progress=False),
         CheckpointNotFoundError, r"no checkpoint file at .*missing\.pt"),
    case("resume-from-corrupt",
         lambda e: e.trainer().fit_one_cycle(1, max_lr=0.1,
                                             resume=e.tmp / "ck" / "truncated.pt"),
         CheckpointError, r"truncated\.pt is not a readable checkpoint"),
    case("resume-from-foreign",
         lambda e: e.trainer().fit(1, lr=0.1, resume=e.tmp / "ck" / "other.pt"),
         CheckpointError, r"other\.pt is not a onecycle Trainer checkpoint"),
    case("LRFinderResult.load-missing", lambda e: LRFinderResult.load(e.tmp / "missing.json"),
         FileNotFoundError, r"missing\.json"),
    # -- unwritable output paths
    case("result.save-below-a-file",
         lambda e: LRFinderResult.load(e.tmp / "result.json").save(e.blocker / "sub" / "r.json"),
         OSError, r"blocker"),
    case("result.save-onto-a-directory",
         lambda e: LRFinderResult.load(e.tmp / "result.json").save(e.tmp / "ck"),
         OSError, r"ck"),
    case("save_checkpoint-onto-a-directory", lambda e: save_checkpoint(e.tmp / "ck", {"a": 1}),
         CheckpointError, r"could not write .*ck.*unchanged"),
    case("save_checkpoint-below-a-file",
         lambda e: save_checkpoint(e.blocker / "sub" / "c.pt", {"a": 1}),
         CheckpointError, r"could not write .*blocker/sub/c\.pt", BUG_MKDIR),
    case("History.save-below-a-file", lambda e: History().save(e.blocker / "h.json"),
         CheckpointError, r"could not write .*blocker/h\.json", BUG_MKDIR),
    case("Trainer-checkpoint_dir-below-a-file",
         lambda e: e.trainer(checkpoint_dir=e.blocker / "ck").fit(1, lr=0.1),
         (CheckpointError, OSError), r"blocker/ck", BUG_CKPT_DIR),
]


@pytest.mark.parametrize("c", CASES)
def test_bad_input_is_refused_and_nothing_is_touched(env: Env, c: Case) -> None:
    if c.prepare is not None:
        c.prepare(env)
    before = _snapshot(env)
    with pytest.raises(c.exc, match=c.match) as info:
        c.call(env)
    assert "Traceback" not in str(info.value)
    assert_untouched(before, env)


def test_catalogue_is_big_enough() -> None:
    assert len(CASES) + len(CLI_CASES) >= 50


# ----------------------------------------------------------------------------- CLI

cli = pytest.importorskip("onecycle.cli")


@dataclass(frozen=True)
class CliCase:
    argv: list[str]
    config: str | None
    code: int
    match: str


def cli_case(id_: str, argv: list[str], code: int, match: str, config: str | None = None,
             marks: Any = ()) -> Any:
    return pytest.param(CliCase(argv, config, code, match), id=id_, marks=marks)


CLI_CASES = [
    # configuration files: unknown keys, wrong types, out-of-range values (usage: 2)
    cli_case("config-unknown-top-key", ["run"], 2,
             r"unknown config key 'epoch' \(did you mean 'epochs'\?\)", "epoch = 3\n"),
    cli_case("config-unknown-table-key", ["run"], 2,
             r"unknown config key 'schedule\.maxlr' \(did you mean 'schedule\.max_lr'\?\)",
             "[schedule]\nmaxlr = 0.1\n"),
    cli_case("config-unknown-table", ["run"], 2, r"unknown config key 'trainer'",
             "[trainer]\nepochs = 3\n"),
    cli_case("config-int-as-string", ["run"], 2,
             r"'epochs' = \"3\" is invalid: expected an integer >= 1", 'epochs = "3"\n'),
    cli_case("config-bool-as-string", ["run"], 2,
             r"'quiet' = \"yes\" is invalid: expected true or false", 'quiet = "yes"\n'),
    cli_case("config-float-as-int", ["run"], 2,
             r"'batch_size' = 1\.5 is invalid: expected an integer >= 1", "batch_size = 1.5\n"),
    cli_case("config-max_lr-nan", ["run"], 2,
             r"'schedule\.max_lr' = nan is invalid: expected a number > 0",
             "[schedule]\nmax_lr = nan\n"),
    cli_case("config-max_lr-inf", ["run"], 2,
             r"'schedule\.max_lr' = inf is invalid: expected a number > 0",
             "[schedule]\nmax_lr = inf\n"),
    cli_case("config-max_lr-zero", ["fit"], 2,
             r"'schedule\.max_lr' = 0\.0 is invalid: expected a number > 0",
             "[schedule]\nmax_lr = 0.0\n"),
    cli_case("config-start_lr-negative", ["find-lr"], 2,
             r"'finder\.start_lr' = -1\.0 is invalid: expected a number > 0",
             "[finder]\nstart_lr = -1.0\n"),
    cli_case("config-start-above-end", ["find-lr"], 2,
             r"'finder\.start_lr' = 1\.0 and 'finder\.end_lr' = 0\.1 are invalid: "
             r"expected start_lr < end_lr", "[finder]\nstart_lr = 1.0\nend_lr = 0.1\n"),
    cli_case("config-num_iter-too-small", ["find-lr"], 2,
             r"'finder\.num_iter' = 1 is invalid: expected an integer >= 10",
             "[finder]\nnum_iter = 1\n"),
    cli_case("config-pct_start-one", ["run"], 2,
             r"'schedule\.pct_start' = 1\.0 is invalid: expected a number in \(0, 1\)",
             "[schedule]\npct_start = 1.0\n"),
    cli_case("config-momentum-scalar", ["run"], 2,
             r"'schedule\.momentum' = 0\.9 is invalid: expected a pair \[high, low\]",
             "[schedule]\nmomentum = 0.9\n"),
    cli_case("config-momentum-one", ["run"], 2,
             r"'schedule\.momentum' = \[1\.0, 0\.85\] is invalid",
             "[schedule]\nmomentum = [1.0, 0.85]\n"),
    cli_case("config-model_options-nested", ["run"], 2,
             r"'model_options\.hidden' = a table is invalid",
             "[model_options]\nhidden = {a = 1}\n"),
    cli_case("config-json-text", ["run"], 2, r"not valid TOML", '{"epochs": 3}\n'),
    cli_case("config-missing-file", ["run", "--config", "{tmp}/nope.toml"], 2,
             r"cannot read config file '.*nope\.toml'"),
    # flags (usage: 2)
    cli_case("flag-max_lr-inf", ["run", "--max-lr", "inf"], 2,
             r"argument --max-lr: invalid value 'inf': expected a number > 0"),
    cli_case("flag-start_lr-zero", ["find-lr", "--start-lr", "0"], 2,
             r"argument --start-lr: invalid value '0': expected a number > 0"),
    cli_case("flag-end-below-start", ["find-lr", "--start-lr", "1", "--end-lr", "0.01"], 2,
             r"expected start_lr < end_lr"),
    cli_case("flag-pct_start-one", ["plot-schedule", "--pct-start", "1"], 2,
             r"argument --pct-start: invalid value '1': expected a number in \(0, 1\)"),
    cli_case("flag-momentum-one", ["plot-schedule", "--momentum", "1.0", "0.8"], 2,
             r"argument --momentum: invalid value '1\.0': expected a number in \[0, 1\)"),
    cli_case("flag-steps-negative", ["plot-schedule", "--steps", "-4"], 2,
             r"argument --steps: invalid value '-4': expected an integer >= 1"),
    # unwritable output paths (runtime: 1)
    cli_case("out-below-a-file", ["fit", "--max-lr", "0.1", "--out", "{tmp}/blocker/sub"], 1,
             r"cannot write to output directory '.*blocker/sub': Not a directory"),
    cli_case("out-is-a-file", ["find-lr", "--out", "{tmp}/blocker"], 1,
             r"cannot write to output directory '.*blocker'"),
]


def test_cli_catalogue_has_cases() -> None:
    assert len(CLI_CASES) >= 20


@pytest.mark.parametrize("c", CLI_CASES)
def test_cli_bad_input_exit_status_and_nothing_touched(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], c: CliCase) -> None:
    (tmp_path / "blocker").write_text("not a directory")
    prev = tmp_path / "prev-run"  # the output of an earlier run, which must survive
    prev.mkdir()
    (prev / "report.html").write_text("<html>earlier run</html>")
    argv = [a.replace("{tmp}", str(tmp_path)) for a in c.argv]
    if c.config is not None:
        cfg = tmp_path / "bad.toml"
        cfg.write_text(c.config)
        argv += ["--config", str(cfg)]
    if "--out" not in argv and argv[0] != "plot-schedule":
        argv += ["--out", str(prev)]
    before = _files(tmp_path)
    assert cli.main(argv) == c.code
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert any(ln.startswith("onecycle") and "error" in ln for ln in lines), err
    assert re.search(c.match, err), err
    assert _files(tmp_path) == before


# ----------------------------------------------------------------------------- behaviour


def _bn_model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 3))


def test_behaviour_finder_on_an_eval_mode_model(env: Env) -> None:
    """lr_find runs an eval-mode model in train mode (BatchNorm uses batch statistics,
    dropout is active), then puts back the eval mode and every tensor, bit for bit."""
    model = _bn_model().eval()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    seen: list[bool] = []

    def step(m: nn.Module, batch: Any) -> torch.Tensor:
        if torch.is_grad_enabled():
            seen.append(m[1].training)
        return F.cross_entropy(m(batch[0]), batch[1])

    res = lr_find(model, opt, None, env.data, step_fn=step, num_iter=6, progress=False)
    assert len(res.lrs) == 6 and seen == [True] * 6
    assert not model.training and not model[1].training
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert len(opt.state) == 0 and opt.param_groups[0]["lr"] == 0.1


def test_behaviour_trainer_on_an_eval_mode_model(env: Env) -> None:
    """The Trainer trains in train mode whatever mode the model was in, validates in eval
    mode, and leaves the model in train mode (it is a training tool: call
    ``model.eval()`` for inference afterwards)."""
    model = _bn_model().eval()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    modes: list[tuple[bool, bool]] = []

    class Spy(train.Callback):
        def on_batch_end(self, trainer: Any, step: int, loss: float) -> None:
            modes.append((trainer.model.training, trainer.model[1].training))

    t = Trainer(model, F.cross_entropy, opt, env.data, val_loader=env.data, progress=False,
                callbacks=[Spy()])
    h = t.fit(1, lr=0.05)
    assert h.iterations == len(env.data) and set(modes) == {(True, True)}
    assert int(model[1].num_batches_tracked) == len(env.data)  # BN statistics were updated
    assert model.training and model[1].training


@bug("Trainer calls net.train() every epoch and model.train(True) after validation, so a "
     "sub-module frozen with .eval() (frozen BatchNorm when fine-tuning) is silently "
     "unfrozen; lr_find keeps it frozen, so the range test and training disagree")
def test_behaviour_trainer_keeps_frozen_submodules_frozen(env: Env) -> None:
    model = _bn_model()
    model[1].eval()  # frozen BatchNorm
    stats = model[1].running_mean.clone()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    Trainer(model, F.cross_entropy, opt, env.data, val_loader=env.data,
            progress=False).fit(1, lr=0.05)
    assert not model[1].training
    assert torch.equal(model[1].running_mean, stats)
