"""The overfitting rule (properties and cases) and the report note built on it."""

from __future__ import annotations

import math
from types import SimpleNamespace as NS

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from onecycle.overfitting import RISE, WINDOW, detect
from onecycle.report.summary import _overfit_notes

losses = st.lists(st.floats(1e-3, 1e3), min_size=2 * WINDOW, max_size=60)


@settings(max_examples=300, deadline=None)
@given(val=losses, data=st.data())
def test_a_found_rise_is_what_it_says_and_comes_after_the_low(val, data):
    train = data.draw(st.lists(st.floats(1e-3, 1e3), min_size=len(val), max_size=len(val)))
    found = detect(val, train)
    if found is None:
        return
    n = len(val)
    assert found.epochs == n and found.last - found.first == WINDOW - 1
    assert found.low == pytest.approx(sum(val[found.first:found.last + 1]) / WINDOW)
    assert found.final == pytest.approx(sum(val[-WINDOW:]) / WINDOW)
    assert found.final >= (1 + RISE) * found.low * (1 - 1e-12)
    assert found.rise == pytest.approx(found.final / found.low - 1)
    assert found.first < n - WINDOW  # the low is not the final window itself
    every_low = [sum(val[i:i + WINDOW]) / WINDOW for i in range(n - WINDOW + 1)]
    assert found.low <= min(every_low) * (1 + 1e-12)
    assert sum(train[-WINDOW:]) / WINDOW < min(train[:found.last + 1])


@settings(max_examples=200, deadline=None)
@given(val=losses, power=st.integers(-20, 20))
def test_the_rule_does_not_depend_on_the_loss_units(val, power):
    scale = 2.0 ** power  # exact in floating point, so ties between windows stay ties
    train = [10.0 / (i + 1) for i in range(len(val))]
    a, b = detect(val, train), detect([v * scale for v in val], [v * scale for v in train])
    assert (a is None) == (b is None)
    if a is not None:
        assert (a.first, a.last) == (b.first, b.last) and a.rise == pytest.approx(b.rise)


@settings(max_examples=200, deadline=None)
@given(val=st.lists(st.floats(1e-3, 1e3), min_size=2 * WINDOW, max_size=60))
def test_a_validation_loss_that_never_rises_is_never_overfitting(val):
    falling = sorted(val, reverse=True)
    assert detect(falling, falling) is None


@settings(max_examples=200, deadline=None)
@given(n=st.integers(2 * WINDOW, 60), at=st.data(), dip=st.floats(0.0, 0.27))
def test_one_lucky_epoch_on_a_flat_validation_loss_is_not_overfitting(n, at, dip):
    """One epoch that reads up to 27 % low (a small split's noise) moves a mean of three
    by under 10 %."""
    i = at.draw(st.integers(0, n - 1))
    val = [1.0] * n
    val[i] = 1.0 - dip
    assert detect(val, [1.0 / (k + 1) for k in range(n)]) is None


def test_a_textbook_overfit_is_found_where_validation_was_best():
    """diabetes, 20 epochs at 3.2e-4 (the suite's grid best): validation bottoms out at
    epochs 6-8 and climbs back 17 % while the training loss keeps falling."""
    val = [0.933, 0.865, 0.792, 0.708, 0.639, 0.598, 0.585, 0.600, 0.615, 0.649, 0.655,
           0.673, 0.677, 0.677, 0.686, 0.690, 0.691, 0.693, 0.693, 0.693]
    train = [0.971, 0.904, 0.816, 0.722, 0.630, 0.558, 0.510, 0.473, 0.450, 0.436, 0.425,
             0.417, 0.409, 0.407, 0.401, 0.398, 0.396, 0.394, 0.393, 0.393]
    found = detect(val, train)
    assert (found.first, found.last, found.epochs) == (5, 7, 20)
    assert found.rise == pytest.approx(0.693 / ((0.598 + 0.585 + 0.600) / 3) - 1)


