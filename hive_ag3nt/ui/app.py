"""The agent's web UI: an aiohttp app on the unix socket ``/run/hive/ui.sock``.

Who may reach it: the socket is mode 0600 in the 0700 ``/run/hive``, both the
harness's (the container's root); the model's side runs as another uid
(hive_ag3nt/separation.py), so only the harness and, on the host, root
reach it. Every request must also carry the agent's secret in the
``X-Hive-UI-Secret`` header: the daemon made it and hands it over read-only
(``/etc/hive/ui-secret``, 0400); the operator's ``hive-c0re ui`` and the
dashboard, which proxies ``/agents/<name>/`` here, send it. It never listens
on TCP. Every link and request here is relative, so it works under any prefix.

Endpoints: ``/`` (the page), ``/events`` (SSE), ``/status``, ``/turns``,
``/turns/{id}/events``, ``/inbox``, ``POST /prompt``, ``POST /login/start``,
``POST /login/code``, ``/terminal`` (websocket), ``/static/``.
"""

from __future__ import annotations

import hmac
import logging
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web
from aiohttp.typedefs import Middleware

from hive_ag3nt.harness import Harness
from hive_ag3nt.ui import handlers, login, page, sse, terminal
from hive_ag3nt.ui.config import HARNESS, SETTINGS, UiSettings
from hive_ag3nt.ui.door import bind_socket, load_secret, remove_if_ours
from hive_c0re.errors import HiveError
from hive_c0re.wire import UI_SECRET_HEADER as HEADER

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
MAX_REQUEST = 1024 * 1024  # bytes in a request body: room for a long prompt, escaped
SHUTDOWN_GRACE = 5.0  # seconds open streams get when the UI stops

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'self'; base-uri 'none'; form-action 'self'"),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Bad input answers 400 with its reason; nothing a request does reaches the harness loop."""
    try:
        return await handler(request)
    except handlers.BadRequest as exc:
        return handlers.refuse(400, str(exc))
    except HiveError as exc:
        return handlers.refuse(400, str(exc))
    except web.HTTPException:
        raise
    except Exception:
        log.exception("%s %s failed", request.method, request.path)
        return handlers.refuse(500, "internal error; see the agent's journal")


def require_secret(secret: str) -> Middleware:
    """A middleware that answers 401 to any request without ``secret`` in its header."""
    expected = secret.encode()

    @web.middleware
    async def authorised(request: web.Request, handler: Handler) -> web.StreamResponse:
        given = request.headers.get(HEADER, "").encode()
        if not hmac.compare_digest(given, expected):
            return handlers.refuse(401, f"this agent's UI needs its {HEADER} header")
        return await handler(request)

    return authorised


async def _security_headers(request: web.Request, response: web.StreamResponse) -> None:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)


def build_app(harness: Harness, settings: UiSettings, secret: str) -> web.Application:
    """The app, with every part wired in; call inside the running loop."""
    app = web.Application(middlewares=[require_secret(secret), errors],
                          client_max_size=MAX_REQUEST)
    app[HARNESS] = harness
    app[SETTINGS] = settings
    for part in (page, handlers, sse, login, terminal):
        part.setup(app)
    app.router.add_static("/static/", STATIC)
    app.on_response_prepare.append(_security_headers)
    return app


def _unlink_on_cleanup(app: web.Application, path: Path) -> None:
    inode = path.stat().st_ino

    async def unlink(app: web.Application) -> None:
        remove_if_ours(path, inode)

    app.on_cleanup.append(unlink)


async def start_ui(harness: Harness, path: Path, settings: UiSettings | None = None, *,
                   sock: socket.socket | None = None) -> web.AppRunner:
    """Serve the UI on ``path`` until ``await runner.cleanup()``.

    Raise HiveError when the daemon handed over no secret: no UI is better
    than one anybody in the container could drive. ``sock``: ``path``'s socket,
    bound already (:class:`hive_ag3nt.ui.door.UiDoor`); the cleanup removes it too.
    """
    secret = load_secret(harness.paths.ui_secret)
    app = build_app(harness, settings or UiSettings.from_env(), secret)
    bound_here = sock is None
    sock = bind_socket(path) if sock is None else sock
    _unlink_on_cleanup(app, path)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=SHUTDOWN_GRACE)
    try:
        await runner.setup()
        await web.SockSite(runner, sock).start()
    except BaseException:
        sock.close()
        await runner.cleanup()
        raise
    if bound_here:  # else the door said so
        log.info("agent UI on %s", path)
    return runner
