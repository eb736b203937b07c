"""The agent's policy, as the daemon hands it over read-only (``/etc/hive/policy.json``).

The daemon validated ``agent.toml`` before writing this file; the harness
still refuses a file it cannot understand rather than run with a guess.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hive_c0re.errors import InvalidInput

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

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Policy:
        try:
            servers = {
                name: McpServer(command=str(s["command"]), args=tuple(s.get("args", ())),
                                env=dict(s.get("env", {})),
                                allowed_tools=tuple(s.get("allowed_tools", ())))
                for name, s in dict(data.get("mcp_servers", {})).items()
            }
            return cls(
                model=str(data.get("model", cls.model)),
                available_models=tuple(data.get("available_models", cls.available_models)),
                allowed_tools=tuple(data.get("allowed_tools", DEFAULT_TOOLS)),
                allowed_bash=tuple(data.get("allowed_bash", ())),
                mcp_servers=servers,
                auto_compact=bool(data.get("auto_compact", True)),
                compact_at=float(data.get("compact_at", 0.75)),
                allowed_recipients=tuple(data.get("allowed_recipients", ())),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInput(f"policy file is malformed: {exc}") from None


def load_policy(path: Path) -> Policy:
    """The policy at ``path``; the defaults when the daemon wrote none (a bare process)."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return Policy()
    try:
        data = json.loads(text)
    except ValueError:
        raise InvalidInput(f"{path} is not JSON") from None
    if not isinstance(data, dict):
        raise InvalidInput(f"{path} must hold a JSON object")
    return Policy.from_json(data)
