"""One listening socket and its connections: frames in, answers out, limits enforced.

A connection is its own task, so a slow or silent client only ever holds
itself up; it is closed when it idles past ``idle_timeout``, stops reading
answers for ``write_timeout``, or sends a frame over ``max_frame_bytes``.
Every socket has its own cap on open connections, and all of them share one
:class:`Budget` below the daemon's file-descriptor limit, part of which only
``host.sock`` may use: agents flooding their sockets never lock the operator out.

A request may instead be answered by a :class:`Stream` (a subscription): its
first answer, then one frame per update for as long as the client stays; the
connection reads no further requests. Or by a :class:`Pipe`: its first
answer, then the connection carries raw bytes to and from another socket
until either end closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import resource
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from hive_c0re import splice, wire
from hive_c0re.errors import HiveError, InvalidInput
from hive_c0re.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class Stream:
    """An answer that goes on: ``first``, then each frame of ``next_update()`` (encoded
    once, however many clients it goes to) until the client goes.

    Updates are pulled one at a time, only once the previous one left the
    daemon's buffer, so a client that does not read holds at most one frame
    here; what it misses meanwhile is the stream's to coalesce. ``close`` is
    called once the connection ends, however it ends.
    """

    first: dict[str, Any]
    next_update: Callable[[], Awaitable[bytes]]
    close: Callable[[], None]


Upstream = tuple[asyncio.StreamReader, asyncio.StreamWriter]


@dataclass
class Pipe:
    """An answer that hands the connection over: ``connect()`` opens the other end,
    then ``first`` is written and bytes go both ways, untouched, until either end
    closes (then both are closed: no half-open pipe holds two fds).

    ``connect`` runs before ``first`` is sent, so a HiveError it raises reaches
    the client as an ordinary failed answer. The other end is one more
    connection against the :class:`Budget`; idle_timeout does not apply.
    """

    first: dict[str, Any]
    connect: Callable[[], Awaitable[Upstream]]


Dispatch = Callable[[bytes], Awaitable[dict[str, Any] | Stream | Pipe]]
TOO_MANY = "too many connections"
Undelivered = Callable[[dict[str, Any]], None]
DRAIN_BUDGET = 16 * 1024 * 1024


class Budget:
    """Open connections across every socket, against one limit below the fd limit.

    ``limit`` is what all sockets together may hold; agent and manager sockets
    stop ``reserve`` short of it, so the last connections are the operator's.
    """

    def __init__(self, limit: int, reserve: int) -> None:
        self.limit = limit
        self.reserve = min(reserve, limit - 1)
        self.open = 0

    @classmethod
    def from_settings(cls, settings: Settings) -> Budget:
        """The settings' cap, lowered to fit the fds this process may open."""
        soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        fits = soft - settings.fd_reserve if soft != resource.RLIM_INFINITY else None
        limit = settings.max_total_connections if fits is None else min(
            settings.max_total_connections, fits)
        if limit < settings.max_total_connections:
            log.warning("only %d connections fit the fd limit %d (fd_reserve %d); "
                        "raise LimitNOFILE= to allow max_total_connections=%d",
                        limit, soft, settings.fd_reserve, settings.max_total_connections)
        return cls(max(limit, 2), settings.host_reserved_connections)

    def take(self, *, operator: bool) -> bool:
        """Count one more connection if there is room for it on such a socket."""
        if self.open >= (self.limit if operator else self.limit - self.reserve):
            return False
        self.open += 1
        return True

    def give_back(self) -> None:
        self.open -= 1


