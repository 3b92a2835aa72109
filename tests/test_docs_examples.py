"""The numbers the docs quote from `onecycle run` cannot go stale silently.

`scripts/docs_examples.py` runs every dataset's default `onecycle run`, records the
settings and results in docs/examples/runs.json and writes docs/cli.md's table from it.
These tests fail when the table was edited by hand, or when a dataset's defaults in the
code no longer are the ones the recorded run used (rerun the script then).
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "docs_examples.py"
RUNS = ROOT / "docs" / "examples" / "runs.json"


def _script():
    spec = importlib.util.spec_from_file_location("docs_examples", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(mod)
    return mod


def _runs() -> dict:
    if not RUNS.exists():
        pytest.fail(f"{RUNS} is missing: run .venv/bin/python scripts/docs_examples.py")
    return json.loads(RUNS.read_text())


def test_the_cli_doc_table_is_the_recorded_runs() -> None:
    mod = _script()
    text = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    block = text[text.index(mod.BEGIN) + len(mod.BEGIN):text.index(mod.END)].strip()
    assert block == mod.render(_runs()), "docs/cli.md's table differs from runs.json: rerun the script"


def test_the_recorded_runs_used_todays_defaults() -> None:
    mod = _script()
    runs = _runs()
    assert set(runs) == set(mod.DATASETS)
    for name, r in runs.items():
        assert r["defaults"] == json.loads(json.dumps(mod.defaults_of(name))), (
            f"the defaults of --dataset {name} changed since docs/examples/runs.json was "
            "recorded: rerun scripts/docs_examples.py")
