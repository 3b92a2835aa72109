"""The folder layout is the architecture: imports only point down the layers.

Every ``onecycle`` module belongs to one layer (below); a module may import modules of its
own layer or lower ones -- at module level or inside a function alike, so even a lazy
import cannot form a cycle. ``onecycle/__init__.py`` (the lazy public namespace) is the
one exception. docs/architecture.md draws the same table.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src" / "onecycle"

#: (layer, module prefixes); a module's layer is that of its longest matching prefix
LAYERS: list[tuple[int, tuple[str, ...]]] = [
    (0, ("_validate", "_plain", "_format", "_io", "_imports", "_rng", "_threads",
         "progress")),
    (1, ("schedule", "finder.suggest", "finder.choose", "finder.grid", "finder.budget",
         "adaptive_clip", "overfitting")),
    (2, ("hyper", "step", "plots")),
    (3, ("scheduler", "finder", "data", "models")),
    (4, ("train",)),
    (5, ("tasks", "search", "integrations")),
    (6, ("config", "report", "compare")),
    (7, ("pipeline",)),
    (8, ("cli", "__main__")),
]


def layer_of(module: str) -> int:
    best, best_len = None, -1
    for layer, prefixes in LAYERS:
        for p in prefixes:
            if (module == p or module.startswith(p + ".")) and len(p) > best_len:
                best, best_len = layer, len(p)
    assert best is not None, f"onecycle.{module} is in no layer: add it to LAYERS"
    return best


def _modules() -> dict[str, Path]:
    out = {}
    for path in SRC.rglob("*.py"):
        rel = path.relative_to(SRC).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if parts:
            out[".".join(parts)] = path
    return out


def _imports(module: str, path: Path) -> list[tuple[str, int]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".") if package else []
                base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
                target = ".".join(base + ([node.module] if node.module else []))
                names = [target] if node.module else [
                    ".".join(base + [a.name]) for a in node.names]
            elif node.module and node.module.startswith("onecycle."):
                names = [node.module[len("onecycle."):]]
            else:
                continue
            found += [(n, node.lineno) for n in names if n]
        elif isinstance(node, ast.Import):
            found += [(a.name[len("onecycle."):], node.lineno) for a in node.names
                      if a.name.startswith("onecycle.")]
    return found


def test_every_module_has_a_layer() -> None:
    for module in _modules():
        layer_of(module)


def test_imports_point_down_the_layers() -> None:
    mods = _modules()
    bad = []
    for module, path in mods.items():
        mine = layer_of(module)
        for target, line in _imports(module, path):
            if target.split(".")[0] not in {m.split(".")[0] for m in mods}:
                continue  # a name imported from a package's namespace, not a module
            theirs = layer_of(target)
            if theirs > mine:
                bad.append(f"onecycle.{module} (layer {mine}) imports onecycle.{target} "
                           f"(layer {theirs}) at {path.relative_to(SRC)}:{line}")
    assert not bad, "imports that point up the layers:\n" + "\n".join(sorted(bad))
