"""An asyncio client for the agent's socket (same frames as :class:`hive_c0re.wire.Client`)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from pathlib import Path
from typing import Any

from hive_c0re.errors import Unreachable, from_wire
from hive_c0re.wire import encode

# Room for the largest answer: 32 messages of max_body_bytes each, and then some.
READ_LIMIT = 64 * 1024 * 1024


class HiveConnection:
    """One connection, one request at a time; reconnects on the next call after a failure."""

    def __init__(self, path: Path, timeout: float = 30.0) -> None:
        self.path = path
        self.timeout = timeout
        self._lock = asyncio.Lock()
        self._streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def close(self) -> None:
        if self._streams is not None:
            _, writer = self._streams
            self._streams = None
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    async def call(self, cmd: str, **args: Any) -> dict[str, Any]:
        """Send one request; return the answer or raise the error it carries."""
        request = {"cmd": cmd, **{k: v for k, v in args.items() if v is not None}}
        wait = float(args.get("wait_seconds") or 0)
        async with self._lock:
            try:
                reader, writer = await self._connect()
                writer.write(encode(request))
                await writer.drain()
                async with asyncio.timeout(self.timeout + wait):
                    line = await reader.readline()
            except (OSError, TimeoutError, asyncio.IncompleteReadError) as exc:
                await self.close()
                raise Unreachable(f"connection to {self.path} failed: {exc}") from None
            if not line:
                await self.close()
                raise Unreachable(f"{self.path} closed the connection without an answer")
        answer: dict[str, Any] = json.loads(line)
        if not answer.get("ok"):
            raise from_wire(answer.get("code"), str(answer.get("error", "unknown error")))
        return answer

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self._streams is None:
            try:
                self._streams = await asyncio.open_unix_connection(str(self.path),
                                                                   limit=READ_LIMIT)
            except OSError as exc:
                raise Unreachable(f"cannot reach the hive at {self.path}: "
                                  f"{exc.strerror or exc}") from None
        return self._streams
