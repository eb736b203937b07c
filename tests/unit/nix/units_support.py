"""The shipped unit files as data, in the shape the NixOS module gives a unit.

A unit file's directives become what ``systemd.services.<n>`` or
``systemd.sockets.<n>`` would hold to render it: the dependency lists and
the description as their own options, ``Environment=`` as ``environment``,
``ListenStream=`` as ``listenStreams``, everything else of ``[Service]`` or
``[Socket]`` as ``serviceConfig`` or ``socketConfig``, a directive given
twice as a list, as NixOS merges them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from typing import Any

# [Unit] and [Install] directives that are options of their own in the module.
LISTS = {"Documentation": "documentation", "Requires": "requires", "After": "after",
         "Wants": "wants", "WantedBy": "wantedBy", "Before": "before"}
# [Install] Also= pulls the socket in on `systemctl enable`; NixOS has no enable step:
# the socket's own wantedBy does it.
NOT_IN_MODULES = {"Also"}


@dataclass
class Unit:
    """One unit file's directives, grouped as the module's options group them."""

    name: str
    description: str = ""
    lists: dict[str, list[str]] = field(default_factory=dict)
    environment: dict[str, str] = field(default_factory=dict)
    listen_streams: list[str] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)  # serviceConfig or socketConfig


def directives(text: str) -> list[tuple[str, str, str]]:
    """(section, key, value) of every assignment, in order; comments and blanks skipped."""
    found = []
    section = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise ValueError(f"not a directive: {raw!r}")
        found.append((section, key.strip(), value.strip()))
    return found


def _add(table: dict[str, Any], key: str, value: str) -> None:
    if key not in table:
        table[key] = value
    elif isinstance(table[key], list):
        table[key].append(value)
    else:
        table[key] = [table[key], value]


def load(name: str, hive_c0re: str) -> Unit:
    """The shipped unit ``name``, ``@HIVE_C0RE@`` standing for ``hive_c0re``."""
    text = resources.files("hive_c0re").joinpath("unit_files", name).read_text()
    unit = Unit(name)
    for section, key, value in directives(text.replace("@HIVE_C0RE@", hive_c0re)):
        if key == "Description":
            unit.description = value
        elif key in LISTS:
            unit.lists.setdefault(LISTS[key], []).extend(value.split())
        elif key in NOT_IN_MODULES:
            continue
        elif key == "Environment":
            env_key, _, env_value = value.strip('"').partition("=")
            unit.environment[env_key] = env_value
        elif key == "ListenStream":
            unit.listen_streams.append(value)
        elif section in ("Service", "Socket"):
            _add(unit.config, key, value)
        else:
            raise ValueError(f"{name}: [{section}] {key}= has no place in the comparison")
    return unit


def as_text(value: Any) -> Any:
    """A module value as the unit file writes it: numbers as text, lists item by item."""
    if isinstance(value, dict):
        return {key: as_text(item) for key, item in value.items()}
    if isinstance(value, list):
        return [as_text(item) for item in value]
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)
