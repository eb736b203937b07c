"""A small blocking client for the hive's sockets: one request at a time, or a feed
(and what the asyncio clients share: the answer's check, whether the daemon hung up).

It speaks :mod:`hive_c0re.wire`'s frames; the CLI, the harness, the manager and
the tests all talk to the daemon through it.
"""

from __future__ import annotations

import contextlib
import json
import select
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hive_c0re.errors import Unreachable, from_wire
from hive_c0re.frames import encode

if TYPE_CHECKING:  # the CLI loads this module on every call: asyncio only for the types
    import asyncio


class Client:
    """A blocking client for one socket; one request at a time."""

    def __init__(self, path: Path, timeout: float = 30.0) -> None:
        self.path = path
        self.timeout = timeout
        self._sock: socket.socket | None = None
        self._buffer = b""

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def _connect(self) -> socket.socket:
        if self._sock is None:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(self.timeout)
            try:
                sock.connect(str(self.path))
            except OSError as exc:
                sock.close()
                raise Unreachable(f"cannot reach the hive at {self.path}: {exc.strerror or exc}",
                                  hint="is hive-c0re running? (systemctl status hive-c0re)"
                                  ) from None
            self._sock = sock
        return self._sock

    def call(self, cmd: str, **args: Any) -> dict[str, Any]:
        """Send one request; return the answer's payload or raise the error it carries."""
        request = {"cmd": cmd, **{k: v for k, v in args.items() if v is not None}}
        wait = float(args.get("wait_seconds") or 0)
        sock = self._connect()
        try:
            sock.settimeout(self.timeout + wait)
            # The daemon may have refused the frame midway: its answer is still readable.
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                sock.sendall(encode(request))
            line = self._read_line(sock)
        except OSError as exc:
            self.close()
            raise Unreachable(f"connection to {self.path} failed: {exc}") from None
        return checked(line)

    def follow(self, cmd: str, **args: Any) -> Iterator[dict[str, Any]]:
        """Send subscription ``cmd``; yield each answer after its first, waiting as long as
        it takes, until the daemon closes the connection (Unreachable)."""
        self.call(cmd, **args)
        self._connect().settimeout(None)
        try:
            while True:
                yield dict(json.loads(self._read_line(self._connect())))
        except OSError as exc:
            raise Unreachable(f"connection to {self.path} failed: {exc}") from None

    def _read_line(self, sock: socket.socket) -> bytes:
        while b"\n" not in self._buffer:
            chunk = sock.recv(65536)
            if not chunk:
                self.close()
                raise Unreachable(f"{self.path} closed the connection without an answer")
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line


def closed_by_peer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
    """Whether the daemon has hung up on an idle asyncio connection, seen by the loop
    already or not yet.

    Between calls the daemon sends nothing, so a socket that polls readable
    holds its end of file (the loop may not have run since the daemon closed).
    """
    if reader.at_eof() or writer.is_closing() or reader.exception() is not None:
        return True
    sock = writer.get_extra_info("socket")
    if sock is None:
        return True
    poller = select.poll()
    poller.register(sock.fileno(), select.POLLIN | select.POLLHUP | select.POLLERR)
    return bool(poller.poll(0))


def checked(line: bytes) -> dict[str, Any]:
    """The answer in ``line``, or the error it carries raised (every client's one check)."""
    answer: dict[str, Any] = json.loads(line)
    if not answer.get("ok"):
        hint = answer.get("hint")
        raise from_wire(answer.get("code"), str(answer.get("error", "unknown error")),
                        hint if isinstance(hint, str) else None)
    return answer
