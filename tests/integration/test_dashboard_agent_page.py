"""An agent's page on the dashboard and its own UI through the dashboard's proxy.

A real daemon, a real dashboard process and a real harness serving its UI on
the ``ui.sock`` where the daemon's ``agent_ui`` pipe finds it; the browser's
side is an HTTP client holding a session from a real one-time code.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from hive_ag3nt.harness import Harness
from hive_ag3nt.paths import AgentPaths
from hive_ag3nt.settings import HarnessSettings
from hive_ag3nt.ui.app import start_ui
from hive_ag3nt.ui.config import UiSettings
from hive_c0re.dashboard.proxy import MAX_BODY, STATIC
from hive_c0re.paths import Paths
from hive_c0re.wire import UI_SECRET_HEADER
from hive_dev.dashboard import COOKIE, Dashboard, WebSession, running_dashboard
from tests.integration import browser as b
from tests.integration.ui_support import Screen, next_sse, run, short_dir

SECRET = "the-proxied-agents-ui-secret"
MODELS = ["haiku", "sonnet"]


@pytest.fixture(scope="module")
def dash() -> Iterator[Dashboard]:
    with running_dashboard() as d:
        yield d


@pytest.fixture(scope="module")
def web(dash: Dashboard) -> WebSession:
    return dash.login()


@dataclass
class Browser:
    """The dashboard as a logged-in browser reaches it, and the agent behind it."""

    http: aiohttp.ClientSession
    harness: Harness
    name: str
    origin: str

    def ui(self, path: str = "") -> str:
        return f"/agents/{self.name}/ui/{path}"


def ui_paths(dash: Dashboard, name: str, root: Path) -> AgentPaths:
    """The harness's paths, its UI's socket and secret where the daemon's pipe looks."""
    hive = Paths(state=Path(dash.daemon.env["HYPERHIVE_STATE_DIR"]),
                 runtime=Path(dash.daemon.env["HYPERHIVE_RUNTIME_DIR"]))
    policy = hive.agent_policy(name)
    policy.mkdir(parents=True, exist_ok=True)
    (policy / "policy.json").write_text(json.dumps({"model": "haiku",
                                                    "available_models": MODELS}))
    (policy / "ui-secret").write_text(SECRET + "\n")  # as the daemon writes it at a spawn
    (root / "state").mkdir()
    return AgentPaths(state=root / "state", run=hive.agent_runtime(name),
                      policy=policy / "policy.json", model_file=root / "state" / "model",
                      claude_config=root / "claude",
                      socket_override=dash.daemon.agent_socket(name))


@asynccontextmanager
async def agent_behind(dash: Dashboard, web: WebSession, name: str) -> AsyncIterator[Browser]:
    """``name`` registered, its harness (no turn loop: no model) serving its UI, and a
    client of the dashboard with ``web``'s session."""
    dash.call("register", name=name)
    root = short_dir()
    harness = Harness(ui_paths(dash, name, root),
                      HarnessSettings.load({"recv_wait": 1.0}, environ={}))
    try:
        await harness.start()
        runner = await start_ui(harness, harness.paths.ui_socket, UiSettings())
        try:
            async with aiohttp.ClientSession(
                    base_url=dash.url, cookies={COOKIE: web.cookies[COOKIE]},
                    headers={"X-CSRF-Token": web.csrf}) as http:
                yield Browser(http, harness, name, dash.url)
        finally:
            await runner.cleanup()
    finally:
        await harness.close()
        shutil.rmtree(root, ignore_errors=True)


def test_the_agent_page_shows_its_status_and_frames_its_own_ui(
        dash: Dashboard, web: WebSession) -> None:
    async def scenario() -> None:
        async with agent_behind(dash, web, "pagea") as browser:
            async with browser.http.get("/agents/pagea/") as page:
                text = await page.text()
                assert page.status == 200, text
                assert page.headers["X-Frame-Options"] == "DENY"
            assert '<iframe src="/agents/pagea/ui/"' in text
            assert f'<meta name="csrf-token" content="{web.csrf}">' in text
            assert 'hx-get="/fragments/agent:pagea"' in text
            assert "<h2>Journal</h2>" in text and "<h2>Applied agent.toml</h2>" in text
            async with browser.http.get("/fragments/agent:pagea") as fragment:
                assert fragment.status == 200
                assert (await fragment.text()).startswith('<section id="agent"')
            async with browser.http.get("/agents/pagea", allow_redirects=False) as bare:
                assert (bare.status, bare.headers["Location"]) == (308, "/agents/pagea/")

    run(scenario())


def test_the_managers_page_is_there_and_its_ui_refused_while_it_has_none(
        web: WebSession) -> None:
    page = web.get("/agents/manager/")
    assert page.status == 200, page.text
    assert "<h1>manager</h1>" in page.text and 'hx-get="/fragments/agent:manager"' in page.text
    ui = web.get("/agents/manager/ui/status")  # this hive's manager is a plain mailbox
    assert ui.status in (400, 404, 409, 503), ui.text
    assert "Refused" in ui.text


