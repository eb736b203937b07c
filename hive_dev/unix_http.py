"""HTTP over a unix socket, for tests and benchmarks that talk to a UI's socket."""

from __future__ import annotations

import http.client
import socket
from pathlib import Path


class UnixHTTPConnection(http.client.HTTPConnection):
    """An :class:`http.client.HTTPConnection` to the unix socket ``path``."""

    def __init__(self, path: Path, timeout: float = 30.0, host: str = "localhost") -> None:
        super().__init__(host, timeout=timeout)
        self.path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(str(self.path))
