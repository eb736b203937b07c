"""An asyncio client for the agent's socket (same frames as :class:`hive_c0re.Client`).

A daemon restart closes every connection. The harness may hold one for
minutes between calls, so a connection the daemon has closed is replaced
*before* the next request is written, and a request that failed on the wire is
sent again on a fresh connection only when doing it twice cannot change what
it did once (:func:`retry_safe`): a ``send`` whose answer was lost may have
been stored, and sending it again would deliver it twice.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

from hive_c0re.client import checked, closed_by_peer
from hive_c0re.errors import Unreachable
from hive_c0re.frames import encode

# Room for the largest answer: 32 messages of max_body_bytes each, and then some.
READ_LIMIT = 64 * 1024 * 1024

# Verbs that read, or set a state that doing again leaves as it is. ``recv``
# with a wait leases mail and is not among them (``retry_safe`` allows a peek).
IDEMPOTENT = frozenset({"whoami", "ack_turn", "requeue_inflight", "get_open_threads",
                        "report_state"})

Streams = tuple[asyncio.StreamReader, asyncio.StreamWriter]


def retry_safe(cmd: str, args: dict[str, Any]) -> bool:
    """Whether a request whose answer was lost may be sent again without harm."""
    if cmd == "recv":
        return not args.get("wait_seconds")
    return cmd in IDEMPOTENT


class HiveConnection:
    """One connection, one request at a time; a closed one is replaced before a call."""

    def __init__(self, path: Path, timeout: float = 30.0) -> None:
        self.path = path
        self.timeout = timeout
        self.connects = 0  # fresh connections made so far: a change means the daemon may be new
        self._lock = asyncio.Lock()
        self._streams: Streams | None = None

    async def close(self) -> None:
        if self._streams is not None:
            _, writer = self._streams
            self._streams = None
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    async def call(self, cmd: str, **args: Any) -> dict[str, Any]:
        """Send one request; return the answer or raise the error it carries.

        Raises :class:`Unreachable` when the hive cannot be reached or the
        connection failed before the answer came.
        """
        request = {"cmd": cmd, **{k: v for k, v in args.items() if v is not None}}
        wait = float(args.get("wait_seconds") or 0)
        async with self._lock:
            try:
                line = await self._exchange(request, wait)
            except Unreachable:
                if not retry_safe(cmd, request):
                    raise
                line = await self._exchange(request, wait)  # once, on a fresh connection
        return checked(line)

    async def _exchange(self, request: dict[str, Any], wait: float) -> bytes:
        """Write one request and read its answer line; on any failure the connection is dropped."""
        reader, writer = await self._connect()
        try:
            writer.write(encode(request))
            await writer.drain()
            async with asyncio.timeout(self.timeout + wait):
                line = await reader.readline()
        except (OSError, TimeoutError, asyncio.IncompleteReadError) as exc:
            await self.close()
            raise Unreachable(f"connection to {self.path} failed: {exc or type(exc).__name__}"
                              ) from None
        if not line:
            await self.close()
            raise Unreachable(f"{self.path} closed the connection without an answer")
        return line

    async def _connect(self) -> Streams:
        if self._streams is not None and closed_by_peer(*self._streams):
            # The daemon hung up since the last call (a restart): nothing of this
            # request has been written yet, so a fresh connection is safe for any verb.
            await self.close()
        if self._streams is None:
            try:
                self._streams = await asyncio.open_unix_connection(str(self.path),
                                                                   limit=READ_LIMIT)
            except OSError as exc:
                raise Unreachable(f"cannot reach the hive at {self.path}: "
                                  f"{exc.strerror or exc}") from None
            self.connects += 1
        return self._streams
