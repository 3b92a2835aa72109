"""onecycle.compare: every alternative builds and trains from the same start, each LR
rule is what docs/compare.md says, time is counted with its tuning, the verdict reads
the numbers right in both directions, and the report round-trips."""

from __future__ import annotations

import functools
import importlib.util

import pytest
import torch
from torch import nn

import onecycle as oc
from onecycle.compare import (
    ALTERNATIVES,
    CompareOptions,
    CompareReport,
    LRPick,
    RunRecord,
    judge,
    optimizer_family,
    select,
)
from onecycle.compare.verdict import budget_summary, describe
from onecycle.data import TensorLoader
from onecycle.schedule import constant_lr, linear_decay, warmup_cosine, wsd

HAVE_SF = importlib.util.find_spec("schedulefree") is not None
HAVE_PRODIGY = importlib.util.find_spec("prodigyopt") is not None
NEEDS_EXTRA = "schedulefree/prodigyopt missing: pip install 'onecycle[compare]'"


def _split(n, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 4, generator=g)
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).long() + (x[:, 2] > 1).long()
    return x, y


def loaders(seed):
    """A small 3-class problem: 96 training samples in batches of 16."""
    train = TensorLoader(_split(96, 1), 16, shuffle=True, seed=seed)
    return train, TensorLoader(_split(48, 2), 48), TensorLoader(_split(48, 3), 48)


def model():
    return nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3))


def bn_model():
    return nn.Sequential(nn.Linear(4, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 3))


FAST = {"progress": False}


@functools.cache
def _sgd_report():
    return oc.compare(model, loaders, functools.partial(torch.optim.SGD, lr=0.01, momentum=0.9),
                      budgets=[1, 2], seeds=[0, 1], **FAST)


@functools.cache
def _adamw_report():
    return oc.compare(bn_model, loaders, functools.partial(torch.optim.AdamW, lr=1e-3),
                      budgets=[2], seeds=[0], **FAST)


# ----------------------------------------------------------------------------- the table


def test_every_alternative_is_in_the_table_with_a_cited_rule():
    assert list(ALTERNATIVES) == ["ours", "onecycle_torch", "warmup_cosine", "linear_decay",
                                  "wsd", "constant", "schedulefree", "prodigy"]
    for alt in ALTERNATIVES.values():
        assert alt.rule.source and alt.summary and alt.label


def test_lr_rules_per_family():
    pick = LRPick(max_lr=(0.2,), minimum=(0.004,))
    lrs = {n: a.rule.lrs(pick, "sgd") for n, a in ALTERNATIVES.items()}
    for n in ("ours", "onecycle_torch", "warmup_cosine", "linear_decay", "wsd"):
        assert lrs[n] == [0.2]  # the same max_lr as ours
    assert lrs["constant"] == [0.004]  # the range test's minimum suggestion
    assert lrs["schedulefree"] == [pytest.approx(0.04)]  # SGD: 10 x the classical rate
    assert ALTERNATIVES["schedulefree"].rule.lrs(pick, "adam") == [0.2]  # AdamW: 1 x max_lr
    assert ALTERNATIVES["prodigy"].rule.lrs(pick, "adam") == [1.0]  # lr = 1, D-adapted
    # no minimum (max_lr given): the fixed-LR fallback max_lr / 10, as onecycle run's
    assert ALTERNATIVES["constant"].rule.lrs(LRPick((0.2,), None), "sgd") == [
        pytest.approx(0.02)]
    two = LRPick((0.2, 0.02), (0.004, 0.0004))  # per-group ratios are kept
    assert ALTERNATIVES["prodigy"].rule.lrs(two, "adam") == [1.0, pytest.approx(0.1)]
    assert ALTERNATIVES["schedulefree"].rule.describe("sgd") == "10 x the range test's minimum"


