"""One listening socket and its connections: frames in, answers out, limits enforced.

A connection is its own task, so a slow or silent client only ever holds
itself up; it is closed when it idles past ``idle_timeout``, stops reading
answers for ``write_timeout``, or sends a frame over ``max_frame_bytes``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Awaitable, Callable
from typing import Any

from hive_c0re import wire
from hive_c0re.errors import InvalidInput
from hive_c0re.settings import Settings

log = logging.getLogger(__name__)

Dispatch = Callable[[bytes], Awaitable[dict[str, Any]]]
Undelivered = Callable[[dict[str, Any]], None]
DRAIN_BUDGET = 16 * 1024 * 1024


class Listener:
    """Serves one socket whose every connection speaks as the same identity."""

    def __init__(self, sock: socket.socket, dispatch: Dispatch, settings: Settings,
                 label: str, undelivered: Undelivered | None = None) -> None:
        self.sock = sock
        self.dispatch = dispatch
        self.undelivered = undelivered
        self.settings = settings
        self.label = label
        self.connections: set[asyncio.Task[None]] = set()
        self.server: asyncio.Server | None = None

    async def start(self) -> None:
        self.server = await asyncio.start_unix_server(
            self._accepted, sock=self.sock, limit=self.settings.max_frame_bytes
        )

    def close_listening(self) -> None:
        """Stop accepting; connections already open go on."""
        if self.server is not None:
            self.server.close()

    async def close(self, *, drop_connections: bool) -> None:
        self.close_listening()
        if drop_connections:
            for task in list(self.connections):
                task.cancel()
            await asyncio.gather(*self.connections, return_exceptions=True)

    async def _accepted(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        if len(self.connections) >= self.settings.max_connections:
            log.warning("%s: refusing a connection past max_connections=%d", self.label,
                        self.settings.max_connections)
            with contextlib.suppress(Exception):
                await self._answer(writer, wire.failure(InvalidInput("too many connections")))
                await self._drain_input(reader, writer)
            writer.close()
            return
        self.connections.add(task)
        try:
            await self._serve(reader, writer)
        except (ConnectionError, TimeoutError):
            pass  # the client went away or stopped reading: its loss alone
        except Exception:
            log.exception("%s: connection failed", self.label)
        finally:
            self.connections.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            line, last = await self._next_frame(reader, writer)
            if line is None:
                return
            if line.strip():
                answer = await self.dispatch(line)
                if not await self._answer(writer, answer):
                    if self.undelivered is not None:
                        self.undelivered(answer)
                    return
            if last:
                return

    async def _next_frame(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> tuple[bytes | None, bool]:
        """The next request line and whether the client has finished sending."""
        try:
            async with asyncio.timeout(self.settings.idle_timeout):
                line = await reader.readuntil(b"\n")
            return line, False
        except asyncio.IncompleteReadError as exc:
            # A last request without its newline is still answered, then the connection ends.
            return (exc.partial or None), True
        except asyncio.LimitOverrunError:
            error = InvalidInput(f"frame larger than {self.settings.max_frame_bytes} bytes",
                                 hint="split the request or raise max_frame_bytes")
            await self._answer(writer, wire.failure(error))
            await self._drain_input(reader, writer)
            return None, True
        except TimeoutError:
            return None, True

    async def _drain_input(self, reader: asyncio.StreamReader,
                           writer: asyncio.StreamWriter) -> None:
        """Read and drop what a client still sends after a refusal, within a budget.

        Closing at once would reset the connection under a client that is
        still writing, and it would never see the answer explaining why.
        """
        if writer.can_write_eof():
            writer.write_eof()
        budget = DRAIN_BUDGET
        while budget > 0:
            async with asyncio.timeout(self.settings.idle_timeout):
                chunk = await reader.read(65536)
            if not chunk:
                return
            budget -= len(chunk)

    async def _answer(self, writer: asyncio.StreamWriter, answer: dict[str, Any]) -> bool:
        """Write one answer; False if the client is gone and never got it."""
        if writer.is_closing():
            return False
        writer.write(wire.encode(answer))
        # Most answers fit the socket buffer at once; only a slow reader needs the wait.
        if writer.transport.get_write_buffer_size():
            try:
                async with asyncio.timeout(self.settings.write_timeout):
                    await writer.drain()
            except ConnectionError:
                return False
        return not writer.is_closing()
