"""Where the harness keeps things inside its container, each with a ``HYPERHIVE_*`` override.

No other harness module reads the environment for paths.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


def _env_path(var: str, default: str) -> Path:
    value = os.environ.get(var)
    return Path(value) if value else Path(default)


@dataclass(frozen=True)
class AgentPaths:
    state: Path  # /state: notes, events, model, session
    run: Path  # /run/hive: the hive's socket and our UI socket
    policy: Path  # /etc/hive/policy.json, written read-only by the daemon
    model_file: Path
    claude_config: Path  # /root/.claude: credentials and sessions
    socket_override: Path | None = None
    egress: Path = Path("/run/hive-egress")  # the host's egress sockets, read-only

    @classmethod
    def from_env(cls) -> AgentPaths:
        state = _env_path("HYPERHIVE_STATE", "/state")
        return cls(
            state=state,
            run=_env_path("HYPERHIVE_RUN", "/run/hive"),
            policy=_env_path("HYPERHIVE_POLICY", "/etc/hive/policy.json"),
            model_file=_env_path("HYPERHIVE_MODEL_FILE", str(state / "hyperhive-model")),
            claude_config=_env_path("CLAUDE_CONFIG_DIR", "/root/.claude"),
            egress=_env_path("HYPERHIVE_EGRESS", "/run/hive-egress"),
        )

    @property
    def socket(self) -> Path:
        if self.socket_override is not None:
            return self.socket_override
        explicit = os.environ.get("HYPERHIVE_SOCKET")
        return Path(explicit) if explicit else self.run / "hive.sock"

    @property
    def ui_socket(self) -> Path:
        return self.run / "ui.sock"

    @property
    def notes(self) -> Path:
        return self.state / "notes.md"

    @property
    def events(self) -> Path:
        return self.state / "hyperhive-events.sqlite"

    @property
    def session_file(self) -> Path:
        return self.state / "hyperhive-session"
