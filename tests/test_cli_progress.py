"""Progress when the output is not a terminal (issue #20 item 7): a log shows a few plain
progress lines for every long step; ``--quiet`` silences them and everything else."""

from __future__ import annotations

from pathlib import Path

import pytest

from _tiny import tiny_toml
from onecycle.cli import main
from onecycle.progress import Progress

TINY = tiny_toml(epochs=2, quiet=False)


@pytest.fixture
def tiny(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    # the tiny run is faster than the 2 s under which no line is printed: lower it
    monkeypatch.setitem(Progress.__init__.__kwdefaults__, "quiet_s", 0.0)
    monkeypatch.delenv("CI", raising=False)
    p = tmp_path / "tiny.toml"
    p.write_text(TINY)
    return p


def test_a_log_gets_bounded_progress_lines(tiny: Path, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--config", str(tiny), "--out", str(tmp_path / "o")]) == 0
    captured = capsys.readouterr()
    lines = [ln for ln in captured.err.splitlines() if ln.strip()]
    assert "\r" not in captured.err  # lines, not a terminal bar
    descs = {ln.split(":")[0] for ln in lines}
    assert {"lr_find", "weight_decay search", "fit_one_cycle", "fit"} <= descs
    assert any("%" in ln for ln in lines)  # how far, as a share of the work
    # bounded: at most one line per tenth of each piece of work (+ its last)
    for desc in descs:
        assert sum(ln.startswith(desc + ":") for ln in lines) <= 4 * 11, desc
    assert "[3/5] 1cycle" in captured.out  # the step lines stay on stdout


def test_quiet_prints_nothing(tiny: Path, tmp_path: Path,
                              capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--config", str(tiny), "--out", str(tmp_path / "o"), "-q"]) == 0
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


@pytest.mark.regression(reason="was a bug: a fit's progress line showed the loss and LR "
                                "of the last tenth step, not of the step it named")
def test_a_fits_progress_line_shows_the_step_it_names(monkeypatch: pytest.MonkeyPatch) -> None:
    """A line printed now and then carries that step's loss and LR, not those of the last
    tenth step (the final line of a 16-step fit showed step 10's values)."""
    import io

    import torch

    from onecycle import Trainer
    from onecycle.train.callbacks import ProgressBar

    monkeypatch.setitem(Progress.__init__.__kwdefaults__, "quiet_s", 0.0)
    torch.manual_seed(0)
    x = torch.randn(64, 3)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5]])
    model = torch.nn.Linear(3, 1)
    out = io.StringIO()
    trainer = Trainer(model, torch.nn.functional.mse_loss,
                      torch.optim.SGD(model.parameters(), lr=0.1), [(x[i:i + 4], y[i:i + 4])
                                                                     for i in range(0, 64, 4)],
                      callbacks=[ProgressBar(progress="lines", file=out)], progress=False)
    history = trainer.fit_one_cycle(1, max_lr=0.01)
    last = [ln for ln in out.getvalue().splitlines() if ln.startswith("fit_one_cycle: 16/16")]
    assert last, out.getvalue()
    assert f"lr {history.lr[-1]:.4g}" in last[-1]
