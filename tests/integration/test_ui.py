"""The agent's web UI on its unix socket, against a real harness and a real hive daemon."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shlex
import shutil
import socket
import stat
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from hive_ag3nt.harness import State
from hive_ag3nt.model import STAND_IN_MODEL
from hive_ag3nt.ui.app import STATIC
from hive_ag3nt.ui.config import UiSettings
from hive_ag3nt.ui.door import bind_socket
from hive_ag3nt.ui.login import DESK
from hive_ag3nt.ui.sse import FEED
from hive_ag3nt.ui.terminal import TERMINALS, control_message, window_size
from hive_c0re.errors import HiveError
from hive_c0re.wire import UI_SECRET_HEADER as HEADER
from hive_dev.daemon import DaemonProcess, running_daemon
from hive_dev.fakes.messages_api import MessagesApi
from hive_dev.fakes.script import Match, Reply, ToolCall
from tests.integration.ui_support import (
    SECRET,
    Agent,
    Screen,
    eventually,
    next_sse,
    run,
    running_real_ui,
    running_ui,
    short_dir,
)

VENDOR = ("xterm.js", "xterm.css", "addon-fit.js")

# Stands in for the claude CLI's `auth status` and `auth login`; the login
# writes credentials into $CLAUDE_CONFIG_DIR when given the right code.
STAND_IN_CLAUDE = """\
import json, os, sys
from pathlib import Path

credentials = Path(os.environ["CLAUDE_CONFIG_DIR"]) / "credentials.json"
if sys.argv[1:] == ["auth", "status"]:
    print(json.dumps({"loggedIn": credentials.exists()}))
elif sys.argv[1:] == ["auth", "login"]:
    print("Visit https://example.invalid/oauth?code=xyz to log in", flush=True)
    code = input("Paste code here if prompted >")
    if code != "right-code":
        print("That code is wrong")
        sys.exit(1)
    credentials.parent.mkdir(parents=True, exist_ok=True)
    credentials.write_text("{}")
    print("Logged in")
else:
    sys.exit(2)
