"""A full disk does not destroy the previous run's outputs (issue #20, bad inputs and
faults, item 2): every file a run writes is written atomically, and the error names the
file that could not be written."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest
import tomllib

from _tiny import tiny_toml
from onecycle.cli import main

TINY = tiny_toml()


def _snapshot(out: Path) -> dict[str, bytes]:
    """The run's artefacts (``steps/`` holds the finished steps of a run, for --resume)."""
    return {p.name: p.read_bytes() for p in sorted(out.iterdir()) if p.is_file()}


@pytest.mark.parametrize("fail_after", [0, 3, 6])
def test_a_full_disk_keeps_the_previous_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str],
                                            fail_after: int) -> None:
    cfg = tmp_path / "tiny.toml"
    cfg.write_text(TINY)
    out = tmp_path / "run"
    assert main(["run", "--config", str(cfg), "--out", str(out)]) == 0
    before = _snapshot(out)
    assert {"config.toml", "summary.json", "report.html", "finder.json",
            "weight_decay.json", "finder.png"} <= set(before)

    real_fsync = os.fsync
    calls = {"n": 0}

    def full_disk(fd: int) -> None:
        import stat

        if stat.S_ISREG(os.fstat(fd).st_mode):  # a file being written, not a directory
            calls["n"] += 1
            if calls["n"] > fail_after:
                raise OSError(errno.ENOSPC, "No space left on device")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", full_disk)
    assert main(["run", "--config", str(cfg), "--out", str(out), "--seed", "1"]) == 1
    monkeypatch.undo()
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert len(err) == 1 and "No space left on device" in err[0], err
    assert f"could not write {out}" in err[0]  # names the file
    after = _snapshot(out)
    assert set(after) == set(before)  # no temporaries left, nothing removed
    changed = [k for k in before if after[k] != before[k]]
    assert len(changed) <= fail_after  # the files after the failure are untouched
    tomllib.loads((out / "config.toml").read_text())  # old or new: a whole file
