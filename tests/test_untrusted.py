"""Untrusted files: onecycle never executes what it reads.

* checkpoints are read with ``torch.load(weights_only=True)``: a crafted pickle that would
  run code is refused with a clear error and the code never runs, whichever entry point
  reads it (``load_checkpoint``, ``Trainer.restore`` / ``Trainer.load``, ``resume=``);
* finder results and histories are JSON: a pickle, or JSON with wrong types, is refused;
* configurations are TOML (``tomllib``): a value that looks like Python is a string;
* every user-supplied string in the HTML report is escaped;
* a static scan of the package: no ``eval``/``exec``, no unrestricted unpickling, every
  ``torch.load`` passes ``weights_only=True``, every ``np.load`` ``allow_pickle=False``.
"""

from __future__ import annotations

import ast
import json
import math
import os
import pickle
import pickletools
import zipfile
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tomllib
import torch
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from torch.nn import functional as F

import onecycle
from onecycle.finder import LRFinderResult

train = pytest.importorskip("onecycle.train")
CheckpointError = train.CheckpointError
History = train.History
Trainer = train.Trainer
load_checkpoint = train.load_checkpoint
save_checkpoint = train.save_checkpoint

torch.set_num_threads(1)
SRC = Path(onecycle.__file__).resolve().parent


# ----------------------------------------------------------------------------- payloads


class _ShellPayload:
    """Unpickling this runs ``touch <marker>`` in a shell."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> Any:
        return (os.system, (f"touch {self.marker}",))


class _EvalPayload:
    """Unpickling this evaluates Python source that creates ``marker``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> Any:
        return (eval, (f"open({str(self.marker)!r}, 'w').close()",))


class _MkdirPayload:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> Any:
        return (os.mkdir, (str(self.marker),))


PAYLOADS = {"os.system": _ShellPayload, "eval": _EvalPayload, "os.mkdir": _MkdirPayload}


def _trainer(model: torch.nn.Module | None = None, **kw: Any) -> Any:
    torch.manual_seed(0)
    model = model or torch.nn.Linear(4, 3)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    data = [(torch.randn(8, 4), torch.randint(0, 3, (8,))) for _ in range(2)]
    return Trainer(model, F.cross_entropy, opt, data, progress=False, **kw)


def _write_evil(path: Path, payload: Any, how: str) -> None:
    """A checkpoint-looking file with ``payload`` hidden inside."""
    if how == "torch-zip":  # a real Trainer checkpoint with the payload deep inside
        state = _trainer().state_dict()
        state["optimizer"]["state"][0] = {"momentum_buffer": payload}
        torch.save(state, path)
    elif how == "legacy-pickle":  # torch's pre-1.6 format
        torch.save({"model": payload}, path, _use_new_zipfile_serialization=False)
    else:  # a plain pickle
        path.write_bytes(pickle.dumps({"format": "onecycle-trainer-checkpoint", "x": payload},
                                      protocol=2))


READERS = {
    "load_checkpoint": lambda p: load_checkpoint(p),
    "Trainer.restore": lambda p: _trainer().restore(p),
    "Trainer.load": lambda p: Trainer.load(p, torch.nn.Linear(4, 3), F.cross_entropy,
                                           torch.optim.SGD(torch.nn.Linear(4, 3).parameters(),
                                                           lr=0.1), [(1, 2)], progress=False),
    "fit(resume=path)": lambda p: _trainer().fit(1, lr=0.1, resume=p),
}


@pytest.mark.parametrize("how", ["torch-zip", "legacy-pickle", "plain-pickle"])
@pytest.mark.parametrize("payload", sorted(PAYLOADS))
@pytest.mark.parametrize("reader", sorted(READERS))
def test_crafted_checkpoint_is_refused_and_never_runs(
        tmp_path: Path, reader: str, payload: str, how: str) -> None:
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.pt"
    _write_evil(evil, PAYLOADS[payload](marker), how)
    with pytest.raises(CheckpointError, match=r"evil\.pt.*not a weights-only checkpoint"):
        READERS[reader](evil)
    assert not marker.exists()


def test_checkpoints_are_written_weights_only_loadable(tmp_path: Path) -> None:
    """What onecycle writes is exactly what ``weights_only=True`` reads back: no class
    of ours (History, schedules, callbacks) is pickled into a checkpoint."""
    t = _trainer(checkpoint_dir=tmp_path)
    t.fit_one_cycle(2, max_lr=0.1)
    raw = torch.load(tmp_path / "last.pt", weights_only=True)
    with zipfile.ZipFile(tmp_path / "last.pt") as z:
        pkl = next(n for n in z.namelist() if n.endswith("data.pkl"))
        body = z.read(pkl)
    globals_ = {arg for op, arg, _ in pickletools.genops(body) if op.name == "GLOBAL"}
    assert globals_ and all(g.split()[0] in ("torch", "torch._utils", "collections")
                            for g in globals_), globals_
    assert raw["fit"]["finished"] and raw["fit"]["scheduler"]["schedules"]


