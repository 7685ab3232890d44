"""The package's layers (DESIGN §2): imports flow down only, and nothing imports in a cycle.

Every module belongs to a layer by its FOLDER (or, at the root, its file):

- the face: ``service/``, ``plotting/``, ``cli.py``, ``datasets.py`` and the package's own
  ``__init__.py``, which re-exports the public names of every layer;
- the edges: ``frame/`` (tables, engines, files) and ``adapters/`` (routers);
- the core: everything else (primitives at the root and the strategy packages), which takes
  Stats, arrays or a ``ShadowLog``.

Every import statement counts, inside functions and classes too; only ``if TYPE_CHECKING:``
blocks are skipped (they never run).
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import abkit

PACKAGE = Path(abkit.__file__).resolve().parent
ROOT = PACKAGE.parent

EDGE_FOLDERS = ("frame", "adapters")
FACE_FOLDERS = ("service", "plotting")
FACE_FILES = ("cli.py", "datasets.py", "__init__.py")  # at the package root only
FACE = ("abkit.plotting", "abkit.cli", "abkit.service")
EDGES = ("abkit.frame", "abkit.adapters")
TABLES = ("pandas", "narwhals", "polars", "duckdb", "pyspark", "pyarrow", "matplotlib")
FORBIDDEN = {"core": (*TABLES, *EDGES, *FACE), "edge": FACE}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer(path: Path) -> str:
    relative = path.relative_to(PACKAGE)
    if len(relative.parts) == 1:
        return "face" if relative.name in FACE_FILES else "core"
    if relative.parts[0] in FACE_FOLDERS:
        return "face"
    return "edge" if relative.parts[0] in EDGE_FOLDERS else "core"


SOURCES = sorted(p for p in PACKAGE.rglob("*.py") if p.relative_to(PACKAGE).parts[0] != "tests")
MODULES = {module_name(p) for p in SOURCES}


def _is_type_checking(node: ast.AST) -> bool:
    test = node.test if isinstance(node, ast.If) else None
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _walk(node: ast.AST, *, module_level: bool) -> Iterator[ast.AST]:
    """Every node under ``node`` except ``if TYPE_CHECKING:`` bodies (and, at module level only,
    function and class bodies)."""
    for child in ast.iter_child_nodes(node):
        if _is_type_checking(child):
            assert isinstance(child, ast.If)
            for other in child.orelse:
                yield other
                yield from _walk(other, module_level=module_level)
            continue
        if module_level and isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef
                                       | ast.Lambda):
            continue
        yield child
        yield from _walk(child, module_level=module_level)


def imports_in(source: str, here: str, *, package: bool, module_level: bool = False) -> list[str]:
    """The modules the source of module ``here`` imports; for ``from package import name``,
    ``package.name`` when that is an abkit module. Relative imports are resolved; a call to
    ``import_module``/``__import__`` counts as an import (``"<dynamic import>"`` unless its
    argument is a string constant)."""
    parent = here if package else here.rpartition(".")[0]
    names: list[str] = []
    for node in _walk(ast.parse(source), module_level=module_level):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = ".".join(parent.split(".")[: parent.count(".") + 2 - node.level])
                base = f"{anchor}.{base}" if base else anchor
            submodules = [f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in MODULES]
            names += submodules if len(submodules) == len(node.names) else [*submodules, base]
        elif isinstance(node, ast.Call) and (
                getattr(node.func, "id", None) == "__import__"
                or getattr(node.func, "attr", getattr(node.func, "id", None)) == "import_module"):
            arg = node.args[0] if node.args else None
            names.append(arg.value if isinstance(arg, ast.Constant) and isinstance(arg.value, str)
                         else "<dynamic import>")
    return names


def imports(path: Path, *, module_level: bool = False) -> list[str]:
    return imports_in(path.read_text(), module_name(path), package=path.name == "__init__.py",
                      module_level=module_level)


def _within(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def test_layers_are_assigned_by_folder() -> None:
    layers = {module_name(p): layer(p) for p in SOURCES}
    assert layers["abkit.frame.shadow_log"] == layers["abkit.adapters.bandit"] == "edge"
    assert layers["abkit.cli"] == layers["abkit.datasets"] == layers["abkit.plotting.shadow"] == "face"
    assert layers["abkit.shadow.decision"] == layers["abkit.srm"] == layers["abkit.rollout"] == "core"
    assert layers["abkit"] == "face"  # the package itself re-exports every layer


@pytest.mark.parametrize("path", [p for p in SOURCES if layer(p) != "face"],
                         ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_flow_down_only(path: Path) -> None:
    kind = layer(path)
    forbidden = FORBIDDEN[kind]
    if kind == "edge":  # the two edges stand side by side: neither imports the other
        own = path.relative_to(PACKAGE).parts[0]
        forbidden = (*forbidden, *(e for e in EDGES if e != f"abkit.{own}"))
    bad = [name for name in imports(path) if _within(name, forbidden) or name == "<dynamic import>"]
    assert not bad, f"{path.relative_to(PACKAGE)} ({kind}) imports {bad}"


def test_the_walk_sees_imports_inside_functions_and_classes() -> None:
    source = """
