"""Every daemon log line about an agent carries ``HIVE_AGENT=`` (journalctl HIVE_AGENT=alice).

Read from the source with ast: a ``log.<level>(...)`` call whose arguments name an
agent (``name``, ``agent``, ``caller.name``, ``record.agent``, ...) must pass
``extra={"HIVE_AGENT": ...}``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import hive_c0re

LEVELS = {"debug", "info", "warning", "error", "exception", "critical"}
# The names code in hive_c0re gives a value that is an agent's name.
AGENT_WORDS = {"name", "agent", "mailbox", "asker", "sender", "recipient"}
# Lines whose "name" is not an agent's (a systemd-activated socket's name).
NOT_ABOUT_AGENTS = {"ignoring an activated socket named %r"}


def _names_agent(node: ast.expr) -> bool:
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name) and sub.id in AGENT_WORDS:
            return True
        if isinstance(sub, ast.Attribute) and sub.attr in AGENT_WORDS:
            return True
    return False


def _has_agent_field(call: ast.Call) -> bool:
    for keyword in call.keywords:
        if keyword.arg == "extra" and isinstance(keyword.value, ast.Dict):
            return any(isinstance(k, ast.Constant) and k.value == "HIVE_AGENT"
                       for k in keyword.value.keys)
    return False


def _log_calls(tree: ast.AST) -> list[ast.Call]:
    return [node for node in ast.walk(tree)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and node.func.attr in LEVELS and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "log"]


def offenders(root: Path) -> list[str]:
    found = []
    for path in sorted(root.rglob("*.py")):
        for call in _log_calls(ast.parse(path.read_text(), str(path))):
            text = call.args[0].value if call.args and isinstance(call.args[0],
                                                                  ast.Constant) else None
            if text in NOT_ABOUT_AGENTS:
                continue
            if any(_names_agent(arg) for arg in call.args[1:]) and not _has_agent_field(call):
                found.append(f"{path.relative_to(root.parent)}:{call.lineno}")
    return found


def test_every_log_line_about_an_agent_names_it_in_hive_agent() -> None:
    assert offenders(Path(hive_c0re.__file__).parent) == []


def test_the_check_sees_a_line_without_the_field(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "m.py").write_text(
        'log.info("spawned %s", agent.name)\n'
        'log.info("spawned %s", name, extra={"HIVE_AGENT": name})\n'
        'log.info("ready in %d ms", 3)\n')
    assert offenders(package) == ["pkg/m.py:1"]
