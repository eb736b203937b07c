"""Bytes carried both ways between two stream connections, untouched.

The egress's CONNECT tunnels and the harness's loopback forwarders both
splice a client to an upstream; asyncio and nothing else, so the harness
may import it like :mod:`hive_c0re.wire`.
"""

from __future__ import annotations

import asyncio
import contextlib

CHUNK = 65536


async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    """One direction, until ``source`` ends; then the end is passed on to ``sink``."""
    # Either side going away ends this direction; the other ends when its socket closes.
    try:
        while chunk := await source.read(CHUNK):
            sink.write(chunk)
            await sink.drain()
    except OSError:
        pass
    finally:
        if sink.can_write_eof():
            with contextlib.suppress(OSError):
                sink.write_eof()


async def splice(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 upstream: tuple[asyncio.StreamReader, asyncio.StreamWriter]) -> None:
    """Both directions until both end; then ``upstream`` is closed (the client is the caller's)."""
    up_reader, up_writer = upstream
    try:
        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
    finally:
        up_writer.close()