class Listener:
    """Serves one socket whose every connection speaks as the same identity."""

    def __init__(self, sock: socket.socket, dispatch: Dispatch, settings: Settings,
                 label: str, undelivered: Undelivered | None = None, *,
                 budget: Budget, operator: bool = False) -> None:
        self.sock = sock
        self.dispatch = dispatch
        self.undelivered = undelivered
        self.settings = settings
        self.label = label
        self.budget = budget
        self.operator = operator
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
        if not self._admit():
            self._refuse(writer)
            return
        self.connections.add(task)
        # Only an empty buffer means the client's socket holds the whole answer.
        writer.transport.set_write_buffer_limits(high=0)
        try:
            await self._serve(reader, writer)
        except (ConnectionError, TimeoutError):
            pass  # the client went away or stopped reading: its loss alone
        except Exception:
            log.exception("%s: connection failed", self.label)
        finally:
            self.connections.discard(task)
            self.budget.give_back()
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    def _admit(self) -> bool:
        if len(self.connections) >= self.settings.max_connections:
            log.warning("%s: refusing a connection past max_connections=%d", self.label,
                        self.settings.max_connections)
            return False
        if not self.budget.take(operator=self.operator):
            log.warning("%s: refusing a connection: %d open on all sockets (limit %d)",
                        self.label, self.budget.open, self.budget.limit)
            return False
        return True

    def _refuse(self, writer: asyncio.StreamWriter) -> None:
        """Answer why and close at once: a refused connection must not hold an fd.

        The answer goes straight into the client's socket, ahead of the close,
        so a client reads it even if it was writing (it may then see a reset).
        """
        with contextlib.suppress(Exception):
            writer.write(wire.encode(wire.failure(InvalidInput(TOO_MANY))))
        if writer.transport.get_write_buffer_size():
            writer.transport.abort()  # a client not even reading gets no grace
        else:
            writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            line, last = await self._next_frame(reader, writer)
            if line is None:
                return
            if line.strip():
                answer = await self.dispatch(line)
                if isinstance(answer, Stream):
                    await self._stream(reader, writer, answer)
                    return
                if isinstance(answer, Pipe):
                    if await self._pipe(reader, writer, answer):
                        return
                elif not await self._answer(writer, answer):
                    if self.undelivered is not None:
                        self.undelivered(answer)
                    return
            if last:
                return

    async def _stream(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                      stream: Stream) -> None:
        """Serve ``stream`` until the client hangs up (or its updates end)."""
        try:
            if not await self._answer(writer, stream.first):
                return
            tasks = {asyncio.ensure_future(self._pump(writer, stream)),
                     asyncio.ensure_future(self._until_hangup(reader))}
            try:
                done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    task.result()  # the pump's failure is the connection's
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
        finally:
            stream.close()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                    pipe: Pipe) -> bool:
        """Open ``pipe``'s other end (counted in the budget), answer, then carry bytes.

        Return False when it could not be opened and the client was told so: the
        connection then goes on reading requests, as after any failed answer.
        """
        if not self.budget.take(operator=self.operator):
            log.warning("%s: refusing a pipe: %d open on all sockets (limit %d)", self.label,
                        self.budget.open, self.budget.limit)
            return not await self._answer(writer, _failed(pipe, InvalidInput(TOO_MANY)))
        try:
            try:
                upstream = await pipe.connect()
            except HiveError as exc:
                return not await self._answer(writer, _failed(pipe, exc))
            try:
                if await self._answer(writer, pipe.first):
                    await _carry(reader, writer, upstream)
            finally:
                upstream[1].close()
            return True
        finally:
            self.budget.give_back()

    async def _pump(self, writer: asyncio.StreamWriter, stream: Stream) -> None:
        """Write updates as the client takes them; no timeout: a slow reader only waits."""
        while not writer.is_closing():
            writer.write(await stream.next_update())
            await writer.drain()

    async def _until_hangup(self, reader: asyncio.StreamReader) -> None:
        """Return when the client closes its end; what it still sends is read and dropped."""
        while await reader.read(65536):
            pass

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
            if await self._answer(writer, wire.failure(error)):
                with contextlib.suppress(TimeoutError):
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
        """Write one answer; False if the client never got all of it.

        An answer the client stopped reading is cut off (the connection is
        aborted, its unsent bytes dropped), so it is never half-seen: the
        caller takes back what it carried.
        """
        if writer.is_closing():
            return False
        writer.write(wire.encode(answer))
        # Most answers fit the socket buffer at once; only a slow reader needs the wait.
        if writer.transport.get_write_buffer_size():
            try:
                async with asyncio.timeout(self.settings.write_timeout):
                    await writer.drain()
            except (ConnectionError, TimeoutError):
                log.info("%s: an answer was not read within write_timeout=%gs; dropped",
                         self.label, self.settings.write_timeout)
                writer.transport.abort()
                return False
        return not writer.is_closing()


def _failed(pipe: Pipe, error: HiveError) -> dict[str, Any]:
    """The failure a pipe's client gets instead of its first answer (same request id)."""
    answer = wire.failure(error)
    if wire.REQUEST_ID in pipe.first:
        answer[wire.REQUEST_ID] = pipe.first[wire.REQUEST_ID]
    return answer


async def _carry(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 upstream: Upstream) -> None:
    """Both directions until either ends; the bytes the request's reader already
    buffered go first, since it is the same reader."""
    up_reader, up_writer = upstream
    # Answers wait for an empty buffer (set at accept); a pipe's bytes queue as usual.
    writer.transport.set_write_buffer_limits()
    tasks = {asyncio.ensure_future(splice.pipe(reader, up_writer)),
             asyncio.ensure_future(splice.pipe(up_reader, writer))}
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
