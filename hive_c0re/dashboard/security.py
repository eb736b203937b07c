"""Who may use the dashboard: sessions, CSRF, Origin and Host, the response headers.

Every request passes, in order: the Host check (a page served under a name
we do not know is a DNS-rebinding attack), for a state-changing request the
Origin and Fetch-Metadata checks, the session (the ``hive_session`` cookie,
checked with the daemon on every request, so a revoked session is refused
at once), and for a state-changing request the session's CSRF token. Only
``/login`` and ``/static/`` answer without a session.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from hive_c0re.dashboard.config import CONFIG, HIVE, DashboardConfig
from hive_c0re.errors import HiveError, InvalidInput, NotFound, Unreachable
from hive_c0re.wire_auth import MAX_SECRET_FIELD

SESSION_COOKIE = "hive_session"
CSRF_FIELD = "csrf"
CSRF_HEADER = "X-CSRF-Token"
# The names a browser on this machine uses for it; others come from the settings.
LOCAL_HOSTS = ("localhost", "127.0.0.1", "[::1]")
SAFE_METHODS = frozenset({"GET", "HEAD"})
# No session needed: the door in, and the files every page (the login page too) links.
EXEMPT_PATHS = ("/login",)
EXEMPT_PREFIXES = ("/static/",)
# The routes of an agent's own UI (the proxy's): GET, POST, its static files, their bare path.
UI_ROUTES = ("agent-ui", "agent-ui-post", "agent-ui-static", "agent-ui-static-bare")
CSP = "; ".join((
    "default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:",
    "connect-src 'self'", "frame-ancestors 'none'", "base-uri 'none'", "form-action 'self'",
))

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def host_name(value: str) -> str:
    """The host of a ``Host`` header or an origin's authority, lower case, without port."""
    value = value.strip().lower()
    if value.startswith("["):
        end = value.find("]")
        return value[:end + 1] if end > 0 else ""
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


def allowed(config: DashboardConfig, host: str) -> bool:
    return bool(host) and (host in LOCAL_HOSTS or host in config.allowed_hosts)


def origin_allowed(config: DashboardConfig, origin: str) -> bool:
    """Whether ``origin`` (an ``Origin`` header) is this dashboard's own kind of page."""
    parts = urlsplit(origin)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return False
    return allowed(config, host_name(parts.netloc))


def is_exempt(path: str) -> bool:
    return path in EXEMPT_PATHS or path.startswith(EXEMPT_PREFIXES)


def is_page_get(request: web.Request) -> bool:
    """A page the browser navigates to (a redirect to the login helps), not a fragment,
    a stream or an action (there a redirect would be swapped in as content)."""
    return (request.method in SAFE_METHODS and request.headers.get("HX-Request") != "true"
            and not request.path.startswith(("/fragments/", "/live")))


def forbidden(text: str) -> web.HTTPForbidden:
    return web.HTTPForbidden(text=text + "\n", content_type="text/plain")


@web.middleware
async def check_host(request: web.Request, handler: Handler) -> web.StreamResponse:
    config = request.app[CONFIG]
    if not allowed(config, host_name(request.headers.get("Host", ""))):
        raise forbidden("this dashboard does not answer to that host name; add it to the "
                        "dashboard_allowed_hosts setting if it is yours")
    return await handler(request)


@web.middleware
async def check_origin(request: web.Request, handler: Handler) -> web.StreamResponse:
    # A WebSocket handshake is a GET, but what follows it acts: it is checked the same.
    upgrade = request.headers.get("Upgrade", "").lower() == "websocket"
    if request.method not in SAFE_METHODS or upgrade:
        origin = request.headers.get("Origin")
        if origin is not None and not origin_allowed(request.app[CONFIG], origin):
            raise forbidden(f"refused: a page at {origin} may not act on this dashboard")
        if request.headers.get("Sec-Fetch-Site") == "cross-site":
            raise forbidden("refused: another site's page may not act on this dashboard")
    return await handler(request)


async def session_of(request: web.Request) -> dict[str, Any] | None:
    """The session the cookie names, as the daemon knows it now; None when there is none."""
    token = request.cookies.get(SESSION_COOKIE, "")
    if not token or len(token) > MAX_SECRET_FIELD:
        return None
    try:
        answer = await request.app[HIVE].call("dashboard_session", token=token)
    except (NotFound, InvalidInput):
        return None
    session: dict[str, Any] = answer["session"]
    return session


def unreachable(error: HiveError) -> web.Response:
    hint = f" ({error.hint})" if error.hint else ""
    return web.Response(status=503, text=f"{error.message}{hint}\n", content_type="text/plain")


@web.middleware
async def check_session(request: web.Request, handler: Handler) -> web.StreamResponse:
    if is_exempt(request.path):
        return await handler(request)
    try:
        session = await session_of(request)
    except Unreachable as error:
        return unreachable(error)
    if session is None:
        if is_page_get(request):
            raise web.HTTPSeeOther("/login")
        raise web.HTTPUnauthorized(text="no session: run `hive-c0re dashboard login`\n",
                                   content_type="text/plain")
    request["session"] = session
    return await handler(request)


async def posted_token(request: web.Request) -> str:
    header = request.headers.get(CSRF_HEADER)
    if header is not None:
        return header
    # Reading a form would consume the body the proxy must pass on to the agent's UI,
    # whose own script sends the token as a header.
    if request.match_info.route.name in UI_ROUTES:
        return ""
    if request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        value = (await request.post()).get(CSRF_FIELD)
        return value if isinstance(value, str) else ""
    return ""


@web.middleware
async def check_csrf(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.method not in SAFE_METHODS and not is_exempt(request.path):
        expected = str(request["session"]["csrf"])
        given = await posted_token(request)
        if not hmac.compare_digest(given.encode(), expected.encode()):
            raise forbidden("refused: the form's CSRF token is missing or wrong; "
                            "reload the page and try again")
    return await handler(request)


async def add_headers(request: web.Request, response: web.StreamResponse) -> None:
    """The headers every answer carries, errors and static files included."""
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    # same-origin, not no-referrer: under no-referrer a browser sends "Origin: null" with
    # its own forms, which check_origin must refuse; nothing goes to another site either way.
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["X-Frame-Options"] = "DENY"
    if not request.path.startswith(EXEMPT_PREFIXES):
        response.headers["Cache-Control"] = "no-store"


async def template_context(request: web.Request) -> dict[str, Any]:
    """What every template may use: the session's CSRF token."""
    session = request.get("session")
    return {"csrf": session["csrf"] if session else ""}


def setup(app: web.Application, config: DashboardConfig) -> None:
    """Put the middlewares on ``app`` (the login routes are a view: views.login)."""
    # First of all: aiohttp_jinja2's context processors run in a middleware of their own,
    # and must find the session already checked and set.
    app.middlewares[0:0] = (check_host, check_origin, check_session, check_csrf)
    app.on_response_prepare.append(add_headers)