@pytest.mark.regression(reason="was a bug: load_checkpoint lets IndexError / struct.error "
                   "from torch's weights-only unpickler escape for some corrupt files")
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@example(data=b"this is not a checkpoint")
@example(data=b"\x80\x02]q\x00(K\x01e.")
@given(data=st.binary(max_size=300))
def test_garbage_bytes_give_a_checkpoint_error(tmp_path: Path, data: bytes) -> None:
    p = tmp_path / "garbage.pt"
    p.write_bytes(data)
    try:
        out = load_checkpoint(p)
    except CheckpointError:
        return
    assert isinstance(out, dict)


# ----------------------------------------------------------------------------- JSON files


def _good_result() -> dict[str, Any]:
    lrs = np.geomspace(1e-4, 1, 12)
    return LRFinderResult(lrs, np.linspace(2, 1, 12), np.linspace(2, 1, 12)).to_dict()


@pytest.mark.parametrize("payload", sorted(PAYLOADS))
@pytest.mark.parametrize("loader", ["LRFinderResult.load", "History.load"])
def test_json_readers_refuse_a_pickle(tmp_path: Path, loader: str, payload: str) -> None:
    marker = tmp_path / "pwned"
    p = tmp_path / "result.json"
    p.write_bytes(pickle.dumps({"lrs": PAYLOADS[payload](marker)}, protocol=2))
    load = LRFinderResult.load if loader == "LRFinderResult.load" else History.load
    with pytest.raises(ValueError):  # UnicodeDecodeError / JSONDecodeError are ValueErrors
        load(p)
    assert not marker.exists()


def bug(reason: str) -> pytest.MarkDecorator:
    """Marks a regression test for a bug this suite found (fixed since)."""
    return pytest.mark.regression(reason=f"was a bug: {reason}")


BUG_RESULT_SHAPE = bug("LRFinderResult.from_dict does not check the JSON's structure: a "
                       "list/str where a dict is expected raises AttributeError")
BUG_RESULT_TYPES = bug("LRFinderResult.from_dict coerces with bool()/keeps any value: "
                       "diverged='no' becomes True, stop_index='x' is kept")


@pytest.mark.parametrize("patch", [
    pytest.param({"lrs": "abc"}, id="lrs-string"),
    pytest.param({"lrs": 5}, id="lrs-number"),
    pytest.param({"losses": [1.0]}, id="losses-wrong-length"),
    pytest.param({"mode": "__import__('os').system('touch pwned')"}, id="mode-python-code"),
    pytest.param({"stop_reason": 3}, id="stop_reason-int"),
    pytest.param({"format": "pickle"}, id="format-foreign"),
    pytest.param({"version": 99}, id="version-newer"),
    pytest.param({"config": [1, 2]}, id="config-list", marks=BUG_RESULT_SHAPE),
    pytest.param({"runs": "x"}, id="runs-string", marks=BUG_RESULT_SHAPE),
    pytest.param({"band": 5}, id="band-number", marks=BUG_RESULT_SHAPE),
    pytest.param(None, id="top-level-list", marks=BUG_RESULT_SHAPE),
    pytest.param({"diverged": "no"}, id="diverged-string", marks=BUG_RESULT_TYPES),
    pytest.param({"stop_index": "x"}, id="stop_index-string", marks=BUG_RESULT_TYPES),
])
def test_finder_result_json_with_wrong_types_is_refused(tmp_path: Path, patch: Any) -> None:
    d: Any = [1, 2] if patch is None else {**_good_result(), **patch}
    p = tmp_path / "r.json"
    p.write_text(json.dumps(d))
    with pytest.raises((ValueError, TypeError)):
        LRFinderResult.load(p)
    assert not (tmp_path / "pwned").exists()


@pytest.mark.parametrize("patch", [
    pytest.param({"lr": "abc", "momentum": [None] * 3, "loss": [1.0] * 3}, id="lr-string"),
    pytest.param({"lr": [0.1], "momentum": [None], "loss": [1.0, 2.0]}, id="ragged"),
    pytest.param({"records": 5}, id="records-number"),
    pytest.param({"records": [1]}, id="records-of-ints"),
    pytest.param({"meta": [1]}, id="meta-list"),
    pytest.param({"format": "onecycle.lr_find"}, id="format-foreign"),
    pytest.param({"version": 7}, id="version-newer"),
])
def test_history_json_with_wrong_types_is_refused(tmp_path: Path, patch: Any) -> None:
    p = tmp_path / "h.json"
    p.write_text(json.dumps({**History().to_dict(), **patch}))
    with pytest.raises((ValueError, TypeError)):
        History.load(p)


