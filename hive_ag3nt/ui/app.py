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

import contextlib
import hmac
import logging
import socket
import stat
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web
from aiohttp.typedefs import Middleware

from hive_ag3nt.harness import Harness
from hive_ag3nt.ui import handlers, login, page, sse, terminal
from hive_ag3nt.ui.config import HARNESS, SETTINGS, UiSettings
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


def load_secret(path: Path) -> str:
    """The UI's secret, as the daemon wrote it; raise HiveError when there is none."""
    try:
        secret = path.read_text().strip()
    except OSError as exc:
        raise HiveError(f"cannot read the UI's secret {path}: {exc.strerror or exc}",
                        hint="the daemon writes it on every deploy: `hive-c0re rebuild`") from None
    if not secret:
        raise HiveError(f"the UI's secret {path} is empty")
    return secret


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


def bind_socket(path: Path) -> socket.socket:
    """A listening unix socket at ``path``, mode 0600, replacing only a stale socket file.

    Nobody can connect between bind and chmod: the socket listens only after.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        if not stat.S_ISSOCK(path.lstat().st_mode):
            raise HiveError(f"{path} exists and is not a socket; not replacing it")
        path.unlink()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(str(path))
        path.chmod(0o600)
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


def _remove_if_ours(path: Path, inode: int) -> None:
    with contextlib.suppress(FileNotFoundError):
        if path.lstat().st_ino == inode:  # not a socket a newer harness bound since
            path.unlink()


def _unlink_on_cleanup(app: web.Application, path: Path) -> None:
    inode = path.stat().st_ino

    async def unlink(app: web.Application) -> None:
        _remove_if_ours(path, inode)

    app.on_cleanup.append(unlink)


async def start_ui(harness: Harness, path: Path,
                   settings: UiSettings | None = None) -> web.AppRunner:
    """Serve the UI on ``path`` until ``await runner.cleanup()``.

    Raise HiveError when the daemon handed over no secret: no UI is better
    than one anybody in the container could drive.
    """
    secret = load_secret(harness.paths.ui_secret)
    app = build_app(harness, settings or UiSettings.from_env(), secret)
    sock = bind_socket(path)
    _unlink_on_cleanup(app, path)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=SHUTDOWN_GRACE)
    try:
        await runner.setup()
        await web.SockSite(runner, sock).start()
    except BaseException:
        sock.close()
        await runner.cleanup()
        raise
    log.info("agent UI on %s", path)
    return runner
