"""The HTML report: self-contained, escaped, parseable; summary.json and PNGs."""

from __future__ import annotations

import html
import json
import math
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
import tomllib
from matplotlib.figure import Figure

from onecycle.config import RunConfig
from onecycle.report import fmt_num, fmt_pct, fmt_seconds, json_safe, render_report, write_report

EVIL = "<script>alert('pwned')</script>"


class _Page(HTMLParser):
    """Collects tags, attributes and text; complains about unbalanced markup."""

    VOID = {"meta", "img", "br", "link", "input", "hr"}

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str, str | None]] = []
        self.text: list[str] = []
        self.stack: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs += [(tag, k, v) for k, v in attrs]
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.stack and self.stack[-1] == tag, f"unbalanced </{tag}> in {self.stack}"
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _fig(title: str = "") -> Figure:
    fig = Figure(figsize=(3, 2))
    ax = fig.add_subplot()
    ax.plot([0, 1, 2], [2, 1, 1.5])
    ax.set_title(title)
    return fig


def _summary() -> dict:
    return {
        "name": EVIL,
        "created": "2024-01-01T00:00:00",
        "versions": {"onecycle": "0.1.0", "torch": "2.x", "python": "3.11"},
        "device": "cpu",
        "seed": 0,
        "command": f"onecycle run --name '{EVIL}'",
        "dataset": {"name": "<i>digits</i>", "sizes": {"train": 10, "val": 2, "test": 3},
                    "input_shape": [1, 8, 8], "num_classes": 10},
        "model": {"name": "evil:<img src=x onerror=alert(1)>", "parameters": 1234},
        "epochs": 3, "batch_size": 64, "steps_per_epoch": 21, "total_wall_time": 12.5,
        "max_lr": {"value": 0.05, "low": 0.01, "high": 0.08, "confidence": 0.9,
                   "source": "finder", "method": "auto", "reason": "because <b>",
                   "weight_decay": 1e-3},
        "finder": {"ran": True, "start_lr": 1e-5, "end_lr": 10, "num_iter": 100,
                   "iterations_run": 90, "stop_reason": "diverged", "weight_decay": 1e-4,
                   "suggestion": {"lr": 0.04, "low": 0.01, "high": 0.07, "method": "auto",
                                  "confidence": 0.95, "reason": "r & d"},
                   "wall_time": 1.5},
        "weight_decay": {"chosen": 1e-3, "checked": True, "rule": "rule <x>", "reason": "why",
                         "rows": [{"weight_decay": 1e-2, "min_loss": 0.5, "lr_at_min": 0.1,
                                   "suggested_lr": 0.03, "accepted": False, "selected": False},
                                  {"weight_decay": 1e-3, "min_loss": 0.4, "lr_at_min": 0.1,
                                   "suggested_lr": 0.04, "accepted": True, "selected": True}]},
        "schedule": {"style": "smith", "max_lr": 0.05, "div": 10, "final_div": 1000,
                     "pct_start": 0.45, "annihilate": 0.1, "momentum": [0.95, 0.85],
                     "total_steps": 63},
        "runs": {
            "1cycle": {"final": {"train_loss": 0.1, "val_loss": 0.2, "val_accuracy": 0.97,
                                 "test_loss": 0.15, "test_accuracy": 0.98},
                       "best": {"val_accuracy": 0.975}, "wall_time": 3.0, "lr": 0.05,
                       "description": "1cycle <desc>"},
            "baseline": {"final": {"train_loss": 0.2, "val_loss": float("nan"),
                                   "val_accuracy": 0.95, "test_loss": 0.25,
                                   "test_accuracy": 0.96},
                         "best": {"val_accuracy": 0.955}, "wall_time": 2.5, "lr": 0.005,
                         "description": "constant"},
        },
        "baseline_rule": "LR at minimum / 10",
        "notes": [f"note {EVIL}"],
    }


@pytest.fixture
def written(tmp_path: Path) -> Path:
    figures = {"finder": _fig("finder"), "weight_decay": _fig("wd"), "schedule": _fig("s"),
               "comparison": _fig("c"), "extra <fig>": _fig("x")}
    cfg = RunConfig.from_dict({"name": EVIL, "epochs": 3})
    return write_report(tmp_path / "rep", _summary(), figures, cfg)


def test_files_written(written: Path) -> None:
    out = written.parent
    assert written.name == "report.html"
    for f in ("finder.png", "weight_decay.png", "schedule.png", "comparison.png",
              "extra__fig_.png", "summary.json"):
        assert (out / f).is_file(), f
        if f.endswith(".png"):
            assert (out / f).read_bytes()[:4] == b"\x89PNG"


