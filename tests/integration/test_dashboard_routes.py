"""Every route of the dashboard, enumerated from its router, behind the same door.

Nothing here lists routes by hand: a route a view adds is swept at once
(no session, no CSRF token, a foreign Origin or Host), and the suite fails
until some other test of its own requests it (:func:`untested`).
"""

from __future__ import annotations

import http.client
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp import web as aioweb

from hive_c0re.dashboard.app import make_app
from hive_c0re.dashboard.config import DashboardConfig
from hive_c0re.dashboard.hive import HiveClient
from hive_dev.dashboard import Dashboard, WebSession, running_dashboard

TESTS = Path(__file__).resolve().parents[1]
# A value for each path parameter a route may have; a new name fails test_every_route_fills.
SAMPLES = {"name": "alice", "id": "1", "tail": "status", "path": "x.js",
           "filename": "dashboard.css"}
# Reachable without a session: the way in, and the files the login page links.
EXEMPT = frozenset({"login", "static"})
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
FOREIGN = "evil.example"
PARAMETER = re.compile(r"\{([^}:]+)(?::[^}]*)?\}")


@dataclass(frozen=True)
class Route:
    name: str
    method: str
    canonical: str

    @property
    def url(self) -> str:
        if self.name == "static":
            return self.canonical.rstrip("/") + "/" + SAMPLES["filename"]
        return PARAMETER.sub(lambda m: SAMPLES[m[1]], self.canonical)

    @property
    def changes_state(self) -> bool:
        return self.method in STATE_CHANGING

    def __str__(self) -> str:
        return f"{self.method} {self.canonical}"


def app_routes(app: aioweb.Application) -> list[Route]:
    """Each (route, method) of ``app``; ``*`` stands for GET and POST, HEAD goes with GET."""
    found = []
    for route in app.router.routes():
        if route.method == "HEAD":
            continue
        name = route.name or route.resource.name if route.resource else route.name
        canonical = route.resource.canonical if route.resource else ""
        methods = ("GET", "POST") if route.method == "*" else (route.method,)
        found += [Route(str(name), method, canonical) for method in methods]
    return found


def the_app() -> aioweb.Application:
    # Built only to read its router (never served, so the socket is never dialled).
    return make_app(HiveClient(Path("/nonexistent/host.sock")), DashboardConfig())


ROUTES = app_routes(the_app())


def literal(route: Route) -> re.Pattern[str]:
    """A string literal in a test that requests ``route``: its path, any value (or an
    f-string's field) for each parameter, then the literal's end or a query."""
    parts = PARAMETER.split(route.canonical)
    body = "".join(re.escape(part) if index % 2 == 0 else "[^/\"'?#\\s]+"
                   for index, part in enumerate(parts))
    end = "/" if route.name == "static" else "[\"'?#]"
    return re.compile(f"[\"']{body}(?={end})")


def untested(routes: list[Route], tests: Path = TESTS, besides: Path = Path(__file__)) -> list[str]:
    """The routes no test file (other than ``besides``) requests by a literal path."""
    texts = [path.read_text() for path in tests.rglob("*.py") if path != besides]
    return [str(route) for route in routes
            if not any(literal(route).search(text) for text in texts)]


@pytest.fixture(scope="module")
def dash() -> Iterator[Dashboard]:
    with running_dashboard() as dashboard:
        dashboard.call("register", name="alice")
        yield dashboard


@pytest.fixture(scope="module")
def web(dash: Dashboard) -> WebSession:
    return dash.login()


def status_of(dash: Dashboard, route: Route, headers: dict[str, str],
              body: str | None = None) -> tuple[int, str]:
    """The status and Location of one request; the body is not read (/live never ends)."""
    connection = http.client.HTTPConnection("127.0.0.1", dash.port, timeout=30)
    try:
        connection.request(route.method, route.url, body=body, headers=headers)
        answer = connection.getresponse()
        return answer.status, answer.getheader("Location") or ""
    finally:
        connection.close()