def test_families_decide_schedule_free_variant_and_prodigy():
    p = [nn.Parameter(torch.zeros(1))]
    assert optimizer_family(torch.optim.SGD(p, lr=0.1)) == "sgd"
    assert optimizer_family(torch.optim.NAdam(p)) == "adam"
    assert optimizer_family(torch.optim.Adagrad(p)) == "other"
    run, skipped = select(None, "sgd")
    assert "prodigy" not in [a.name for a in run]
    assert "Adam-type" in skipped["prodigy"] and "yours is SGD" in skipped["prodigy"]
    run, skipped = select(None, "other")
    assert {"schedulefree", "prodigy"} <= set(skipped)
    assert [a.name for a in select(["wsd", "ours"], "sgd")[0]] == ["ours", "wsd"]
    with pytest.raises(ValueError, match="unknown 'cosine'; known: ours"):
        select(["cosine"], "sgd")


def test_missing_packages_are_skipped_with_the_install_line(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name in ("schedulefree", "prodigyopt")
                        else real(name, *a))
    run, skipped = select(None, "adam")
    assert set(skipped) == {"schedulefree", "prodigy"}
    assert all("pip install 'onecycle[compare]'" in r for r in skipped.values())


# ----------------------------------------------------------------------------- runs


def test_every_alternative_trains_from_the_same_start_sgd():
    r = _sgd_report()
    expected = [n for n in ALTERNATIVES if n != "prodigy" and (HAVE_SF or n != "schedulefree")]
    assert r.alternatives == expected
    assert len(r.runs) == len(expected) * 2 * 2
    for seed in (0, 1):
        firsts = {x.first_loss for x in r.runs if x.seed == seed}
        assert len(firsts) == 1  # same weights and first batch for every alternative
    for x in r.runs:
        assert x.steps == 6 * x.budget and x.headline is not None and 0 <= x.headline <= 1
        assert x.val_loss is not None and x.train_s > 0
    assert r.workload["family"] == "sgd" and r.workload["split"] == "test"
    assert "prodigy" in r.skipped


