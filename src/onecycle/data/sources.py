"""The named dataset sources, and :func:`load` / :func:`resolve` that turn a name into data.

:data:`SOURCES` is the one table of named datasets: how each is loaded, its task, the
model that suits it, and how to install it. ``"name:PATH"`` reads the named format
from ``PATH`` for the sources that read files (``"text:notes.txt"``,
``"cifar10:/data/cifar-10-python.tar.gz"``).

The rule for strings (:func:`resolve`): a registered name (or ``name:PATH`` of a source
that reads files) is a dataset; otherwise a string that reads ``package.module:function``
is an import spec (even when a file of that name exists: write ``./name`` for the
file), which goes through :func:`onecycle._imports.import_object` and so obeys
``allow_imports``; anything else is a path.

Example:
    >>> SOURCES["text"].default_model, SOURCES["diabetes"].task
    ('char_transformer', 'regression')
    >>> load("diabetes").num_classes
    1
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import _validate as check
from .._imports import import_object, is_import_spec
from .arrays import from_arrays
from .bundle import DatasetBundle
from .cifar import load_cifar10
from .idx import is_idx_dir, load_idx_dir
from .images import load_image_folder, load_npz
from .mnist import FASHION_MNIST_INSTALL, MNIST_INSTALL, load_fashion_mnist, load_mnist
from .mnist1d import MNIST1D_INSTALL, load_mnist1d
from .sklearn_sets import load_diabetes, load_digits
from .text import FORTUNES_INSTALL, load_text

__all__ = [
    "DATASET_NAMES",
    "SOURCES",
    "Source",
    "default_model",
    "find_source",
    "load",
    "load_path",
    "register_source",
    "resolve",
]


@dataclass(frozen=True)
class Source:
    """A named dataset: its loader, task, default model and install step.

    ``load(**kw)`` builds the bundle (``load(path, **kw)`` when ``reads_path``: the
    ``PATH`` of ``"name:PATH"``, or ``None`` for the bare name); ``kw`` are
    ``val_fraction``, ``seed``, ``flatten`` and any of ``options``. ``install`` is the
    command that makes it available (``""``: nothing to install beyond onecycle).

    Example:
        >>> SOURCES["mnist1d"].input_shape, SOURCES["mnist1d"].install
        ('(1, 40)', 'pip install mnist1d')
    """

    name: str
    load: Callable[..., DatasetBundle]
    task: str
    default_model: str
    input_shape: str
    install: str
    description: str
    aliases: tuple[str, ...] = ()
    reads_path: bool = False
    options: tuple[str, ...] = ()


#: The named datasets, by canonical name (a data table, kept in one place).
SOURCES: dict[str, Source] = {
    s.name: s
    for s in (
        Source("digits", load_digits, "classification", "small_cnn", "(1, 8, 8)", "",
               "scikit-learn's 1797 8x8 digits (the offline default)", ("sklearn-digits",)),
        Source("mnist", load_mnist, "classification", "lenet", "(1, 28, 28)", MNIST_INSTALL,
               "MNIST, 60k/10k"),
        Source("fashion-mnist", load_fashion_mnist, "classification", "small_cnn",
               "(1, 28, 28)", FASHION_MNIST_INSTALL, "Fashion-MNIST, 60k/10k",
               ("fashion_mnist", "fashionmnist", "fmnist")),
        Source("mnist1d", load_mnist1d, "classification", "cnn1d", "(1, 40)", MNIST1D_INSTALL,
               "MNIST-1D, 4000/1000 signals generated offline", ("mnist-1d", "mnist_1d")),
        Source("text", load_text, "language_model", "char_transformer", "(seq_len,)",
               FORTUNES_INSTALL, "character-level text; default corpus: Debian's fortunes",
               reads_path=True, options=("seq_len",)),
        Source("diabetes", load_diabetes, "regression", "mlp", "(10,)", "",
               "scikit-learn's diabetes regression (442 patients, 10 features)"),
        Source("cifar10", load_cifar10, "classification", "resnet20", "(3, 32, 32)",
               "download_cifar10() where there is internet", "CIFAR-10 from its archive",
               ("cifar-10", "cifar_10"), reads_path=True, options=("verify",)),
    )
}

#: Canonical names accepted by :func:`load` (aliases are normalised to these).
DATASET_NAMES: tuple[str, ...] = tuple(SOURCES)


def register_source(source: Source) -> None:
    """Add (or replace) a named source; its name and aliases then work in :func:`load`.

    Example:
        >>> import dataclasses
        >>> register_source(dataclasses.replace(SOURCES["digits"], name="my-digits",
        ...                                     aliases=()))
        >>> load("my-digits").name
        'digits'
        >>> del SOURCES["my-digits"]
    """
    if not isinstance(source, Source):
        raise TypeError(f"source must be a Source, got {type(source).__name__}")
    SOURCES[source.name.strip().lower()] = source


def _key(name: str) -> str:
    return name.strip().lower()


def find_source(spec: Any) -> tuple[Source, str | None] | None:
    """The source a string names, and the ``PATH`` of ``"name:PATH"`` (or None).

    Example:
        >>> src, path = find_source("Text:notes.txt")
        >>> src.name, path
        ('text', 'notes.txt')
        >>> find_source("./data.npz") is None
        True
    """
    if not isinstance(spec, str):
        return None
    key = _key(spec)
    for source in SOURCES.values():
        if key == source.name or key in source.aliases:
            return source, None
    prefix, sep, rest = spec.strip().partition(":")
    if sep and rest:
        for source in SOURCES.values():
            if source.reads_path and _key(prefix) in (source.name, *source.aliases):
                return source, rest
    return None


def default_model(name: str) -> str:
    """The registered model that suits the named dataset (``"small_cnn"`` for others).

    Example:
        >>> default_model("mnist1d"), default_model("text:/tmp/x.txt"), default_model("x.npz")
        ('cnn1d', 'char_transformer', 'small_cnn')
    """
    found = find_source(name)
    return found[0].default_model if found else "small_cnn"


def _options(source: Source, options: Mapping[str, Any]) -> None:
    unknown = sorted(set(options) - set(source.options))
    if unknown:
        allowed = ", ".join(source.options) or "none"
        raise TypeError(f"dataset {source.name!r} takes no option {unknown[0]!r} "
                        f"(its options: {allowed})")


def load_path(path: Path, **kw: Any) -> DatasetBundle:
    """A dataset on disk: a ``.npz`` file, a directory of IDX files or an image folder.

    Example:
        >>> import tempfile, pathlib
        >>> load_path(pathlib.Path(tempfile.mkdtemp()) / "notes.txt")
        Traceback (most recent call last):
        ...
        FileNotFoundError: name_or_path='.../notes.txt': no such file or directory (known names: 'digits', 'mnist', 'fashion-mnist', 'mnist1d', 'text', 'diabetes', 'cifar10')
    """
    if path.is_file():
        if path.suffix.lower() == ".npz":
            return load_npz(path, **kw)
        raise ValueError(
            f"name_or_path={str(path)!r}: unsupported file type {path.suffix!r} "
            "(use a .npz file, a directory of IDX files or an image folder; 'text:PATH' "
            "for a text file, 'cifar10:PATH' for a CIFAR-10 archive)"
        )
    if path.is_dir():
        if is_idx_dir(path):
            return load_idx_dir(path, name=path.name or "idx", **kw)
        return load_image_folder(path, **kw)
    raise FileNotFoundError(
        f"name_or_path={str(path)!r}: no such file or directory (known names: "
        f"{', '.join(repr(n) for n in DATASET_NAMES)})"
    )


def load(
    name_or_path: str | os.PathLike[str],
    *,
    val_fraction: float = 0.1,
    seed: int = 0,
    flatten: bool = False,
    **options: Any,
) -> DatasetBundle:
    """Load a named dataset or a dataset on disk as a :class:`DatasetBundle`.

    ``name_or_path`` is one of :data:`DATASET_NAMES` (or an alias, any case),
    ``"text:PATH"`` / ``"cifar10:PATH"``, or a path: a ``.npz`` file, a directory of
    IDX files or an image folder. The validation split is a ``val_fraction`` of the
    training split drawn with ``seed`` (stratified for classes); the test split never
    depends on ``seed``. ``flatten=True`` gives ``(N, prod(input_shape))`` inputs for
    MLPs. ``options`` go to the source (``seq_len=`` for text, ``verify=`` for
    CIFAR-10). Nothing is ever imported: see :func:`resolve` for import specs.

    Raises :class:`DatasetUnavailable` (a ``FileNotFoundError``) when a named
    dataset's source is not installed, with the command that installs it, and
    ``ValueError`` for an unknown name.

    Example:
        >>> b = load("digits", val_fraction=0.2, seed=3, flatten=True)
        >>> b.input_shape, len(b.val)
        ((64,), 288)
    """
    kw = {
        "val_fraction": check.in_range("val_fraction", val_fraction, 0.0, 1.0, high_open=True),
        "seed": check.seed("seed", seed),
        "flatten": check.flag("flatten", flatten),
    }
    found = find_source(name_or_path)
    if found is not None:
        source, path = found
        _options(source, options)
        return source.load(path, **kw, **options) if source.reads_path else source.load(
            **kw, **options)
    if options:
        raise TypeError(f"name_or_path={str(name_or_path)!r} is a path: it takes no options, "
                        f"got {sorted(options)}")
    if not isinstance(name_or_path, str | os.PathLike):
        raise TypeError(f"name_or_path must be a dataset name or a path, got "
                        f"{type(name_or_path).__name__}")
    path = Path(name_or_path).expanduser()
    if not path.exists() and isinstance(name_or_path, str) and not any(
            s in name_or_path for s in "/\\.~"):
        raise ValueError(
            f"name_or_path={name_or_path!r} is not a known dataset; allowed names: "
            f"{', '.join(repr(n) for n in DATASET_NAMES)} (or a path to a .npz file, "
            "a directory of IDX files or an image folder)"
        )
    return load_path(path, **kw)


def resolve(
    spec: str | os.PathLike[str] | DatasetBundle | Callable[[], Any],
    *,
    val_fraction: float = 0.1,
    seed: int = 0,
    flatten: bool = False,
    allow_imports: bool = True,
    **options: Any,
) -> DatasetBundle:
    """Turn a dataset specification into a :class:`DatasetBundle`.

    ``spec`` may be a bundle (returned as is, flattened if asked), a name or path (as
    for :func:`load`), a ``"package.module:function"`` import path, or a callable.
    The function is called without arguments and must return a ``DatasetBundle``,
    ``(x, y)`` arrays, ``(x_train, y_train, x_test, y_test)`` arrays, or a mapping
    with those keys (a scikit-learn ``Bunch`` too). ``options`` go to a named source
    (``seq_len=`` for text; see :func:`load`).

    A registered name wins over everything; then a string that reads as an import path
    is one, even when a file of that name exists (write ``./name`` for the file). It
    goes through :func:`onecycle._imports.import_object`, so ``allow_imports=False`` (a
    spec read from a config file without ``--allow-imports``) refuses it before
    anything is imported.

    Example:
        >>> resolve("digits").name
        'digits'
        >>> resolve("sklearn.datasets:load_iris").num_classes
        3
        >>> resolve("sklearn.datasets:load_iris", allow_imports=False)
        Traceback (most recent call last):
        ...
        ValueError: dataset 'sklearn.datasets:load_iris' is an import path, and importing it runs code; it is refused here: pass --allow-imports (or give it on the command line, or pass allow_imports=True from Python)
    """
    kw = {"val_fraction": val_fraction, "seed": seed, "flatten": flatten}
    if options and find_source(spec) is None:
        raise TypeError(f"dataset options {sorted(options)} apply to named sources only "
                        f"(e.g. 'text'), not to {spec!r}")
    if isinstance(spec, DatasetBundle):
        return spec.flattened() if flatten else spec
    if callable(spec) and not isinstance(spec, str | os.PathLike):
        return from_returned(spec(), getattr(spec, "__name__", "custom"), **kw)
    if find_source(spec) is None and is_import_spec(spec):
        func = import_object(str(spec), "dataset", allowed=allow_imports)
        label = str(spec).strip()
        if not callable(func):
            raise ValueError(f"dataset {label!r} is not callable (it is called without "
                             "arguments and returns arrays or a DatasetBundle)")
        return from_returned(func(), label.rsplit(":", 1)[-1].rsplit(".", 1)[-1], **kw)
    return load(spec, **kw, **options)


def from_returned(obj: Any, name: str, **kw: Any) -> DatasetBundle:
    """A bundle from what a dataset function returned (see :func:`resolve`).

    Example:
        >>> import numpy as np
        >>> from_returned((np.zeros((10, 2)), np.arange(10) % 2), "toy").name
        'toy'
    """
    if isinstance(obj, DatasetBundle):
        return obj.flattened() if kw.get("flatten") else obj
    if isinstance(obj, Mapping):
        keys = set(obj)
        if {"x_train", "y_train"} <= keys:
            return from_arrays(obj["x_train"], obj["y_train"], x_test=obj.get("x_test"),
                               y_test=obj.get("y_test"), name=name, **kw)
        if {"x", "y"} <= keys:
            return from_arrays(obj["x"], obj["y"], name=name, **kw)
        if {"data", "target"} <= keys:  # scikit-learn Bunch
            return from_arrays(obj["data"], obj["target"], name=name, **kw)
    if isinstance(obj, tuple | list):
        if len(obj) == 2:
            return from_arrays(obj[0], obj[1], name=name, **kw)
        if len(obj) == 4:
            return from_arrays(obj[0], obj[1], x_test=obj[2], y_test=obj[3], name=name, **kw)
    raise TypeError(
        f"dataset function {name!r} returned {type(obj).__name__}; expected a DatasetBundle, "
        "(x, y), (x_train, y_train, x_test, y_test) or a mapping with those keys"
    )
