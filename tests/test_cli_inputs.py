"""Bad inputs on the command line and in config files (issue #20, "Bad inputs and
faults", CLI/config side): each is a one-line error with the right exit status, and
nothing from a config file is imported without ``--allow-imports``."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from _tiny import tiny_toml
from onecycle.cli import main

TINY = tiny_toml(weight_decay="grid = [1e-3, 0.0]\nvalue = 1e-3")


def _err(capsys: pytest.CaptureFixture[str]) -> list[str]:
    return [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]


def _one_error_line(lines: list[str]) -> str:
    assert "Traceback" not in "\n".join(lines), lines
    errors = [ln for ln in lines if ln.startswith("onecycle") and "error" in ln]
    assert len(errors) == 1, lines
    return errors[0]


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    p = tmp_path / "tiny.toml"
    p.write_text(TINY, encoding="utf-8")
    return p


# ----------------------------------------------------------------------------- usage (2)


def test_a_seed_too_large_for_torch_is_a_usage_error_naming_the_flag(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--seed", "99999999999999999999999", "--out", str(tmp_path)]) == 2
    line = _one_error_line(_err(capsys))
    assert "--seed" in line and "9223372036854775807" in line


def test_a_seed_too_large_in_a_config_file_is_refused(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text("seed = 99999999999999999999\n")
    assert main(["fit", "--config", str(cfg), "--out", str(tmp_path / "o")]) == 2
    assert "'seed'" in _one_error_line(_err(capsys))


@pytest.mark.parametrize("key", ["input_shape", "num_classes"])
def test_model_options_may_not_set_what_the_data_sets(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], key: str) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'model = "mlp"\n[model_options]\n{key} = [1, 8, 8]\n')
    assert main(["fit", "--config", str(cfg), "--max-lr", "0.1",
                 "--out", str(tmp_path / "o")]) == 2
    line = _one_error_line(_err(capsys))
    assert f"model_options.{key}" in line and "multiple values" not in line
    assert not (tmp_path / "o").exists()


def test_plot_schedule_refuses_a_rising_momentum_as_the_config_does(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["plot-schedule", "--momentum", "0.85", "0.95"]) == 2
    assert "low <= high" in _one_error_line(_err(capsys))
    cfg = tmp_path / "c.toml"
    cfg.write_text("[schedule]\nmomentum = [0.85, 0.95]\n")
    assert main(["run", "--config", str(cfg), "--out", str(tmp_path / "o")]) == 2
    assert "low <= high" in _one_error_line(_err(capsys))


def test_a_toml_file_nested_too_deep_is_a_one_line_error(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "deep.toml"
    cfg.write_text("a = " + "[" * 100000 + "]" * 100000 + "\n")
    assert main(["run", "--config", str(cfg), "--out", str(tmp_path / "o")]) == 2
    line = _one_error_line(_err(capsys))
    assert str(cfg) in line and "nested too deeply" in line


# ----------------------------------------------------------------------------- runtime (1)


def test_a_learning_rate_the_dtype_cannot_hold_is_a_one_line_error(
        tiny: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fit", "--config", str(tiny), "--max-lr", "1e300",
                 "--out", str(tmp_path / "o")]) == 1
    assert "max_lr" in _one_error_line(_err(capsys))


def test_a_weight_decay_the_dtype_cannot_hold_is_refused_before_the_search(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text('model = "mlp"\nepochs = 1\nbatch_size = 128\nquiet = true\n'
                   "[finder]\nnum_iter = 20\n[weight_decay]\ngrid = [1e300, 0.0]\n")
    assert main(["search", "wd", "--config", str(cfg), "--out", str(tmp_path / "o")]) == 1
    line = _one_error_line(_err(capsys))
    assert "weight_decay=1e+300" in line and "dtype" in line


def test_fit_exits_1_with_the_advice_when_the_guard_stopped_a_diverged_fit(
        tiny: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "o"
    assert main(["fit", "--config", str(tiny), "--max-lr", "1e30", "--out", str(out)]) == 1
    line = _one_error_line(_err(capsys))
    assert "diverged" in line and "try max_lr <=" in line
    assert (out / "history.json").is_file()  # what was trained is kept


# ----------------------------------------------------------------------------- imports

EVIL = textwrap.dedent("""
    import pathlib
    pathlib.Path({marker!r}).write_text("imported")

    def f(input_shape, num_classes):
        raise AssertionError("called")
""")


@pytest.fixture
def evil(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, Path]:
    name = "oc_evil_cli_mod"
    marker = tmp_path / "imported"
    (tmp_path / f"{name}.py").write_text(EVIL.format(marker=str(marker)))
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop(name, None)
    return name, marker


@pytest.mark.parametrize("key", ["model", "dataset"])
def test_a_spec_with_a_leading_space_is_still_refused(
        evil: tuple[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str],
        key: str) -> None:
    name, marker = evil
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'{key} = " {name}:f"\nepochs = 1\n')
    assert main(["fit", "--config", str(cfg), "--max-lr", "0.1",
                 "--out", str(tmp_path / "o")]) == 2
    line = _one_error_line(_err(capsys))
    assert "--allow-imports" in line and "import path" in line
    assert not marker.exists()


def test_a_spec_that_is_also_a_file_name_is_refused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "os:getcwd").write_text("not data")
    cfg = tmp_path / "c.toml"
    cfg.write_text('model = "os:getcwd"\nepochs = 1\n')
    assert main(["fit", "--config", str(cfg), "--max-lr", "0.1", "--out", "o"]) == 2
    assert "--allow-imports" in _one_error_line(_err(capsys))


def test_the_run_itself_refuses_imports_it_was_not_allowed(evil: tuple[str, Path]) -> None:
    """Defence in depth: pipeline.prepare passes allow_imports to the resolvers."""
    from onecycle.config import RunConfig
    from onecycle.pipeline import prepare

    name, marker = evil
    cfg = RunConfig.from_dict({"model": f" {name}:f"})
    with pytest.raises(ValueError, match="import path"):
        prepare(cfg, allow_imports={"dataset"})
    assert not marker.exists()


def test_a_flag_given_spec_is_allowed_while_the_file_one_is_not(
        evil: tuple[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    name, marker = evil
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'dataset = "{name}:f"\n')
    # --model on the command line is trusted; the file's dataset spec is not
    assert main(["fit", "--config", str(cfg), "--model", "mlp", "--max-lr", "0.1",
                 "--out", str(tmp_path / "o")]) == 2
    assert "dataset" in _one_error_line(_err(capsys)) and not marker.exists()


# ----------------------------------------------------------------------------- help text


def test_help_says_what_the_commands_do(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fit", "--help"]) == 0
    text = capsys.readouterr().out
    assert "skips the weight-decay check" not in text and "No weight-decay search" in text
    assert main(["search", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "(default: True)" not in text and "--no-confirm" in text


def test_the_docs_do_not_promise_searches_that_are_missing() -> None:
    doc = (Path(__file__).resolve().parents[1] / "docs" / "cli.md").read_text()
    assert "not available yet" not in doc
