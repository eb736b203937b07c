"""A subscriber to ``subscribe_agent_status`` written as the original's clients are: a raw
socket, one request line, then one frame per change. For the tests and the benchmark."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path
from typing import Any

# The keys every row has for the original's clients (hyperhive(7), agent_status).
ORIGINAL_KEYS = frozenset({"name", "running", "failed", "needs_update", "needs_login",
                           "paused", "parent", "deployed_sha", "active_model", "status_text",
                           "status_set_at", "url"})


class Subscriber:
    """One subscription; :meth:`row` blocks for the next row (``timeout`` seconds at most)."""

    def __init__(self, path: Path, *, receive_buffer: int | None = None,
                 timeout: float = 30) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        if receive_buffer is not None:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        self.sock.settimeout(timeout)
        self.sock.connect(str(path))
        self.sock.sendall(b'{"cmd":"subscribe_agent_status"}\n')
        self.buffer = b""
        first = self.frame()
        if first != {"version": 1, "ok": True}:
            raise AssertionError(f"not a bare ok: {first}")
        # When the last frame's bytes were read (time.perf_counter), for latencies.
        self.read_at = 0.0

    def frame(self) -> dict[str, Any]:
        while b"\n" not in self.buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise AssertionError("the daemon closed the subscription")
            self.buffer += chunk
            self.read_at = time.perf_counter()
        line, _, self.buffer = self.buffer.partition(b"\n")
        return dict(json.loads(line))

    def row(self) -> dict[str, Any]:
        frame = self.frame()
        if frame.get("ok") is not True or frame.get("version") != 1:
            raise AssertionError(f"not a row: {frame}")
        [row] = frame["agent_statuses"]
        return dict(row)

    def until(self, name: str, **wanted: object) -> dict[str, Any]:
        """Read rows until ``name``'s says ``wanted``; return it."""
        while True:
            row = self.row()
            if row["name"] == name and all(row.get(k) == v for k, v in wanted.items()):
                return row

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> Subscriber:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
