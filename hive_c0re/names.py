"""Agent names: the one gate every name passes before it touches a path, a unit or a query."""

from __future__ import annotations

import re

from hive_c0re.errors import InvalidInput

# Short enough that the container name ``h-<name>`` fits nixos-container's 11
# characters; ASCII only, so no look-alike can pass for another agent.
NAME_RULE = "a lowercase ASCII letter, then up to 8 of a-z, 0-9 or '-'"
_NAME = re.compile(r"[a-z][a-z0-9-]{0,8}")

OPERATOR = "operator"
MANAGER = "manager"
SYSTEM = "system"
BROADCAST = "*"
RESERVED = frozenset({OPERATOR, MANAGER, SYSTEM, "hive", BROADCAST})


def validate_agent_name(name: object) -> str:
    """Return ``name`` if it may name an agent; raise InvalidInput saying the rule if not."""
    if not isinstance(name, str):
        raise InvalidInput(f"agent name must be a string, got {type(name).__name__}")
    shown = repr(name) if len(name) <= 40 else repr(name[:40]) + "…"
    if name in RESERVED:
        raise InvalidInput(
            f"agent name {shown} is reserved",
            hint="reserved names: " + ", ".join(sorted(RESERVED)),
        )
    # fullmatch, not match+$: '$' would accept a trailing newline.
    if not _NAME.fullmatch(name):
        raise InvalidInput(f"agent name {shown} is not allowed: it must be {NAME_RULE}")
    return name


def validate_container_name(name: object) -> str:
    """An agent name, or ``manager``: the names a container may have."""
    return MANAGER if name == MANAGER else validate_agent_name(name)


def validate_recipient(name: object) -> str:
    """Return a valid send target: an agent name, ``operator``, ``manager`` or ``*``."""
    if name in (OPERATOR, MANAGER, BROADCAST):
        return str(name)
    return validate_agent_name(name)
