"""The GPU-side scripts run their CPU smoke modes: they are ready for a machine with a GPU
and the CIFAR-10 archive even though neither exists here."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from onecycle.data import load


# random pixels at the paper's peak LR of 3 may blow up; the divergence guard says so
@pytest.mark.filterwarnings("ignore:smoothed loss")
def test_cifar_resnet56_quick_runs_both_schedules(tmp_path: Path) -> None:
    from benchmarks import cifar_resnet56

    out = tmp_path / "r.json"
    assert cifar_resnet56.main(["--quick", "--out", str(out)]) == 0
    d = json.loads(out.read_text())
    assert [r["schedule"] for r in d["runs"]] == ["1cycle", "step"]
    assert [r["iterations"] for r in d["runs"]] == [8, 16]  # the paper's 1 : 8
    assert all(0 <= r["test_accuracy"] <= 1 for r in d["runs"]) and d["device"] == "cpu"


def test_cifar_resnet56_tiny_archive_is_the_real_format(tmp_path: Path) -> None:
    from benchmarks.cifar_resnet56 import write_tiny_archive

    b = load(f"cifar10:{write_tiny_archive(tmp_path, per_batch=4)}", verify=False,
             val_fraction=0.25)
    assert b.input_shape == (3, 32, 32) and len(b.test) == 4
    with pytest.raises(ValueError, match="md5"):  # random pixels are not the real archive
        load(f"cifar10:{tmp_path / 'cifar-10-python.tar.gz'}")


def test_cifar_resnet56_refuses_a_bad_scale() -> None:
    from benchmarks import cifar_resnet56

    with pytest.raises(SystemExit):
        cifar_resnet56.main(["--quick", "--scale", "0"])


def test_suggestions_floor_counts_the_grid_best_against_each_seeds_own_best() -> None:
    """The reference line under the suggestions table: the hindsight grid-best LR judged
    by the failure rule (each seed against its own best grid run)."""
    from benchmarks.suite import suggestions

    margin = suggestions.SETTINGS["lenet-mnist"].fail_margin
    # seed 0: the best LR is its best too; seed 1: another LR beat it by > margin;
    # seed 2: by less than the margin
    grid = {"0.1": [97.0, 95.0, 96.0], "0.3": [96.0, 95.0 + 2 * margin, 96.0 + margin / 2]}
    row = {"setting": "lenet-mnist", "budget": 1, "kind": "grid", "best_lr": 0.1,
           "grid": grid, "higher_is_better": True}
    assert "fails the same rule on 1/3 " in suggestions._floor_line({"rows": [row]})
    # lower is better (bpc): the same numbers now count against the other direction
    row["higher_is_better"] = False
    assert "on 1/3 " in suggestions._floor_line({"rows": [row]})  # seed 0: 96 < 97 by 1


def test_suite_cache_sums_the_run_time_of_every_trial_asked_for(tmp_path: Path) -> None:
    """A result file says what its trials cost in all, cached ones included: new records
    carry their run time, older ones the time their result recorded, or none."""
    from benchmarks.suite import pool

    path = tmp_path / "c.jsonl"
    path.write_text(json.dumps({"trial": {"a": 1}, "result": {"meta": {"wall_time_s": 60.0}}})
                    + "\n" + json.dumps({"trial": {"a": 2}, "result": 5}) + "\n")
    cache = pool.Cache(path)
    got = pool.run_all("json:dumps", [{"a": 1}, {"a": 2}, {"a": 3}], cache, workers=1,
                       say=lambda m: None)
    assert got[pool.key({"a": 3})] == '{"a": 3}'
    spent = cache.spent()
    assert spent["trials"] == 3 and spent["unrecorded"] == 1
    assert 60.0 < spent["seconds"] < 70.0  # 60 s cached + the new trial's own time
    again = pool.Cache(path)  # the new record's time survives a reload
    again.asked.add(pool.key({"a": 3}))
    assert again.spent()["unrecorded"] == 0 and again.spent()["seconds"] < 10.0


def test_superconvergence_sums_trial_time_only_when_every_dataset_recorded_it() -> None:
    """Its result file merges datasets run in different invocations: the summed cost is
    given only when each one recorded its own, never a partial sum."""
    from benchmarks.suite import superconvergence as sc

    a = {"trial_time": {"trials": 4, "seconds": 30.0, "unrecorded": 1}}
    b = {"trial_time": {"trials": 2, "seconds": 12.5, "unrecorded": 0}}
    assert sc._summed_trial_time([a, b]) == {"trials": 6, "seconds": 42.5, "unrecorded": 1}
    assert sc._summed_trial_time([a, {"wall_s": 3.0}]) is None
    assert sc._summed_trial_time([]) is None


def test_suggestions_judges_the_clipped_pick_by_the_rule_written_before_its_runs() -> None:
    """``auto+budget+clip`` must fail less often than ``auto+budget`` on the held-out part
    at no higher regret; its trials are keyed apart, the unclipped ones as before."""
    from benchmarks.suite import suggestions as sg

    s = sg.SETTINGS["lenet-mnist"]
    plain = sg._train_key(s, 1, 0, 0.1)
    assert "grad_clip" not in plain and sg._train_key(s, 1, 0, 0.1, "auto") == {
        **plain, "grad_clip": "auto"}

    def stats(fails: int, regret: float) -> dict:
        return {"n": 10, "fails": fails, "norm_regret": regret, "collapses": 0}

    for (cf, cr), verdict in [((2, 0.5), "met"), ((2, 0.9), "missed"), ((4, 0.1), "missed")]:
        table = {("whole suite", sg.CLIPPED): stats(cf, cr),
                 ("held-out part", sg.CLIPPED): stats(cf, cr),
                 ("held-out part", "auto+budget"): stats(4, 0.8)}
        rows = sg._clipped_rows(table, "auto+budget", "suggestions")
        assert rows[1].verdict == verdict, (cf, cr)
    assert sg._clipped_rows({}, "auto+budget", "suggestions") == []