from typing import TYPE_CHECKING
if TYPE_CHECKING:
    import pandas
def f():
    import polars
class C:
    def g(self):
        from abkit import frame
        from abkit.adapters import ShadowRouter
        from .. import plotting
        import importlib; importlib.import_module("duckdb")
        __import__(name)
"""
    everywhere = imports_in(source, "abkit.shadow.fake", package=False)
    assert everywhere == ["typing", "polars", "abkit.frame", "abkit.adapters", "abkit.plotting", "importlib",
                          "duckdb", "<dynamic import>"]
    assert imports_in(source, "abkit.shadow.fake", package=False, module_level=True) == ["typing"]


def _graph() -> dict[str, set[str]]:
    """Module-level imports between abkit modules, with the parent packages an import runs
    (except the importer's own ancestors, which are already running)."""
    graph: dict[str, set[str]] = {}
    for path in SOURCES:
        here = module_name(path)
        ancestors = {here.rsplit(".", k)[0] for k in range(1, here.count(".") + 1)}
        edges = set()
        for name in imports(path, module_level=True):
            if not _within(name, ("abkit",)):
                continue
            parts = name.split(".")
            for k in range(1, len(parts) + 1):
                target = ".".join(parts[:k])
                if target in MODULES and target not in ancestors and target != here:
                    edges.add(target)
        graph[here] = edges
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_import_graph_has_no_cycle() -> None:
    graph = _graph()
    assert "abkit.adapters.bandit" in graph["abkit.adapters"]
    assert _cycles(graph) == []
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


_TRACE = r"""
import builtins, importlib.abc, importlib.machinery, json, sys

known = set(json.loads(sys.argv[1]))
running, runs, cycles = [], {}, []


class Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name not in known:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        run = spec.loader.exec_module

        def exec_module(module, run=run, name=name):
            runs[name] = runs.get(name, 0) + 1
            running.append(name)
            try:
                run(module)
            finally:
                running.pop()

        spec.loader.exec_module = exec_module
        return spec


sys.meta_path.insert(0, Finder())
real_import = builtins.__import__


def traced(name, globals=None, locals=None, fromlist=(), level=0):
    if running and name in known:
        targets = [f"{name}.{f}" if f"{name}.{f}" in known else name for f in fromlist or ()] or [name]
        cycles.extend([running[-1], t] for t in targets if t in running and t != running[-1])
    return real_import(name, globals, locals, fromlist, level)


builtins.__import__ = traced
import abkit  # noqa: E402
print(json.dumps({"runs": runs, "cycles": cycles, "file": abkit.__file__}))
"""


def test_import_abkit_runs_every_module_once_and_never_through_a_cycle() -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    out = subprocess.run([sys.executable, "-c", _TRACE, json.dumps(sorted(MODULES))], capture_output=True,
                         text=True, check=True, cwd=ROOT, env=env)
    report = json.loads(out.stdout)
    assert Path(report["file"]).resolve() == PACKAGE / "__init__.py"
    assert report["cycles"] == []
    assert "abkit.adapters.bandit" in report["runs"] and "abkit.frame.shadow_log" in report["runs"]
    assert {name: n for name, n in report["runs"].items() if n != 1} == {}


def test_numba_only_through_the_one_decorator() -> None:
    """DESIGN §6: numba is imported by ``_numba.py`` alone; every ``*_kernels.py`` uses its decorator."""
    users = {module_name(p) for p in SOURCES if any(_within(n, ("numba",)) for n in imports(p))}
    assert users == {"abkit._numba"}
    kernels = [p for p in SOURCES if p.name.endswith("_kernels.py")]
    assert len(kernels) >= 4
    for path in kernels:
        assert "abkit._numba" in imports(path), path
        tree = ast.parse(path.read_text())
        decorators = {ast.unparse(d) for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)
                      for d in node.decorator_list}
        assert decorators <= {"kernel"}, (path, decorators)