def test_summary_json(written: Path) -> None:
    s = json.loads((written.parent / "summary.json").read_text())  # strict JSON (no NaN)
    assert s["runs"]["baseline"]["final"]["val_loss"] is None
    assert s["runs"]["1cycle"]["final"]["val_accuracy"] == 0.97
    assert s["max_lr"]["value"] == 0.05 and s["epochs"] == 3
    assert {"report.html", "summary.json", "finder.png", "comparison.png"} <= set(s["files"])


def test_user_strings_escaped(written: Path) -> None:
    page = written.read_text()
    assert "<script" not in page.lower()
    assert "onerror=alert" not in page.replace("onerror=alert(1)&gt;", "")
    assert html.escape(EVIL) in page  # title, header, command, notes, TOML
    assert "&lt;i&gt;digits&lt;/i&gt;" in page
    assert "1cycle &lt;desc&gt;" in page and "rule &lt;x&gt;" in page
    assert "extra &lt;fig&gt;" in page
    p = _Page()
    p.feed(page)
    p.close()
    assert "script" not in p.tags and "i" not in p.tags
    text = "".join(p.text)
    assert EVIL in text  # visible, as text
    # every img is an embedded PNG whose alt text is escaped
    srcs = [v for t, k, v in p.attrs if t == "img" and k == "src"]
    assert len(srcs) == 5 and all(v.startswith("data:image/png;base64,") for v in srcs)


def test_self_contained(written: Path) -> None:
    page = written.read_text()
    assert "http://" not in page and "https://" not in page
    assert not re.search(r"""(src|href)\s*=\s*["'](?!data:|#)""", page)
    assert "@import" not in page and "url(" not in page
    p = _Page()
    p.feed(page)
    p.close()
    assert not p.stack, f"unclosed tags: {p.stack}"
    assert {"html", "head", "style", "body", "table", "figure"} <= set(p.tags)
    assert "link" not in p.tags


def test_sections_and_numbers(written: Path) -> None:
    page = written.read_text()
    for heading in ("LR range test", "Weight-decay check", "The 1cycle schedule",
                    "Training: 1cycle vs baseline", "Final numbers", "Reproduce this run"):
        assert heading in page, heading
    assert "97.00 %" in page and "95.00 %" in page and "+2.0 pts" in page
    assert "0.05" in page and "range 0.01 – 0.08" in page and "confidence 0.90" in page
    assert 'class="chosen"' in page


def test_config_shown_as_toml(written: Path) -> None:
    page = written.read_text()
    blocks = re.findall(r"<pre>(.*?)</pre>", page, flags=re.S)
    toml_text = html.unescape(blocks[-1])
    cfg = RunConfig.from_toml_text(toml_text)
    assert cfg.name == EVIL and cfg.epochs == 3
    assert html.unescape(blocks[0]) == f"onecycle run --name '{EVIL}'"


def test_minimal_summary(tmp_path: Path) -> None:
    p = write_report(tmp_path, {}, {}, {"epochs": 1, "finder": {"num_iter": 10}})
    page = p.read_text()
    assert "Reproduce this run" in page and "[finder]" in page
    assert "Weight-decay check" not in page
    parser = _Page()
    parser.feed(page)
    parser.close()
    assert not parser.stack


def test_render_accepts_png_bytes_and_text_config(tmp_path: Path) -> None:
    buf = tmp_path / "x.png"
    _fig().savefig(buf, format="png")
    p = write_report(tmp_path / "o", {"name": "n"}, {"comparison": buf.read_bytes()},
                     "epochs = 1\n", name="given & name")
    page = p.read_text()
    assert "given &amp; name" in page and "epochs = 1" in page
    assert (tmp_path / "o" / "comparison.png").read_bytes() == buf.read_bytes()


def test_render_report_string() -> None:
    page = render_report({"runs": {"1cycle": {"final": {"val_accuracy": 0.5}}}}, {}, "")
    assert page.startswith("<!DOCTYPE html>") and "50.00 %" in page


def test_helpers() -> None:
    assert fmt_num(None) == "—" and fmt_num(float("inf")) == "—" and fmt_num(0.5) == "0.5"
    assert fmt_pct(1) == "100.0 %" and fmt_pct("x") == "—"
    assert fmt_seconds(59.94) == "59.9 s" and fmt_seconds(3600) == "60 min 00 s"
    import numpy as np

    safe = json_safe({"a": np.float32(1.5), "b": [math.inf, np.int64(2)], "c": Path("p")})
    assert safe == {"a": 1.5, "b": [None, 2], "c": "p"}
    json.dumps(safe, allow_nan=False)


def test_toml_in_summary_config_round_trip(tmp_path: Path) -> None:
    cfg = RunConfig.from_dict({"epochs": 2, "schedule": {"max_lr": 0.1}})
    p = write_report(tmp_path, {}, {}, cfg.to_dict())
    blocks = re.findall(r"<pre>(.*?)</pre>", p.read_text(), flags=re.S)
    data = tomllib.loads(html.unescape(blocks[-1]))
    assert RunConfig.from_dict(data) == cfg
