"""Who is on the other end of a connection: an agent's uid range, known by ``SO_PEERCRED``."""

from __future__ import annotations

import socket
import struct
from collections import Counter
from dataclasses import dataclass, field

UID_RANGE = 65536
NOT_ADMITTED = "not an agent of this hive, or too many connections"  # why admit() said no
_UCRED = struct.Struct("3i")  # pid, uid, gid


def peer_uid(sock: socket.socket) -> int:
    raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _UCRED.size)
    return int(_UCRED.unpack(raw)[1])


@dataclass
class Peers:
    """The uid ranges allowed in, and a cap on the connections each may hold open."""

    first_uid: int  # the lowest uid base of the hive (the manager's)
    per_range: int = 64
    open: Counter[int] = field(default_factory=Counter)

    def admit(self, sock: socket.socket | None) -> int | None:
        """The peer's uid base, counted as one more open connection; None if refused."""
        if sock is None:
            return None
        try:
            uid = peer_uid(sock)
        except OSError:
            return None
        if uid < self.first_uid:
            return None
        base = uid - uid % UID_RANGE
        if self.open[base] >= self.per_range:
            return None
        self.open[base] += 1
        return base

    def release(self, base: int) -> None:
        self.open[base] -= 1
        if self.open[base] <= 0:
            del self.open[base]
