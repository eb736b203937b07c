"""The model's API on ``api.sock``: each request forwarded to the operator's upstream.

The harness points the claude CLI at this (through a loopback forwarder in
its container), so the API key and the model's traffic take one path
whatever the upstream is: Anthropic's API over TLS, or a stand-in on the
host's loopback in the demo and the tests. Bodies stream both ways
untouched (no decompression), so server-sent events arrive as sent.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
from typing import Any

import aiohttp
from aiohttp import web
from yarl import URL

from hive_c0re.egress.peers import NOT_ADMITTED, Peers

log = logging.getLogger(__name__)

MAX_REQUEST = 64 * 1024 * 1024  # a long conversation with images stays well below this
# Headers that describe one hop, not the message (RFC 9110 section 7.6.1), and Host.
HOP_BY_HOP = frozenset({
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
    "transfer-encoding", "upgrade", "host", "proxy-connection",
})
REFUSED = (f"HTTP/1.1 403 Forbidden\r\nContent-Length: {len(NOT_ADMITTED)}\r\n"
           f"Connection: close\r\n\r\n{NOT_ADMITTED}").encode()


def forwarded_headers(headers: Any) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k.lower() not in HOP_BY_HOP}


class PeerServer(web.Server):
    """aiohttp's low-level server, admitting each connection by its peer's uid range.

    Counted per connection, not per request: idle keep-alive connections
    hold a slot too, so one agent cannot take every descriptor.
    """

    def __init__(self, handler: Any, peers: Peers) -> None:
        # No access log: forward() logs each request once, with the peer's uid range.
        super().__init__(handler, request_factory=self._request, access_log=None)
        self.peers = peers
        self.bases: dict[Any, int] = {}

    def _request(self, message: Any, payload: Any, protocol: Any, writer: Any,
                 task: Any) -> web.BaseRequest:
        return web.BaseRequest(message, payload, protocol, writer, task,
                               asyncio.get_running_loop(), client_max_size=MAX_REQUEST)

    def connection_made(self, handler: Any, transport: asyncio.Transport) -> None:
        super().connection_made(handler, transport)
        base = self.peers.admit(transport.get_extra_info("socket"))
        if base is None:
            transport.write(REFUSED)
            transport.close()
        else:
            self.bases[handler] = base

    def connection_lost(self, handler: Any, exc: BaseException | None = None) -> None:
        base = self.bases.pop(handler, None)
        if base is not None:
            self.peers.release(base)
        super().connection_lost(handler, exc)


class ApiForwarder:
    """Sends every request on to ``upstream`` and streams the answer back.

    Built in the running loop (its client session needs one).
    """

    def __init__(self, upstream: str, peers: Peers, tls: ssl.SSLContext) -> None:
        self.upstream = URL(upstream)
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(ssl=tls), auto_decompress=False, trust_env=False,
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=30, sock_read=600))
        self.server = PeerServer(self.forward, peers)

    async def serve(self, sock: socket.socket) -> web.BaseRunner:
        runner = web.ServerRunner(self.server)
        await runner.setup()
        await web.SockSite(runner, sock).start()
        return runner

    def _target(self, request: web.BaseRequest) -> URL:
        path = self.upstream.path.rstrip("/") + request.rel_url.path
        return self.upstream.with_path(path, encoded=False).with_query(request.rel_url.query)

    async def forward(self, request: web.BaseRequest) -> web.StreamResponse:
        base = self.server.bases.get(request.protocol)
        if base is None:  # refused at connect; its bytes are not read
            return web.Response(status=403, text="not an agent of this hive\n")
        body = await request.read()
        target = self._target(request)
        try:
            upstream = await self.session.request(
                request.method, target, headers=forwarded_headers(request.headers), data=body,
                allow_redirects=False)
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("uid base %d: %s %s: upstream unreachable: %s", base, request.method,
                        request.rel_url.path, exc, extra={"HIVE_UID_BASE": base})
            return web.Response(status=502, text=f"the model's API is unreachable: {exc}\n")
        async with upstream:
            log.info("uid base %d: %s %s -> %d", base, request.method, request.rel_url.path,
                     upstream.status, extra={"HIVE_UID_BASE": base})
            response = web.StreamResponse(status=upstream.status, reason=upstream.reason,
                                          headers=forwarded_headers(upstream.headers))
            await response.prepare(request)
            async for chunk in upstream.content.iter_any():
                await response.write(chunk)
            await response.write_eof()
            return response

    async def close(self) -> None:
        await self.session.close()
