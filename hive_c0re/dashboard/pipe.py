"""The pipes to agents' UIs: each a host.sock connection the daemon splices to an agent's
``ui.sock``, given to an HTTP client as its one connection, with the agent's secret.

Every pipe holds a connection of the daemon's budget while it is open, so an agent's UI
that takes requests and answers none must not be able to hold them all: it gets
MAX_PIPES at once, and HEADERS_TIMEOUT to begin each answer.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING

import aiohttp
from aiohttp import web

from hive_c0re.dashboard.config import HIVE
from hive_c0re.wire import UI_SECRET_HEADER

if TYPE_CHECKING:
    from aiohttp.client_proto import ResponseHandler
    from aiohttp.client_reqrep import ClientRequest
    from aiohttp.tracing import Trace

# Seconds an agent's UI has to send an answer's headers (a stream, once it began, has no end).
HEADERS_TIMEOUT = 30.0
# Pipes open at once to one agent's UI: each holds a host.sock connection of the daemon's
# budget, so a UI that never answers must not take them all.
MAX_PIPES = 16


class PipeConnector(aiohttp.BaseConnector):
    """Gives the HTTP client one socket that is already connected: the daemon's pipe."""

    def __init__(self, sock: socket.socket) -> None:
        super().__init__(force_close=True, limit=1)
        self._sock: socket.socket | None = sock

    async def _create_connection(self, req: ClientRequest, traces: list[Trace],
                                 timeout: aiohttp.ClientTimeout,  # noqa: ASYNC109 (aiohttp names it)
                                 ) -> ResponseHandler:
        sock, self._sock = self._sock, None
        if sock is None:  # a pipe carries one agent's one exchange, never a second
            raise aiohttp.ClientConnectionError("the pipe to the agent's UI was used already")
        _, protocol = await self._loop.create_unix_connection(self._factory, sock=sock)
        return protocol


# The pipes open now, by agent.
PIPES = web.AppKey("agent_ui_pipes", dict[str, int])


@contextlib.contextmanager
def counted(request: web.Request, name: str) -> Iterator[None]:
    """One more pipe to ``name``'s UI; 503 when MAX_PIPES are open already."""
    pipes = request.app[PIPES]
    if pipes.get(name, 0) >= MAX_PIPES:
        raise web.HTTPServiceUnavailable(
            text=f"{name}'s UI has {MAX_PIPES} requests open already and answers none of "
                 "them; try again once they end, or restart the agent\n")
    pipes[name] = pipes.get(name, 0) + 1
    try:
        yield
    finally:
        pipes[name] -= 1
        if not pipes[name]:
            del pipes[name]


@contextlib.asynccontextmanager
async def ui_client(request: web.Request, name: str) -> AsyncIterator[aiohttp.ClientSession]:
    """An HTTP client whose one connection is a fresh pipe to ``name``'s UI, secret set."""
    with counted(request, name):
        sock, secret = await request.app[HIVE].open_ui(name)
        try:
            async with aiohttp.ClientSession(
                    connector=PipeConnector(sock), headers={UI_SECRET_HEADER: secret},
                    timeout=aiohttp.ClientTimeout(total=None, sock_read=None)) as client:
                yield client
        finally:
            sock.close()  # unused, or already closed with the client's transport


def silent(name: str) -> aiohttp.ClientError:
    return aiohttp.ClientError(f"no answer within {HEADERS_TIMEOUT:g} s; {name}'s UI may hang")
