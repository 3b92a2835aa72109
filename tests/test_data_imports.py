"""The one place that imports user code: onecycle._imports and the resolvers using it.

Security regression tests (issue #20 item 1): a config file could import and run code
without --allow-imports, because the check looked at the raw string while the resolver
stripped whitespace first, and because the check was skipped when a file with the spec's
name existed.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from onecycle import _imports, data, models
from onecycle._imports import import_object, is_import_spec

EVIL = """
from pathlib import Path
Path({marker!r}).write_text("ran")

def f(*args, **kwargs):
    raise AssertionError("the factory ran")
"""


@pytest.fixture
def evil(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, Path]:
    """A module that leaves a marker file when it is imported; cwd is its folder."""
    name = f"evilmod_{tmp_path.name.replace('-', '_')}"
    marker = tmp_path / "imported"
    (tmp_path / f"{name}.py").write_text(EVIL.format(marker=str(marker)))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    yield name, marker
    sys.modules.pop(name, None)


def _refused(call, marker: Path, name: str) -> str:
    with pytest.raises(ValueError) as info:
        call()
    assert not marker.exists(), "the module was imported"
    assert name not in sys.modules
    return str(info.value)


@pytest.mark.regression
@pytest.mark.parametrize("spacing", ["{}", " {}", "{} ", "\t{}\n", "\u2003{}"])
def test_whitespace_does_not_bypass_the_check(evil, spacing):
    name, marker = evil
    spec = spacing.format(f"{name}:f")
    msg = _refused(lambda: models.resolve(spec, (4,), 2, allow_imports=False), marker, name)
    assert "model" in msg and f"{name}:f" in msg and "--allow-imports" in msg
    msg = _refused(lambda: data.resolve(spec, allow_imports=False), marker, name)
    assert "dataset" in msg and "--allow-imports" in msg


@pytest.mark.regression
def test_a_file_named_like_the_spec_does_not_bypass_the_check(evil):
    name, marker = evil
    spec = f"{name}:f"
    Path(spec).write_text("not a dataset")  # a file called exactly like the spec
    _refused(lambda: data.resolve(spec, allow_imports=False), marker, name)
    _refused(lambda: models.resolve(spec, (4,), 2, allow_imports=False), marker, name)


def test_dot_slash_makes_it_a_path(evil):
    name, marker = evil
    Path(f"{name}:f").write_text("not a dataset")
    with pytest.raises(ValueError, match="unsupported file type"):
        data.resolve(f"./{name}:f", allow_imports=False)
    assert not marker.exists()


def test_allowed_imports_run_the_factory(evil):
    name, marker = evil
    with pytest.raises(AssertionError, match="the factory ran"):
        models.resolve(f" {name}:f ", (4,), 2, allow_imports=True)
    assert marker.read_text() == "ran"


def test_import_errors_name_the_argument():
    with pytest.raises(ValueError, match=r"model 'no_such_mod_x:f': cannot import module"):
        import_object("no_such_mod_x:f", "model", allowed=True)
    with pytest.raises(ValueError, match=r"dataset 'math:nope': module 'math' has no attribute"):
        import_object("math:nope", "dataset", allowed=True)
    with pytest.raises(ValueError, match="is not an import path"):
        import_object("mlp", "model", allowed=True)
    with pytest.raises(TypeError, match="model must be"):
        import_object(3, "model", allowed=True)  # type: ignore[arg-type]


def test_resolvers_accept_names_callables_and_specs():
    assert models.resolve("mlp", (1, 8, 8), 10, hidden=(8,))[1].out_features == 8
    assert models.resolve(models.mlp, (4,), 3, allow_imports=False)[-1].out_features == 3
    m = models.resolve("onecycle.models:mlp", (4,), 3, hidden=(5,))
    assert m[1].out_features == 5
    assert data.resolve("digits", allow_imports=False).name == "digits"
    bundle = data.resolve("sklearn.datasets:load_iris")
    assert bundle.num_classes == 3 and bundle.name == "load_iris"


def test_model_resolver_errors():
    with pytest.raises(ValueError, match="is not callable"):
        models.resolve("math:pi", (4,), 2)
    with pytest.raises(TypeError, match="returned int"):
        models.resolve(lambda shape, k: 3, (4,), 2)
    with pytest.raises(TypeError, match="bad model_options"):
        models.resolve("mlp", (4,), 2, nonsense=1)
    with pytest.raises(ValueError, match="not a known model"):
        models.resolve("no-such-net", (4,), 2)
    with pytest.raises(TypeError, match="model must be a model name"):
        models.resolve(3, (4,), 2)  # type: ignore[arg-type]


def test_data_resolver_refuses_non_callables():
    with pytest.raises(ValueError, match="is not callable"):
        data.resolve("math:pi")


@pytest.mark.parametrize(
    "text, expected",
    [
        ("a.b:c", True), ("a:b.c", True), ("_x:_y", True), (" a:b ", True),
        ("a", False), ("./a:b", False), ("/a:b", False), ("~/a:b", False), ("a:b:c", False),
        ("a.:b", False), ("a:", False), (":b", False), ("1a:b", False), ("a b:c", False),
        ("text:corpus.txt", True), ("", False), (None, False), (b"a:b", False),
    ],
)
def test_is_import_spec(text, expected):
    assert is_import_spec(text) is expected


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_nothing_is_imported_without_permission(text):
    """Whatever the string, allowed=False imports nothing: a refusal or 'not a spec'."""
    before = set(sys.modules)
    with pytest.raises(ValueError):
        import_object(text, "model", allowed=False)
    assert set(sys.modules) == before


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40), st.sampled_from(["", " ", "\n", "\t "]))
def test_the_check_sees_what_is_imported(text, pad):
    """Padding never changes whether a string is an import spec, nor its normal form."""
    assert is_import_spec(pad + text + pad) == is_import_spec(text.strip())
    assert _imports.normalize_spec(pad + text + pad) == text.strip()
