"""The dashboard's proxy against an agent UI that means harm.

A real daemon and a real dashboard process; in place of the agent's harness, a
unix-socket server of the test's own at the ``ui.sock`` where the daemon's
``agent_ui`` pipe finds it, answering as a hostile container might: never, or
forever, or to whatever reaches it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest

from hive_c0re.dashboard.pipe import HEADERS_TIMEOUT, MAX_PIPES
from hive_c0re.paths import Paths
from hive_dev.dashboard import COOKIE, Dashboard, WebSession, running_dashboard
from tests.integration.ui_support import run

Streams = tuple[asyncio.StreamReader, asyncio.StreamWriter]
PAGE = b"<p>hostile</p>"
# Well within HEADERS_TIMEOUT: what comes down by then came down without it.
SETTLE = HEADERS_TIMEOUT / 2


@pytest.fixture(scope="module")
def dash() -> Iterator[Dashboard]:
    with running_dashboard() as d:
        yield d


@dataclass
class HostileUi:
    """What reached the stand-in UI: the connections open now, every request's bytes."""

    name: str
    open: int = 0
    requests: list[bytes] = field(default_factory=list)
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def count(self, step: int) -> None:
        async with self.changed:
            self.open += step
            self.changed.notify_all()

    async def until(self, what: Callable[[], bool], explain: str) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(SETTLE), self.changed:
                await self.changed.wait_for(what)
        assert what(), f"{explain}: {self.open} pipes open"


