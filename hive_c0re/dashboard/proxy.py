"""``/agents/<name>/ui/...``: each agent's own UI, reached through the daemon's pipe.

Every request opens an ``agent_ui`` pipe on the operator's socket (the daemon
splices it to the agent's ``ui.sock``) and speaks HTTP/1.1 over it with the
agent's secret; the browser never learns the secret. The answer streams back
as it comes (the live panel is server-sent events) and a WebSocket (the
terminal) is carried both ways.

What the agent sends is untrusted: its UI runs in a container the hive treats
as hostile, and here it is shown on the dashboard's own origin, where a script
could do all the operator can. So the agent's page runs no script of its own:
the UI's script and styles are served from the host's copy of the package
(``static/``, never forwarded), and every forwarded answer carries a policy
that lets scripts load from that path only, nothing be sent outside the
agent's prefix, and nothing be framed but by the dashboard. Only plain content
types and a few harmless headers come back; a cookie the agent sets never does.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
from aiohttp import WSMsgType, web
from multidict import CIMultiDict
from yarl import URL

import hive_ag3nt.ui
from hive_c0re.dashboard.config import CONFIG
from hive_c0re.dashboard.live import HUB, Tab
from hive_c0re.dashboard.pipe import HEADERS_TIMEOUT, PIPES, silent, ui_client
from hive_c0re.dashboard.security import UI_ROUTES, session_of
from hive_c0re.dashboard.views.common import refused
from hive_c0re.errors import HiveError, InvalidInput
from hive_c0re.names import MANAGER, validate_agent_name

# The host's copy of the agent UI's script, styles and vendored terminal.
STATIC = (Path(hive_ag3nt.ui.__file__).parent / "static").resolve()
MAX_BODY = 1024 * 1024  # bytes of a forwarded request body: the UI's own limit
MAX_FRAME = 64 * 1024  # bytes of a terminal frame: the UI's own limit
METHODS = frozenset({"GET", "HEAD", "POST"})
# What of the browser's request the agent's UI needs to answer it.
PASSED_REQUEST = ("Accept", "Content-Type", "Last-Event-ID", "Cache-Control")
# What of the agent's answer may reach the browser besides its status and body.
PASSED_RESPONSE = ("Cache-Control", "Last-Modified", "ETag")
# Content types shown as they are; anything else is a download, never rendered.
SHOWN_TYPES = frozenset({"text/html", "application/json", "text/event-stream", "text/plain"})
# A Host header fit to write into the policy (the security middleware has checked the name).
_HOST = re.compile(r"(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?")


def ui_name(request: web.Request) -> str:
    """The agent (or ``manager``) the path names; 400 with the naming rule when it is not one."""
    name = request.match_info["name"]
    if name == MANAGER:
        return name
    try:
        return validate_agent_name(name)
    except InvalidInput as error:
        raise web.HTTPBadRequest(text=f"{error.message}\n") from None


def prefix(name: str) -> str:
    return f"/agents/{name}/ui/"


def scheme(request: web.Request) -> str:
    """The scheme the browser used: ``dashboard_url``'s, as a TLS proxy in front makes ours
    plain HTTP."""
    public = urlsplit(request.app[CONFIG].public_url).scheme
    return public if public in ("http", "https") else request.scheme


def ui_policy(request: web.Request, name: str) -> str:
    """The Content-Security-Policy of everything under the agent's prefix."""
    host = request.host
    if not _HOST.fullmatch(host):
        raise web.HTTPBadRequest(text=f"Host {host!r} is not a host name\n")
    secure = scheme(request) == "https"
    base = f"{'https' if secure else 'http'}://{host}{prefix(name)}"
    socket_base = f"{'wss' if secure else 'ws'}://{host}{prefix(name)}"
    return "; ".join((
        "default-src 'none'",
        f"script-src {base}static/",
        # xterm.js writes its own style elements
        f"style-src {base}static/ 'unsafe-inline'",
        f"font-src {base}static/",
        f"img-src {base} data:",
        f"connect-src {base} {socket_base}",
        "frame-src 'none'",
        "frame-ancestors 'self'",
        "base-uri 'none'",
        "form-action 'none'",
    ))


# The headers an answer under an agent's prefix keeps over the dashboard's own (which
# forbid framing): set on the response, put back once every other hook has run.
UI_HEADERS = web.ResponseKey("agent_ui_headers", dict)


def ui_headers(request: web.Request, name: str) -> dict[str, str]:
    return {
        "Content-Security-Policy": ui_policy(request, name),
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "SAMEORIGIN",
        "Referrer-Policy": "same-origin",  # so its forms carry an Origin: see security
    }


