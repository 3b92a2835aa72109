"""The README's Python example runs as printed, and its other snippets are valid Python."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"


def _blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)


def test_the_python_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    first = _blocks()[0]
    scope: dict = {}
    exec(compile(first, "README.md", "exec"), scope)  # noqa: S102 - our own README
    for png in ("finder.png", "history.png", "schedule.png"):
        assert (tmp_path / png).stat().st_size > 1000
    history, s = scope["history"], scope["s"]
    assert len(history) == scope["epochs"]
    assert history[-1]["val_accuracy"] > 0.5  # the digits CNN learns at the suggested LR
    assert s.lr > 0


def test_every_snippet_is_python() -> None:
    blocks = _blocks()
    assert len(blocks) >= 3
    for b in blocks:
        compile(b, "README.md", "exec")


def test_ci_runs_the_readmes_test_command() -> None:
    commands = re.findall(r"```bash\n(.*?)\n```", README.read_text(encoding="utf-8"), re.S)
    ci = (README.parent / ".ci" / "run").read_text(encoding="utf-8")
    lines = [ln for ln in ci.splitlines() if ln.strip() and not ln.startswith(("#", "set "))]
    assert lines[-1].strip() == commands[1].strip()
    assert "onecycle run" in commands[0]