async def never_answers(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.read()  # until the other side goes


async def answers_a_page(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: %d\r\n"
                 b"Connection: close\r\n\r\n%s" % (len(PAGE), PAGE))
    await writer.drain()


async def trickles(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                 b"Transfer-Encoding: chunked\r\n\r\n")
    while True:
        writer.write(b"2\r\n.\n\r\n")
        await writer.drain()
        await asyncio.sleep(0.2)


Behaviour = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@asynccontextmanager
async def hostile(dash: Dashboard, name: str, behaviour: Behaviour) -> AsyncIterator[HostileUi]:
    """``name`` registered, its ``ui.sock`` a server doing ``behaviour`` to every request."""
    dash.call("register", name=name)
    hive = Paths(state=Path(dash.daemon.env["HYPERHIVE_STATE_DIR"]),
                 runtime=Path(dash.daemon.env["HYPERHIVE_RUNTIME_DIR"]))
    policy = hive.agent_policy(name)
    policy.mkdir(parents=True, exist_ok=True)
    (policy / "ui-secret").write_text("a-hostile-uis-secret\n")  # as a spawn writes it
    runtime = hive.agent_runtime(name)
    runtime.mkdir(parents=True, exist_ok=True)
    ui = HostileUi(name)

    async def accepted(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await ui.count(1)
        try:
            with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
                ui.requests.append(await reader.readuntil(b"\r\n\r\n"))
                await behaviour(reader, writer)
        finally:
            writer.close()
            await ui.count(-1)

    server = await asyncio.start_unix_server(accepted, path=str(runtime / "ui.sock"))
    try:
        yield ui
    finally:
        server.close()
        (runtime / "ui.sock").unlink(missing_ok=True)


def browser(dash: Dashboard, web: WebSession, csrf: bool = True) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(base_url=dash.url, cookies={COOKIE: web.cookies[COOKIE]},
                                 headers={"X-CSRF-Token": web.csrf} if csrf else {})


async def get_status(dash: Dashboard, web: WebSession, path: str) -> tuple[int, str]:
    async with browser(dash, web) as http, http.get(path, allow_redirects=False) as answer:
        return answer.status, await answer.text()


def test_a_ui_that_never_answers_holds_no_more_pipes_than_its_cap_nor_past_its_browser(
        dash: Dashboard) -> None:
    web = dash.login()

    async def scenario() -> None:
        async with hostile(dash, "mute", never_answers) as ui:
            waiting = [asyncio.create_task(get_status(dash, web, "/agents/mute/ui/status"))
                       for _ in range(MAX_PIPES)]
            await ui.until(lambda: ui.open == MAX_PIPES, "the requests never all came")
            status, text = await get_status(dash, web, "/agents/mute/ui/status")
            assert status == 503 and f"{MAX_PIPES} requests open already" in text, text
            whoami = await asyncio.to_thread(dash.call, "whoami")
            assert whoami["name"] == "operator"  # the daemon's budget is not gone
            for task in waiting:  # the browsers go
                task.cancel()
            await asyncio.gather(*waiting, return_exceptions=True)
            await ui.until(lambda: ui.open == 0, "gone browsers' pipes stay open")
            again = asyncio.create_task(get_status(dash, web, "/agents/mute/ui/status"))
            await ui.until(lambda: ui.open == 1, "the cap was not given back")
            again.cancel()
            await asyncio.gather(again, return_exceptions=True)

    run(scenario())


@pytest.mark.parametrize("path", ["/agents/nostatic/ui/static/", "/agents/nostatic/ui/static"])
def test_the_static_path_with_no_file_named_is_never_forwarded(
        dash: Dashboard, path: str) -> None:
    web = dash.login()

    async def scenario() -> None:
        async with hostile(dash, "nostatic", answers_a_page) as ui:
            status, text = await get_status(dash, web, path)
            assert status == 404, (status, text)
            assert PAGE.decode() not in text and ui.requests == []

    run(scenario())


def test_a_proxied_form_post_needs_the_header_token_and_reaches_the_ui_whole(
        dash: Dashboard) -> None:
    web = dash.login()
    form = f"note=hello&csrf={web.csrf}".encode()

    async def post(http: aiohttp.ClientSession) -> tuple[int, str]:
        async with http.post("/agents/formy/ui/note", data=form, headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "Origin": dash.url}) as answer:
            return answer.status, await answer.text()

    async def scenario() -> None:
        async with hostile(dash, "formy", answers_a_page) as ui:
            async with browser(dash, web, csrf=False) as http:
                status, text = await post(http)
            assert status == 403 and "CSRF token" in text, (status, text)
            assert ui.requests == []  # nothing reached it, an empty body least of all
            async with browser(dash, web) as http:
                status, text = await post(http)
            assert (status, text) == (200, PAGE.decode())
            assert b"Content-Length: %d" % len(form) in ui.requests[0]

    run(scenario())


def test_a_logout_ends_an_answer_the_ui_trickles_forever(dash: Dashboard) -> None:
    web = dash.login()
    session = dash.call("dashboard_session", token=web.cookies[COOKIE])["session"]

    async def scenario() -> None:
        async with hostile(dash, "trickly", trickles) as ui, browser(dash, web) as http, \
                http.get("/agents/trickly/ui/slow") as answer:
            assert answer.status == 200
            assert await answer.content.readline() == b".\n"
            await asyncio.to_thread(dash.call, "dashboard_logout", id=session["id"])
            ended = False
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(SETTLE):
                    while await answer.content.readany():
                        pass
                    ended = True
            assert ended, "the answer went on past the logout"
            await ui.until(lambda: ui.open == 0, "the pipe outlived the answer")

    run(scenario())


def test_behind_a_tls_proxy_the_terminal_opens_from_the_dashboards_https_origin() -> None:
    with running_dashboard(dashboard_url="https://127.0.0.1/",
                           dashboard_secure_cookies="always") as tls:
        web = tls.login()

        async def scenario() -> None:
            async with hostile(tls, "tlsterm", answers_a_page) as ui, \
                    browser(tls, web) as http:
                origin = f"https://127.0.0.1:{tls.port}"
                with pytest.raises(aiohttp.WSServerHandshakeError) as handshake:
                    async with http.ws_connect("/agents/tlsterm/ui/terminal", origin=origin):
                        pass
                # Let through to the agent, whose page is no WebSocket: not the origin's 403.
                assert handshake.value.status == 200, handshake.value
                assert ui.requests and ui.requests[0].startswith(b"GET /terminal ")
                async with http.get("/agents/tlsterm/ui/") as page:
                    policy = page.headers["Content-Security-Policy"]
                assert f"script-src {origin}/agents/tlsterm/ui/static/;" in policy
                assert f"wss://127.0.0.1:{tls.port}/agents/tlsterm/ui/" in policy

        run(scenario())
