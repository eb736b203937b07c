"""The CONNECT proxy on ``proxy.sock``: a byte tunnel to a public address, nothing else.

Only ``CONNECT host:port`` to an allowed port is taken. The proxy resolves
the name itself, checks every address it got (:mod:`.addresses`) and
connects to a checked one, so no later lookup can point the tunnel inside.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import socket
from collections.abc import Awaitable, Callable

from hive_c0re.egress.addresses import Refused, resolve_public
from hive_c0re.egress.peers import NOT_ADMITTED, Peers
from hive_c0re.splice import splice

log = logging.getLogger(__name__)

HEAD_LIMIT = 16384  # bytes of request line and headers
HEAD_TIMEOUT = 30.0
CONNECT_TIMEOUT = 30.0
ALLOWED_PORTS = frozenset({443, 80})
_REQUEST = re.compile(rb"CONNECT (?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(?P<port>\d{1,5}) "
                      rb"HTTP/1\.[01]\r\n")


def parse_connect(head: bytes, ports: frozenset[int] = ALLOWED_PORTS) -> tuple[str, int]:
    """The destination of a CONNECT request head; raise Refused for anything else."""
    found = _REQUEST.match(head)
    if found is None:
        first = head.split(b"\r\n", 1)[0][:200].decode(errors="replace")
        raise Refused(f"only CONNECT host:port is served, not {first!r}")
    host = found["host"].decode().strip("[]")
    port = int(found["port"])
    if port not in ports:
        raise Refused(f"port {port} is not one of {sorted(ports)}")
    return host, port


class Tunnels:
    """The server behind ``proxy.sock``."""

    def __init__(self, peers: Peers,
                 resolve: Callable[[str, int], Awaitable[list[str]]] = resolve_public,
                 ports: frozenset[int] = ALLOWED_PORTS) -> None:
        self.peers = peers
        self.resolve = resolve
        self.ports = ports

    async def serve(self, sock: socket.socket) -> asyncio.Server:
        return await asyncio.start_unix_server(self.handle, sock=sock, limit=HEAD_LIMIT)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        base = self.peers.admit(writer.get_extra_info("socket"))
        try:
            if base is None:
                await _answer(writer, 403, NOT_ADMITTED)
                return
            await self._tunnel(base, reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, TimeoutError) as exc:
            log.info("tunnel for uid base %s ended: %s", base, exc or type(exc).__name__)
        except Exception:  # one bad connection must not end the proxy's other ones
            log.exception("tunnel for uid base %s failed", base)
        except asyncio.CancelledError:
            pass  # the proxy is stopping; nobody awaits this task to hear it
        finally:
            if base is not None:
                self.peers.release(base)
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    async def _tunnel(self, base: int, reader: asyncio.StreamReader,
                      writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(HEAD_TIMEOUT):
                head = await reader.readuntil(b"\r\n\r\n")
            host, port = parse_connect(head, self.ports)
            addresses = await self.resolve(host, port)
            upstream = await _open(addresses, port)
        except asyncio.LimitOverrunError:
            await _answer(writer, 431, "request head too long")
            return
        except Refused as exc:
            log.warning("refused a tunnel for uid base %d: %s", base, exc,
                        extra={"HIVE_UID_BASE": base})
            await _answer(writer, 403, str(exc))
            return
        log.info("tunnel for uid base %d to %s:%d", base, host, port,
                 extra={"HIVE_UID_BASE": base})
        # No await before the splice, which closes the upstream however it ends: a client
        # gone by now must not leave an upstream connection open, uncounted by its range.
        writer.write(b"HTTP/1.1 200 Connection Established\r\n\r\n")
        await splice(reader, writer, upstream)


async def _open(addresses: list[str], port: int) -> tuple[asyncio.StreamReader,
                                                          asyncio.StreamWriter]:
    last: Exception | None = None
    for address in addresses:
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT):
                return await asyncio.open_connection(address, port)
        except (OSError, TimeoutError) as exc:
            last = exc
    raise Refused(f"cannot connect to {', '.join(addresses)} port {port}: {last}")


async def _answer(writer: asyncio.StreamWriter, status: int, reason: str) -> None:
    body = (reason + "\n").encode()
    writer.write(f"HTTP/1.1 {status} Refused\r\nContent-Type: text/plain\r\n"
                 f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body)
    with contextlib.suppress(ConnectionError):
        await writer.drain()
