"""The model's API on ``api.sock``: each request forwarded to the operator's upstream.

The harness points the claude CLI at this (through a loopback forwarder in
its container), so the API key and the model's traffic take one path
whatever the upstream is: Anthropic's API over TLS, or a stand-in on the
host's loopback in the demo and the tests. Bodies stream both ways
untouched (no decompression), so server-sent events arrive as sent.
"""

from __future__ import annotations

import logging
import socket
import ssl
from typing import Any

import aiohttp
from aiohttp import web
from yarl import URL

from hive_c0re.egress.peers import Peers

log = logging.getLogger(__name__)

MAX_REQUEST = 64 * 1024 * 1024  # a long conversation with images stays well below this
# Headers that describe one hop, not the message (RFC 9110 section 7.6.1), and Host.
HOP_BY_HOP = frozenset({
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
    "transfer-encoding", "upgrade", "host", "proxy-connection",
})
PEER = web.RequestKey("peer_base", int)


def forwarded_headers(headers: Any) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k.lower() not in HOP_BY_HOP}


class ApiForwarder:
    """An aiohttp app that sends every request on to ``upstream`` and streams the answer back."""

    def __init__(self, upstream: str, peers: Peers, tls: ssl.SSLContext) -> None:
        self.upstream = URL(upstream)
        self.peers = peers
        self.tls = tls
        self.session: aiohttp.ClientSession | None = None

    def app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_REQUEST, middlewares=[self._admit])
        app.router.add_route("*", "/{tail:.*}", self.forward)
        app.on_cleanup.append(self._close)
        return app

    async def serve(self, sock: socket.socket) -> web.AppRunner:
        runner = web.AppRunner(self.app(), access_log=None)
        await runner.setup()
        await web.SockSite(runner, sock).start()
        return runner

    @web.middleware
    async def _admit(self, request: web.Request, handler: Any) -> web.StreamResponse:
        transport = request.transport
        base = self.peers.admit(transport.get_extra_info("socket") if transport else None)
        if base is None:
            return web.Response(status=403, text="not an agent of this hive, "
                                "or too many connections\n")
        try:
            request[PEER] = base
            response: web.StreamResponse = await handler(request)
            return response
        finally:
            self.peers.release(base)

    def _target(self, request: web.Request) -> URL:
        path = self.upstream.path.rstrip("/") + request.rel_url.path
        return self.upstream.with_path(path, encoded=False).with_query(request.rel_url.query)

    async def forward(self, request: web.Request) -> web.StreamResponse:
        if self.session is None:
            connector = aiohttp.TCPConnector(ssl=self.tls)
            self.session = aiohttp.ClientSession(
                connector=connector, auto_decompress=False, trust_env=False,
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=30, sock_read=600))
        body = await request.read()
        target = self._target(request)
        base = request[PEER]
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

    async def _close(self, app: web.Application) -> None:
        if self.session is not None:
            await self.session.close()
