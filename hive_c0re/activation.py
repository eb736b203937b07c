"""Sockets systemd hands a service by socket activation (``LISTEN_FDS``).

Shared by the daemon and the dashboard: the dashboard may not import the
daemon, and reading the activation protocol twice would be two places to fix.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping

LISTEN_FDS_START = 3


def activated_sockets(environ: Mapping[str, str] | None = None) -> dict[str, socket.socket]:
    """Sockets systemd passed us, by ``FileDescriptorName`` (default name: ``unknown``).

    Only honoured when ``LISTEN_PID`` is this process, so a child never
    mistakes its parent's descriptors for its own.
    """
    env = os.environ if environ is None else environ
    if env.get("LISTEN_PID") != str(os.getpid()):
        return {}
    count = int(env.get("LISTEN_FDS", "0"))
    names = env.get("LISTEN_FDNAMES", "").split(":") if env.get("LISTEN_FDNAMES") else []
    found: dict[str, socket.socket] = {}
    for index in range(count):
        fd = LISTEN_FDS_START + index
        name = names[index] if index < len(names) else "unknown"
        os.set_inheritable(fd, False)
        found[name] = socket.socket(fileno=fd)
    return found