def test_a_name_the_hive_does_not_know_is_a_refusal_page(web: WebSession) -> None:
    answer = web.get("/agents/nobody/")
    assert answer.status == 404, answer.text
    assert "nobody" in answer.text


@pytest.mark.parametrize("path", [
    "/agents/../ui/status", "/agents/a%2Fb/ui/status", "/agents/a/b/ui/status",
    "/agents/Alice/ui/status", "/agents/%2e%2e/ui/status", "/agents/operator/ui/status",
    "/agents/a%00/", "/agents/a%2Fb/",
])
def test_a_name_that_is_not_an_agents_is_refused(web: WebSession, path: str) -> None:
    answer = web.get(path)
    assert answer.status in (400, 404), (path, answer.status, answer.text)
    assert UI_SECRET_HEADER.lower() not in answer.text.lower()


def test_the_proxy_gets_the_agents_status_with_the_dashboards_policy(
        dash: Dashboard, web: WebSession) -> None:
    async def scenario() -> None:
        async with agent_behind(dash, web, "proxya") as browser:
            async with browser.http.get(browser.ui("status")) as answer:
                assert answer.status == 200, await answer.text()
                status = await answer.json()
                headers = answer.headers
            assert status["name"] == "proxya" and status["state"] == "idle"
            policy = headers["Content-Security-Policy"]
            assert f"script-src {dash.url}/agents/proxya/ui/static/;" in policy
            # Images too come from the agent's own prefix only: none from the dashboard's pages.
            assert f"img-src {dash.url}/agents/proxya/ui/ data:;" in policy
            assert "frame-ancestors 'self'" in policy and "form-action 'none'" in policy
            assert headers["X-Frame-Options"] == "SAMEORIGIN"
            assert "Set-Cookie" not in headers and UI_SECRET_HEADER not in headers
            async with browser.http.get(browser.ui("turns?limit=0")) as bad:
                assert bad.status == 400  # the agent's own refusal, passed on

    run(scenario())


def test_a_prompt_posted_through_the_proxy_reaches_the_harness(
        dash: Dashboard, web: WebSession) -> None:
    async def scenario() -> None:
        async with agent_behind(dash, web, "prompta") as browser:
            async with browser.http.post(browser.ui("prompt"),
                                         json={"text": "/model sonnet"}) as answer:
                assert answer.status == 200, await answer.text()
                assert (await answer.json())["model"] == "sonnet"
            async with browser.http.post(browser.ui("prompt"), json={"text": "hello"}) as queued:
                assert await queued.json() == {"queued": True}
            assert browser.harness.inputs.get_nowait() == "hello"
            async with browser.http.post(browser.ui("prompt"), json={"text": "sneaky"},
                                         headers={"X-CSRF-Token": "forged"}) as forged:
                assert forged.status == 403
            assert browser.harness.inputs.empty()
            async with browser.http.post(browser.ui("prompt"), data=b"x" * (MAX_BODY + 1),
                                         headers={"Content-Type": "application/json"}) as big:
                assert big.status == 413
            assert browser.harness.model.current == "sonnet"

    run(scenario())


def test_the_agents_page_loads_its_script_from_the_hosts_package(
        dash: Dashboard, web: WebSession) -> None:
    async def scenario() -> None:
        async with agent_behind(dash, web, "statica") as browser:
            async with browser.http.get(browser.ui()) as page:
                assert page.status == 200
                assert page.content_type == "text/html"
                assert '<script src="static/ui.js">' in await page.text()
            async with browser.http.get("/agents/statica/ui/static/ui.js") as script:
                assert script.status == 200
                assert await script.read() == (STATIC / "ui.js").read_bytes()
                assert "frame-ancestors 'self'" in script.headers["Content-Security-Policy"]
            async with browser.http.get(browser.ui("static/%2e%2e/app.py")) as escape:
                assert escape.status == 404

    run(scenario())


def test_the_live_panel_streams_through_unbuffered(dash: Dashboard, web: WebSession) -> None:
    async def scenario() -> None:
        async with agent_behind(dash, web, "livea") as browser, \
                browser.http.get(browser.ui("events")) as stream:
            assert stream.status == 200
            assert stream.content_type == "text/event-stream"
            # The stream never ends: its first event arriving means nothing waits for an end.
            first = await asyncio.wait_for(next_sse(stream.content), 20)
            assert first is not None and first[0] == "state"
            assert first[1]["name"] == "livea"

    run(scenario())


def test_the_terminal_runs_through_the_proxy(dash: Dashboard, web: WebSession) -> None:
    async def scenario() -> None:
        async with agent_behind(dash, web, "terma") as browser:
            async with browser.http.ws_connect(browser.ui("terminal"),
                                               origin=browser.origin) as ws:
                screen = Screen(ws)
                await ws.send_bytes(b"echo hi\n")
                await screen.expect(r"[\r\n]hi\r\n")  # the output, not the echoed input
            with pytest.raises(aiohttp.WSServerHandshakeError) as foreign:
                async with browser.http.ws_connect(browser.ui("terminal"),
                                                   origin="http://evil.example"):
                    pass
            assert foreign.value.status == 403

    run(scenario())