@pytest.mark.regression(reason="was a bug: LRFinderResult.load / History.load errors do not "
                   "name the file (bare JSONDecodeError / UnicodeDecodeError / ValueError)")
@pytest.mark.parametrize("content", [b"\x80\x02}q\x00.", b'{"lrs": [1', b'{"lr": "abc", "lrs": "abc"}'])
def test_json_reader_errors_name_the_file(tmp_path: Path, content: bytes) -> None:
    p = tmp_path / "suspicious-file.json"
    p.write_bytes(content)
    for load in (LRFinderResult.load, History.load):
        with pytest.raises(ValueError, match="suspicious-file"):
            load(p)


# ----------------------------------------------------------------------------- configs

config = pytest.importorskip("onecycle.config")
cli = pytest.importorskip("onecycle.cli")

CODE = "__import__('os').system('touch {marker}')"


def test_a_config_value_that_looks_like_python_is_just_a_string(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    code = CODE.format(marker=marker)
    text = (f"name = {json.dumps(code)}\nmodel = {json.dumps(code)}\n"
            f"[model_options]\nhidden = {json.dumps(code)}\n")
    cfg = config.RunConfig.from_toml_text(text)
    assert cfg.name == code and cfg.model == code and cfg.model_options["hidden"] == code
    assert not marker.exists()
    (tmp_path / "c.toml").write_text(text)  # and the command refuses the model name
    assert cli.main(["find-lr", "--config", str(tmp_path / "c.toml"), "-q",
                     "--out", str(tmp_path / "out")]) == 1
    assert not marker.exists()


@pytest.mark.parametrize("kind", ["pickle", "python", "json-with-code"])
def test_config_files_are_parsed_as_toml_only(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str) -> None:
    marker = tmp_path / "pwned"
    p = tmp_path / "config.toml"
    if kind == "pickle":
        p.write_bytes(pickle.dumps(_ShellPayload(marker), protocol=2))
    elif kind == "python":
        p.write_text(f"import os\nos.system('touch {marker}')\n")
    else:
        p.write_text(json.dumps({"epochs": {"__reduce__": CODE.format(marker=marker)}}))
    assert cli.main(["run", "--config", str(p), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "config.toml" in err and "Traceback" not in err
    assert not marker.exists() and not (tmp_path / "out").exists()


def test_the_config_parser_is_tomllib() -> None:
    assert config._toml is tomllib


@settings(max_examples=60, deadline=None)
@given(st.text(), st.text(min_size=1).filter(str.strip), st.text(min_size=1).filter(str.strip))
def test_strings_cannot_inject_keys_into_a_saved_config(name: str, dataset: str,
                                                         model: str) -> None:
    """The resolved configuration is saved as TOML next to the results; no run name,
    dataset or model string can add or change a key in it (quotes, newlines, brackets,
    control characters are all escaped)."""
    cfg = config.RunConfig.from_dict({"name": name, "dataset": dataset, "model": model})
    text = cfg.to_toml()
    back = config.RunConfig.from_toml_text(text)
    assert back == cfg
    assert set(tomllib.loads(text)) <= {f.name for f in config.dataclasses.fields(cfg)}


# ----------------------------------------------------------------------------- HTML report

report = pytest.importorskip("onecycle.report")

XSS = [
    "<script>alert('name')</script>",
    '"><img src=x onerror=alert(1)>',
    "' onmouseover='alert(2)",
    "</title><svg onload=alert(3)>",
    "<iframe src=javascript:alert(4)></iframe>",
    "&lt;script&gt;already-escaped",
]


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def assert_inert(page: str, payloads: list[str]) -> None:
    """No script/iframe/svg/object tags, no event-handler attributes, images only as
    inline PNG data, no javascript: URLs; every payload shows up as text."""
    p = _Tags()
    p.feed(page)
    p.close()
    tags = {t for t, _ in p.tags}
    assert not tags & {"script", "iframe", "svg", "object", "embed", "link", "base", "form"}
    for tag, attrs in p.tags:
        for k, v in attrs:
            assert not k.startswith("on"), (tag, k, v)
            if k in ("href", "src", "action", "formaction", "xlink:href", "style"):
                assert "javascript:" not in (v or "").lower(), (tag, k, v)
        if tag == "img":
            assert dict(attrs)["src"].startswith("data:image/png;base64,")
    text = "".join(p.text)
    alts = " ".join(v or "" for _, attrs in p.tags for k, v in attrs if k in ("alt", "title"))
    for s in payloads:
        assert s in text or s in alts, s


def _summary(x: str) -> dict[str, Any]:
    return {
        "name": x, "created": x, "device": x, "command": x, "seed": x,
        "versions": {"onecycle": x, x: x},
        "dataset": {"name": x, "sizes": {x: x}, "input_shape": x, "num_classes": x},
        "model": {"name": x, "parameters": 10},
        "epochs": x, "batch_size": x, "steps_per_epoch": x, "total_wall_time": 1.0,
        "max_lr": {"value": 0.1, "low": 0.01, "high": 0.2, "confidence": 0.5,
                   "source": x, "method": x, "reason": x, "weight_decay": 1e-4},
        "finder": {"ran": True, "start_lr": 1e-5, "end_lr": 1.0, "num_iter": x,
                   "suggestion": {"lr": 0.1, "method": x}, "weight_decay": 0.0,
                   "iterations_run": x, "stop_reason": x, "wall_time": 1.0},
        "weight_decay": {"chosen": 1e-4, "rule": x, "reason": x,
                         "rows": [{"weight_decay": 1e-4, "selected": True, "accepted": True}]},
        "schedule": {"style": x, "max_lr": 0.1, "momentum": [0.95, 0.85]},
        "runs": {x: {"final": {"val_accuracy": 0.9}, "description": x, "wall_time": 2.0,
                     "lr": x},
                 "1cycle": {"final": {"val_accuracy": 0.9}, "description": x, "wall_time": 1.0},
                 "baseline": {"final": {"val_accuracy": 0.8}, "description": x,
                              "lr": x, "wall_time": 1.0}},
        "baseline_rule": x,
        "notes": [x, x],
    }


@pytest.mark.parametrize("x", XSS)
def test_every_user_string_in_the_report_is_escaped(tmp_path: Path, x: str) -> None:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(2, 1))
    fig.add_subplot().plot([0, 1])
    png = report.figure_png(fig)
    figures = {"finder": png, "schedule": png, "comparison": png, x: png}
    config_text = f'name = {json.dumps(x)}\nmodel = {json.dumps(x)}\n'
    path = report.write_report(tmp_path / "out", _summary(x), figures, config_text,
                               name=x, command=f"onecycle run --name {x}")
    page = path.read_text(encoding="utf-8")
    assert_inert(page, [x])
    assert page.count("<title>") == 1 and page.count("</title>") == 1
    # a figure key names a file: it stays inside the output directory
    assert {p.parent for p in (tmp_path / "out").iterdir()} == {tmp_path / "out"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    json.loads((tmp_path / "out" / "summary.json").read_text())  # strict JSON


def test_a_run_with_hostile_names_writes_an_inert_report(tmp_path: Path) -> None:
    """End to end: a dataset whose name is HTML (from a ``module:function`` spec) and a
    hostile run name go through ``onecycle.pipeline.run`` into report.html as text."""
    pipeline = pytest.importorskip("onecycle.pipeline")
    from _fault_worker import XSS as DS_NAME

    name = "<script>alert('run')</script>"
    cfg = config.RunConfig.from_dict({
        "dataset": "_fault_worker:xss_dataset", "model": "mlp", "name": name,
        "epochs": 1, "batch_size": 64, "quiet": True, "out": str(tmp_path / "run"),
        "model_options": {"hidden": [8]}, "schedule": {"max_lr": 0.1},
        "weight_decay": {"check": False}, "baseline": {"enabled": False},
    })
    res = pipeline.run(cfg)
    page = Path(res.report).read_text(encoding="utf-8")
    assert_inert(page, [name, DS_NAME])


# ----------------------------------------------------------------------------- static scan


def _calls(tree: ast.AST) -> list[tuple[ast.Call, str]]:
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            f = node.func
            if isinstance(f, ast.Name):
                out.append((node, f.id))
            elif isinstance(f, ast.Attribute):
                base = f.value.id if isinstance(f.value, ast.Name) else "?"
                out.append((node, f"{base}.{f.attr}"))
    return out


def _kw(call: ast.Call, name: str) -> Any:
    for k in call.keywords:
        if k.arg == name:
            return k.value.value if isinstance(k.value, ast.Constant) else "<dynamic>"
    return "<missing>"


FORBIDDEN = {"eval", "exec", "compile", "__import__", "pickle.load", "pickle.loads",
             "marshal.loads", "marshal.load", "shelve.open", "yaml.load", "dill.load",
             "dill.loads", "joblib.load", "os.system", "os.popen", "subprocess.run",
             "subprocess.Popen", "subprocess.call", "subprocess.check_output"}

# dynamic imports of user-named modules: the documented ``module:function`` specs
# for --dataset / --model (a configuration naming them is trusted like a script)
DYNAMIC_IMPORTS = {("_imports.py", "import_object")}


def _func_of(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> str:
    """Name of the function that contains ``node``."""
    while node in parents:
        node = parents[node]
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            return node.name
    return "<module>"


def _constant_loop_vars(tree: ast.AST) -> set[str]:
    """Names bound by ``for name in ("a", "b")`` over a tuple/list of string constants."""
    out = set()
    for node in ast.walk(tree):
        if (isinstance(node, ast.For) and isinstance(node.target, ast.Name)
                and isinstance(node.iter, ast.Tuple | ast.List)
                and all(isinstance(e, ast.Constant) and isinstance(e.value, str)
                        for e in node.iter.elts)):
            out.add(node.target.id)
    return out


def _fixed_module(arg: Any, loops: set[str]) -> bool:
    """A module name fixed by the source: a constant, a constant-tuple loop variable, or an
    f-string with a constant package prefix (``f"onecycle.{name}"``)."""
    if isinstance(arg, ast.Constant):
        return True
    if isinstance(arg, ast.Name) and arg.id in loops:
        return True
    return (isinstance(arg, ast.JoinedStr) and bool(arg.values)
            and isinstance(arg.values[0], ast.Constant)
            and str(arg.values[0].value).split(".")[0] in ("onecycle", "numpy"))


def test_static_scan_no_code_execution_from_data() -> None:
    problems: list[str] = []
    dynamic: set[tuple[str, str]] = set()
    for path in sorted(SRC.rglob("*.py")):
        rel = str(path.relative_to(SRC))
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=rel)
        parents = {c: p for p in ast.walk(tree) for c in ast.iter_child_nodes(p)}
        loops = _constant_loop_vars(tree)

        for call, name in _calls(tree):
            where = f"{rel}:{call.lineno}"
            if name in FORBIDDEN:
                problems.append(f"{where}: {name}()")
            if name == "torch.load" and _kw(call, "weights_only") is not True:
                problems.append(f"{where}: torch.load without weights_only=True")
            if name in ("np.load", "numpy.load") and _kw(call, "allow_pickle") is not False:
                problems.append(f"{where}: np.load without allow_pickle=False")
            if name == "importlib.import_module":
                arg = call.args[0] if call.args else None
                if not _fixed_module(arg, loops):
                    dynamic.add((rel, _func_of(call, parents)))
        for node in ast.walk(tree):  # restricted unpicklers must restrict
            if isinstance(node, ast.ClassDef) and any(
                    isinstance(b, ast.Attribute) and b.attr == "Unpickler" for b in node.bases):
                if not any(isinstance(n, ast.FunctionDef) and n.name == "find_class"
                           for n in node.body):
                    problems.append(f"{rel}:{node.lineno}: Unpickler without find_class")
    assert problems == []
    lazy = {d for d in dynamic if d[1] == "__getattr__"}  # lazy imports of our own names
    assert dynamic - lazy == DYNAMIC_IMPORTS


def test_npz_datasets_refuse_pickled_object_arrays(tmp_path: Path) -> None:
    data = pytest.importorskip("onecycle.data")
    marker = tmp_path / "pwned"
    obj = np.empty(2, dtype=object)
    obj[0] = _ShellPayload(marker)
    obj[1] = 1
    p = tmp_path / "evil.npz"
    np.savez(p, x=obj, y=np.array([0, 1]))
    with pytest.raises(ValueError, match="allow_pickle"):
        data.load(p)
    assert not marker.exists()


def test_repr_of_math_nan_is_not_a_json_escape_hatch(tmp_path: Path) -> None:
    """Saved results and histories are strict JSON (NaN/Infinity never written as bare
    tokens), so any JSON parser can read them."""
    lrs = np.geomspace(1e-4, 1, 5)
    r = LRFinderResult(lrs, np.array([1.0, math.nan, math.inf, -math.inf, 2.0]),
                       np.ones(5))
    p = r.save(tmp_path / "r.json")
    h = History()
    h.add_iteration(0.1, None, math.nan)
    hp = h.save(tmp_path / "h.json")
    for f in (p, hp):
        json.loads(f.read_text(),
                   parse_constant=lambda c, f=f: pytest.fail(f"bare {c} in {f}"))
    back = LRFinderResult.load(p).losses
    assert np.array_equal(back, r.losses, equal_nan=True)

