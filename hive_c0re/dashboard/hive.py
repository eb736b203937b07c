"""The dashboard's asyncio client for ``host.sock``: a small pool of connections.

Many tabs ask at once, so requests do not queue behind one connection; an
idle connection the daemon has closed (a restart) is dropped before it is
used. A request whose connection failed is not sent again: an approval or a
send done twice is not the same as done once.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from hive_c0re.client import checked, closed_by_peer
from hive_c0re.errors import Unreachable
from hive_c0re.wire import encode

# Room for the largest answer (a long history of messages), and then some.
READ_LIMIT = 64 * 1024 * 1024
IDLE_KEPT = 8

Streams = tuple[asyncio.StreamReader, asyncio.StreamWriter]


def _request(verb: str, args: dict[str, Any]) -> bytes:
    return encode({"cmd": verb, **{k: v for k, v in args.items() if v is not None}})


class HiveClient:
    """Calls, streams and agent-UI pipes on the operator's socket."""

    def __init__(self, path: Path, timeout: float = 30.0) -> None:
        self.path = path
        self.timeout = timeout
        self._idle: list[Streams] = []

    async def _open(self) -> Streams:
        try:
            return await asyncio.open_unix_connection(str(self.path), limit=READ_LIMIT)
        except OSError as exc:
            raise Unreachable(f"cannot reach the hive at {self.path}: {exc.strerror or exc}",
                              hint="is hive-c0re running? (systemctl status hive-c0re)"
                              ) from None

    async def _take(self) -> Streams:
        while self._idle:
            reader, writer = self._idle.pop()
            if not closed_by_peer(reader, writer):
                return reader, writer
            writer.close()
        return await self._open()

    def _give_back(self, streams: Streams) -> None:
        if len(self._idle) < IDLE_KEPT:
            self._idle.append(streams)
        else:
            streams[1].close()

    async def call(self, verb: str, **args: Any) -> dict[str, Any]:
        """One request; its answer, or the error it carries raised."""
        reader, writer = await self._take()
        try:
            writer.write(_request(verb, args))
            await writer.drain()
            async with asyncio.timeout(self.timeout):
                line = await reader.readline()
        except (OSError, TimeoutError) as exc:
            writer.close()
            raise Unreachable(f"the hive at {self.path} did not answer: {exc or 'timeout'}"
                              ) from None
        except BaseException:  # cancelled (the browser went): its answer would come to the next
            writer.close()
            raise
        if not line:
            writer.close()
            raise Unreachable(f"the hive at {self.path} closed the connection without an answer")
        self._give_back((reader, writer))
        return checked(line)

    async def stream(self, verb: str, **args: Any) -> AsyncIterator[dict[str, Any]]:
        """A subscription: its first answer, then each update, until either side ends it."""
        reader, writer = await self._open()
        try:
            writer.write(_request(verb, args))
            await writer.drain()
            while line := await reader.readline():
                yield checked(line)
        finally:
            writer.close()

    async def open_ui(self, name: str) -> tuple[socket.socket, str]:
        """A socket piped to ``name``'s own UI, and the secret that UI wants.

        The handshake is one line each way, read byte by byte on a plain
        socket so nothing past the answer is taken off it: the caller hands
        the socket to an HTTP client as it is.
        """
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.setblocking(False)
        loop = asyncio.get_running_loop()
        try:
            try:
                await loop.sock_connect(sock, str(self.path))
            except OSError as exc:
                raise Unreachable(f"cannot reach the hive at {self.path}: "
                                  f"{exc.strerror or exc}") from None
            await loop.sock_sendall(sock, _request("agent_ui", {"name": name}))
            async with asyncio.timeout(self.timeout):
                line = await _read_line(loop, sock)
            answer = checked(line)
        except BaseException:
            sock.close()
            raise
        return sock, str(answer["secret"])

    async def close(self) -> None:
        for _reader, writer in self._idle:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
        self._idle.clear()


async def _read_line(loop: asyncio.AbstractEventLoop, sock: socket.socket) -> bytes:
    line = bytearray()
    while not line.endswith(b"\n"):
        byte = await loop.sock_recv(sock, 1)
        if not byte:
            raise Unreachable("the hive closed the connection before the agent's UI opened")
        line += byte
    return bytes(line)
