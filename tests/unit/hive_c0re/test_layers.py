"""Dependencies point down: the import contracts of the three packages, read from the source.

Every import counts, wherever it is (top level, a function body, under
``TYPE_CHECKING``): a lazy or type-only import is a dependency all the same.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
PACKAGES = ("hive_c0re", "hive_ag3nt", "hive_m1nd")
# What the harness and the manager may use of hive_c0re: the wire client and the
# vocabulary both sides share (its version, names, errors, paths, log setup, splice).
SHARED = {"hive_c0re", "hive_c0re.wire", "hive_c0re.names", "hive_c0re.errors",
          "hive_c0re.paths", "hive_c0re.logs", "hive_c0re.splice"}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")}


def imported(path: Path) -> Iterator[str]:
    """Every module of the three packages that ``path`` imports, anywhere in it."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # ``from pkg import sub`` imports the submodule; ``from mod import x`` the module.
            names = [f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in MODULES
                     else node.module for alias in node.names]
        else:
            continue
        yield from (name for name in names if name in MODULES)


GRAPH = {name: set(imported(path)) - {name} for name, path in MODULES.items()}


def cycle_through(start: str) -> list[str] | None:
    """A chain of imports from ``start`` back to itself, if there is one."""
    seen: set[str] = set()
    stack = [(start, [start])]
    while stack:
        name, chain = stack.pop()
        for dep in GRAPH[name]:
            if dep == start:
                return [*chain, start]
            if dep not in seen:
                seen.add(dep)
                stack.append((dep, [*chain, dep]))
    return None


def test_the_graph_sees_the_packages() -> None:
    assert "hive_c0re.daemon.service" in GRAPH
    assert "hive_c0re.lifecycle.agents" in GRAPH["hive_c0re.lifecycle.approvals"]


@pytest.mark.parametrize("layer", ["hive_c0re.lifecycle", "hive_c0re.broker"])
def test_lifecycle_and_broker_never_import_the_daemon(layer: str) -> None:
    found = {name: sorted(dep for dep in deps if dep.startswith("hive_c0re.daemon"))
             for name, deps in GRAPH.items() if name.startswith(layer)}
    assert {name: deps for name, deps in found.items() if deps} == {}


@pytest.mark.parametrize("package", ["hive_ag3nt", "hive_m1nd"])
def test_the_harness_and_manager_import_only_what_is_shared(package: str) -> None:
    found = {name: sorted(dep for dep in deps if dep.startswith("hive_c0re") and dep not in SHARED)
             for name, deps in GRAPH.items() if name.startswith(package)}
    assert {name: deps for name, deps in found.items() if deps} == {}


def test_no_module_imports_itself_through_others() -> None:
    cycles = {name: chain for name in sorted(GRAPH) if (chain := cycle_through(name))}
    assert cycles == {}
