"""onecycle.tasks: one table of what differs between classification, regression and LMs."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch.utils.data import TensorDataset

from onecycle.data import DatasetBundle, load
from onecycle.step import read_output
from onecycle.tasks import TASKS, chance_level, model_step, task_for


def _bundle(y: torch.Tensor, task: str, num_classes: int) -> DatasetBundle:
    x = torch.zeros(len(y), 3)
    ds = TensorDataset(x, y)
    return DatasetBundle(ds, ds, ds, (3,), num_classes, (0.0,) * 3, (1.0,) * 3, task=task)


def test_three_tasks_in_one_table():
    assert set(TASKS) == {"classification", "regression", "language_model"}
    c, r, lm = TASKS["classification"], TASKS["regression"], TASKS["language_model"]
    assert (c.headline, c.higher_is_better, c.loss_fn) == ("accuracy", True,
                                                           torch.nn.functional.cross_entropy)
    assert (r.headline, r.higher_is_better, r.loss_fn) == ("rmse", False,
                                                           torch.nn.functional.mse_loss)
    assert (lm.headline, lm.higher_is_better, lm.loss_fn, lm.step_fn) == (
        "bpc", False, None, model_step)
    assert "accuracy" in c.metrics and not r.metrics and not lm.metrics


def test_headlines_follow_from_loss_and_metrics():
    assert TASKS["classification"].score(2.0, {"accuracy": 0.25}) == 0.25
    assert TASKS["classification"].score(2.0, {}) is None
    assert TASKS["regression"].score(0.36) == pytest.approx(0.6)
    assert TASKS["language_model"].score(2 * math.log(2)) == pytest.approx(2.0)
    assert TASKS["language_model"].score(float("nan")) is None
    assert TASKS["regression"].score(None) is None
    assert TASKS["language_model"].show(1.23456) == "1.235 bpc"
    assert TASKS["regression"].show(0.5) == "0.5"
    assert TASKS["classification"].show(0.98611) == "98.61 %"


@given(st.floats(0, 50), st.floats(0, 50))
def test_better_follows_the_direction(a, b):
    for task in TASKS.values():
        if a != b:
            assert task.better(a, b) == ((a > b) == task.higher_is_better)
        assert not task.better(a, a)


def test_chance_levels():
    y = torch.tensor([0, 0, 0, 1, 2, 2])
    assert task_for(_bundle(y, "classification", 3)).chance == pytest.approx(0.5)
    yr = torch.tensor([[1.0], [3.0]])
    assert task_for(_bundle(yr, "regression", 1)).chance == pytest.approx(1.0)
    ylm = torch.tensor([[0, 1], [0, 1]])
    assert task_for(_bundle(ylm, "language_model", 5)).chance == pytest.approx(1.0)
    assert chance_level("classification", torch.zeros(0, dtype=torch.long), 3) is None


def test_task_for_reads_the_bundle_field():
    b = load("digits")
    assert b.task == "classification" and task_for(b).name == "classification"

    class Old:  # a bundle-like object from before the field existed
        train = TensorDataset(torch.zeros(2, 1), torch.tensor([0, 1]))
        num_classes = 2

    assert task_for(Old()).name == "classification"
    with pytest.raises(ValueError, match="task must be one of"):
        _bundle(torch.tensor([0]), "ranking", 1)


def test_steps_produce_losses():
    x, y = torch.randn(8, 3), torch.randint(0, 4, (8,))
    out = read_output(TASKS["classification"].step()(torch.nn.Linear(3, 4), (x, y)))
    assert out.outputs.shape == (8, 4) and out.targets is y
    out = read_output(TASKS["regression"].step()(torch.nn.Linear(3, 1), (x, torch.randn(8, 1))))
    assert out.loss.ndim == 0

    class LM(torch.nn.Module):
        def forward(self, input_ids, labels=None):
            return {"loss": input_ids.float().mean() * 0 + 1.5, "logits": input_ids}

    out = read_output(TASKS["language_model"].step()(LM(), {"input_ids": torch.ones(2, 3)}))
    assert float(out.loss) == 1.5
    with pytest.raises(TypeError, match="must be a dict"):
        model_step(LM(), (x, y))
