"""The rules one value of ``agent.toml`` must meet.

Each check takes the value as TOML parsed it and returns it in the shape
:class:`~hive_c0re.lifecycle.agent_config.AgentConfig` keeps (tuples, read-only
mappings), or raises :class:`Refused`; :mod:`agent_config`'s ``SCHEMA`` pairs
each key with its check and says the rule in words.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from hive_c0re.errors import InvalidInput
from hive_c0re.lifecycle.backend import PERCENT, SIZE, size_bytes
from hive_c0re.lifecycle.toml_writer import toml_value
from hive_c0re.names import MANAGER, OPERATOR, validate_agent_name

KNOWN_TOOLS = ("Bash", "Read", "Write", "Edit", "Glob", "Grep", "WebFetch", "WebSearch",
               "Task", "NotebookEdit", "TodoWrite")
# ext4 needs room for its own journal and tables; beyond 16T it wants other options.
DISK_MIN = 16 << 20
DISK_MAX = 16 << 40

_MODEL = re.compile(r"[a-z0-9][a-z0-9.-]{0,63}")
_ENV_NAME = re.compile(r"[A-Z_][A-Z0-9_]{0,127}")
_MCP_TOOL = re.compile(r"[A-Za-z0-9_-]{1,64}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class Refused(Exception):
    """A value broke its key's rule; ``detail`` says how (else the value is shown)."""

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail


Check = Callable[[Any], Any]


def shown(value: object) -> str:
    try:
        text = toml_value(value)
    except TypeError:
        text = repr(value)
    return text if len(text) <= 60 else text[:60] + "…"


def boolean(value: object) -> bool:
    if not isinstance(value, bool):
        raise Refused()
    return value


def integer(low: int, high: int) -> Check:
    def check(value: object) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise Refused()
        return value
    return check


def choice(*choices: str) -> Check:
    def check(value: object) -> str:
        if value not in choices:
            raise Refused()
        return str(value)
    return check


def compact_at(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.1 < value <= 0.95:
        raise Refused()
    return float(value)


def array(item: Callable[[object], str], most: int, *, empty: bool = True,
           distinct: bool = True) -> Check:
    """An array of strings, each passed through ``item``, as a tuple."""
    def check(value: object) -> tuple[str, ...]:
        if not isinstance(value, list) or len(value) > most or not (empty or value):
            raise Refused()
        items = tuple(item(entry) for entry in value)
        for index, entry in enumerate(items):
            if distinct and entry in items[:index]:
                raise Refused(f"{shown(entry)} is listed twice")
        return items
    return check


def model(value: object) -> str:
    if not isinstance(value, str) or not _MODEL.fullmatch(value):
        raise Refused(f"{shown(value)} is not a model name")
    return value


def recipient(value: object) -> str:
    if value in (MANAGER, OPERATOR):
        return str(value)
    try:
        return validate_agent_name(value)
    except InvalidInput as err:
        raise Refused(err.message) from None


def tool(value: object) -> str:
    if not isinstance(value, str) or value not in KNOWN_TOOLS:
        raise Refused(f"unknown tool {shown(value)}")
    return value


def bash_pattern(value: object) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= 200 or _CONTROL.search(value):
        raise Refused(f"{shown(value)} is not a command pattern")
    return value


def mcp_tool(value: object) -> str:
    if not isinstance(value, str) or not _MCP_TOOL.fullmatch(value):
        raise Refused(f"{shown(value)} is not a tool name")
    return value


def argument(value: object) -> str:
    if not isinstance(value, str) or "\0" in value or len(value) > 4096:
        raise Refused(f"{shown(value)} is not an argument")
    return value


def command(value: object) -> str:
    if (not isinstance(value, str) or not value.startswith("/") or len(value) > 4096
            or _CONTROL.search(value)):
        raise Refused()
    return value


def env(value: object) -> Mapping[str, str]:
    if not isinstance(value, Mapping) or len(value) > 64:
        raise Refused()
    for name, text in value.items():
        if not isinstance(name, str) or not _ENV_NAME.fullmatch(name):
            raise Refused(f"{shown(name)} is not a variable name")
        if not isinstance(text, str) or "\0" in text:
            raise Refused(f"{name} is not a string without NUL")
    return MappingProxyType(dict(value))


def memory(value: object) -> str:
    if value == "infinity":
        return value
    if not isinstance(value, str) or not SIZE.fullmatch(value):
        raise Refused()
    if int(value.rstrip("KMGT")) == 0:
        raise Refused("a size of zero leaves no memory at all")
    return value


def disk(value: object) -> str:
    if not isinstance(value, str) or not SIZE.fullmatch(value):
        raise Refused()
    if not DISK_MIN <= size_bytes(value) <= DISK_MAX:
        raise Refused()
    return value


def cpu_quota(value: object) -> str:
    if not isinstance(value, str) or not PERCENT.fullmatch(value):
        raise Refused()
    if not 1 <= int(value[:-1]) <= 10_000:
        raise Refused()
    return value

