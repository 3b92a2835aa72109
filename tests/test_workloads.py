"""``onecycle run`` (and find-lr, fit, the searches) on every workload: text, mnist1d and
diabetes each train with their task's loss and step, and every artefact (the terminal,
summary.json, report.html, the comparison figure) speaks the task's headline: bpc for
text, RMSE for diabetes, accuracy for the classifiers (issue #18 item 6)."""

from __future__ import annotations

import contextlib
import html
import importlib.util
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
import torch

from onecycle.cli import main
from onecycle.config import DATASET_DEFAULTS, ConfigError, RunConfig, load_config
from onecycle.data.text import FORTUNES_DIR, FORTUNES_INSTALL

#: one small fortune file (24 KB): a text run of a few seconds
FORTUNE_FILE = FORTUNES_DIR / "fortunes"
needs_fortunes = pytest.mark.skipif(
    not (FORTUNES_DIR / "fortunes").is_file(),
    reason=f"Debian's fortunes not installed ({FORTUNES_INSTALL})")
needs_mnist1d = pytest.mark.skipif(importlib.util.find_spec("mnist1d") is None,
                                   reason="mnist1d not installed (pip install mnist1d)")

#: short runs: a 30-iteration range test, two weight decays searched, one or two epochs
SHORT = ["--num-iter", "30", "--quiet"]


def _page_text(page: str) -> str:
    page = re.sub(r"<style>.*?</style>", " ", page, flags=re.S)
    page = re.sub(r'src="data:[^"]*"', "", page)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def _run(argv: list[str], out: Path) -> dict[str, Any]:
    """``main(argv)`` with the figures' titles and labels recorded."""
    import onecycle.report.html as report_html

    figures: list[dict[str, list[str]]] = []
    real = report_html.figure_png

    def spy(fig: Any) -> bytes:
        figures.append({"titles": [ax.get_title() for ax in fig.axes],
                        "ylabels": [ax.get_ylabel() for ax in fig.axes]})
        return real(fig)

    mp = pytest.MonkeyPatch()
    mp.setattr(report_html, "figure_png", spy)
    buf = io.StringIO()
    try:
        with contextlib.redirect_stdout(buf):
            code = main([*argv, "--out", str(out)])
    finally:
        mp.undo()
    assert code == 0
    return {"stdout": buf.getvalue(), "figures": figures,
            "summary": json.loads((out / "summary.json").read_text()),
            "text": _page_text((out / "report.html").read_text())}


def _comparison(run: dict[str, Any]) -> dict[str, list[str]]:
    return next(f for f in run["figures"] if "loss per epoch" in f["titles"])


def _check_headline(run: dict[str, Any], task: str, headline: str, label: str) -> None:
    s = run["summary"]
    assert s["task"]["name"] == task and s["task"]["headline"] == headline
    assert s["task"]["higher_is_better"] is (headline == "accuracy")
    assert s["task"]["chance"] is not None
    for kind in ("1cycle", "baseline"):
        final, best = s["runs"][kind]["final"], s["runs"][kind]["best"]
        assert final["val_headline"] is not None and final["test_headline"] is not None
        assert best["val_headline"] is not None
        if headline != "accuracy":
            assert final[f"val_{headline}"] == final["val_headline"]
            assert final[f"test_{headline}"] == final["test_headline"]
            assert final["val_accuracy"] is None  # the key stays, empty: no accuracy here
    text = run["text"]
    assert f"1cycle · val {label}" in text and f"best val {label}" in text
    unit = "pts" if headline == "accuracy" else label  # differences in the headline's units
    assert re.search(rf"[+-][0-9.e+-]+ {re.escape(unit)} vs baseline", text), text[:400]
    assert f"validation {label}" in " ".join(_comparison(run)["titles"])


# ----------------------------------------------------------------------------- text


