"""The operator's way into an agent's own web UI: its ``ui.sock``, with its secret.

Host-side only (root): the socket lives in the agent's runtime dir and the
secret in the daemon-owned policy dir. The dashboard does the same when it
proxies ``/agents/<name>/``.
"""

from __future__ import annotations

import http.client
import socket
from dataclasses import dataclass
from pathlib import Path

from hive_c0re.errors import HiveError, Unreachable
from hive_c0re.lifecycle.ui_secret import read_ui_secret
from hive_c0re.names import MANAGER, validate_agent_name
from hive_c0re.paths import Paths
from hive_c0re.wire import UI_SECRET_HEADER as HEADER

TIMEOUT = 30.0


@dataclass(frozen=True)
class AgentUi:
    socket: Path
    secret: str


def agent_ui(paths: Paths, name: str) -> AgentUi:
    """Where ``name``'s UI listens and the secret it wants (``manager`` for the manager's)."""
    if name == MANAGER:
        runtime, policy = paths.manager_dir, paths.manager_policy
    else:
        runtime, policy = paths.agent_runtime(validate_agent_name(name)), paths.agent_policy(name)
    return AgentUi(runtime / "ui.sock", read_ui_secret(policy))


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: Path) -> None:
        super().__init__("localhost", timeout=TIMEOUT)
        self.path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(TIMEOUT)
        try:
            sock.connect(str(self.path))
        except OSError:
            sock.close()
            raise
        self.sock = sock


def get(ui: AgentUi, path: str) -> tuple[int, str]:
    """``GET path`` on the UI: (HTTP status, body)."""
    if not path.startswith("/"):
        raise HiveError(f"{path!r} is not a path on the UI", hint="e.g. /status or /turns")
    connection = _UnixConnection(ui.socket)
    try:
        connection.request("GET", path, headers={HEADER: ui.secret})
        response = connection.getresponse()
        return response.status, response.read().decode(errors="replace")
    except OSError as exc:
        raise Unreachable(f"the agent's UI at {ui.socket} does not answer: {exc}") from None
    finally:
        connection.close()
