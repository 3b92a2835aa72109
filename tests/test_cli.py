"""The ``onecycle`` command, its configuration and the ``run`` pipeline (tiny budgets)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import types
from html.parser import HTMLParser
from pathlib import Path

import pytest
import tomllib

from _tiny import tiny_toml
from onecycle.cli import SEARCHES, build_parser, main
from onecycle.config import ConfigError, RunConfig, load_config, to_toml

TINY = tiny_toml(weight_decay="grid = [1e-3, 0.0]\nvalue = 1e-3")


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    p = tmp_path / "tiny.toml"
    p.write_text(TINY, encoding="utf-8")
    return p


def _err_lines(capsys: pytest.CaptureFixture[str]) -> list[str]:
    return [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]


# ---------------------------------------------------------------------------- run


def test_run_happy_path(tiny: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    code = main(["run", "--config", str(tiny), "--out", str(out), "--seed", "3",
                 "--name", "<script>alert('x')</script> run"])
    assert code == 0, capsys.readouterr().err
    for f in ("report.html", "summary.json", "config.toml", "history_1cycle.json",
              "history_baseline.json", "finder.json", "weight_decay.json", "finder.png",
              "weight_decay.png", "schedule.png", "comparison.png"):
        assert (out / f).is_file(), f

    s = json.loads((out / "summary.json").read_text())
    assert s["epochs"] == 1 and s["seed"] == 3 and s["batch_size"] == 128
    assert s["dataset"]["name"] == "digits" and s["model"]["name"] == "mlp"
    assert s["finder"]["ran"] is True and s["finder"]["num_iter"] == 20
    assert s["max_lr"]["source"] == "finder" and s["max_lr"]["value"] > 0
    assert s["weight_decay"]["checked"] is True
    assert s["weight_decay"]["chosen"] in (1e-3, 0.0)
    assert sum(r["selected"] for r in s["weight_decay"]["rows"]) == 1
    winner = next(r["weight_decay"] for r in s["weight_decay"]["rows"] if r["selected"])
    # by default the range tests decide (no confirmation runs: weight_decay.confirm)
    assert s["weight_decay"]["chosen"] == winner and "confirm" not in s["weight_decay"]
    for run in ("1cycle", "baseline"):
        final = s["runs"][run]["final"]
        assert 0.0 <= final["val_accuracy"] <= 1.0 and final["val_loss"] > 0
        assert 0.0 <= final["test_accuracy"] <= 1.0
        assert s["runs"][run]["wall_time"] > 0
    assert "minimum" in s["baseline_rule"]
    assert s["command"].startswith("onecycle run --config")
    assert "report.html" in s["files"] and "config.toml" in s["files"]

    # the resolved configuration: TOML + flags, and it reproduces the run's settings
    saved = RunConfig.from_toml(out / "config.toml")
    assert saved.seed == 3 and saved.model == "mlp" and saved.finder.num_iter == 20
    assert saved.out == str(out) and saved.name.startswith("<script>")

    page = (out / "report.html").read_text()
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; run" in page
    assert "<script" not in page
    assert "http://" not in page and "https://" not in page
    assert page.count('src="data:image/png;base64,') == 4
    stdout = capsys.readouterr().out
    assert stdout == ""  # quiet = true in the TOML


def test_run_given_max_lr_and_wd_no_baseline(tiny: Path, tmp_path: Path) -> None:
    out = tmp_path / "r2"
    code = main(["run", "--config", str(tiny), "--out", str(out), "--max-lr", "0.05",
                 "--weight-decay", "1e-4", "--no-baseline"])
    assert code == 0
    s = json.loads((out / "summary.json").read_text())
    assert s["max_lr"]["value"] == 0.05 and s["max_lr"]["source"] == "given"
    assert "Given" in s["max_lr"]["how"]
    assert s["finder"]["ran"] is False and s["weight_decay"]["checked"] is False
    assert s["weight_decay"]["chosen"] == 1e-4
    assert list(s["runs"]) == ["1cycle"]
    assert not (out / "finder.png").exists() and (out / "comparison.png").exists()
    cfg = RunConfig.from_toml(out / "config.toml")
    assert cfg.baseline.enabled is False and cfg.schedule.max_lr == 0.05


def test_run_prints_progress_lines(tiny: Path, tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    toml = tiny.read_text().replace("quiet = true", "quiet = false")
    tiny.write_text(toml)
    assert main(["run", "--config", str(tiny), "--out", str(tmp_path / "o"),
                 "--max-lr", "0.05", "--weight-decay", "0", "--no-baseline"]) == 0
    out = capsys.readouterr().out
    assert "[3/5] 1cycle" in out and "report:" in out


# ---------------------------------------------------------------------------- other commands


def test_find_lr(tiny: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "f"
    code = main(["find-lr", "--config", str(tiny), "--out", str(out), "--num-iter", "30"])
    captured = capsys.readouterr()
    assert code in (0, 1), captured.err
    assert (out / "finder.png").is_file() and (out / "config.toml").is_file()
    data = json.loads((out / "finder.json").read_text())
    assert data["result"]["lrs"] and "suggestion" in data and "other_methods" in data
    if code == 0:  # quiet: only the LR on stdout, for scripts
        assert float(captured.out.strip()) == pytest.approx(data["suggestion"]["lr"], rel=1e-5)


def test_find_lr_verbose_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["find-lr", "--model", "mlp", "--batch-size", "128", "--num-iter", "40",
                 "--start-lr", "1e-4", "--out", str(tmp_path / "f")])
    out = capsys.readouterr().out
    assert code == 0
    assert "suggested max_lr:" in out and "confidence" in out and "range" in out


def test_fit_with_max_lr(tiny: Path, tmp_path: Path) -> None:
    out = tmp_path / "fit"
    assert main(["fit", "--config", str(tiny), "--out", str(out), "--max-lr", "0.05"]) == 0
    hist = json.loads((out / "history.json").read_text())
    assert len(hist["records"]) == 1 and 0.04 < max(hist["lr"]) <= 0.05
    assert (out / "history.png").is_file()
    assert RunConfig.from_toml(out / "config.toml").schedule.max_lr == 0.05


def test_fit_finds_max_lr(tiny: Path, tmp_path: Path) -> None:
    out = tmp_path / "fit2"
    assert main(["fit", "--config", str(tiny), "--out", str(out), "--epochs", "1"]) == 0
    assert (out / "finder.png").is_file()
    assert RunConfig.from_toml(out / "config.toml").schedule.max_lr > 0


def test_search_wd(tiny: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "wd"
    tiny.write_text(tiny.read_text().replace("quiet = true", "quiet = false"))
    code = main(["search", "wd", "--config", str(tiny), "--out", str(out),
                 "--grid", "1e-2", "0"])
    assert code == 0
    text = capsys.readouterr().out
    assert "chosen weight decay" in text and "<- chosen" in text
    data = json.loads((out / "weight_decay.json").read_text())
    assert data["values"] == [1e-2, 0.0] and data["chosen"] in (1e-2, 0.0)
    assert (out / "weight_decay.png").is_file()


def test_search_wd_confirms_below_the_range_test_bound(tiny: Path, tmp_path: Path) -> None:
    # 1e-4 and 0 both train at a high LR, so the range tests' rule takes the larger;
    # that is only an upper bound, and one-epoch runs of both decide (as `run` does)
    out = tmp_path / "wd"
    assert main(["search", "wd", "--config", str(tiny), "--out", str(out),
                 "--grid", "1e-4", "0"]) == 0
    data = json.loads((out / "weight_decay.json").read_text())
    assert data["range_test_choice"] == 1e-4
    rows = data["confirm"]
    assert [r["weight_decay"] for r in rows] == [1e-4, 0.0]
    best = min(rows, key=lambda r: (r["loss"], -r["weight_decay"]))
    assert data["chosen"] == best["weight_decay"]
    assert "upper bound" in data["reason"]
    assert RunConfig.from_toml(out / "config.toml").weight_decay.value == data["chosen"]

    out2 = tmp_path / "wd2"
    assert main(["search", "wd", "--config", str(tiny), "--out", str(out2),
                 "--grid", "1e-4", "0", "--no-confirm"]) == 0
    data2 = json.loads((out2 / "weight_decay.json").read_text())
    assert data2["confirm"] is None and data2["chosen"] == data2["range_test_choice"] == 1e-4


def test_search_dispatch_table() -> None:
    assert set(SEARCHES) == {"wd", "momentum", "batch-size", "dropout"}


def test_search_not_available(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                              capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(sys.modules, "onecycle.search", types.ModuleType("onecycle.search"))
    code = main(["search", "momentum", "--out", str(tmp_path / "s")])
    assert code == 1
    err = _err_lines(capsys)
    assert len(err) == 1 and err[0].startswith("onecycle: error:")
    assert "not available in this installation" in err[0]


def test_search_momentum_dispatch(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    calls = []

    class FakeResult:
        best = (0.9, 0.8)
        reason = "fake"

        def to_dict(self) -> dict:
            return {"best": list(self.best)}

        def plot(self) -> None:
            raise RuntimeError("no plots in this fake")

        def table(self) -> str:
            return "value  val_loss"

    def momentum_search(model, make_opt, loss_fn, train, val, **kw):  # noqa: ANN001, ANN003, ANN202
        calls.append(kw)
        assert make_opt(model).param_groups[0]["momentum"] == 0.9
        return FakeResult()

    import onecycle.search.rules  # noqa: F401  (the CLI reads the budget rule from it)

    mod = types.ModuleType("onecycle.search")
    mod.momentum_search = momentum_search  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "onecycle.search", mod)
    out = tmp_path / "s"
    code = main(["search", "momentum", "--model", "mlp", "--pairs", "0.95:0.85", "0.9:0.8",
                 "--max-lr", "0.05", "--epochs", "2", "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    kw = calls[0]
    assert kw["pairs"] == [(0.95, 0.85), (0.9, 0.8)] and kw["epochs"] == 2
    assert kw["max_lr"] == 0.05 and "momentum" not in kw["schedule"]
    assert json.loads((out / "momentum.json").read_text())["best"] == [0.9, 0.8]
    written = RunConfig.from_toml(out / "config.toml")
    assert written.schedule.momentum == [0.9, 0.8]
    # --epochs is the short runs' length, not the budget: the config keeps its epochs
    assert written.epochs == RunConfig().epochs
    assert "chosen: (0.9, 0.8)" in capsys.readouterr().out
    # without --epochs: a quarter of the configured budget, as for the weight decay
    code = main(["search", "momentum", "--model", "mlp", "--max-lr", "0.05",
                 "--out", str(tmp_path / "s2")])
    assert code == 0, capsys.readouterr().err
    budget = RunConfig().epochs
    assert calls[1]["epochs"] == -(-budget // 4) and calls[1]["pairs"] is None
    assert f"runs of {-(-budget // 4)} epoch(s)" in capsys.readouterr().out


def test_search_dropout_real(tmp_path: Path) -> None:
    search = pytest.importorskip("onecycle.search")
    if not hasattr(search, "grid_search"):
        pytest.skip("onecycle.search.grid_search not available")
    out = tmp_path / "d"
    code = main(["search", "dropout", "--model", "mlp", "--grid", "0", "0.3", "--num-iter", "20",
                 "--batch-size", "128", "--out", str(out), "-q"])
    assert code == 0
    data = json.loads((out / "dropout.json").read_text())
    assert data["best"] in (0.0, 0.3)
    assert RunConfig.from_toml(out / "config.toml").model_options["dropout"] in (0.0, 0.3)


@pytest.mark.parametrize("argv", [["search", "momentum", "--pairs", "0.8:0.9"],
                                  ["search", "momentum", "--pairs", "0.9"],
                                  ["search", "dropout", "--grid", "1.5"],
                                  ["search", "batch-size", "--grid", "3.5"]])
def test_search_bad_values(argv: list[str], tmp_path: Path,
                           capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*argv, "--out", str(tmp_path)]) == 2
    assert "error" in capsys.readouterr().err


def test_plot_schedule(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    png = tmp_path / "s.png"
    code = main(["plot-schedule", "--style", "smith", "--max-lr", "0.8", "--steps", "1000",
                 "--out", str(png), "--log"])
    assert code == 0
    out = capsys.readouterr().out
    assert "max_lr=0.8" in out and "annihilation" in out
    rows = {int(ln.split()[0]): ln.split() for ln in out.splitlines()
            if ln.split() and ln.split()[0].isdigit()}
    assert float(rows[0][2]) == pytest.approx(0.08)
    assert float(rows[450][2]) == pytest.approx(0.8) and float(rows[450][3]) == 0.85
    assert float(rows[999][2]) == pytest.approx(0.0008)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_schedule_torch_no_momentum(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plot-schedule", "--style", "torch", "--max-lr", "0.01", "--steps", "10",
                 "--no-momentum", "--rows", "3"]) == 0
    assert "—" in capsys.readouterr().out


# ---------------------------------------------------------------------------- usage errors


@pytest.mark.parametrize("argv", [
    [],
    ["bogus"],
    ["run", "--epochs", "0"],
    ["run", "--epochs", "two"],
    ["run", "--batch-size", "-3"],
    ["run", "--max-lr", "-1"],
    ["run", "--max-lr", "nan"],
    ["run", "--weight-decay", "-0.1"],
    ["run", "--num-iter", "5"],
    ["run", "--style", "fast"],
    ["run", "--unknown-flag"],
    ["find-lr", "--method", "best"],
    ["search"],
    ["search", "lr"],
    ["plot-schedule", "--steps", "0"],
    ["plot-schedule", "--momentum", "0.9"],
    ["plot-schedule", "--pct-start", "0.95"],  # contradicts the annihilation phase
    ["plot-schedule", "--momentum", "0.95", "0.85", "--no-momentum"],
])
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "error" in err and "Traceback" not in err


@pytest.mark.parametrize("argv", [["--help"], ["run", "--help"], ["find-lr", "--help"],
                                  ["fit", "--help"], ["search", "--help"],
                                  ["plot-schedule", "--help"], ["--version"]])
def test_help_exit_0(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 0
    assert capsys.readouterr().out.strip()


def test_help_teaches(capsys: pytest.CaptureFixture[str]) -> None:
    main(["--help"])
    text = capsys.readouterr().out
    assert "LR range test" in text and "examples:" in text and "onecycle run" in text
    main(["run", "--help"])
    text = capsys.readouterr().out
    for flag in ("--dataset", "--model", "--epochs", "--batch-size", "--out", "--seed",
                 "--config", "--name", "--max-lr", "--no-baseline", "--quiet"):
        assert flag in text


# ---------------------------------------------------------------------------- config errors


@pytest.mark.parametrize("toml_text, needles", [
    ("epoch = 3\n", ["'epoch'", "did you mean 'epochs'"]),
    ("[finder]\nnum_iters = 30\n", ["'finder.num_iters'", "num_iter"]),
    ("epochs = \"three\"\n", ["'epochs'", '"three"', "an integer >= 1"]),
    ("batch_size = 0\n", ["'batch_size'", "0", "an integer >= 1"]),
    ("[schedule]\nstyle = \"smth\"\n", ["'schedule.style'", "smith"]),
    ("[weight_decay]\ngrid = [0.1, -1]\n", ["'weight_decay.grid'", ">= 0"]),
    ("[baseline]\nenabled = \"no\"\n", ["'baseline.enabled'", "true or false"]),
    ("finder = 3\n", ["'finder'", "a table"]),
    ("epochs = [1\n", ["not valid TOML"]),
])
def test_config_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                              toml_text: str, needles: list[str]) -> None:
    p = tmp_path / "bad.toml"
    p.write_text(toml_text)
    assert main(["run", "--config", str(p), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and str(p) in err
    for n in needles:
        assert n in err
    assert not (tmp_path / "o").exists()  # nothing ran


def test_config_file_missing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--config", str(tmp_path / "nope.toml")]) == 2
    assert "cannot read config file" in capsys.readouterr().err


# ---------------------------------------------------------------------------- runtime errors


def test_missing_dataset_source(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                capsys: pytest.CaptureFixture[str]) -> None:
    import onecycle.data as data

    monkeypatch.setattr(data, "FASHION_MNIST_SYSTEM_DIR", tmp_path / "no-such-dir")
    monkeypatch.setenv("ONECYCLE_DATA", str(tmp_path / "empty-cache"))
    code = main(["run", "--dataset", "fashion-mnist", "--out", str(tmp_path / "o"), "-q"])
    assert code == 1
    err = _err_lines(capsys)
    assert len(err) == 1, err
    assert err[0].startswith("onecycle: error: Fashion-MNIST is not installed")
    assert "apt-get install -y dataset-fashion-mnist" in err[0]


def test_debug_shows_traceback(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                               capsys: pytest.CaptureFixture[str]) -> None:
    import onecycle.data as data

    monkeypatch.setattr(data, "FASHION_MNIST_SYSTEM_DIR", tmp_path / "no-such-dir")
    monkeypatch.setenv("ONECYCLE_DATA", str(tmp_path / "empty-cache"))
    code = main(["--debug", "find-lr", "--dataset", "fashion-mnist", "--out", str(tmp_path)])
    assert code == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and "DatasetUnavailable" in err


def test_unknown_dataset_name(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["find-lr", "--dataset", "cifar-99", "--out", str(tmp_path), "-q"]) == 1
    err = _err_lines(capsys)
    assert len(err) == 1 and "cifar-99" in err[0] and "digits" in err[0]


def test_unwritable_out_fails_before_training(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    import onecycle.pipeline as pipeline

    def boom(*a: object, **k: object) -> None:
        raise AssertionError("training started despite an unwritable --out")

    monkeypatch.setattr(pipeline, "prepare", boom)
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    for cmd in (["run"], ["find-lr"], ["fit", "--max-lr", "0.1"], ["search", "wd"]):
        assert main([*cmd, "--out", str(blocker / "sub")]) == 1
        err = _err_lines(capsys)
        assert len(err) == 1, err
        assert err[0].startswith("onecycle: error: cannot write to output directory")
        assert str(blocker / "sub") in err[0]


def test_unwritable_plot_schedule_out(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "f"
    blocker.write_text("x")
    assert main(["plot-schedule", "--out", str(blocker / "s.png")]) == 1
    assert "cannot write" in capsys.readouterr().err


# ---------------------------------------------------------------------------- user code


USER_MODULE = textwrap.dedent("""
    import numpy as np
    import torch

    def make_model(input_shape, num_classes):
        d = int(np.prod(input_shape))
        return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(d, 16),
                                   torch.nn.ReLU(), torch.nn.Linear(16, num_classes))

    def not_a_model(input_shape, num_classes):
        return "surprise"

    def load():
        rng = np.random.default_rng(0)
        x = rng.normal(size=(300, 6)).astype("float32")
        y = (x[:, 0] + x[:, 1] > 0).astype("int64")
        return x, y