def signed_in(dash: Dashboard, web: WebSession, **extra: str) -> dict[str, str]:
    return {"Host": f"127.0.0.1:{dash.port}",
            "Cookie": f"hive_session={web.cookies['hive_session']}",
            "Content-Type": "application/x-www-form-urlencoded", **extra}


def test_the_router_has_the_door_and_every_route_is_named() -> None:
    names = {route.name for route in ROUTES}
    assert {"login", "logout", "live", "static"} <= names
    assert all(route.name and route.name != "None" for route in ROUTES), ROUTES


@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_every_route_fills(route: Route) -> None:
    assert route.url.startswith("/") and "{" not in route.url, (
        f"{route}: give its path parameter a value in SAMPLES")


@pytest.mark.parametrize("route", [r for r in ROUTES if r.name not in EXEMPT], ids=str)
def test_without_a_session_a_route_is_refused(dash: Dashboard, route: Route) -> None:
    status, location = status_of(dash, route, {"Host": f"127.0.0.1:{dash.port}"})
    if route.method == "GET" and status == 303:
        assert location == "/login"
    else:
        assert status == 401, (route, status)


@pytest.mark.parametrize("route", [r for r in ROUTES if r.changes_state], ids=str)
def test_state_changing_without_the_csrf_token_is_refused(
        dash: Dashboard, web: WebSession, route: Route) -> None:
    headers = signed_in(dash, web)
    assert status_of(dash, route, headers, "x=1")[0] == 403
    assert status_of(dash, route, headers, "csrf=forged")[0] == 403
    assert status_of(dash, route, {**headers, "X-CSRF-Token": "forged"})[0] == 403


@pytest.mark.parametrize("route", [r for r in ROUTES if r.changes_state], ids=str)
def test_state_changing_from_a_foreign_origin_is_refused(
        dash: Dashboard, web: WebSession, route: Route) -> None:
    body = f"csrf={web.csrf}"
    for foreign in ({"Origin": f"http://{FOREIGN}"}, {"Origin": "null"},
                    {"Sec-Fetch-Site": "cross-site"}):
        assert status_of(dash, route, signed_in(dash, web, **foreign), body)[0] == 403, foreign


@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_a_foreign_host_is_refused(dash: Dashboard, web: WebSession, route: Route) -> None:
    headers = {**signed_in(dash, web), "Host": f"{FOREIGN}:{dash.port}"}
    body = f"csrf={web.csrf}" if route.changes_state else None
    assert status_of(dash, route, headers, body)[0] == 403


@pytest.mark.parametrize("route", [r for r in ROUTES if not r.changes_state], ids=str)
def test_a_signed_in_read_never_fails_inside(dash: Dashboard, web: WebSession,
                                             route: Route) -> None:
    # 502 and 503 say the hive or the agent's UI is out of reach: a clear answer, no crash.
    assert status_of(dash, route, signed_in(dash, web))[0] != 500


def test_a_websocket_from_a_foreign_page_is_refused(dash: Dashboard, web: WebSession) -> None:
    route = Route("live", "GET", "/live")
    headers = signed_in(dash, web, Origin=f"http://{FOREIGN}", Upgrade="websocket",
                        Connection="Upgrade")
    assert status_of(dash, route, headers)[0] == 403


def test_every_route_has_a_test_of_its_own() -> None:
    missing = untested(ROUTES)
    assert not missing, ("routes no test requests (write one; this file's sweeps do not "
                         f"count): {missing}")


def test_a_route_without_a_test_is_found(tmp_path: Path) -> None:
    app = the_app()

    async def nothing(request: aioweb.Request) -> aioweb.Response:
        return aioweb.Response()

    app.router.add_get("/never/{name}/asked", nothing, name="never-asked")
    (tmp_path / "test_x.py").write_text('get("/login")\nget(f"/live")\n')
    routes = app_routes(app)
    missing = untested([r for r in routes if r.name in ("never-asked", "login", "live")],
                       tmp_path, tmp_path / "none.py")
    assert missing == ["GET /never/{name}/asked"]
