"""The operator's way into an agent's own web UI: its ``ui.sock``, with its secret.

Host-side only (root): the socket lives in the agent's runtime dir and the
secret in the daemon-owned policy dir. The daemon's ``agent_ui`` verb opens
it for the dashboard, which proxies ``/agents/<name>/`` through that pipe.

The runtime dir is the container's to write: whatever sits at ``ui.sock`` is
reached without following a link it may have put there (an ``O_PATH`` fd on
the entry itself, connected through ``/proc/self/fd``), so root never dials a
socket of the container's choosing.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import os
import socket
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from hive_c0re.errors import HiveError, Unreachable
from hive_c0re.lifecycle.safefs import open_dir
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


def _not_up(where: Path, why: str) -> Unreachable:
    return Unreachable(f"the agent's UI is not up: {where} {why}",
                       hint="is its container running? hive-c0re status NAME")


@contextlib.contextmanager
def socket_entry(path: Path) -> Iterator[str]:
    """A name to connect to that is the socket at ``path`` itself, never a link there.

    ``path``'s grandparent is the daemon's own directory; its parent and the
    entry are opened with ``O_NOFOLLOW``. Raise Unreachable unless it is a socket.
    """
    try:
        with open_dir(path.parent.parent, path.parent.name) as dir_fd:
            fd = os.open(path.name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
    except (HiveError, OSError):
        raise _not_up(path, "does not exist") from None
    try:
        if not stat.S_ISSOCK(os.fstat(fd).st_mode):
            raise _not_up(path, "is not a socket")
        yield f"/proc/self/fd/{fd}"
    finally:
        os.close(fd)


async def connect(ui: AgentUi) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A stream connection to the UI's socket; raise Unreachable if nothing listens there."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.setblocking(False)
    try:
        with socket_entry(ui.socket) as entry:
            await asyncio.get_running_loop().sock_connect(sock, entry)
    except OSError as exc:
        sock.close()
        raise _not_up(ui.socket, f"does not answer ({exc.strerror or exc})") from None
    except BaseException:
        sock.close()
        raise
    return await asyncio.open_unix_connection(sock=sock)


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: Path) -> None:
        super().__init__("localhost", timeout=TIMEOUT)
        self.path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(TIMEOUT)
        try:
            with socket_entry(self.path) as entry:
                sock.connect(entry)
        except BaseException:
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
