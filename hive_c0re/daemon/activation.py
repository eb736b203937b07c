"""Listening sockets: taken from systemd socket activation, else bound here."""

from __future__ import annotations

import contextlib
import socket
import stat
from pathlib import Path

from hive_c0re.activation import activated_sockets
from hive_c0re.errors import HiveError
from hive_c0re.lifecycle.safefs import hand_over_socket

__all__ = ["activated_sockets", "bind_unix"]


def bind_unix(path: Path, mode: int, owner: int | None = None) -> socket.socket:
    """Bind a listening unix socket at ``path``, replacing a stale socket file.

    Refuse to remove anything that is not a socket: a wrong path must never
    cost the operator a file. ``path``'s directory may be a container's: the
    mode (and ``owner``) are set on the socket's own inode, never through a
    name the container could have swapped for a symlink.
    """
    # Every failure is a HiveError naming the path: the caller decides what it costs.
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            if not stat.S_ISSOCK(path.lstat().st_mode):
                raise HiveError(f"{path} exists and is not a socket; refusing to replace it")
            path.unlink()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    except OSError as exc:
        raise HiveError(f"cannot listen on {path}: {exc.strerror or exc}") from None
    try:
        sock.bind(str(path))
        hand_over_socket(path, mode, owner)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise HiveError(f"cannot listen on {path}: {exc.strerror or exc}") from None
    except HiveError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock
