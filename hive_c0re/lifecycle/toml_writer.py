"""Writing TOML: the values ``agent.toml`` holds, and tables of them.

Enough of TOML for :meth:`AgentConfig.to_toml` and for showing a value in an
error message the way the operator would write it; ``tomllib`` only reads.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime, time
from typing import Any

BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
# TOML's basic strings may hold no control character but escaped.
_MUST_ESCAPE = re.compile(r"[\x00-\x1f\x7f]")

_SHORT_ESCAPES = {"\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}


def _toml_escape(char: str) -> str:
    return _SHORT_ESCAPES.get(char) or f"\\u{ord(char):04X}"


def _toml_string(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + _MUST_ESCAPE.sub(lambda m: _toml_escape(m.group()), escaped) + '"'


def _toml_key(name: str) -> str:
    return name if BARE_KEY.fullmatch(name) else _toml_string(name)


def toml_value(value: Any) -> str:
    """One TOML value; raise TypeError for what TOML (or this writer) cannot say."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    if isinstance(value, Mapping):
        pairs = (f"{_toml_key(k)} = {toml_value(v)}" for k, v in value.items())
        return "{" + ", ".join(pairs) + "}" if value else "{}"
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    raise TypeError(f"no TOML for {type(value).__name__}")


def toml_table(table: Mapping[str, Any], path: tuple[str, ...]) -> str:
    """A table's own keys under its header, then its subtables; empty tables are left out."""
    own = [f"{_toml_key(k)} = {toml_value(v)}" for k, v in table.items()
           if not isinstance(v, Mapping)]
    header = ["[" + ".".join(_toml_key(p) for p in path) + "]"] if path and own else []
    text = "".join(line + "\n" for line in header + own)
    for name, value in table.items():
        if isinstance(value, Mapping):
            inner = toml_table(value, (*path, name))
            text += ("\n" if text and inner else "") + inner
    return text