@pytest.mark.skipif(not (HAVE_SF and HAVE_PRODIGY), reason=NEEDS_EXTRA)
def test_every_alternative_trains_adamw_with_prodigy_and_batchnorm():
    r = _adamw_report()
    assert r.alternatives == list(ALTERNATIVES) and not r.skipped
    assert len({x.first_loss for x in r.runs}) == 1
    prodigy = next(x for x in r.runs if x.alternative == "prodigy")
    assert prodigy.lr == [1.0] and prodigy.tuning_s == 0.0  # LR-free: no range test needed
    curve = r.lr_curves["prodigy"]["2"]
    assert len(curve) == 12 and curve[-1] < curve[len(curve) // 2]  # d x lr, cosine-annealed
    sf = next(x for x in r.runs if x.alternative == "schedulefree")
    assert sf.lr == [pytest.approx(r.range_tests[0]["max_lr"]["2"])]  # AdamW: 1 x max_lr


def test_lr_given_by_the_rules_and_the_range_test_time_counted():
    r = _sgd_report()
    for x in r.runs:
        test = next(t for t in r.range_tests if t["seed"] == x.seed)
        peak = test["max_lr"][str(x.budget)]
        want = {"constant": test["minimum"], "schedulefree": 10 * test["minimum"]}
        assert x.lr == [pytest.approx(want.get(x.alternative, peak))]
        assert x.tuning_s == test["time_s"] > 0  # every LR here came from the range test
        assert x.total_s == x.tuning_s + x.train_s


def test_lr_curves_are_the_schedules_that_ran():
    r = _sgd_report()
    T = 12
    peak = r.range_tests[0]["max_lr"]["2"]
    curves = r.lr_curves
    for name, sched in (("linear_decay", linear_decay(T, peak)),
                        ("warmup_cosine", warmup_cosine(T, peak)),
                        ("wsd", wsd(T, peak, shape="1-sqrt"))):
        assert curves[name]["2"] == pytest.approx([sched.lr(i) for i in range(T)], rel=1e-9)
    low = r.range_tests[0]["minimum"]
    assert curves["constant"]["2"] == pytest.approx([constant_lr(T, low).lr(0)] * T)
    ours = oc.OneCycleSchedule(T, peak)
    assert curves["ours"]["2"] == pytest.approx([ours.lr(i) for i in range(T)])
    torch_style = oc.OneCycleSchedule(T, peak, style="torch")
    assert curves["onecycle_torch"]["2"] == pytest.approx([torch_style.lr(i) for i in range(T)])
    if HAVE_SF:  # its own warm-up (5 % of 12 steps: 1 step), then 10 x the minimum
        assert curves["schedulefree"]["2"] == pytest.approx([10 * low] * T)


def test_given_max_lr_skips_the_range_test_and_grid_costs_every_run():
    r = oc.compare(model, loaders, "sgd", budgets=[1], seeds=[0], max_lr=0.3, tune="grid",
                   alternatives=["linear_decay", "constant"], progress=False)
    assert r.range_tests[0]["time_s"] == 0.0
    ours, lin, const = (next(x for x in r.runs if x.alternative == n)
                        for n in ("ours", "linear_decay", "constant"))
    assert ours.lr == [0.3] and ours.grid is None and ours.tuning_s == 0.0
    assert len(lin.grid) == 3 and [g["factor"] for g in lin.grid] == pytest.approx(
        [10 ** -0.5, 1.0, 10 ** 0.5])
    chosen = max(lin.grid, key=lambda g: g["val_headline"])
    assert lin.lr == [pytest.approx(chosen["lr"])]
    others = sum(g["train_s"] for g in lin.grid) - lin.train_s
    assert lin.tuning_s == pytest.approx(others)  # the grid's other runs are its cost
    assert const.grid[1]["lr"] == pytest.approx(0.03)  # around max_lr / 10


def test_options_are_checked():
    with pytest.raises(TypeError, match="unexpected keyword argument 'budget'"):
        oc.compare(model, loaders, budget=[1])
    with pytest.raises(ValueError, match="tune must be one of 'rule', 'grid'"):
        CompareOptions(tune="best")
    with pytest.raises(ValueError, match="budgets entry must be an integer >= 1"):
        CompareOptions(budgets=[0])
    with pytest.raises(ValueError, match="validation split"):
        oc.compare(model, lambda s: (loaders(s)[0], None, loaders(s)[2]), tune="grid",
                   budgets=[1], seeds=[0], max_lr=0.1, progress=False)
    with pytest.raises(TypeError, match="model must be an nn.Module or a zero-argument"):
        oc.compare("mlp", loaders, budgets=[1], seeds=[0])


def test_compare_is_the_package_and_the_function():
    import onecycle.compare as package

    assert oc.compare is package and callable(package)
    assert package.CompareReport is CompareReport


# ----------------------------------------------------------------------------- verdicts


def test_judge_ahead_tie_behind_when_higher_is_better():
    assert judge([0.95, 0.96, 0.97], [0.90, 0.91, 0.92], higher_is_better=True).status == "ahead"
    assert judge([0.90, 0.91, 0.92], [0.95, 0.96, 0.97], higher_is_better=True).status == "behind"
    tie = judge([0.90, 0.95, 0.92], [0.93, 0.91, 0.92], higher_is_better=True)
    assert tie.status == "tie" and abs(tie.diff) <= tie.se
    v = judge([1.0, 2.0, 4.0], [0.0, 0.0, 0.0], higher_is_better=True)
    assert v.diff == pytest.approx(7 / 3) and v.se == pytest.approx(1.5275252 / 3 ** 0.5)


def test_judge_respects_lower_is_better():
    bpc = judge([1.20, 1.21, 1.22], [1.30, 1.31, 1.32], higher_is_better=False)
    assert bpc.status == "ahead" and bpc.diff == pytest.approx(0.1)
    rmse = judge([0.8, 0.8], [0.7, 0.7], higher_is_better=False)
    assert rmse.status == "behind" and rmse.diff == pytest.approx(-0.1)


def test_judge_edge_cases():
    assert judge([0.9694, 0.9694], [0.9694, 0.9694], higher_is_better=True).status == "tie"
    one = judge([0.95], [0.90], higher_is_better=True)
    assert one.status == "ahead" and one.se == 0.0 and one.n == 1
    floored = judge([0.9, None], [0.9, 0.8], higher_is_better=True, floor=0.1)
    assert floored.missing == (1, 0) and floored.diff == pytest.approx(-0.35)
    dropped = judge([0.9, None], [0.8, 0.8], higher_is_better=True)
    assert dropped.n == 1 and dropped.status == "ahead"
    assert judge([None], [None], higher_is_better=True).status == "no data"
    with pytest.raises(ValueError, match="pair up by seed"):
        judge([1.0], [1.0, 2.0], higher_is_better=True)


def test_verdict_words():
    v = judge([97.0, 98.0, 99.0], [95.0, 96.5, 96.5], higher_is_better=True,
              alternative="linear_decay", budget=2)
    assert describe(v, "linear decay", "points").startswith(
        "1cycle is ahead of linear decay by 2.00 ± 0.29 points at 2 epochs")
    b = judge([1.3, 1.3], [1.1, 1.2], higher_is_better=False, alternative="wsd", budget=1)
    assert describe(b, "WSD", "bpc") == \
        "WSD is ahead of 1cycle by 0.15 ± 0.05 bpc at 1 epoch: it wins here"
    t = judge([1.0, 2.0], [1.5, 1.5], higher_is_better=True, alternative="a", budget=8)
    assert describe(t, "A", "points") == "1cycle ties with A at 8 epochs (+0.00 ± 0.50 points)"
    assert budget_summary([v, b, t], {"linear_decay": "linear decay", "wsd": "WSD", "a": "A"}) == [
        "At 1 epoch 1cycle is behind WSD.", "At 2 epochs 1cycle is ahead of linear decay.",
        "At 8 epochs 1cycle ties with A."]


def _synthetic(headline="accuracy", higher=True, ours=(0.9, 0.92), alt=(0.95, 0.96)):
    runs = [RunRecord(n, 2, s, [0.1], v, 0.3, 0.3, v, 1.0, 0.5)
            for n, vals in (("ours", ours), ("linear_decay", alt)) for s, v in zip((0, 1), vals)]
    return CompareReport({"headline": headline, "higher_is_better": higher, "unit": "bpc",
                          "dataset": "d", "model": "m"}, [2], [0, 1],
                         ["ours", "linear_decay"], {"prodigy": "why"}, runs,
                         rules={"ours": "max_lr", "linear_decay": "max_lr"})


def test_report_tells_the_user_where_an_alternative_wins():
    text = _synthetic().verdict_text()
    assert "At 2 epochs 1cycle is behind linear decay." in text
    assert "Where an alternative wins: linear decay at 2 epochs (by 4.50 ± 0.50 points)" in text
    low = _synthetic("bpc", False, ours=(1.20, 1.20), alt=(1.25, 1.35)).verdict_text()
    assert "No alternative is ahead" in low and "by 0.10 ± 0.05 bpc" in low


def test_report_round_trips_and_prints_a_table(tmp_path):
    r = _synthetic()
    back = CompareReport.load(r.save(tmp_path / "c.json"))
    assert back.to_dict() == r.to_dict() and back.runs[0] == r.runs[0]
    table = r.summary_table()
    assert "1cycle (ours)" in table and "accuracy % @ 2 epochs" in table
    assert "91.00 ± 1.41" in table
    with pytest.raises(ValueError, match="not a onecycle compare report"):
        CompareReport.from_dict({"format": "x"})


def test_report_writes_json_html_and_figures(tmp_path):
    paths = _sgd_report().write(tmp_path / "out")
    assert {p.name for p in paths.values()} == {"compare.json", "compare.html",
                                                 "compare_budgets.png", "compare_lr_curves.png"}
    page = paths["html"].read_text()
    assert "Is 1cycle worth it here?" in page and "data:image/png;base64," in page
    assert CompareReport.load(paths["json"]).alternatives == _sgd_report().alternatives


# ----------------------------------------------------------------------------- CLI


def test_cli_compare_writes_its_files_and_prints_the_verdict(tmp_path, capsys):
    from onecycle.cli import main

    out = tmp_path / "cmp"
    code = main(["compare", "--model", "mlp", "--budgets", "1", "--seeds", "0",
                 "--alternatives", "linear_decay", "constant", "--num-iter", "30",
                 "--out", str(out), "--quiet"])
    assert code == 0 and capsys.readouterr().out == ""
    for name in ("compare.json", "compare.html", "compare_budgets.png",
                 "compare_lr_curves.png"):
        assert (out / name).stat().st_size > 0
    r = CompareReport.load(out / "compare.json")
    assert r.alternatives == ["ours", "linear_decay", "constant"]
    assert r.meta["command"].startswith("onecycle compare --model mlp")
    assert main(["compare", "--model", "mlp", "--budgets", "1", "--seeds", "0",
                 "--alternatives", "wsd", "--num-iter", "30", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "alternative" in printed and "1cycle (ours)" in printed and "WSD" in printed
    assert "compare.html" in printed


def test_cli_compare_refuses_bad_values(capsys):
    from onecycle.cli import main

    assert main(["compare", "--budgets", "0"]) == 2
    assert main(["compare", "--alternatives", "cosine"]) == 2
    assert "invalid choice" in capsys.readouterr().err
    assert main(["compare", "--grad-clip", "sometimes"]) == 2
    assert "--grad-clip: expected a number > 0, 'auto' or 'off'" in capsys.readouterr().err


def test_grad_clip_reaches_every_run_ours_and_the_alternatives(monkeypatch):
    """A comparison trains every schedule under the user's clipping, the range test
    included (which leaves ``"auto"`` out by itself)."""
    from onecycle.compare import run as run_mod

    seen = []
    real = run_mod.Trainer

    def spy(*args, **kw):
        trainer = real(*args, **kw)
        seen.append(trainer.options.grad_clip)
        return trainer

    monkeypatch.setattr(run_mod, "Trainer", spy)
    rep = oc.compare(model, loaders, functools.partial(torch.optim.SGD, lr=0.01, momentum=0.9),
                     budgets=[1], seeds=[0], alternatives=["linear_decay"], grad_clip="auto",
                     progress=False)
    assert len(seen) >= 3 and set(seen) == {"auto"}  # range test, ours, linear decay
    assert {r.alternative for r in rep.runs} >= {"ours", "linear_decay"}
    with pytest.raises(TypeError, match="grad_clip must be a number > 0, 'auto' or None"):
        CompareOptions(grad_clip="sometimes")


def test_a_curve_without_a_pick_is_a_no_usable_lr_naming_the_seed():
    from onecycle.finder import NoUsableLR

    def flat(outputs, targets):  # the loss cannot move: the range test has nothing to pick
        return torch.nn.functional.cross_entropy(outputs * 0, targets)

    with pytest.raises(NoUsableLR, match="seed 3 of compare: give compare max_lr="):
        oc.compare(model, loaders, "sgd", loss_fn=flat, budgets=[1], seeds=[3],
                   alternatives=["constant"], progress=False)


def test_a_module_is_every_seeds_start_and_is_left_untouched():
    m = model()
    before = {k: v.clone() for k, v in m.state_dict().items()}
    r = oc.compare(m, loaders, "adamw", budgets=[1], seeds=[0, 1], max_lr=0.01,
                   alternatives=["linear_decay"], progress=False)
    assert all(torch.equal(before[k], v) for k, v in m.state_dict().items())
    assert len({x.first_loss for x in r.runs if x.seed == 0}) == 1
    assert r.workload["optimizer"] == "adamw" and r.workload["family"] == "adam"


# ----------------------------------------------------------------------------- resume


def _small(**kw):
    return oc.compare(model, loaders, functools.partial(torch.optim.SGD, lr=0.01, momentum=0.9),
                      budgets=[1, 2], seeds=[0, 1], alternatives=["linear_decay", "constant"],
                      **FAST, **kw)


def test_an_interrupted_compare_resumes_with_the_same_numbers(tmp_path, monkeypatch):
    """Every finished range test and run is on disk the moment it ends; a resumed compare
    reruns only what was missing and reports what an uninterrupted one reports."""
    from onecycle.compare import run as R

    whole = _small()
    real, calls, killed = R._train_once, [], []

    def dies_at_the_eighth(*a, **kw):
        calls.append(1)
        if len(calls) == 8 and not killed:
            killed.append(1)
            raise RuntimeError("killed")
        return real(*a, **kw)

    monkeypatch.setattr(R, "_train_once", dies_at_the_eighth)
    steps = tmp_path / "steps"
    with pytest.raises(RuntimeError, match="killed"):
        _small(steps_dir=steps)
    done = sorted(p.name for p in steps.glob("run-*.json"))
    assert len(done) == 7 and (steps / "range-test-seed1.json").is_file()
    calls.clear()
    resumed = _small(steps_dir=steps, resume=True)
    assert len(calls) == 12 - 7 and resumed.meta["resumed_steps"] == 7 + 2
    key = [(r.alternative, r.budget, r.seed) for r in whole.runs]
    assert [(r.alternative, r.budget, r.seed) for r in resumed.runs] == key
    assert [r.headline for r in resumed.runs] == [r.headline for r in whole.runs]
    assert [r.lr for r in resumed.runs] == [r.lr for r in whole.runs]
    assert resumed.lr_curves == whole.lr_curves
    assert [rt["max_lr"] for rt in resumed.range_tests] == [rt["max_lr"] for rt in whole.range_tests]
    # without resume the folder is emptied first: everything runs again
    calls.clear()
    _small(steps_dir=steps)
    assert len(calls) == 12


def test_resume_refuses_other_settings_and_needs_a_folder(tmp_path):
    from onecycle.search.store import ResumeMismatch

    steps = tmp_path / "steps"
    oc.compare(model, loaders, functools.partial(torch.optim.SGD, lr=0.01), budgets=[1],
               seeds=[0], alternatives=["constant"], steps_dir=steps, **FAST)
    with pytest.raises(ResumeMismatch, match="budgets"):
        oc.compare(model, loaders, functools.partial(torch.optim.SGD, lr=0.01), budgets=[2],
                   seeds=[0], alternatives=["constant"], steps_dir=steps, resume=True, **FAST)
    with pytest.raises(ValueError, match="resume=True needs steps_dir"):
        CompareOptions(resume=True)
    with pytest.raises(TypeError, match="resume must be True or False"):
        CompareOptions(resume="yes", steps_dir=steps)
    with pytest.raises(TypeError, match="steps_dir must be a folder path"):
        CompareOptions(steps_dir=3)


def test_cli_compare_resume_reads_back_the_finished_runs(tmp_path, capsys):
    from onecycle.cli import main

    out = tmp_path / "cmp"
    argv = ["compare", "--model", "mlp", "--budgets", "1", "--seeds", "0", "--alternatives",
            "constant", "--num-iter", "30", "--out", str(out)]
    assert main(argv + ["--quiet"]) == 0
    first = CompareReport.load(out / "compare.json")
    assert sorted(p.name for p in (out / "steps").glob("*.json")) == [
        "range-test-seed0.json", "run-seed0-1ep-constant.json", "run-seed0-1ep-ours.json",
        "run.json"]
    capsys.readouterr()
    assert main(argv + ["--resume"]) == 0
    assert "3 finished steps read back" in capsys.readouterr().out
    again = CompareReport.load(out / "compare.json")
    assert [r.headline for r in again.runs] == [r.headline for r in first.runs]
    assert main(argv[:4] + ["2"] + argv[5:] + ["--resume"]) == 1  # other budgets
    assert "cannot resume" in capsys.readouterr().err
