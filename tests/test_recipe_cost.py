"""What ``onecycle run`` costs (issue #20 item 6): per-dataset defaults, the weight-decay
search in the early window around the first range test's pick, confirmation runs only
on request, and a budget the defaults keep (the searches at most half the training)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from _tiny import tiny_toml
from onecycle.cli import main
from onecycle.cli.flags import config_for
from onecycle.cli.parser import build_parser
from onecycle.config import DATASET_DEFAULTS, RunConfig, load_config
from onecycle.pipeline import finder_options
from onecycle.search import SearchOptions
from onecycle.search.weight_decay import early_window


def test_mnist_gets_its_own_defaults_unless_told_otherwise(tmp_path: Path) -> None:
    cfg = RunConfig.from_dict({"dataset": "mnist"})
    assert (cfg.model, cfg.batch_size, cfg.epochs) == ("lenet", 128, 3)
    args = build_parser().parse_args(["run", "--dataset", "mnist", "--epochs", "5"])
    cfg = config_for(args)
    assert (cfg.model, cfg.batch_size, cfg.epochs) == ("lenet", 128, 5)  # the flag wins
    f = tmp_path / "c.toml"
    f.write_text('dataset = "mnist"\nmodel = "mlp"\n')
    cfg = load_config(f, {"seed": 2})
    assert (cfg.model, cfg.batch_size, cfg.seed) == ("mlp", 128, 2)  # the file wins
    assert RunConfig().model == "small_cnn"  # digits keeps the general defaults
    # the resolved configuration names them, so config.toml reproduces the run
    assert 'model = "lenet"' in RunConfig.from_dict({"dataset": "mnist"}).to_toml()


@pytest.mark.parametrize("dataset, steps_per_epoch", [("digits", 21), ("mnist", 422)])
def test_the_default_searches_cost_at_most_half_the_training(dataset: str,
                                                           steps_per_epoch: int) -> None:
    """Counted in optimizer steps (a range-test iteration costs what a training step
    does): every weight decay of the grid gets one early-window range test."""
    cfg = RunConfig.from_dict({"dataset": dataset})
    if dataset in DATASET_DEFAULTS:
        assert cfg.batch_size == DATASET_DEFAULTS[dataset]["batch_size"]
    window = early_window(0.05, finder_options(cfg))
    search = window.num_iter * len(cfg.weight_decay.grid)
    training = cfg.epochs * steps_per_epoch
    assert search <= 0.5 * training, (search, training)
    assert not cfg.weight_decay.confirm  # the costly confirmation runs are opt-in


def test_the_window_keeps_the_sweeps_density() -> None:
    full = SearchOptions(num_iter=100, start_lr=1e-5, end_lr=10.0)
    w = early_window(0.2, full)
    assert w.start_lr == pytest.approx(0.02) and w.end_lr == pytest.approx(0.4)
    ppd_full = 100 / 6
    assert w.num_iter == math.ceil(ppd_full * math.log10(20))
    assert early_window(0.2, SearchOptions(num_iter=10)).num_iter >= 12  # a usable curve


TINY = tiny_toml(epochs=2, weight_decay=None)


def test_the_run_searches_the_weight_decay_in_the_early_window(tmp_path: Path) -> None:
    cfg = tmp_path / "tiny.toml"
    cfg.write_text(TINY)
    out = tmp_path / "o"
    assert main(["run", "--config", str(cfg), "--out", str(out)]) == 0
    s = json.loads((out / "summary.json").read_text())
    wd = json.loads((out / "weight_decay.json").read_text())
    max_lr = s["finder"]["max_lr"]
    assert s["max_lr"]["value"] == max_lr  # the first test's pick stands
    tests = wd["range_tests"]["config"]
    assert tests["start_lr"] == pytest.approx(max_lr / 10)
    assert tests["end_lr"] == pytest.approx(2 * max_lr)
    assert wd["values"] == [1e-3, 1e-4, 0.0] and wd["short_runs"] is None
    assert s["weight_decay"]["chosen"] == wd["range_test_choice"]

    cfg.write_text(TINY + "\n[weight_decay]\nconfirm = true\n")
    out2 = tmp_path / "o2"
    assert main(["run", "--config", str(cfg), "--out", str(out2)]) == 0
    wd2 = json.loads((out2 / "weight_decay.json").read_text())
    bound = wd2["range_test_choice"]
    if bound > 0:  # short runs decide at and below the bound
        assert [r["weight_decay"] for r in wd2["confirm"]][0] == bound
        assert wd2["short_runs"] is not None