""")


@pytest.fixture
def user_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    name = "oc_user_mod_cli"
    (tmp_path / f"{name}.py").write_text(USER_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop(name, None)
    return name


def test_user_model_and_dataset(user_module: str, tmp_path: Path) -> None:
    out = tmp_path / "u"
    code = main(["fit", "--model", f"{user_module}:make_model",
                 "--dataset", f"{user_module}:load", "--max-lr", "0.1", "--epochs", "1",
                 "--out", str(out), "-q"])
    assert code == 0
    hist = json.loads((out / "history.json").read_text())
    assert 0.0 <= hist["records"][0]["val_accuracy"] <= 1.0


def test_user_model_run(user_module: str, tmp_path: Path, tiny: Path) -> None:
    out = tmp_path / "ur"
    code = main(["run", "--config", str(tiny), "--model", f"{user_module}:make_model",
                 "--dataset", f"{user_module}:load", "--out", str(out)])
    assert code == 0
    s = json.loads((out / "summary.json").read_text())
    assert s["model"]["name"] == f"{user_module}:make_model"
    assert s["dataset"]["input_shape"] == [6]


@pytest.mark.parametrize("model, needle", [
    ("{m}:not_a_model", "expected a torch.nn.Module"),
    ("{m}:missing", "has no attribute"),
    ("no_such_module_xyz:make", "cannot import module"),
    ("transformer9000", "not a known model"),
])
def test_bad_model_specs(user_module: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                         model: str, needle: str) -> None:
    code = main(["fit", "--model", model.format(m=user_module), "--max-lr", "0.1",
                 "--out", str(tmp_path / "o"), "-q"])
    assert code == 1
    err = _err_lines(capsys)
    assert len(err) == 1 and needle in err[0] and err[0].startswith("onecycle: error:")


# ---------------------------------------------------------------------------- config module


def test_config_round_trip_and_overrides(tmp_path: Path) -> None:
    cfg = load_config(overrides={"epochs": 2, "schedule.max_lr": 0.3, "name": 'a "b" \\ c',
                                 "model_options.dropout": 0.1})
    assert cfg.epochs == 2 and cfg.schedule.max_lr == 0.3 and cfg.model_options == {"dropout": 0.1}
    text = cfg.to_toml()
    assert RunConfig.from_toml_text(text) == cfg
    assert tomllib.loads(text)["schedule"]["max_lr"] == 0.3
    p = cfg.save(tmp_path / "c.json")
    assert RunConfig.from_dict(json.loads(p.read_text())) == cfg
    with pytest.raises(ConfigError, match="unknown config key 'schedule.maxlr'"):
        cfg.with_overrides({"schedule.maxlr": 1})
    with pytest.raises(ConfigError, match="start_lr < end_lr"):
        RunConfig.from_dict({"finder": {"start_lr": 1.0, "end_lr": 0.1}})
    keys = [k for k, _, _ in RunConfig().describe_keys()]
    assert "finder.num_iter" in keys and "baseline.lr" in keys


def test_to_toml_writes_valid_toml() -> None:
    data = {"s": "quote \" back \\ tab\t nl\n del\x7f é", "f": [1e-5, 0.0], "b": True,
            "t": {"x": None, "u": {"k": 1}}}
    back = tomllib.loads(to_toml(data))
    assert back == {"s": data["s"], "f": [1e-5, 0.0], "b": True, "t": {"u": {"k": 1}}}


# ---------------------------------------------------------------------------- real processes


def _env() -> dict[str, str]:
    src = str(Path(__file__).resolve().parents[1] / "src")
    env = dict(os.environ)
    env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    return env


def test_python_dash_m(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "onecycle", "plot-schedule", "--max-lr", "0.8", "--steps", "100",
         "--rows", "3", "--out", str(tmp_path / "s.png")],
        capture_output=True, text=True, env=_env(), timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "annihilation" in proc.stdout and (tmp_path / "s.png").is_file()
    proc = subprocess.run([sys.executable, "-m", "onecycle", "run", "--epochs", "0"],
                          capture_output=True, text=True, env=_env(), timeout=120)
    assert proc.returncode == 2 and "--epochs" in proc.stderr and "Traceback" not in proc.stderr


def test_parser_builds() -> None:
    args = build_parser().parse_args(["search", "wd", "--grid", "1e-3", "0"])
    assert args.what == "wd" and args.grid == [1e-3, 0.0]


class _Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_report_of_a_run_parses(tiny: Path, tmp_path: Path) -> None:
    out = tmp_path / "r"
    assert main(["run", "--config", str(tiny), "--out", str(out), "--max-lr", "0.05",
                 "--weight-decay", "0", "--name", "<b>bold</b>"]) == 0
    p = _Collect()
    p.feed((out / "report.html").read_text())
    assert "script" not in p.tags and "img" in p.tags
    assert "<b>bold</b>" in "".join(p.text)  # shown as text, not markup


def test_config_file_may_not_name_import_factories(
    user_module: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A config file is data: a 'module:function' in it would run code when imported."""
    marker = tmp_path / "ran"
    cfg = tmp_path / "evil.toml"
    cfg.write_text(f'model = "{user_module}:make_model"\ndataset = "os:abort"\nepochs = 1\n')
    code = main(["fit", "--config", str(cfg), "--out", str(tmp_path / "o"), "--max-lr", "0.1"])
    assert code == 2
    err = capsys.readouterr().err
    assert "--allow-imports" in err and "import path" in err
    assert not marker.exists()
    # the user's own file, explicitly trusted
    ok = tmp_path / "mine.toml"
    ok.write_text(f'model = "{user_module}:make_model"\ndataset = "{user_module}:load"\n'
                  "epochs = 1\n")
    out = tmp_path / "trusted"
    assert main(["fit", "--config", str(ok), "--allow-imports", "--out", str(out),
                 "--max-lr", "0.1", "-q"]) == 0
    assert (out / "history.json").exists()
