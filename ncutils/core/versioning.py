"""Content hashes: keys of configurations, and the code version of what a computation imports.

Caches (executed chapters, the result store) are keyed by these, so a change of a configuration
or of the code a result depends on never serves a stale result, and a change elsewhere does not
throw results away. The code a computation depends on is the *import closure* of its module
inside ``ncutils``: every ``ncutils`` module it imports, at any depth, found statically in the
sources (imports inside functions included), with the packages that hold them. A package that is
only the parent of an imported module counts by its own code, not by the modules it re-exports
(``import ncutils.paper_b.two_layer_training`` does not depend on ``ncutils.paper_b.adaptive_kernel``;
``from ncutils.paper_b import solve_adaptive_kernel`` does): the book's ``__init__`` files only
re-export. A module counts by its code, not its text: docstrings, comments and layout do not change
its hash.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import json
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

from ncutils.core.paths import PACKAGE_DIR, REPO_DIR

ROOT_PACKAGE = "ncutils"


def hash_files(paths: Iterable[Path], root: Path = REPO_DIR) -> str:
    """SHA-256 over the relative names and bytes of ``paths`` (sorted)."""
    h = hashlib.sha256()
    for p in sorted(Path(p).resolve() for p in paths):
        h.update(str(p.relative_to(root) if p.is_relative_to(root) else p).encode())
        h.update(b"\0")
        h.update(p.read_bytes())
        h.update(b"\0")
    return h.hexdigest()


def config_hash(config: dict[str, Any]) -> str:
    """Short, order-independent hash of a JSON-serialisable configuration."""
    text = json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


# ----------------------------------------------------------------- import closures
def module_path(name: str) -> Path | None:
    """The source of module ``name`` of ``ncutils`` (a package: its ``__init__.py``), or None."""
    parts = name.split(".")
    if parts[0] != ROOT_PACKAGE:
        return None
    base = PACKAGE_DIR.joinpath(*parts[1:])
    for candidate in (base / "__init__.py", base.with_suffix(".py")):
        if candidate.is_file():
            return candidate
    return None


def _package_of(name: str, path: Path) -> str:
    return name if path.name == "__init__.py" else name.rpartition(".")[0]


def imports_of(path: Path, name: str | None = None) -> frozenset[str]:
    """Names of the ``ncutils`` modules that the source at ``path`` (module ``name``) imports anywhere."""
    return _imports_of(path, name, path.stat().st_mtime_ns)


@cache
def _imports_of(path: Path, name: str | None, mtime_ns: int) -> frozenset[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    package = _package_of(name, path) if name else ""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            candidates = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            submodules = [f"{base}.{alias.name}" for alias in node.names]
            # the package itself is a target only when a name comes from its namespace, not a submodule
            named = any(module_path(m) is None for m in submodules)
            candidates = ([base] if named else []) + submodules
        else:
            continue
        found.update(c for c in candidates if module_path(c) is not None)
    return frozenset(found)


def _with_parents(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts) + 1)]


def import_closure(modules: Iterable[str]) -> set[str]:
    """``modules`` and every ``ncutils`` module they import, transitively, with the packages that hold
    them (a package reached only as a parent is included without the modules it imports)."""
    todo = [m for m in modules if module_path(m) is not None]
    expanded: set[str] = set()
    while todo:
        name = todo.pop()
        if name in expanded:
            continue
        expanded.add(name)
        todo.extend(m for m in imports_of(module_path(name), name) if m not in expanded)
    return {p for m in expanded for p in _with_parents(m) if module_path(p) is not None}


def _strip_docstrings(tree: ast.AST) -> ast.AST:
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                    and isinstance(body[0].value.value, str):
                node.body = body[1:]
    return tree


@cache
def _code_fingerprint(path: Path, mtime_ns: int) -> str:
    tree = _strip_docstrings(ast.parse(path.read_text(), filename=str(path)))
    return hashlib.sha256(ast.dump(tree).encode()).hexdigest()


def code_fingerprint(path: Path) -> str:
    """SHA-256 of a module's code: its syntax tree without docstrings (comments and layout never count)."""
    return _code_fingerprint(path, path.stat().st_mtime_ns)


def code_version(modules: Iterable[str], exclude: Iterable[str] = ()) -> str:
    """Short hash of the code of the import closure of ``modules``, without the modules in ``exclude``."""
    skip = set(exclude)
    h = hashlib.sha256()
    for name in sorted(import_closure(modules) - skip):
        h.update(f"{name}\0{code_fingerprint(module_path(name))}\0".encode())
    return h.hexdigest()[:16]


def task_code_version(task_name: str) -> str:
    """The code version of a task ``"module:function"``: that of its module's import closure. A module
    outside ``ncutils`` (a benchmark's or a test's task) counts by its own code and the closure of the
    ``ncutils`` modules it imports."""
    module = task_name.partition(":")[0]
    if module_path(module) is not None:
        return code_version([module])
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None or not spec.origin.endswith(".py"):
        raise ValueError(f"cannot find the source of task module {module!r}")
    path = Path(spec.origin)
    own = f"{module}\0{code_fingerprint(path)}\0{code_version(imports_of(path, module))}"
    return hashlib.sha256(own.encode()).hexdigest()[:16]
