"""An interrupted ``onecycle run`` / ``fit`` continues with ``--resume`` (issue #20 item 5):
finished steps are read back, not run again, and the result is the uninterrupted one."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from _tiny import tiny_toml
from onecycle.cli import main

TINY = tiny_toml(epochs=2)

# ``onecycle run`` that stops for good once its range test is saved: the weight-decay
# step announces itself and hangs, and the test kills the process there
HANG_AFTER_RANGE_TEST = textwrap.dedent("""
    import sys, time
    import onecycle.search as search

    def hang(*args, **kwargs):
        open(sys.argv[1], "w").close()
        time.sleep(600)

    search.weight_decay_step = hang
    from onecycle.cli import main
    sys.exit(main(sys.argv[2:]))
""")

_VOLATILE = {"created", "total_wall_time", "wall_time", "command", "threads"}


def _numbers(d: Any) -> Any:
    """A summary without what differs between two runs of the same work (times)."""
    if isinstance(d, dict):
        return {k: _numbers(v) for k, v in d.items() if k not in _VOLATILE}
    if isinstance(d, list):
        return [_numbers(v) for v in d]
    return d


def _env() -> dict[str, str]:
    src = str(Path(__file__).resolve().parents[1] / "src")
    env = dict(os.environ, OMP_NUM_THREADS="1")
    env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    return env


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    p = tmp_path / "tiny.toml"
    p.write_text(TINY)
    return p


def test_a_run_killed_after_its_range_test_resumes_without_redoing_it(
        tiny: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ref = tmp_path / "ref"
    assert main(["run", "--config", str(tiny), "--out", str(ref)]) == 0

    out, flag = tmp_path / "killed", tmp_path / "in-weight-decay"
    script = tmp_path / "hang.py"
    script.write_text(HANG_AFTER_RANGE_TEST)
    proc = subprocess.Popen([sys.executable, str(script), str(flag), "run", "--config",
                             str(tiny), "--out", str(out)], env=_env())
    try:
        deadline = time.monotonic() + 120
        while not flag.exists():
            assert proc.poll() is None, "the run ended before its weight-decay step"
            assert time.monotonic() < deadline, "the range test did not finish in time"
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    saved = out / "steps" / "range_test.json"
    assert saved.is_file() and not (out / "summary.json").exists()
    stamp = saved.stat().st_mtime_ns

    import onecycle.search as search

    def no_second_range_test(*a: Any, **k: Any) -> None:
        raise AssertionError("the finished range test ran again")

    monkeypatch.setattr(search, "range_test", no_second_range_test)
    assert main(["run", "--config", str(tiny), "--out", str(out), "--resume"]) == 0
    assert saved.stat().st_mtime_ns == stamp
    got = json.loads((out / "summary.json").read_text())
    want = json.loads((ref / "summary.json").read_text())
    assert _numbers(got) == _numbers(want)


def test_fit_resumes_a_training_from_its_checkpoint(
        tiny: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from onecycle.search.steps import Problem
    from onecycle.train import Callback

    ref, out = tmp_path / "ref", tmp_path / "fit"
    argv = ["fit", "--config", str(tiny), "--epochs", "3", "--max-lr", "0.3"]
    assert main([*argv, "--out", str(ref)]) == 0

    class Interrupt(Callback):
        def on_epoch_start(self, trainer: Any, epoch: int) -> None:
            if epoch == 2:  # the checkpoint of epochs 0-1 is on disk by now
                raise KeyboardInterrupt

    real = Problem.trainer
    monkeypatch.setattr(Problem, "trainer", lambda self, model, opt, **kw: real(
        self, model, opt, callbacks=[Interrupt()], **kw))
    assert main([*argv, "--out", str(out)]) == 130
    assert (out / "steps" / "1cycle" / "last.pt").is_file()
    monkeypatch.setattr(Problem, "trainer", real)
    assert main([*argv, "--out", str(out), "--resume"]) == 0
    a = json.loads((ref / "history.json").read_text())
    b = json.loads((out / "history.json").read_text())
    assert a["loss"] == b["loss"] and len(b["records"]) == 3
    assert [r["val_loss"] for r in a["records"]] == [r["val_loss"] for r in b["records"]]


def test_resume_refuses_other_settings(tiny: Path, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "r"
    assert main(["fit", "--config", str(tiny), "--max-lr", "0.3", "--out", str(out)]) == 0
    assert main(["fit", "--config", str(tiny), "--max-lr", "0.2", "--out", str(out),
                 "--resume"]) == 1
    err = capsys.readouterr().err
    assert "cannot resume" in err and "schedule" in err