"""


@pytest.fixture(scope="module")
def daemon() -> Iterator[DaemonProcess]:
    with running_daemon(clean_exit=True) as d:
        yield d


@pytest.fixture(scope="module")
def claude() -> Iterator[Path]:
    where = short_dir()
    script = where / "claude"
    script.write_text(f"#!{sys.executable}\n{STAND_IN_CLAUDE}")
    script.chmod(0o755)
    yield script
    shutil.rmtree(where, ignore_errors=True)


# -- the page ---------------------------------------------------------------------


def test_page_renders_badge_model_picker_and_serves_vendored_xterm(daemon: DaemonProcess) -> None:
    missing = [n for n in VENDOR if not (STATIC / "vendor" / n).is_file()]
    if missing:
        pytest.fail(f"front-end libraries missing from {STATIC / 'vendor'}: {missing}; "
                    "run scripts/setup to install them")

    async def scenario() -> None:
        async with running_ui(daemon) as agent:
            async with agent.http.get("/") as response:
                assert response.status == 200
                assert response.content_type == "text/html"
                assert "default-src 'self'" in response.headers["Content-Security-Policy"]
                page = await response.text()
            assert '<span id="state" class="badge state-idle">idle</span>' in page
            assert '<option value="haiku" selected>haiku</option>' in page
            assert '<option value="sonnet">sonnet</option>' in page
            assert f"<h1>{agent.harness.name}</h1>" in page
            assert not re.search(r'(?:href|src|action)="/', page), "links must be relative"
            for name in VENDOR:
                assert f'"static/vendor/{name}"' in page
                async with agent.http.get(f"/static/vendor/{name}") as response:
                    assert response.status == 200, name
                    assert len(await response.read()) > 500, name
            for name in ("ui.js", "ui.css"):
                async with agent.http.get(f"/static/{name}") as response:
                    assert response.status == 200, name

    run(scenario())


def test_socket_is_private_and_only_a_stale_socket_is_replaced() -> None:
    where = short_dir()
    try:
        path = where / "ui.sock"
        stale = socket.socket(socket.AF_UNIX)
        stale.bind(str(path))
        stale.close()  # the file stays behind, as after a crash
        fresh = bind_socket(path)
        fresh.close()
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        path.unlink()
        path.write_text("not a socket")
        with pytest.raises(HiveError, match="not a socket"):
            bind_socket(path)
        assert path.read_text() == "not a socket"
    finally:
        shutil.rmtree(where, ignore_errors=True)


# -- a real turn: honest figures, the turn history, replies and hive events -----------


async def answered_question(agent: Agent, host: Any) -> int:
    """The agent asks the operator, who answers: the hive mails the agent the answer."""
    asked = await agent.harness.mail.call("ask", question="deploy now?", options=["yes", "no"])
    number = int(asked["question"]["id"])
    host.call("answer", question_id=number, answer="yes")
    return number


async def real_turn(agent: Agent, api: MessagesApi, host: Any) -> tuple[int, int]:
    """One real mail turn in which the agent answers the operator with a send."""
    number = await answered_question(agent, host)
    (first,) = host.call("send", to=agent.harness.name, body="what is 6*7?")["ids"]
    send = ToolCall("mcp__hive__send", {"to": "operator", "body": "42", "in_reply_to": first},
                    id="toolu_send")
    api.add(Reply(tool_calls=[send], match=Match(last_user_contains="what is 6*7?",
                                                 has_tool="mcp__hive__send")),
            Reply(text="answered", match=Match(tool_result_for="toolu_send")))
    while not any(c.tool_result("toolu_send") for c in api.model_calls):
        await agent.harness.step()
    return number, int(first)


def test_a_stand_in_turn_shows_no_cost_its_replies_and_readable_events(
        daemon: DaemonProcess, api: MessagesApi) -> None:
    from hive_c0re.client import Client

    async def scenario() -> None:
        async with running_real_ui(daemon, api) as (agent, _rig):
            with Client(daemon.host_socket) as host:
                number, _ = await real_turn(agent, api, host)
            (turn,) = (await agent.get_json("/turns"))["turns"]
            assert (turn["status"], turn["served_model"], turn["stand_in"]) == (
                "ok", STAND_IN_MODEL, True)
            assert turn["cost_usd"] is None  # the CLI priced it; the stand-in is no model
            started = datetime.fromisoformat(turn["started_at"])
            assert turn["started_at"].endswith("Z") and started.tzinfo is not None
            assert turn["replies"] == [{"tool": "send", "to": "operator", "body": "42",
                                        "ok": True}]
            status = await agent.get_json("/status")
            assert (status["stand_in"], status["login_needed"], status["turn_running"]) == (
                True, False, False)
            assert status["last_turn"]["started_at"] == turn["started_at"]
            mail = (await agent.get_json("/inbox"))["messages"]
            lines = [m["event_line"] for m in mail if m["from"] == "system"]
            assert f"question #{number} answered by operator: yes" in lines
            assert all(isinstance(m["sent_at"], str) for m in mail)
            await check_page_after_turn(agent, number)

    run(scenario(), timeout=120)


async def check_page_after_turn(agent: Agent, number: int) -> None:
    async with agent.http.get("/") as response:
        page = await response.text()
    last = re.search(r'<span id="last-turn" class="muted">([^<]*)</span>', page)
    assert last is not None and "stand-in" in last.group(1) and "$" not in last.group(1)
    assert re.search(r'<span id="stand-in" class="badge stand-in"[^>]*>stand-in', page)
    assert 'id="stand-in" class="badge stand-in" title' in page
    assert re.search(r'<section id="login-section" class="[^"]*" hidden>', page)
    assert '<section id="live-section" hidden>' in page  # no turn runs
    assert f"question #{number} answered by operator: yes" in page
    assert '"event": "question_answered"' not in page  # not as raw JSON


def test_the_login_card_shows_when_the_model_needs_a_login(daemon: DaemonProcess,
                                                           monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    for key in ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "CLAUDE_CODE_OAUTH_TOKEN"):
        monkeypatch.delenv(key, raising=False)

    async def scenario() -> None:
        async with running_ui(daemon) as agent:
            assert (await agent.get_json("/status"))["login_needed"] is True
            async with agent.http.get("/") as response:
                page = await response.text()
            assert re.search(r'<section id="login-section" class="[^"]*">', page)
            agent.harness.env["ANTHROPIC_API_KEY"] = "sk-test"  # an API key: no login
            assert (await agent.get_json("/status"))["login_needed"] is False
            agent.harness.set_state(State.NEEDS_LOGIN)  # the CLI said otherwise: show it
            assert (await agent.get_json("/status"))["login_needed"] is True

    run(scenario())


# -- live events --------------------------------------------------------------------


def record_turn(agent: Agent) -> int:
    events = agent.harness.events
    turn = events.start_turn("haiku", "operator")
    events.record(turn, "prompt", text="list the files")
    events.record(turn, "assistant_text", text="Looking.")
    events.record(turn, "tool_call", id="t1", tool="Bash", input={"command": "ls"})
    events.record(turn, "tool_result", id="t1", is_error=False, content="notes.md")
    events.record(turn, "denial", tool="Bash", input={"command": "rm -rf /"},
                  reason="not an allowed Bash command")
    events.record(turn, "stderr", line="a warning")
    events.end_turn(turn, "ok", cost_usd=0.0123, input_tokens=1234)
    return turn


TURN_KINDS = ["turn_start", "prompt", "assistant_text", "tool_call", "tool_result", "denial",
              "stderr", "turn_end"]


def test_events_stream_delivers_a_turn_live_in_order(daemon: DaemonProcess) -> None:
    async def scenario() -> None:
        async with running_ui(daemon) as agent, agent.http.get("/events") as stream:
            assert stream.content_type == "text/event-stream"
            first = await next_sse(stream.content)
            assert first is not None and first[0] == "state"
            assert first[1]["state"] == "idle" and first[1]["name"] == agent.harness.name
            agent.harness.set_state(State.THINKING)
            turn = record_turn(agent)
            agent.harness.set_state(State.IDLE)
            seen = [await next_sse(stream.content) for _ in range(2 + len(TURN_KINDS) + 2)]
            names = [(s[0], s[1].get("kind") or s[1].get("state")) for s in seen if s]
            assert names == [("event", "state"), ("state", "thinking"),
                             *[("event", k) for k in TURN_KINDS],
                             ("event", "state"), ("state", "idle")]
            tool_call = seen[2 + TURN_KINDS.index("tool_call")]
            assert tool_call is not None
            assert tool_call[1]["input"] == {"command": "ls"} and tool_call[1]["turn"] == turn
            final = seen[-1]
            assert final is not None and final[1]["last_turn"]["cost_usd"] == 0.0123
            await check_turn_json(agent, turn)
            await check_replay(agent, turn)

    run(scenario())


async def check_turn_json(agent: Agent, turn: int) -> None:
    turns = (await agent.get_json("/turns?limit=5"))["turns"]
    assert [t["id"] for t in turns] == [turn] and turns[0]["status"] == "ok"
    events = (await agent.get_json(f"/turns/{turn}/events"))["events"]
    assert [e["kind"] for e in events] == TURN_KINDS
    status = await agent.get_json("/status")
    assert status["last_turn"]["id"] == turn
    assert "error" in await agent.get_json("/turns?limit=0", status=400)
    assert "error" in await agent.get_json("/turns?limit=many", status=400)
    assert "error" in await agent.get_json("/turns/999999/events", status=404)


async def check_replay(agent: Agent, turn: int) -> None:
    """A client that connects later gets the status, then the last turn so far."""
    async with agent.http.get("/events") as stream:
        first = await next_sse(stream.content)
        assert first is not None and first[0] == "state"
        replay = [await next_sse(stream.content) for _ in TURN_KINDS]
        assert [r[1]["kind"] for r in replay if r] == TURN_KINDS
        assert all(r is not None and r[1]["turn"] == turn for r in replay)


def test_a_client_that_falls_behind_is_dropped(daemon: DaemonProcess) -> None:
    async def scenario() -> None:
        async with running_ui(daemon, settings=UiSettings(sse_queue=8)) as agent:
            feed = agent.runner.app[FEED]
            async with agent.http.get("/events") as stream:
                assert await next_sse(stream.content) is not None
                for n in range(50):  # no await in between: the stream's writer cannot keep up
                    agent.harness.events.record(None, "burst", n=n)
                assert not feed.subscribers
                async with asyncio.timeout(10):
                    while await next_sse(stream.content) is not None:
                        pass  # what was queued, then the end of the stream
            assert (await agent.get_json("/status"))["state"] == "idle"

    run(scenario())


def test_an_idle_stream_gets_heartbeats(daemon: DaemonProcess) -> None:
    async def scenario() -> None:
        async with running_ui(daemon, settings=UiSettings(heartbeat=0.1)) as agent, \
                agent.http.get("/events") as stream:
            lines: list[bytes] = []
            async with asyncio.timeout(10):
                while b": heartbeat\n" not in lines:
                    lines.append(await stream.content.readline())

    run(scenario())


# -- the prompt box -----------------------------------------------------------------


def test_prompt_switches_the_model_and_refuses_a_bad_one(daemon: DaemonProcess) -> None:
    async def scenario() -> None:
        async with running_ui(daemon) as agent:
            switched = await agent.post_json("/prompt", {"text": "/model sonnet"})
            assert switched == {"model": "sonnet", "warning": None}
            assert agent.harness.model.current == "sonnet"
            assert agent.harness.paths.model_file.read_text().strip() == "sonnet"
            async with agent.http.get("/") as response:
                assert '<option value="sonnet" selected>' in await response.text()
            refused = await agent.post_json("/prompt", {"text": "/model gpt-9"}, status=400)
            assert "model 'gpt-9' is not available" in refused["error"]
            assert "haiku, sonnet" in refused["error"]
            status = await agent.post_json("/prompt", {"text": "/status"})
            assert status["model"] == "sonnet" and status["state"] == "idle"
            assert await agent.post_json("/prompt", {"text": "hello"}) == {"queued": True}
            assert agent.harness.inputs.get_nowait() == "hello"

    run(scenario())


@pytest.mark.parametrize(("body", "reason"), [
    ({"text": ""}, "empty prompt"),
    ({"text": "/bogus"}, "unknown command /bogus"),
    ({"text": 42}, "text must be a string"),
    ({}, "text must be a string"),
    (["/status"], "must be a JSON object"),
    ({"text": "x" * 100_001}, "longer than"),
])
def test_prompt_refuses_bad_input(daemon: DaemonProcess, body: object, reason: str) -> None:
    async def scenario() -> None:
        async with running_ui(daemon) as agent:
            refused = await agent.post_json("/prompt", body, status=400)
            assert reason in refused["error"]
            async with agent.http.post("/prompt", data="text=/status") as response:
                assert response.status == 400  # a form post: not JSON
            async with agent.http.post("/prompt", data="{oops",
                                       headers={"Content-Type": "application/json"}) as response:
                assert response.status == 400
            assert (await agent.get_json("/status"))["state"] == "idle"

    run(scenario())


# -- the inbox ----------------------------------------------------------------------


def test_inbox_shows_recent_mail_with_the_redelivered_marker(daemon: DaemonProcess) -> None:
    from hive_c0re.client import Client

    async def scenario() -> None:
        async with running_ui(daemon) as agent:
            with Client(daemon.host_socket) as host:
                host.call("send", to=agent.harness.name, body="<script>alert(1)</script>")
            mail = agent.harness.mail
            first = (await mail.call("recv", wait_seconds=5))["messages"]
            await mail.call("requeue_inflight")
            again = (await mail.call("recv", wait_seconds=5))["messages"]
            agent.harness.recent_mail.extend(first + again)  # as a mail turn does
            shown = (await agent.get_json("/inbox"))["messages"]
            assert [m["redelivered"] for m in shown] == [True, False]
            assert shown[0]["from"] == "operator"
            async with agent.http.get("/") as response:
                page = await response.text()
            assert page.count('class="badge redelivered"') == 1
            assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
            assert "<script>alert" not in page

    run(scenario())


# -- the terminal -------------------------------------------------------------------


def gone(pid: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


def test_terminal_runs_a_shell_resizes_and_kills_it_on_close(daemon: DaemonProcess) -> None:
    async def scenario() -> int:
        async with running_ui(daemon) as agent:
            async with agent.http.ws_connect("/terminal") as ws:
                screen = Screen(ws)
                await ws.send_bytes(b"echo hello-$((6*7))\n")
                await screen.expect_text("hello-42")
                await ws.send_str(json.dumps({"resize": [100, 40]}))
                await ws.send_str("stty size; echo cwd-$(pwd)\n")
                await screen.expect_text("40 100")
                await screen.expect_text(f"cwd-{agent.harness.paths.state}")
                await ws.send_str("echo pid-$$\n")
                pid = int((await screen.expect(r"pid-(\d+)\r?\n")).group(1))
                os.kill(pid, 0)  # the shell is alive while the socket is open
            return pid

    pid = run(scenario())
    assert gone(pid), f"shell {pid} still running after its websocket closed"


@pytest.mark.parametrize(("text", "control", "size"), [
    ('{"resize": [80, 24]}', True, (80, 24)),
    ('{"resize": [0, 24]}', True, None),
    ('{"resize": [80, 24, 1]}', True, None),
    ('{"resize": ["80", 24]}', True, None),
    ('{"resize": [true, 24]}', True, None),
    ('{"resize": [80, 100000]}', True, None),
    ('{"other": 1}', False, None),
    ("{not json", False, None),
    ("ls -l\n", False, None),
])
def test_terminal_tells_resize_messages_from_keystrokes(
        text: str, control: bool, size: tuple[int, int] | None) -> None:
    message = control_message(text)
    assert (message is not None) is control
    if message is not None:
        assert window_size(message) == size


def test_terminals_are_capped(daemon: DaemonProcess) -> None:
    async def scenario() -> None:
        async with running_ui(daemon, settings=UiSettings(max_terminals=1)) as agent:
            async with agent.http.ws_connect("/terminal") as ws:
                await ws.send_bytes(b"echo one-$((1+1))\n")
                await Screen(ws).expect_text("one-2")
                with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                    await agent.http.ws_connect("/terminal")
                assert refused.value.status == 503
            # The slot is free once the first shell is reaped, a moment after its close.
            async with asyncio.timeout(10):
                while True:
                    try:
                        ws = await agent.http.ws_connect("/terminal")
                        break
                    except aiohttp.WSServerHandshakeError:
                        await asyncio.sleep(0.05)
            async with ws:
                await ws.send_bytes(b"echo two-$((1+2))\n")
                await Screen(ws).expect_text("two-3")

    run(scenario())


def test_a_shell_that_exits_closes_its_websocket(daemon: DaemonProcess) -> None:
    async def scenario() -> None:
        async with running_ui(daemon) as agent, agent.http.ws_connect("/terminal") as ws:
            await ws.send_bytes(b"exit\n")
            async with asyncio.timeout(10):
                while (await ws.receive()).type is aiohttp.WSMsgType.BINARY:
                    pass
            assert ws.closed
            terminals = agent.runner.app[TERMINALS]
            await eventually(lambda: not terminals.sockets)  # once its shell is reaped

    run(scenario())


# -- login --------------------------------------------------------------------------


def test_login_flow_finishes_with_the_right_code(daemon: DaemonProcess, claude: Path) -> None:
    async def scenario() -> None:
        async with running_ui(daemon, cli_path=str(claude)) as agent:
            started = await agent.post_json("/login/start", {})
            assert started == {"url": "https://example.invalid/oauth?code=xyz"}
            done = await agent.post_json("/login/code", {"code": "right-code"})
            assert done["returncode"] == 0 and done["logged_in"] is True, done
            assert "Logged in" in done["output"]
            assert agent.harness.logged_in.is_set()
            assert (agent.harness.paths.claude_config / "credentials.json").exists()

    run(scenario())


def test_login_reports_a_wrong_code(daemon: DaemonProcess, claude: Path) -> None:
    command = shlex.join([sys.executable, str(claude), "auth", "login"])
    settings = UiSettings.from_env({"HYPERHIVE_LOGIN_COMMAND": command})

    async def scenario() -> None:
        async with running_ui(daemon, settings=settings, cli_path=str(claude)) as agent:
            refused = await agent.post_json("/login/code", {"code": "early"}, status=409)
            assert "start one first" in refused["error"]
            started = await agent.post_json("/login/start", {})
            assert started["url"].startswith("https://example.invalid/")
            assert "code is empty" in (await agent.post_json(
                "/login/code", {"code": "  "}, status=400))["error"]
            done = await agent.post_json("/login/code", {"code": "wrong-code"})
            assert done["returncode"] == 1 and done["logged_in"] is False, done
            assert "exited with 1" in done["error"]
            assert "That code is wrong" in done["output"]
            assert not agent.harness.logged_in.is_set()

    run(scenario())


def test_a_new_login_replaces_one_waiting_for_its_code(daemon: DaemonProcess,
                                                       claude: Path) -> None:
    async def scenario() -> None:
        async with running_ui(daemon, cli_path=str(claude)) as agent:
            await agent.post_json("/login/start", {})
            first = agent.runner.app[DESK].flow
            assert first is not None and first.pid is not None
            await agent.post_json("/login/start", {})
            assert first.returncode is not None and gone(first.pid)
            done = await agent.post_json("/login/code", {"code": "right-code"})
            assert done["returncode"] == 0, done

    run(scenario())


def test_stopping_the_ui_ends_streams_and_shells_at_once(daemon: DaemonProcess) -> None:
    async def scenario() -> int:
        async with running_ui(daemon) as agent:
            stream = await agent.http.get("/events")
            assert await next_sse(stream.content) is not None
            ws = await agent.http.ws_connect("/terminal")
            await ws.send_str("echo pid-$$\n")
            pid = int((await Screen(ws).expect(r"pid-(\d+)\r?\n")).group(1))
            started = time.monotonic()
            await agent.runner.cleanup()
            assert time.monotonic() - started < 4
            assert not agent.socket.exists()
            assert await next_sse(stream.content) is None
            stream.release()
            await ws.close()
            return pid

    assert gone(run(scenario()))


# -- who may come in: the agent's secret, and the terminal's own origin ------------

def test_every_route_refuses_a_request_without_the_agents_secret(daemon: DaemonProcess) -> None:
    async def scenario() -> None:
        async with running_ui(daemon) as agent:
            connector = aiohttp.UnixConnector(path=str(agent.socket))
            async with aiohttp.ClientSession(connector=connector,
                                             base_url="http://localhost") as stranger:
                for method, path in (("GET", "/"), ("GET", "/status"), ("POST", "/prompt"),
                                     ("POST", "/login/start"), ("GET", "/terminal"),
                                     ("GET", "/static/ui.js")):
                    for headers in ({}, {HEADER: "wrong"}, {HEADER: SECRET + "x"}):
                        async with stranger.request(method, path, headers=headers,
                                                    json={"text": "/status"}) as response:
                            assert response.status == 401, (method, path, headers)
            assert await agent.get_json("/status")  # the secret's holder is still served
            assert not agent.harness.inputs.qsize()  # no prompt got through

    run(scenario())


@pytest.mark.parametrize("headers", [
    {"Origin": "https://evil.example"},
    {"Origin": "http://localhost.evil.example"},
    {"Origin": "http://localhost:8080"},  # another port is another origin
    {"Origin": "null"},
    {"Host": "evil.example"},
    {"Host": "evil.example", "Origin": "http://evil.example"},  # DNS rebinding
    {"Host": "localhost@evil.example"},
])
def test_the_terminal_refuses_a_foreign_origin_or_host(
        daemon: DaemonProcess, headers: dict[str, str]) -> None:
    async def scenario() -> None:
        async with running_ui(daemon) as agent:
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await agent.http.ws_connect("/terminal", headers=headers)
            assert refused.value.status == 403
            assert not agent.runner.app[TERMINALS].sockets  # no shell was started
            # Its own origin, through the dashboard's name for it, still gets a shell.
            own = {"Host": "127.0.0.1:7000", "Origin": "http://127.0.0.1:7000"}
            async with agent.http.ws_connect("/terminal", headers=own) as ws:
                await ws.send_bytes(b"echo own-$((2+2))\n")
                await Screen(ws).expect_text("own-4")

    run(scenario())