@needs_fortunes
def test_run_on_text_speaks_bpc(tmp_path: Path) -> None:
    run = _run(["run", "--dataset", f"text:{FORTUNE_FILE}", "--epochs", "1", *SHORT[:2]],
               tmp_path / "text")
    _check_headline(run, "language_model", "bpc", "bpc")
    s = run["summary"]
    final = s["runs"]["1cycle"]["final"]
    assert final["val_bpc"] == pytest.approx(final["val_loss"] / 0.6931471805599453)
    # the dataset's defaults: the transformer under AdamW, 64 characters, its grid
    assert s["model"]["name"] == "char_transformer" and s["batch_size"] == 16
    assert s["dataset"]["seq_len"] == 64
    assert s["weight_decay"]["checked"] and s["weight_decay"]["values"] == [0.1, 0.01, 0.0]
    assert final["val_bpc"] < s["task"]["chance"] + 1.0  # trained, not diverged
    assert "accuracy" not in run["text"].lower()
    assert "accuracy" not in json.dumps(s["task"]) and "chance level" in run["text"]
    assert "val bpc" in run["stdout"] and "accuracy" not in run["stdout"]
    comp = _comparison(run)
    assert "validation bpc (lower is better)" in comp["titles"]
    assert comp["ylabels"][0] == "cross-entropy per character (nats)"


@pytest.mark.slow
@needs_fortunes
def test_run_on_the_default_text_corpus(tmp_path: Path) -> None:
    """The acceptance of issue #18 item 6: ``onecycle run --dataset text`` produces a
    report (one epoch, no baseline, no weight-decay search, to keep it short)."""
    out = tmp_path / "text"
    code = main(["run", "--dataset", "text", "--epochs", "1", "--num-iter", "30",
                 "--no-baseline", "--weight-decay", "0.01", "--quiet", "--out", str(out)])
    assert code == 0
    s = json.loads((out / "summary.json").read_text())
    assert s["task"]["headline"] == "bpc" and s["steps_per_epoch"] > 200
    assert s["runs"]["1cycle"]["final"]["val_bpc"] < s["task"]["chance"]
    assert "accuracy" not in _page_text((out / "report.html").read_text()).lower()