def test_without_a_session_the_proxy_lets_nothing_through(
        dash: Dashboard, web: WebSession) -> None:
    async def scenario() -> None:
        async with agent_behind(dash, web, "nosess") as browser:
            stranger = dash.session()
            for path in (browser.ui("status"), browser.ui(), "/agents/nosess/"):
                page = stranger.get(path)
                assert (page.status, page.header("Location")) == (303, "/login"), path
            fragment = stranger.get(browser.ui("status"), headers={"HX-Request": "true"})
            assert fragment.status == 401
            answer = stranger.request("POST", browser.ui("prompt"), b'{"text": "hi"}',
                                      {"Content-Type": "application/json"})
            assert answer.status == 401
            assert browser.harness.inputs.empty()
            async with aiohttp.ClientSession(base_url=dash.url) as anonymous:
                with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                    async with anonymous.ws_connect(browser.ui("terminal")):
                        pass
            # Sent to the login page like any page without a session: no upgrade.
            assert refused.value.request_info.url.path == "/login"

    run(scenario())


def by_css(page: Any, selector: str) -> list[Any]:
    from selenium.webdriver.common.by import By

    return list(page.find_elements(By.CSS_SELECTOR, selector))


def shown(page: Any, selector: str, text: str) -> bool:
    return any(text in element.text for element in by_css(page, selector))


@pytest.mark.skipif(b.missing() is not None, reason=str(b.missing()))
def test_in_a_browser_the_framed_ui_prompts_and_its_terminal_echoes(
        dash: Dashboard, web: WebSession) -> None:
    """The agent's own script runs under the proxy's policy, its POST carries the page's
    CSRF token, and xterm.js types into the shell over the proxied WebSocket."""
    from selenium.webdriver.common.action_chains import ActionChains

    async def scenario() -> None:
        async with agent_behind(dash, web, "browsea"):
            with dash.browser() as page:
                await asyncio.to_thread(drive, page)

    def drive(page: Any) -> None:
        page.get(f"{dash.url}/agents/browsea/")
        page.switch_to.frame(by_css(page, "#agent-ui iframe")[0])
        b.wait_for(page, lambda p: by_css(p, "#state") and by_css(p, "#state")[0].text == "idle",
                   "the agent's state")
        by_css(page, "#prompt")[0].send_keys("/status")
        by_css(page, "#prompt-form button[type=submit]")[0].click()
        b.wait_for(page, lambda p: shown(p, "#answer", '"state": "idle"'),
                   "the answer to /status")
        by_css(page, "#terminal-open")[0].click()
        b.wait_for(page, lambda p: by_css(p, "#terminal .xterm-rows"), "the terminal")
        # xterm.js draws only what is on screen, as an operator scrolls down to it.
        page.execute_script("document.getElementById('terminal').scrollIntoView()")
        b.wait_for(page, lambda p: shown(p, "#terminal .xterm-rows", "#"), "the shell's prompt")
        ActionChains(page).send_keys("echo h''i\n").perform()
        b.wait_for(page, lambda p: any(row.text.strip() == "hi" for row in
                                       by_css(p, "#terminal .xterm-rows > div")), "hi")

        for script in ("s.src = 'status'", "s.src = '/static/dashboard.js'",
                       "s.textContent = 'window.ran = true'"):
            blocked = page.execute_async_script(BLOCKED.replace("SCRIPT", script))
            assert blocked.startswith("script-src"), (script, blocked)
        assert page.execute_script("return window.ran === undefined")

    run(scenario(), timeout=120)


# A script the agent's page might carry, from anywhere but the UI's static files of the
# host's package, is refused by the proxy's policy: what the browser reports.
BLOCKED = """
const done = arguments[arguments.length - 1];
document.addEventListener("securitypolicyviolation", (e) => done(e.violatedDirective));
const s = document.createElement("script");
s.onload = () => done("loaded");
SCRIPT;
document.head.appendChild(s);
"""


def test_a_logout_ends_the_proxied_live_panel_and_terminal_at_once(dash: Dashboard) -> None:
    own = dash.login()  # a session of its own: the others' stays logged in
    session = dash.call("dashboard_session", token=own.cookies[COOKIE])["session"]

    async def scenario() -> None:
        async with agent_behind(dash, own, "cuta") as browser, \
                browser.http.get(browser.ui("events")) as stream, \
                browser.http.ws_connect(browser.ui("terminal")) as ws:
            first = await asyncio.wait_for(next_sse(stream.content), 20)
            assert first is not None and first[0] == "state"
            await ws.send_bytes(b"echo still-$((40+2))\n")
            await Screen(ws).expect_text("still-42")
            dash.call("dashboard_logout", id=session["id"])
            async with asyncio.timeout(20):
                while (event := await next_sse(stream.content)) is not None:
                    assert event[0] != "state" or event[1]["name"] == "cuta"
                while (message := await ws.receive()).type is aiohttp.WSMsgType.BINARY:
                    pass
            assert message.type is aiohttp.WSMsgType.CLOSE, message
            assert message.extra == "the session has ended"
            async with browser.http.get(browser.ui("status"), allow_redirects=False) as after:
                assert after.status == 303

    run(scenario())
