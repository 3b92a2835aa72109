"""The GPU-side scripts run their CPU smoke modes: they are ready for a machine with a GPU
and the CIFAR-10 archive even though neither exists here."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from onecycle.data import load


# random pixels at the paper's peak LR of 3 may blow up; the divergence guard says so
@pytest.mark.filterwarnings("ignore:smoothed loss")
def test_cifar_resnet56_quick_runs_both_schedules(tmp_path: Path) -> None:
    from benchmarks import cifar_resnet56

    out = tmp_path / "r.json"
    assert cifar_resnet56.main(["--quick", "--out", str(out)]) == 0
    d = json.loads(out.read_text())
    assert [r["schedule"] for r in d["runs"]] == ["1cycle", "step"]
    assert [r["iterations"] for r in d["runs"]] == [8, 16]  # the paper's 1 : 8
    assert all(0 <= r["test_accuracy"] <= 1 for r in d["runs"]) and d["device"] == "cpu"


def test_cifar_resnet56_tiny_archive_is_the_real_format(tmp_path: Path) -> None:
    from benchmarks.cifar_resnet56 import write_tiny_archive

    b = load(f"cifar10:{write_tiny_archive(tmp_path, per_batch=4)}", verify=False,
             val_fraction=0.25)
    assert b.input_shape == (3, 32, 32) and len(b.test) == 4
    with pytest.raises(ValueError, match="md5"):  # random pixels are not the real archive
        load(f"cifar10:{tmp_path / 'cifar-10-python.tar.gz'}")


def test_cifar_resnet56_refuses_a_bad_scale() -> None:
    from benchmarks import cifar_resnet56

    with pytest.raises(SystemExit):
        cifar_resnet56.main(["--quick", "--scale", "0"])
