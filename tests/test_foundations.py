"""The shared layer: validators, plain JSON, formatters, atomic files, progress, steps."""

from __future__ import annotations

import dataclasses
import io
import json
import math
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from onecycle import _format, _io, _plain, _validate
from onecycle.progress import Progress, progress_mode
from onecycle.step import Numerics, OptimizerStep, default_step, read_output, resolve_device


@dataclasses.dataclass
class _Point(_io.JSONFile, format="demo.point", what="a point"):
    x: float = 0.0


@pytest.mark.parametrize("bad", ["0.1", True, None, b"1", [1]])
def test_positive_refuses_non_numbers_by_name(bad: object) -> None:
    with pytest.raises(TypeError, match="max_lr must be a real number"):
        _validate.positive("max_lr", bad)


@pytest.mark.parametrize("bad", [0, -1, math.inf, math.nan, 1e-400 * 0])
def test_positive_refuses_out_of_range(bad: float) -> None:
    with pytest.raises(ValueError, match="max_lr"):
        _validate.positive("max_lr", bad)


def test_numpy_and_tensor_scalars_are_numbers() -> None:
    assert _validate.positive("lr", np.float32(0.5)) == 0.5
    assert _validate.positive("lr", torch.tensor(0.25)) == 0.25
    assert _validate.integer("n", np.int64(3), 1) == 3


def test_seed_bounds_name_the_argument() -> None:
    with pytest.raises(ValueError, match=r"seed must be an integer in \[0, "):
        _validate.seed("seed", 2**70)
    with pytest.raises(TypeError, match="seed"):
        _validate.seed("seed", 1.5)


def test_momentum_cycle_one_rule() -> None:
    assert _validate.momentum_cycle("m", [0.95, 0.85]) == (0.95, 0.85)
    assert _validate.momentum_cycle("m", (0.95, 0.85, 0.9)) == (0.95, 0.85, 0.9)
    with pytest.raises(ValueError, match="low <= high"):
        _validate.momentum_cycle("m", (0.85, 0.95))
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        _validate.momentum_cycle("m", (1.0, 0.5))


def test_choice_does_not_confuse_true_with_one() -> None:
    with pytest.raises(ValueError, match="mode must be one of"):
        _validate.choice("mode", True, (1, 2))


def test_values_refuses_repeats_and_empty() -> None:
    with pytest.raises(ValueError, match="twice"):
        _validate.values("grid", [1e-3, 1e-3])
    with pytest.raises(ValueError, match="empty"):
        _validate.values("grid", [])


@given(st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=3), kids,
                                                            max_size=4),
    max_leaves=20))
def test_to_plain_is_always_strict_json_and_round_trips_numbers(obj: object) -> None:
    plain = _plain.to_plain(obj, nan="nan")
    text = json.dumps(plain, allow_nan=False)
    back = _plain.from_plain(json.loads(text))

    def same(a: object, b: object) -> bool:
        if isinstance(a, float) and isinstance(b, float):
            return a == b or (math.isnan(a) and math.isnan(b))
        if isinstance(a, (list, tuple)) and isinstance(b, list):
            return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
        if isinstance(a, dict) and isinstance(b, dict):
            return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
        if isinstance(a, str) and a in ("nan", "inf", "-inf"):
            return True  # a string that spells a special float reads back as the float
        return a == b

    assert same(obj, back)


def test_formatters_agree_on_one_value() -> None:
    assert _format.fmt_lr(0.037654) == "0.0377"
    assert _format.fmt_pct(0.98611) == "98.61 %"
    assert _format.fmt_num(float("nan")) == _format.DASH


def test_atomic_write_failure_keeps_the_old_file_and_names_it(tmp_path: Path) -> None:
    p = tmp_path / "summary.json"
    _io.write_json_atomic(p, {"ok": 1})

    def boom(f: object) -> None:
        raise OSError(28, "No space left on device")

    with pytest.raises(_io.WriteError, match="summary.json.*No space left"):
        _io.atomic_write(p, boom)
    assert json.loads(p.read_text()) == {"ok": 1}
    assert [q.name for q in tmp_path.iterdir()] == ["summary.json"]


