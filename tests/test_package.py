"""Package-level checks: public names resolve, docstring examples run, ruff is clean."""

from __future__ import annotations

import doctest
import importlib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import onecycle

ROOT = Path(__file__).resolve().parents[1]

CONTRACT = [
    "OneCycleSchedule", "OneCycle", "ParamScheduler", "lr_find", "LRFinderResult",
    "Trainer", "History", "plot_schedule", "plot_finder",
]


@pytest.mark.parametrize("name", CONTRACT)
def test_contract_names_resolve(name):
    assert getattr(onecycle, name) is not None


def test_unknown_attribute_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute"):
        onecycle.does_not_exist  # noqa: B018


def _modules() -> list[str]:
    import pkgutil

    return ["onecycle"] + [m.name for m in pkgutil.walk_packages(onecycle.__path__, "onecycle.")]


@pytest.mark.parametrize("module", _modules())
def test_docstring_examples_run(module, tmp_path, monkeypatch):
    """Every docstring example in the package runs and shows what it says."""
    monkeypatch.chdir(tmp_path)  # examples that save files write here
    mod = importlib.import_module(module)
    result = doctest.testmod(mod, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0


def test_public_functions_have_docstring_examples():
    """The package's public modules show at least one example each."""
    total = 0
    for module in _modules():
        mod = importlib.import_module(module)
        finder = doctest.DocTestFinder()
        total += sum(len(t.examples) for t in finder.find(mod))
    assert total > 300


def test_ruff_is_clean():
    ruff = shutil.which("ruff") or str(Path(sys.executable).parent / "ruff")
    if not Path(ruff).exists():
        pytest.skip("ruff not installed")
    proc = subprocess.run(
        [ruff, "check", "src", "tests", "benchmarks"], cwd=ROOT, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
