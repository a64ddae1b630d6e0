"""The code's boundaries, read with ast (nothing is imported, so no framework either): neither
backend imports the other, shared/ has no import cycle and imports no framework, and compare.py
stays a thin command line. Imports inside functions count as much as those at the top."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from conftest import ROOT

PACKAGES = ("pytorch_impl", "tensorflow_impl", "shared")
# What shared/ must never import: a framework, either backend, the cross-framework check, the command line.
NOT_FOR_SHARED = {"torch", "torchvision", "tensorflow", "keras", "pytorch_impl", "tensorflow_impl", "crosscheck",
                  "compare"}
MAX_FUNCTION_LINES = 60


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for package in PACKAGES for p in sorted((ROOT / package).rglob("*.py"))}


def imports(path: Path) -> set[str]:
    """Every module name the file imports, anywhere in it, relative imports made absolute; for
    `from a import b` both a and a.b (b may be a module or a name in a)."""
    name = module_name(path)
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package[:len(package) - node.level + 1] + ([node.module] if node.module else []))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def top(name: str) -> str:
    return name.split(".")[0]


def test_the_modules_are_found():
    assert {"shared.run", "shared.reporting.tables", "pytorch_impl.train", "tensorflow_impl.train"} <= set(MODULES)
    assert "shared.config" in imports(MODULES["shared.run"])
    assert "tensorflow_impl.callbacks" in imports(MODULES["tensorflow_impl.train"])  # a relative import


@pytest.mark.parametrize("package, other", [("pytorch_impl", "tensorflow_impl"), ("tensorflow_impl", "pytorch_impl")])
def test_neither_backend_imports_the_other(package, other):
    crossing = {name: sorted(i for i in imports(path) if top(i) == other)
                for name, path in MODULES.items() if top(name) == package}
    assert {name: found for name, found in crossing.items() if found} == {}


def test_shared_imports_no_framework_no_backend_and_not_compare():
    found = {name: sorted(i for i in imports(path) if top(i) in NOT_FOR_SHARED)
             for name, path in MODULES.items() if top(name) == "shared"}
    assert {name: names for name, names in found.items() if names} == {}


def shared_graph() -> dict[str, set[str]]:
    """Which shared/ modules each shared/ module imports."""
    return {name: {i for i in imports(path) if i in MODULES and i != name}
            for name, path in MODULES.items() if top(name) == "shared"}


def test_shared_has_no_import_cycle():
    graph = shared_graph()
    assert sum(len(edges) for edges in graph.values()) > 10
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> None:
        if name in path:
            raise AssertionError("import cycle in shared/: " + " -> ".join(path[path.index(name):] + [name]))
        if name in done:
            return
        for imported in sorted(graph[name]):
            visit(imported, path + [name])
        done.add(name)

    for name in sorted(graph):
        visit(name, [])


def test_the_core_of_shared_does_not_import_the_reporting_side():
    reporting = [name for name in MODULES if name.startswith("shared.reporting")]
    assert len(reporting) >= 4
    found = {name: sorted(i for i in edges if i.startswith("shared.reporting"))
             for name, edges in shared_graph().items() if not name.startswith("shared.reporting")}
    assert {name: names for name, names in found.items() if names} == {}


def test_no_function_in_compare_py_is_longer_than_60_lines():
    tree = ast.parse((ROOT / "compare.py").read_text(encoding="utf-8"))
    lengths = {node.name: node.end_lineno - node.lineno + 1 for node in ast.walk(tree)
               if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}
    assert len(lengths) > 5
    assert {name: n for name, n in lengths.items() if n > MAX_FUNCTION_LINES} == {}