@contextlib.asynccontextmanager
async def held(request: web.Request) -> AsyncIterator[Tab]:
    """A long answer (the live panel, a terminal) held as one of its session's tabs, so the
    session's logout ends it at once, as it ends the dashboard's own stream."""
    hub = request.app[HUB]
    hub.start()  # the logout arrives on the hub's feed, which may not be followed yet
    tab = Tab(session_id=int(request["session"]["id"]), seq=hub.seq)
    hub.tabs.add(tab)
    try:
        # Again, now that the tab listens: a logout since the door's check would go unheard.
        if await session_of(request) is None:
            raise web.HTTPUnauthorized(text="the session has ended\n")
        yield tab
    finally:
        hub.tabs.discard(tab)


async def until_cut(tab: Tab) -> None:
    """Return once the tab's session is logged out (every other news is not ours)."""
    while not tab.cut:
        await tab.wake.wait()
        tab.wake.clear()
        tab.pending.clear()


async def first_done(*work: asyncio.Future[None] | asyncio.Task[None]) -> None:
    """Wait for the first of ``work`` to end, then cancel and reap the rest."""
    try:
        await asyncio.wait(work, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in work:
            task.cancel()
        await asyncio.wait(work)


def target(request: web.Request) -> URL:
    """The same path and query on the agent's UI, whose own host name is localhost."""
    path = "/" + request.match_info["tail"]
    return URL.build(scheme="http", host="localhost", path=path,
                     query_string=request.query_string)


def passed_request(request: web.Request) -> CIMultiDict[str]:
    return CIMultiDict((key, value) for key in PASSED_REQUEST
                       for value in request.headers.getall(key, ()))


async def bounded_body(request: web.Request) -> bytes:
    """The whole body (a read returns what has arrived so far); 413 past MAX_BODY."""
    body = bytearray()
    while chunk := await request.content.readany():
        body += chunk
        if len(body) > MAX_BODY:
            raise web.HTTPRequestEntityTooLarge(max_size=MAX_BODY, actual_size=len(body))
    return bytes(body)


def passed_response(upstream: aiohttp.ClientResponse) -> dict[str, str]:
    headers = {key: upstream.headers[key] for key in PASSED_RESPONSE if key in upstream.headers}
    kind = upstream.content_type
    if kind in SHOWN_TYPES:
        headers["Content-Type"] = upstream.headers.get("Content-Type", kind)
    else:
        headers["Content-Type"] = "application/octet-stream"
        headers["Content-Disposition"] = "attachment"
    if kind == "text/event-stream":
        headers["X-Accel-Buffering"] = "no"
    return headers


async def relay(request: web.Request, upstream: aiohttp.ClientResponse,
                name: str) -> web.StreamResponse:
    """The agent's answer, chunk by chunk as it arrives (a live stream is never buffered);
    any answer ends with its session (one the agent trickles would outlive it otherwise)."""
    response = web.StreamResponse(status=upstream.status, reason=upstream.reason)
    response.headers.update(passed_response(upstream))
    mark(response, ui_headers(request, name))
    async with held(request) as tab:
        await response.prepare(request)
        await first_done(asyncio.create_task(_copy_body(upstream, response)),
                         asyncio.create_task(until_cut(tab)))
    return response


async def _copy_body(upstream: aiohttp.ClientResponse, response: web.StreamResponse) -> None:
    try:
        async for chunk in upstream.content.iter_any():
            await response.write(chunk)
        await response.write_eof()
    except (ConnectionError, aiohttp.ClientPayloadError):
        pass  # one side went away mid-stream; the other side's end closes with this handler


def mark(response: web.StreamResponse, headers: dict[str, str]) -> web.StreamResponse:
    response.headers.update(headers)
    response[UI_HEADERS] = headers
    return response


async def keep_ui_headers(request: web.Request, response: web.StreamResponse) -> None:
    """Put an agent UI answer's own policy back over what earlier hooks wrote."""
    headers = response.get(UI_HEADERS)
    if headers is not None:
        response.headers.update(headers)


def unreachable(request: web.Request, name: str, reason: str) -> web.StreamResponse:
    return mark(web.Response(status=502, text=f"{name}'s UI does not answer: {reason}\n"),
                ui_headers(request, name))


async def forward(request: web.Request) -> web.StreamResponse:
    name = ui_name(request)
    if request.method not in METHODS:
        raise web.HTTPMethodNotAllowed(request.method, sorted(METHODS))
    if request.headers.get("Upgrade", "").lower() == "websocket":
        return await bridge(request, name)
    body = await bounded_body(request)
    try:
        async with ui_client(request, name) as client:
            try:
                async with asyncio.timeout(HEADERS_TIMEOUT):
                    upstream = await client.request(
                        request.method, target(request), headers=passed_request(request),
                        data=body or None, allow_redirects=False)
            except TimeoutError:
                raise silent(name) from None
            async with upstream:
                return await relay(request, upstream, name)
    except HiveError as error:
        return refused(request, error, f"/agents/{name}/")
    except aiohttp.ClientError as exc:
        return unreachable(request, name, str(exc) or type(exc).__name__)


def same_origin(request: web.Request) -> bool:
    """A browser's handshake must come from a page of the dashboard itself."""
    origin = request.headers.get("Origin")
    return origin is None or origin == f"{scheme(request)}://{request.host}"


async def bridge(request: web.Request, name: str) -> web.StreamResponse:
    """A WebSocket to the agent's UI (its terminal), carried both ways until either closes."""
    if not same_origin(request):
        raise web.HTTPForbidden(text="a WebSocket to an agent's UI opens only from the dashboard\n")
    try:
        async with held(request) as tab, ui_client(request, name) as client:
            try:
                async with asyncio.timeout(HEADERS_TIMEOUT):
                    upstream = await client.ws_connect(target(request), max_msg_size=MAX_FRAME)
            except TimeoutError:
                raise silent(name) from None
            async with upstream:
                return await answer_ws(request, upstream, tab)
    except HiveError as error:
        return refused(request, error, f"/agents/{name}/")
    except aiohttp.WSServerHandshakeError as exc:
        return mark(web.Response(status=exc.status, text=f"{name}'s UI refused: {exc.message}\n"),
                    ui_headers(request, name))
    except aiohttp.ClientError as exc:
        return unreachable(request, name, str(exc) or type(exc).__name__)


async def answer_ws(request: web.Request, upstream: aiohttp.ClientWebSocketResponse,
                    tab: Tab) -> web.WebSocketResponse:
    ws = web.WebSocketResponse(max_msg_size=MAX_FRAME, heartbeat=30.0)
    await ws.prepare(request)
    await carry(ws, upstream, tab)
    return ws


Socket = web.WebSocketResponse | aiohttp.ClientWebSocketResponse


async def _copy(source: Socket, sink: Socket) -> None:
    async for message in source:
        if message.type is WSMsgType.BINARY:
            await sink.send_bytes(message.data)
        elif message.type is WSMsgType.TEXT:
            await sink.send_str(message.data)


async def carry(browser: web.WebSocketResponse, agent: aiohttp.ClientWebSocketResponse,
                tab: Tab) -> None:
    """Frames both ways until one side closes or the session ends; then both are closed."""
    try:
        await first_done(asyncio.create_task(_copy(browser, agent)),
                         asyncio.create_task(_copy(agent, browser)),
                         asyncio.create_task(until_cut(tab)))
    finally:
        reason = b"the session has ended" if tab.cut else b"the agent's UI closed the connection"
        with contextlib.suppress(ConnectionError):
            await browser.close(code=agent.close_code or 1000, message=reason)
            await agent.close(code=browser.close_code or 1000)


async def static(request: web.Request) -> web.StreamResponse:
    """The agent UI's script, styles and terminal, from the host's own package."""
    name = ui_name(request)
    if request.method not in ("GET", "HEAD"):
        raise web.HTTPMethodNotAllowed(request.method, ["GET", "HEAD"])
    found = (STATIC / request.match_info.get("path", "")).resolve()  # bare: STATIC itself
    if not found.is_relative_to(STATIC) or not found.is_file():
        raise web.HTTPNotFound(text="no such file in the agent UI's static files\n")
    return mark(web.FileResponse(found), ui_headers(request, name))


def setup(app: web.Application) -> None:
    # After the dashboard's own header hook (security.setup runs before the views).
    app.on_response_prepare.append(keep_ui_headers)
    app[PIPES] = {}
    # The static routes first, every path under static, bare or not: the policy trusts
    # them for scripts, and the catch-all would forward them to the agent otherwise.
    get, post, static_file, static_bare = UI_ROUTES
    app.router.add_route("*", "/agents/{name}/ui/static/{path:.*}", static, name=static_file)
    app.router.add_route("*", "/agents/{name}/ui/static", static, name=static_bare)
    app.router.add_get("/agents/{name}/ui/{tail:.*}", forward, name=get)
    app.router.add_post("/agents/{name}/ui/{tail:.*}", forward, name=post)
