"""The files the nixos backend writes for one agent: its container conf and unit drop-in.

``/etc/nixos-containers/h-<agent>.conf`` is an EnvironmentFile that
``container@.service`` reads and its start script expands unquoted
(``EXTRA_NSPAWN_FLAGS``), so every bound path is held to a small character
set (:func:`checked_path`). :func:`rewrite_conf` owns a few keys of that file
and keeps the rest as written; :func:`render_dropin` writes the unit's
restart policy (the limits are systemctl set-property's).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from itertools import islice
from pathlib import Path

from hive_c0re.errors import InvalidInput
from hive_c0re.lifecycle.backend import (
    CONTAINER_CLAUDE,
    CONTAINER_EGRESS,
    CONTAINER_POLICY,
    CONTAINER_RUN,
    CONTAINER_STATE,
    ContainerSpec,
)

# Each of these gives the container a link to the host (nspawn's
# --network-veth, --network-bridge, --port, --network-interface,
# --network-macvlan): cleared, so the container's private network has
# nothing but its loopback.
NETWORK_KEYS = (
    "HOST_ADDRESS", "LOCAL_ADDRESS", "HOST_ADDRESS6", "LOCAL_ADDRESS6", "HOST_BRIDGE",
    "HOST_PORT", "LOCAL_MAC_ADDRESS", "INTERFACES", "MACVLANS",
)
BIND_TARGETS = frozenset({CONTAINER_RUN, CONTAINER_STATE, CONTAINER_CLAUDE, CONTAINER_POLICY,
                          CONTAINER_EGRESS})
BIND_OPTIONS = ("--bind", "--bind-ro")

_LINE_BREAK = re.compile(r"\r\n|\r|\n")  # systemd's, not str.splitlines()'s
_KEY = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*=(.*)")
_BARE_VALUE = re.compile(r"[A-Za-z0-9_./:@%+,=-]+")
_SAFE_PATH = re.compile(r"/[A-Za-z0-9._+@/-]*")
_ESCAPED_IN_QUOTES = '"\\`$'


def checked_path(path: Path) -> str:
    """Return ``path`` as text if it is safe in an unquoted shell expansion; raise if not."""
    text = str(path)
    if not _SAFE_PATH.fullmatch(text) or ".." in path.parts:
        raise InvalidInput(
            f"path {text!r} cannot be bound into a nixos container: the container's start "
            "script expands EXTRA_NSPAWN_FLAGS unquoted",
            hint="use an absolute path of letters, digits and . _ + @ - / only",
        )
    return text


# --- the conf file ----------------------------------------------------------


def nspawn_binds(spec: ContainerSpec, *, private_users: bool) -> list[str]:
    """The hive's binds as nspawn flags; writable ones idmapped under a user namespace."""
    idmap = ":idmap" if private_users else ""
    return [f"--bind={checked_path(host)}:{inside}{idmap}" if writable
            else f"--bind-ro={checked_path(host)}:{inside}"
            for host, inside, writable in spec.hive_binds()]


def parse_value(raw: str) -> str:
    """The value systemd's EnvironmentFile= parser reads from one line's right-hand side."""
    out: list[str] = []
    quote = ""
    chars = iter(raw.strip())
    for char in chars:
        if char == "\\" and quote != "'":
            escaped = next(chars, "")
            out.append(escaped if not quote or escaped in _ESCAPED_IN_QUOTES else char + escaped)
        elif (quote and char == quote) or (not quote and char in "\"'"):
            quote = "" if quote else char
        else:
            out.append(char)
    if quote:
        raise InvalidInput(f"unterminated {quote} in nixos container conf value {raw!r}")
    return "".join(out)


def render_assignment(key: str, value: str) -> str:
    if not value or _BARE_VALUE.fullmatch(value):
        return f"{key}={value}"
    escaped = "".join("\\" + c if c in _ESCAPED_IN_QUOTES else c for c in value)
    return f'{key}="{escaped}"'


def _flags(words: Iterable[str]) -> list[list[str]]:
    """Group words into flags: a bind option without ``=`` takes the next word."""
    rest = iter(words)
    return [[word, *islice(rest, 1)] if word in BIND_OPTIONS else [word] for word in rest]


def _is_hive_bind(flag: list[str]) -> bool:
    option, _, spec = flag[0].partition("=")
    source, _, tail = (flag[1] if len(flag) == 2 else spec).partition(":")
    return option in BIND_OPTIONS and Path(tail.partition(":")[0] or source) in BIND_TARGETS


def foreign_flags(words: Iterable[str]) -> list[str]:
    """``words`` without any bind onto a hive target (``--bind=S:D`` or ``--bind S:D``)."""
    return [word for flag in _flags(words) if not _is_hive_bind(flag) for word in flag]


def managed_settings(spec: ContainerSpec, existing_flags: str, *,
                     private_users: bool) -> dict[str, str]:
    """Every key the backend owns, in the order missing ones are appended."""
    flags = foreign_flags(existing_flags.split()) + nspawn_binds(spec, private_users=private_users)
    return {
        "PRIVATE_NETWORK": "1",
        **dict.fromkeys(NETWORK_KEYS, ""),
        "AUTO_START": "0",  # the daemon starts containers, once their binds exist
        # A number, not "pick": container uid 0 is uid_base on the host, as the
        # spec says; the start script idmaps its /nix binds for numbers too.
        "PRIVATE_USERS": str(spec.uid_base) if private_users else "no",
        "EXTRA_NSPAWN_FLAGS": " ".join(flags),
    }


def _key(line: str) -> str | None:
    match = _KEY.match(line)
    return match[1] if match else None


def _last_value(lines: Iterable[str], key: str) -> str:
    values = [m[2] for m in map(_KEY.match, lines) if m and m[1] == key]
    return parse_value(values[-1]) if values else ""


def rewrite_conf(text: str, spec: ContainerSpec, *, private_users: bool) -> str:
    """Return ``text`` (a nixos-container conf) set up for ``spec``; idempotent.

    Our keys are rewritten where they first appear (later duplicates dropped),
    missing ones appended; comments and other keys are kept in order. Raise
    InvalidInput if a bound path is unsafe unquoted or a value cannot be parsed.
    """
    lines = _LINE_BREAK.split(text.removesuffix("\n")) if text else []
    wanted = managed_settings(spec, _last_value(lines, "EXTRA_NSPAWN_FLAGS"),
                              private_users=private_users)
    out: list[str] = []
    done: set[str] = set()
    for line in lines:
        key = _key(line)
        if key is None or key not in wanted:
            out.append(line)
        elif key not in done:
            out.append(render_assignment(key, wanted[key]))
            done.add(key)
    out += [render_assignment(key, value) for key, value in wanted.items() if key not in done]
    return "\n".join(out) + "\n"


# --- the drop-in ------------------------------------------------------------


def render_dropin(spec: ContainerSpec) -> str:
    """The drop-in for the agent's unit: the hive's restart policy, the same for every agent.

    nixpkgs' ``container@.service`` says ``Restart=on-failure``; the crash watch
    owns restarts (with its burst limit), so systemd must not restart on its own.
    Restart= cannot be set at runtime, so this one file (and its one
    daemon-reload, when the container is made) stays; the limits are set with
    ``systemctl set-property``, no reload.
    """
    lines = [f"# hive-c0re: the unit of agent {spec.name}; its limits are set-property's.",
             "[Service]", "Restart=no"]
    return "\n".join(lines) + "\n"
