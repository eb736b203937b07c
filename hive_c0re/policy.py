"""An agent's policy: what the host hands its harness read-only, as ``policy.json``.

One type for both sides. The daemon makes it from the applied ``agent.toml``
(:meth:`hive_c0re.lifecycle.agent_config.AgentConfig.policy`) and writes
:meth:`Policy.to_json`; the harness reads it back with :meth:`Policy.from_json`.
The daemon checked every value against ``agent.toml``'s rules before writing;
the harness still refuses a file it cannot understand (a wrong type, an
unknown key, another version) rather than run with a guess. Keys it lacks
take the defaults below, which are ``agent.toml``'s own.

This module imports nothing of the host's but errors: the container side
imports it (``hive_dev/imports.py`` SHARED).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import Any

from hive_c0re.errors import InvalidInput

VERSION = 1
DEFAULT_TOOLS = ("Bash", "Read", "Write", "Edit", "Glob", "Grep")


@dataclass(frozen=True)
class McpServer:
    command: str
    args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    allowed_tools: tuple[str, ...] = ()


@dataclass(frozen=True)
class Policy:
    model: str = "haiku"
    available_models: tuple[str, ...] = ("haiku", "sonnet", "opus")
    allowed_tools: tuple[str, ...] = DEFAULT_TOOLS
    allowed_bash: tuple[str, ...] = ()
    mcp_servers: Mapping[str, McpServer] = field(default_factory=dict)
    auto_compact: bool = True
    compact_at: float = 0.75
    allowed_recipients: tuple[str, ...] = ()  # informs the prompt; the daemon enforces it
    # agent.toml's [cli]; None leaves it to the harness's settings (cli_idle_release, ...).
    cli_idle_release_seconds: int | None = None
    cli_max_rss_mib: int | None = None

    def to_json(self) -> dict[str, Any]:
        """The JSON-ready object ``policy.json`` holds (with its ``version``)."""
        servers = {name: {"command": s.command, "args": list(s.args), "env": dict(s.env),
                          "allowed_tools": list(s.allowed_tools)}
                   for name, s in self.mcp_servers.items()}
        return {"version": VERSION, "model": self.model,
                "available_models": list(self.available_models),
                "allowed_tools": list(self.allowed_tools),
                "allowed_bash": list(self.allowed_bash), "mcp_servers": servers,
                "auto_compact": self.auto_compact, "compact_at": self.compact_at,
                "allowed_recipients": list(self.allowed_recipients),
                "cli_idle_release_seconds": self.cli_idle_release_seconds,
                "cli_max_rss_mib": self.cli_max_rss_mib}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Policy:
        """Read :meth:`to_json`'s object back; raise InvalidInput naming what is wrong."""
        if not isinstance(data, Mapping):
            raise InvalidInput("policy file is malformed: it must hold a JSON object")
        version = data.get("version", VERSION)
        if version != VERSION:
            raise InvalidInput(f"policy file is version {version!r}; this harness reads "
                               f"version {VERSION}", hint="the daemon and the harness differ")
        _known(data, {f.name for f in fields(cls)} | {"version"}, "")
        values: dict[str, Any] = {}
        if "model" in data:
            values["model"] = _string(data["model"], "model")
        for key in ("available_models", "allowed_tools", "allowed_bash", "allowed_recipients"):
            if key in data:
                values[key] = _strings(data[key], key)
        if "auto_compact" in data:
            if not isinstance(data["auto_compact"], bool):
                raise _malformed("auto_compact", "must be true or false")
            values["auto_compact"] = data["auto_compact"]
        if "compact_at" in data:
            share = data["compact_at"]
            if isinstance(share, bool) or not isinstance(share, int | float):
                raise _malformed("compact_at", "must be a number")
            values["compact_at"] = float(share)
        if "mcp_servers" in data:
            values["mcp_servers"] = _servers(data["mcp_servers"])
        for key in ("cli_idle_release_seconds", "cli_max_rss_mib"):
            values[key] = _count(data.get(key), key)
        return cls(**values)


def _malformed(key: str, rule: str) -> InvalidInput:
    return InvalidInput(f"policy file is malformed: {key} {rule}")


def _known(data: Mapping[str, Any], keys: set[str], where: str) -> None:
    unknown = sorted(str(k) for k in data if k not in keys)
    if unknown:
        raise _malformed(where + unknown[0][:64], "is not a policy key")


def _string(value: Any, key: str) -> str:
    if not isinstance(value, str):
        raise _malformed(key, "must be a string")
    return value


def _count(value: Any, key: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _malformed(key, "must be null or a whole number from 0")
    return value


def _strings(value: Any, key: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _malformed(key, "must be a list of strings")
    return tuple(value)


def _servers(value: Any) -> Mapping[str, McpServer]:
    if not isinstance(value, Mapping):
        raise _malformed("mcp_servers", "must be an object of servers")
    servers = {}
    for name, server in value.items():
        where = f"mcp_servers.{str(name)[:64]}"
        if not isinstance(server, Mapping) or "command" not in server:
            raise _malformed(where, "must be an object with a command")
        _known(server, {f.name for f in fields(McpServer)}, where + ".")
        env = server.get("env", {})
        if not isinstance(env, Mapping) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in env.items()):
            raise _malformed(where + ".env", "must be an object of strings")
        servers[str(name)] = McpServer(
            command=_string(server["command"], where + ".command"),
            args=_strings(server.get("args", []), where + ".args"), env=dict(env),
            allowed_tools=_strings(server.get("allowed_tools", []), where + ".allowed_tools"))
    return MappingProxyType(servers)
