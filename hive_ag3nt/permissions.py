"""Which tools a turn may use, decided in the harness from the daemon's policy.

Bash commands are matched against the policy's ``allowed_bash`` patterns
(shell-style: ``git *``, ``ls``, ``*`` for everything). A compound command is
allowed only if every simple command in it is; anything the matcher cannot
take apart safely (substitutions, redirections into files, subshells) is
refused unless ``*`` is allowed.
"""

from __future__ import annotations

import fnmatch
import re
import shlex
from dataclasses import dataclass

from hive_ag3nt.policy import Policy

# Operators that join simple commands; each part must pass on its own.
_SPLIT = re.compile(r"\s*(?:&&|\|\||;|\||\n)\s*")
# Constructs that hide a command inside another: never allowed piecemeal.
_HIDDEN = re.compile(r"`|\$\(|<\(|>\(|\$\{|^\s*\(|\)\s*$")


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str = ""


def decide_bash(command: str, patterns: tuple[str, ...]) -> Decision:
    if "*" in patterns:
        return Decision(True)
    if not patterns:
        return Decision(False, "Bash is not allowed for this agent (allowed_bash is empty)")
    if _HIDDEN.search(command):
        return Decision(False, "command substitutions and subshells are not allowed; "
                               "run the commands one by one")
    for part in filter(None, _SPLIT.split(command.strip())):
        if not _part_allowed(part, patterns):
            return Decision(False, f"`{part}` is not in the allowed Bash patterns: "
                                   + ", ".join(patterns))
    return Decision(True)


def _part_allowed(part: str, patterns: tuple[str, ...]) -> bool:
    try:
        words = shlex.split(part)
    except ValueError:
        return False
    normal = " ".join(words)
    return any(fnmatch.fnmatchcase(normal, pattern) for pattern in patterns)


def decide(tool: str, tool_input: dict[str, object], policy: Policy) -> Decision:
    """Whether a built-in tool call may run; hive tools are always ours to allow."""
    if tool.startswith("mcp__hive__"):
        return Decision(True)
    if tool.startswith("mcp__"):
        server, _, name = tool.removeprefix("mcp__").partition("__")
        allowed = policy.mcp_servers.get(server)
        if allowed is not None and name in allowed.allowed_tools:
            return Decision(True)
        return Decision(False, f"{tool} is not allowed for this agent")
    if tool not in policy.allowed_tools:
        return Decision(False, f"the {tool} tool is not allowed for this agent")
    if tool == "Bash":
        return decide_bash(str(tool_input.get("command", "")), policy.allowed_bash)
    return Decision(True)
