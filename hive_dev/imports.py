"""The import graph of the three packages, and the contracts it must keep.

Every import counts: at module level, inside functions, and under
``TYPE_CHECKING``; a dependency hidden from the interpreter is still one.

- No cycle anywhere.
- The lifecycle and the broker never import the daemon or the CLI: the
  daemon wires them together, not the other way round.
- The container side (``hive_ag3nt``, ``hive_m1nd``) takes from ``hive_c0re``
  only the modules that import nothing of the host's: the wire client, names,
  errors, paths, logging, the byte pump, the programs' root command group,
  the policy type the daemon writes and the harness reads, and the setting
  declaration both sides' settings are tables of.
- The dashboard (``hive_c0re.dashboard``) reaches the hive only through the
  wire: it imports nothing of the daemon, the lifecycle, the broker or the egress.

usage: python -m hive_dev.imports [ROOT]  (prints every violation; exit 1 if any)
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

PACKAGES = ("hive_c0re", "hive_ag3nt", "hive_m1nd")
CONTAINER_SIDE = ("hive_ag3nt", "hive_m1nd")
# What the container side may import from hive_c0re (module names, with their submodules).
SHARED = ("hive_c0re", "hive_c0re.wire", "hive_c0re.wire_fields",
          "hive_c0re.wire_dashboard", "hive_c0re.wire_auth", "hive_c0re.names",
          "hive_c0re.policy", "hive_c0re.setting",
          "hive_c0re.errors", "hive_c0re.paths", "hive_c0re.logs", "hive_c0re.splice",
          "hive_c0re.command", "hive_c0re.client", "hive_c0re.frames", "hive_c0re.timestamps")
# Layers below the daemon, and what they must never reach.
LOWER = ("hive_c0re.lifecycle", "hive_c0re.broker")
UPPER = ("hive_c0re.daemon", "hive_c0re.cli")
# The dashboard is a client of the wire: it never holds the daemon's powers.
DASHBOARD = "hive_c0re.dashboard"
HOST_POWERS = ("hive_c0re.daemon", "hive_c0re.lifecycle", "hive_c0re.broker", "hive_c0re.egress")


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    line: int

    def __str__(self) -> str:
        return f"{self.source}:{self.line} imports {self.target}"


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules(root: Path) -> dict[str, Path]:
    return {module_name(root, path): path
            for package in PACKAGES for path in sorted((root / package).rglob("*.py"))}


def _absolute(source: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = source.split(".")
    base = base if is_package else base[:-1]
    base = base[:len(base) - node.level + 1]
    return ".".join([*base, *([node.module] if node.module else [])])


def _targets(source: str, is_package: bool, node: ast.Import | ast.ImportFrom,
             known: set[str]) -> Iterator[str]:
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
        return
    module = _absolute(source, is_package, node)
    for alias in node.names:
        # ``from pkg import mod`` imports the module; ``from mod import name`` the module.
        yield f"{module}.{alias.name}" if f"{module}.{alias.name}" in known else module


def edges(root: Path) -> list[Edge]:
    found = modules(root)
    known = set(found)
    result: dict[tuple[str, str, int], Edge] = {}
    for source, path in found.items():
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Import | ast.ImportFrom):
                continue
            for target in _targets(source, path.name == "__init__.py", node, known):
                if target in known and target != source:
                    result.setdefault((source, target, node.lineno),
                                      Edge(source, target, node.lineno))
    return list(result.values())


def within(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def forbidden(graph: list[Edge]) -> list[str]:
    """Every edge a layer contract refuses, said as the rule it breaks."""
    broken = []
    for edge in graph:
        if within(edge.source, LOWER) and within(edge.target, UPPER):
            broken.append(f"{edge}: the lifecycle and the broker never import the daemon")
        if (within(edge.source, CONTAINER_SIDE) and within(edge.target, ("hive_c0re",))
                and edge.target not in SHARED):
            broken.append(f"{edge}: the container side takes only {', '.join(SHARED[1:])} "
                          "from hive_c0re")
        if within(edge.source, (DASHBOARD,)) and within(edge.target, HOST_POWERS):
            broken.append(f"{edge}: the dashboard reaches the hive only through the wire")
        if edge.source in SHARED and within(edge.target, ("hive_c0re",)) \
                and edge.target not in SHARED:
            broken.append(f"{edge}: what the container side shares imports only its own kind")
    return broken


def cycles(graph: list[Edge]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan, iterative)."""
    succ: dict[str, list[str]] = {}
    for edge in graph:
        succ.setdefault(edge.source, []).append(edge.target)
        succ.setdefault(edge.target, [])
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []
    for start in sorted(succ):
        if start not in index:
            _strong(start, succ, index, low, stack, on_stack, groups)
    return [sorted(group) for group in groups if len(group) > 1]


def _strong(start: str, succ: dict[str, list[str]], index: dict[str, int],
            low: dict[str, int], stack: list[str], on_stack: set[str],
            groups: list[list[str]]) -> None:
    work = [(start, iter(succ[start]))]
    index[start] = low[start] = len(index)
    stack.append(start)
    on_stack.add(start)
    while work:
        node, children = work[-1]
        child = next(children, None)
        if child is None:
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                groups.append(group)
        elif child not in index:
            index[child] = low[child] = len(index)
            stack.append(child)
            on_stack.add(child)
            work.append((child, iter(succ[child])))
        elif child in on_stack:
            low[node] = min(low[node], index[child])


def violations(root: Path) -> list[str]:
    graph = edges(root)
    found = forbidden(graph)
    found += [f"import cycle: {' -> '.join(group)}" for group in cycles(graph)]
    return found


def main() -> int:
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[1]
    found = violations(root)
    for line in found:
        print(line)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