@needs_fortunes
def test_find_lr_and_fit_on_text(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = f"text:{FORTUNE_FILE}"
    assert main(["find-lr", "--dataset", data, "--num-iter", "30",
                 "--out", str(tmp_path / "f")]) == 0
    out = capsys.readouterr().out
    assert "char_transformer on fortunes" in out and "suggested max_lr" in out
    assert main(["fit", "--dataset", data, "--epochs", "1", "--max-lr", "0.003",
                 "--out", str(tmp_path / "fit")]) == 0
    out = capsys.readouterr().out
    assert "val bpc" in out and "test bpc" in out and "accuracy" not in out
    hist = json.loads((tmp_path / "fit" / "history.json").read_text())
    assert hist["records"][-1]["val_loss"] > 0


@needs_fortunes
def test_searches_on_text(tmp_path: Path) -> None:
    data = ["--dataset", f"text:{FORTUNE_FILE}", "--quiet"]
    assert main(["search", "wd", *data, "--num-iter", "20", "--grid", "0.1", "0",
                 "--out", str(tmp_path / "wd")]) == 0
    assert json.loads((tmp_path / "wd" / "weight_decay.json").read_text())["chosen"] in (0.1, 0.0)
    assert main(["search", "momentum", *data, "--pairs", "0.95:0.85", "0.9:0.9", "--max-lr",
                 "0.003", "--epochs", "1", "--out", str(tmp_path / "m")]) == 0
    rows = json.loads((tmp_path / "m" / "momentum.json").read_text())["rows"]
    assert len(rows) == 2 and all(r["val_loss"] > 0 for r in rows)
    # token ids in, the next characters' loss: the memory of a real training step
    assert main(["search", "batch-size", *data, "--grid", "4", "8",
                 "--out", str(tmp_path / "bs")]) == 0
    assert json.loads((tmp_path / "bs" / "batch_size.json").read_text())["train_batch_size"] == 8


def _text_problem(workers: int = 1) -> Any:
    from onecycle.pipeline import prepare

    cfg = RunConfig.from_dict({"dataset": f"text:{FORTUNE_FILE}", "quiet": True,
                               "data_options": {"seq_len": 32}})
    problem = prepare(cfg).problem(progress=False)
    problem.workers = workers
    return problem


@needs_fortunes
def test_a_weight_decay_step_on_dict_batches() -> None:
    """Range tests and short confirmation runs, all through the task's step
    (``model(**batch)``): the problem carries no loss function at all."""
    from onecycle.search import SearchOptions, weight_decay_step
    from onecycle.tasks import model_step

    problem = _text_problem()
    assert problem.loss_fn is None and problem.step_fn is model_step
    batch = next(iter(problem.train_loader))
    assert isinstance(batch, dict) and set(batch) == {"input_ids", "labels"}
    choice = weight_decay_step(problem, [0.1, 0.0], max_lr=3e-3, confirm_epochs=1,
                               options=SearchOptions(num_iter=15, start_lr=1e-5, end_lr=1.0))
    assert choice.value in (0.1, 0.0) and len(choice.search.curves) == 2
    assert all(len(c.lrs) >= 2 for c in choice.search.curves)
    if choice.confirm is not None:
        assert all(r["loss"] is not None for r in choice.confirm_rows())


@pytest.mark.slow
@needs_fortunes
def test_dict_batch_trials_in_worker_processes() -> None:
    """``tasks.model_step`` is picklable, so the trials of a search run in workers, with
    the same curves as in this process."""
    from onecycle.search import SearchOptions, weight_decay_step

    opts = SearchOptions(num_iter=12, start_lr=1e-5, end_lr=1.0)
    here = weight_decay_step(_text_problem(1), [0.1, 0.0], max_lr=3e-3, confirm_epochs=None,
                             options=opts)
    there = weight_decay_step(_text_problem(2), [0.1, 0.0], max_lr=3e-3, confirm_epochs=None,
                              options=opts)
    for a, b in zip(here.search.curves, there.search.curves):
        assert a.losses.tolist() == pytest.approx(b.losses.tolist())


# ----------------------------------------------------------------------------- mnist1d


@needs_mnist1d
def test_run_on_mnist1d_trains_the_1d_cnn(tmp_path: Path) -> None:
    run = _run(["run", "--dataset", "mnist1d", "--epochs", "2", *SHORT[:2]],
               tmp_path / "m1d")
    _check_headline(run, "classification", "accuracy", "accuracy")
    s = run["summary"]
    assert s["model"]["name"] == "cnn1d" and s["batch_size"] == 64
    assert s["dataset"]["input_shape"] == [1, 40]
    final = s["runs"]["1cycle"]["final"]
    assert final["val_headline"] == final["val_accuracy"] > s["task"]["chance"]
    assert "points of accuracy" in " ".join(s["notes"])  # the small-split note as before
    assert "val accuracy" in run["stdout"]
    assert "validation accuracy" in _comparison(run)["titles"]


# ----------------------------------------------------------------------------- diabetes


def test_run_on_diabetes_speaks_rmse(tmp_path: Path) -> None:
    run = _run(["run", "--dataset", "diabetes", "--epochs", "3"],
               tmp_path / "dia")
    _check_headline(run, "regression", "rmse", "RMSE")
    s = run["summary"]
    final = s["runs"]["1cycle"]["final"]
    assert final["val_rmse"] == pytest.approx(final["val_loss"] ** 0.5)
    assert s["task"]["chance"] == pytest.approx(1.0, abs=1e-6)  # standardised targets
    assert s["model"]["name"] == "mlp" and s["model"]["parameters"] < 2000  # the narrow MLP
    assert "accuracy" not in run["text"].lower() and "accuracy" not in run["stdout"]
    assert "val RMSE" in run["stdout"] and "1 target" in run["text"]
    notes = " ".join(s["notes"])
    assert "points of accuracy" not in notes and "noisy estimate" in notes
    comp = _comparison(run)
    assert "validation RMSE (lower is better)" in comp["titles"] and comp["ylabels"][0] == "MSE"


# ----------------------------------------------------------------------------- digits


def test_digits_keeps_its_accuracy_keys(tmp_path: Path) -> None:
    run = _run(["run", "--model", "mlp", "--epochs", "1", "--batch-size", "128",
                *SHORT[:2], "--quiet"], tmp_path / "digits")
    _check_headline(run, "classification", "accuracy", "accuracy")
    for kind in ("1cycle", "baseline"):
        r = run["summary"]["runs"][kind]
        assert r["final"]["val_headline"] == r["final"]["val_accuracy"]
        assert r["final"]["test_headline"] == r["final"]["test_accuracy"]
        assert r["best"]["val_headline"] == r["best"]["val_accuracy"]
        assert "val_rmse" not in r["final"] and "val_bpc" not in r["final"]


# ----------------------------------------------------------------------------- defaults


def test_dataset_defaults_come_from_one_place_and_yield_to_the_user(tmp_path: Path) -> None:
    from onecycle import data

    for name in ("digits", "mnist", "mnist1d", "text", "diabetes"):
        assert RunConfig.from_dict({"dataset": name}).model == data.default_model(name)
        assert "model" not in DATASET_DEFAULTS.get(name, {})  # the source owns it
    assert RunConfig() == RunConfig.from_dict({"dataset": "digits"})  # digits unchanged
    text = RunConfig.from_dict({"dataset": "text:notes.txt"})
    assert (text.optimizer.name, text.batch_size, text.data_options) == ("adamw", 16,
                                                                        {"seq_len": 64})
    # every key given wins, key by key inside tables
    cfg = load_config(overrides={"dataset": "text", "optimizer.momentum": 0.8,
                                 "batch_size": 4, "data_options.seq_len": 16})
    assert (cfg.optimizer.name, cfg.optimizer.momentum, cfg.batch_size) == ("adamw", 0.8, 4)
    assert cfg.data_options == {"seq_len": 16}
    assert load_config(overrides={"dataset": "text", "optimizer.name": "sgd"}).optimizer.name \
        == "sgd"
    f = tmp_path / "c.toml"
    f.write_text('dataset = "diabetes"\n[weight_decay]\nvalue = 0.0\n')
    cfg = load_config(f)
    assert cfg.weight_decay.value == 0.0 and cfg.weight_decay.grid == [1e-2, 1e-3, 1e-4]
    # the default model's options go with the default model only
    assert RunConfig.from_dict({"dataset": "diabetes"}).model_options["hidden"] == [64]
    assert RunConfig.from_dict({"dataset": "diabetes", "model": "lenet"}).model_options == {}
    assert RunConfig.from_toml_text(text.to_toml()) == text


def test_data_options_are_checked() -> None:
    with pytest.raises(ConfigError, match="data_options.seed' is not allowed"):
        RunConfig.from_dict({"data_options": {"seed": 1}})
    with pytest.raises(ConfigError, match="data_options.1x"):
        RunConfig.from_dict({"data_options": {"1x": 1}})
    assert RunConfig().with_overrides({"data_options.seq_len": 8}).data_options == {"seq_len": 8}


def test_setup_carries_the_task() -> None:
    from onecycle.pipeline import prepare
    from onecycle.tasks import TASKS

    setup = prepare(RunConfig.from_dict({"dataset": "diabetes", "quiet": True}))
    assert setup.task.name == "regression" and setup.loss_fn is TASKS["regression"].loss_fn
    assert "1 target" in setup.describe() and "classes" not in setup.describe()
    problem = setup.problem()
    assert problem.metrics is None and problem.step_fn is None
    x, y = next(iter(problem.train_loader))
    assert y.dtype == torch.float32 and y.shape[1:] == (1,)
