"""The one place that turns a ``"package.module:attr"`` string into an object.

Importing a module runs its code, so a string that names one is code, not data: a
config file that says ``model = "evilmod:f"`` would run ``evilmod.py`` on load. Every
resolver that accepts such strings (:func:`onecycle.data.resolve`,
:func:`onecycle.models.resolve`) calls :func:`import_object`, which

1. normalises the string once (surrounding whitespace removed), so what is checked is
   exactly what is imported;
2. refuses with a ``ValueError`` naming the argument, the spec and the fix when
   ``allowed`` is False (a spec from a config file without ``--allow-imports``);
3. only then imports the module and walks the attribute path.

The rule for strings that could be both an import spec and a path: a string that
:func:`is_import_spec` accepts is an import spec, even when a file of that name
exists. ``"os:getcwd"`` therefore never opens a file called ``os:getcwd``; write
``"./os:getcwd"`` for that file (a leading ``./`` is never an import spec).

Example:
    >>> is_import_spec(" os.path:join "), is_import_spec("./os:getcwd")
    (True, False)
    >>> import_object("os.path:join", "model", allowed=True).__name__
    'join'
    >>> import_object("os:getcwd", "model", allowed=False)
    Traceback (most recent call last):
    ...
    ValueError: model 'os:getcwd' is an import path, and importing it runs code; it is refused here: pass --allow-imports (or give it on the command line, or pass allow_imports=True from Python)
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

__all__ = ["import_object", "is_import_spec", "normalize_spec", "lazy_attributes"]

# module path (dotted identifiers) ':' attribute path (dotted identifiers)
_SPEC = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*(\.[A-Za-z_]\w*)*")


def normalize_spec(text: str) -> str:
    """The form of ``text`` that is checked and imported: surrounding whitespace removed.

    >>> normalize_spec("  evilmod:f\\n")
    'evilmod:f'
    """
    return text.strip()


def is_import_spec(text: Any) -> bool:
    """Whether ``text`` (after :func:`normalize_spec`) reads ``package.module:attr``.

    Non-strings are never import specs; neither is anything starting with ``.``, ``/``
    or ``~`` (a path), or with more than one ``:``.

    >>> is_import_spec("evilmod:f"), is_import_spec("mlp"), is_import_spec("C:/data")
    (True, False, False)
    """
    return isinstance(text, str) and _SPEC.fullmatch(normalize_spec(text)) is not None


def import_object(spec: str, what: str, *, allowed: bool) -> Any:
    """Import ``package.module`` and return its attribute ``attr`` (dotted paths allowed).

    ``what`` names the argument in messages (``"model"``, ``"dataset"``). Raises
    ``ValueError`` when ``spec`` is not an import spec, when ``allowed`` is False
    (before anything is imported), or when the module or attribute is missing.

    >>> import_object(" math:pi ", "value", allowed=True)
    3.141592653589793
    >>> import_object("math:tau.real", "value", allowed=True)
    6.283185307179586
    """
    if not isinstance(spec, str):
        raise TypeError(f"{what} must be a 'package.module:attr' string, got {spec!r}")
    text = normalize_spec(spec)
    if _SPEC.fullmatch(text) is None:
        raise ValueError(
            f"{what} {spec!r} is not an import path; allowed: 'package.module:attr' "
            "(dotted identifiers on both sides of one ':')"
        )
    if not allowed:
        raise ValueError(
            f"{what} {text!r} is an import path, and importing it runs code; it is refused "
            "here: pass --allow-imports (or give it on the command line, or pass "
            "allow_imports=True from Python)"
        )
    module_name, attr = text.split(":", 1)
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as err:
        raise ValueError(f"{what} {text!r}: cannot import module {module_name!r} ({err})") from None
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ValueError(f"{what} {text!r}: module {module_name!r} has no attribute {attr!r}")
        obj = getattr(obj, part)
    return obj


def lazy_attributes(
    package: str,
    exports: Mapping[str, str],
    namespace: dict[str, Any],
    submodules: Iterable[str] = (),
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """A package's module-level ``__getattr__`` and ``__dir__`` for names imported on
    first use, so importing the package stays cheap (no torch, no matplotlib).

    ``exports`` maps a public name to the module that defines it; ``submodules`` are
    subpackages reachable as attributes. A name is imported once and then cached in
    ``namespace`` (the package's ``globals()``); any other name is the usual
    ``AttributeError``. These names come from the package's own table, never from data.

    >>> ns = {}
    >>> getattr_, dir_ = lazy_attributes("pkg", {"join": "os.path"}, ns)
    >>> getattr_("join").__name__, "join" in ns, dir_()
    ('join', True, ['join'])
    >>> getattr_("nope")
    Traceback (most recent call last):
    ...
    AttributeError: module 'pkg' has no attribute 'nope'
    """
    subs = frozenset(submodules)

    def __getattr__(name: str) -> Any:
        if name in exports:
            value = getattr(importlib.import_module(exports[name]), name)
        elif name in subs:
            value = importlib.import_module(f"{package}.{name}")
        else:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(exports) | subs)

    return __getattr__, __dir__