def test_deeply_nested_json_is_refused_with_one_line(tmp_path: Path) -> None:
    p = tmp_path / "deep.json"
    p.write_text("[" * 100000 + "]" * 100000)
    with pytest.raises(ValueError, match="nests deeper"):
        _io.read_json(p)


@pytest.mark.parametrize(("data", "exc", "message"), [
    ([1, 2], TypeError, "a point must be a JSON object, got list"),
    ({"format": "other"}, ValueError, "not a point: format='other'"),
    ({"x": 1.0}, ValueError, "not a point: format=None"),
    ({"format": "demo.point", "version": 2}, ValueError, "version 2, newer"),
    ({"format": "demo.point", "version": "x"}, ValueError, "version 'x', newer"),
])
def test_result_files_check_their_header(data: object, exc: type, message: str) -> None:
    with pytest.raises(exc, match=message):
        _Point.from_dict(data)  # type: ignore[arg-type]


def test_result_files_round_trip_and_refuse_other_files(tmp_path: Path) -> None:
    p = _Point(2.5).save(tmp_path / "p.json")
    assert _Point.load(p) == _Point(2.5) and json.loads(p.read_text())["format"] == "demo.point"
    assert json.loads(_Point(float("inf")).to_json()) == {"format": "demo.point", "version": 1,
                                                          "x": "inf"}
    (tmp_path / "q.json").write_text('{"format": "demo.other"}')
    with pytest.raises(ValueError, match=r"q\.json is not a point"):
        _Point.load(tmp_path / "q.json")
    # without a format key: accepted only where files predate it
    assert _io.check_format({}, "demo.point", "a point", required=False) == {}


def test_stale_temporaries_are_removed(tmp_path: Path) -> None:
    (tmp_path / ".last.pt.x1.tmp").write_bytes(b"")
    (tmp_path / "keep.tmp").write_bytes(b"")
    removed = _io.remove_stale_temporaries(tmp_path, "last.pt")
    assert [p.name for p in removed] == [".last.pt.x1.tmp"]
    assert sorted(os.listdir(tmp_path)) == ["keep.tmp"]


def test_progress_lines_are_bounded_and_silent_when_off() -> None:
    out = io.StringIO()
    with Progress(1000, "fit", progress="lines", file=out, quiet_s=0) as p:
        for _ in range(1000):
            p.update(loss=0.5)
    lines = out.getvalue().splitlines()
    assert 10 <= len(lines) <= 11 and lines[-1].startswith("fit: 1000/1000")
    out = io.StringIO()
    with Progress(10, "fit", progress=False, file=out) as p:
        p.update(10)
        p.note("done")
    assert out.getvalue() == ""
    assert progress_mode(None, io.StringIO()) == "lines"
    with pytest.raises(ValueError, match="progress"):
        progress_mode("loud")


def test_read_output_accepts_the_three_shapes() -> None:
    loss = torch.tensor(2.0, requires_grad=True)

    class Out:
        def __init__(self) -> None:
            self.loss, self.logits = loss, torch.zeros(2, 3)

    assert read_output(loss, training=True).loss is loss
    assert read_output({"loss": loss}).loss is loss
    assert read_output(Out()).outputs.shape == (2, 3)
    with pytest.raises(TypeError, match="without a 'loss'"):
        read_output({"logits": loss})
    with pytest.raises(ValueError, match="does not require grad"):
        read_output(loss.detach(), training=True)


def test_default_step_refuses_dict_batches_with_advice() -> None:
    with pytest.raises(TypeError, match="step_fn=lambda m, b: m"):
        default_step(torch.nn.functional.mse_loss)(torch.nn.Linear(1, 1), {"x": 1})


def test_fp16_scaler_skip_is_reported() -> None:
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    runner = OptimizerStep(model, opt, Numerics(amp="fp16"))
    before = model.weight.detach().clone()
    with runner.numerics.autocast():
        out = model(torch.randn(4, 3) * 0.01)
    runner.backward(out.float().mean() * 1e-3)
    model.weight.grad[0, 0] = float("inf")
    assert runner.step().taken is False
    assert torch.equal(model.weight, before) and runner.skipped == 1


def test_bad_device_names_are_value_errors() -> None:
    with pytest.raises(ValueError, match="device='bogus'"):
        resolve_device("bogus")
    with pytest.raises(ValueError, match="grad_clip"):
        Numerics(grad_clip=0)
