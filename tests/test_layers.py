"""The package's architecture: imports run one way through the layers, no circle, light imports, public API."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ncutils.core.paths import PACKAGE_DIR, REPO_DIR
from ncutils.core.versioning import imports_of

# lowest first: a module may import from its own layer and the layers below it, never above
LAYERS = (
    ("ncutils", "ncutils.core"),
    ("ncutils.nc", "ncutils.kernels", "ncutils.data", "ncutils.models"),
    ("ncutils.paper_a", "ncutils.paper_b"),
    ("ncutils.runs",),
    ("ncutils.book",),
)
INDEPENDENT = (("ncutils.paper_a", "ncutils.paper_b"),)  # neither imports the other
SUBPACKAGES = ("core", "nc", "kernels", "data", "paper_a", "paper_b", "runs", "book")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE_DIR.rglob("*.py"))}


def group(name: str) -> str:
    """The layer entry a module belongs to (its subpackage, or the root package)."""
    return next(g for layer in LAYERS for g in sorted(layer, key=len, reverse=True)
                if name == g or (g != "ncutils" and name.startswith(g + ".")) or (g == "ncutils" and name == g))


def layer(name: str) -> int:
    return next(i for i, entries in enumerate(LAYERS) if group(name) in entries)


def edges() -> dict[str, set[str]]:
    return {m: set(imports_of(p, m)) - {m} for m, p in MODULES.items()}


def test_every_module_belongs_to_a_layer() -> None:
    for m in MODULES:
        assert group(m), m


def test_imports_run_down_the_layers_only() -> None:
    upward = [f"{m} (layer {layer(m)}) imports {i} (layer {layer(i)})"
              for m, imported in edges().items() for i in imported if layer(i) > layer(m)]
    assert not upward, "\n".join(upward)
    for a, b in INDEPENDENT:
        crossing = [f"{m} imports {i}" for m, imported in edges().items() for i in imported
                    if {group(m), group(i)} == {a, b}]
        assert not crossing, "\n".join(crossing)


def test_no_import_circle() -> None:
    graph, index, low, stack, on_stack, circles = edges(), {}, {}, [], set(), []

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    assert not circles, circles


def test_the_layer_rule_catches_an_upward_import(tmp_path) -> None:
    source = tmp_path / "bad.py"
    source.write_text("def f():\n    from ncutils.book import start\n")
    imported = imports_of(source, "ncutils.nc.bad")
    assert "ncutils.book" in imported and layer("ncutils.book") > layer("ncutils.nc.bad")


def _run(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()


def test_importing_every_subpackage_is_light_and_fast() -> None:
    t0 = time.perf_counter()
    out = _run(f"import sys, ncutils; [__import__('ncutils.' + p) for p in {SUBPACKAGES!r}]; "
               "print(sorted(m for m in ('tensorflow', 'torch', 'jax', 'distributed') if m in sys.modules))")
    assert out == "[]"
    assert time.perf_counter() - t0 < 5.0


def test_neural_tangents_without_tensorflow() -> None:
    out = _run("import sys; from ncutils.kernels import import_neural_tangents; nt = import_neural_tangents(); "
               "print('tensorflow' in sys.modules, hasattr(nt, 'empirical_ntk_fn'))")
    assert out == "False True"


@pytest.mark.parametrize("name", SUBPACKAGES)
def test_every_subpackage_exports_names_that_exist(name: str) -> None:
    package = importlib.import_module(f"ncutils.{name}")
    assert package.__all__, f"ncutils.{name} has no __all__"
    for public in package.__all__:
        assert hasattr(package, public), f"ncutils.{name}.__all__ names {public}, which it does not have"


def _imports_from_ncutils(path: Path):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("ncutils"):
            yield node.module, [a.name for a in node.names]
        elif isinstance(node, ast.Import):
            yield from ((a.name, []) for a in node.names if a.name.startswith("ncutils"))


@pytest.mark.parametrize("path", sorted([*(REPO_DIR / "chapters").glob("*.py"), *(REPO_DIR / "bench").glob("*.py")]),
                         ids=lambda p: p.name)
def test_chapters_and_benchmarks_import_public_names_only(path: Path) -> None:
    for module, names in _imports_from_ncutils(path):
        assert not any(part.startswith("_") for part in module.split(".")), f"{path.name}: private module {module}"
        imported = importlib.import_module(module)
        for n in names:
            assert not n.startswith("_"), f"{path.name}: private name {module}.{n}"
            exported = getattr(imported, "__all__", None)
            is_module = importlib.util.find_spec(f"{module}.{n}") is not None if hasattr(imported, "__path__") else False
            assert is_module or exported is None or n in exported, f"{path.name}: {module}.{n} is not in its __all__"
