"""The product stays small enough to read: no module over 400 lines, no function over 40.

STYLE.md asks for small modules split by responsibility and small functions;
this holds the three shipped packages to it. A failure lists every offender
as ``path:line``, so the fix starts where the message points.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("hive_c0re", "hive_ag3nt", "hive_m1nd")
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 40


def _modules() -> list[Path]:
    return sorted(path for package in PACKAGES for path in (ROOT / package).rglob("*.py"))


def _functions(tree: ast.AST) -> Iterator[ast.FunctionDef | ast.AsyncFunctionDef]:
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield node


def _where(path: Path, line: int) -> str:
    return f"{path.relative_to(ROOT)}:{line}"


def test_the_packages_hold_modules() -> None:
    # A wrong ROOT would find nothing and pass every check below.
    assert {path.parent.name for path in _modules()} >= set(PACKAGES)


def test_no_module_is_over_400_lines() -> None:
    long = [f"{_where(path, 1)} has {count} lines" for path in _modules()
            if (count := len(path.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES]
    assert not long, f"modules over {MAX_MODULE_LINES} lines:\n" + "\n".join(long)


def test_no_function_is_over_40_lines() -> None:
    long = []
    for path in _modules():
        for function in _functions(ast.parse(path.read_text(encoding="utf-8"))):
            count = (function.end_lineno or function.lineno) - function.lineno + 1
            if count > MAX_FUNCTION_LINES:
                long.append(f"{_where(path, function.lineno)} {function.name} has {count} lines")
    assert not long, f"functions over {MAX_FUNCTION_LINES} lines:\n" + "\n".join(long)