def test_instability_and_short_or_broken_histories_are_not_overfitting():
    # MNIST-1D at max_lr 1: the loss spiked and the network never learned (chance)
    val = [1.810, 2.072, 2.353, 2.324, 2.326, 2.341, 2.330, 2.308, 2.308, 2.303]
    train = [2.000, 1.920, 3.524, 2.325, 2.331, 2.330, 2.327, 2.320, 2.316, 2.309]
    assert detect(val, train) is None
    rising = [1.0, 0.5, 0.5, 0.5, 0.9, 1.0, 1.1]
    assert detect(rising, [1.0, 0.8, 0.7, 0.6, 0.9, 1.0, 1.2]) is None  # both rose
    assert detect(rising, [1.0, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3]) is not None
    assert detect(rising[:2 * WINDOW - 1], [1.0] * (2 * WINDOW - 1)) is None  # too short
    assert detect([None] + rising[1:], [1.0, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3]) is None
    assert detect([math.nan] + rising[1:], [1.0, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3]) is None
    assert detect([-1.0, -2.0, -2.0, -2.0, -1.0, -1.0], [1.0] * 6) is None  # no ratio


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match=r"one entry per epoch, got 6 and 5"):
        detect([1.0] * 6, [1.0] * 5)
    with pytest.raises(ValueError, match=r"window"):
        detect([1.0] * 6, [1.0] * 6, window=0)
    with pytest.raises(ValueError, match=r"rise"):
        detect([1.0] * 6, [1.0] * 6, rise=0)


def _run(val, train, diverged=None):
    records = [{"epoch": i, "val_loss": v, "train_loss": t} for i, (v, t) in
               enumerate(zip(val, train))]
    return NS(history=NS(records=records), diverged=diverged)


def test_the_report_names_the_run_that_overfit_and_its_best_epochs():
    over = _run([1.0, 0.6, 0.5, 0.5, 0.5, 0.6, 0.7, 0.8, 0.8],
                [1.0, 0.6, 0.5, 0.4, 0.35, 0.3, 0.25, 0.2, 0.15])
    fine = _run([1.0, 0.8, 0.6, 0.5, 0.45, 0.4], [1.0, 0.8, 0.6, 0.5, 0.45, 0.4])
    (note,) = _overfit_notes(NS(cycle=over, baseline=fine))
    assert note.startswith("The 1cycle run overfit: its validation loss averaged 0.5 over "
                           "epochs 3-5, its lowest, and 0.7667 over the last 3 epochs (53 % "
                           "higher), while its training loss kept falling.")
    assert "about 5 of its 9 epochs" in note
    (note,) = _overfit_notes(NS(cycle=fine, baseline=over))
    assert note.startswith("The baseline overfit")
    assert _overfit_notes(NS(cycle=fine, baseline=None)) == []
    assert _overfit_notes(NS(cycle=_run([1.0] * 9, [1.0] * 9), baseline=None)) == []
    no_val = NS(history=NS(records=[{"epoch": i, "train_loss": 1.0} for i in range(9)]),
                diverged=None)
    assert _overfit_notes(NS(cycle=no_val, baseline=None)) == []
    broken = _run([r["val_loss"] for r in over.history.records],
                  [r["train_loss"] for r in over.history.records], diverged="loss nan")
    assert _overfit_notes(NS(cycle=broken, baseline=None)) == []


OVERFIT_RUN = """dataset = "diabetes"
epochs = 30
[model_options]
hidden = [256]
dropout = 0.0
[weight_decay]
value = 0.0
check = false
[schedule]
max_lr = 0.003
[optimizer]
name = "adamw"
[baseline]
enabled = false
"""


def test_onecycle_run_on_small_data_says_where_validation_was_best(tmp_path, capsys):
    """A wide MLP without dropout or weight decay, 30 epochs on diabetes' 319 patients:
    the terminal, summary.json and report.html carry one note, in the same words, and
    its numbers are the history's."""
    import html
    import json
    import re

    from onecycle.cli import main
    from onecycle.train import History

    cfg = tmp_path / "overfit.toml"
    cfg.write_text(OVERFIT_RUN)
    assert main(["run", "--config", str(cfg), "--out", str(tmp_path / "run")]) == 0
    out = capsys.readouterr().out
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    (note,) = [n for n in summary["notes"] if "overfit" in n]
    hist = History.load(tmp_path / "run" / "history_1cycle.json")
    found = detect([r["val_loss"] for r in hist.records], [r["train_loss"] for r in hist.records])
    assert found is not None and found.last + 1 < 30
    assert f"averaged {found.low:.4g} over epochs {found.first + 1}-{found.last + 1}" in note
    assert f"{found.final:.4g} over the last 3 epochs" in note
    assert f"note: {note}" in out
    page = (tmp_path / "run" / "report.html").read_text()
    assert note in " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())
