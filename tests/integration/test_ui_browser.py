"""The agent's page in a real browser (Debian's chromium), on a real harness whose turns run on
the real claude CLI against the stand-in Messages API, beside a real hive daemon.

Screenshots go to ``$HYPERHIVE_UI_SHOTS`` when it is set (to look at), else to the test's
own temporary directory.
"""

from __future__ import annotations

import asyncio
import os
import re
from pathlib import Path
from typing import Any

import pytest

from hive_c0re.client import Client
from hive_dev.daemon import DaemonProcess
from hive_dev.fakes.messages_api import MessagesApi
from hive_dev.fakes.script import Match, Reply, ToolCall
from hive_dev.harness_support import UI_SECRET
from tests.integration import browser as b
from tests.integration.ui_support import Agent, run, running_real_ui, short_dir

DATE = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d")


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    where = Path(os.environ.get("HYPERHIVE_UI_SHOTS") or tmp_path)
    where.mkdir(parents=True, exist_ok=True)
    return where


def by_id(page: Any, name: str) -> Any:
    from selenium.webdriver.common.by import By

    return page.find_element(By.ID, name)


def css(page: Any, selector: str) -> list[Any]:
    from selenium.webdriver.common.by import By

    return list(page.find_elements(By.CSS_SELECTOR, selector))


async def mail_for_a_turn(agent: Agent, api: MessagesApi, host: Client) -> int:
    """A question the operator answers (a hive event for the agent) and a message the agent
    answers with a send; its last model call takes a while, so the turn can be seen running."""
    asked = await agent.harness.mail.call("ask", question="deploy now?", options=["yes", "no"])
    number = int(asked["question"]["id"])
    host.call("answer", question_id=number, answer="yes")
    (first,) = host.call("send", to=agent.harness.name, body="what is 6*7?")["ids"]
    send = ToolCall("mcp__hive__send", {"to": "operator", "body": "42", "in_reply_to": first},
                    id="toolu_send")
    api.add(Reply(tool_calls=[send], match=Match(last_user_contains="what is 6*7?",
                                                 has_tool="mcp__hive__send")),
            Reply(text="answered", match=Match(tool_result_for="toolu_send"), delay=3.0))
    return number


async def turn(agent: Agent, api: MessagesApi) -> None:
    while not any(c.tool_result("toolu_send") for c in api.model_calls):
        await agent.harness.step()


def before(page: Any, url: str, shots: Path) -> None:
    page.get(url)
    b.wait_for(page, lambda p: by_id(p, "state").text == "idle", "the idle badge")
    b.wait_for(page, lambda p: "no turns yet" in by_id(p, "turns").text, "an empty history")
    assert not by_id(page, "live-section").is_displayed()  # no turn runs
    assert not by_id(page, "login-section").is_displayed()  # an API key: no login needed
    page.save_screenshot(str(shots / "1-before-a-turn.png"))


def during(page: Any, shots: Path) -> None:
    b.wait_for(page, lambda p: by_id(p, "live-section").is_displayed() and css(p, "#live .reply"),
               "the current turn with its reply")
    (reply,) = css(page, "#live .reply")
    assert reply.text.replace("\n", " ") == "↗ sent to operator 42"
    page.save_screenshot(str(shots / "2-during-the-turn.png"))


def after(page: Any, shots: Path, number: int) -> None:
    b.wait_for(page, lambda p: css(p, "#turns li.turn .reply")
               and not by_id(p, "live-section").is_displayed(), "the turn in the history")
    (item,) = css(page, "#turns li.turn")
    summary = css(item, "summary")[0].text
    assert summary.startswith("#1 · ") and " · mail · ok · " in summary, summary
    assert DATE.search(summary) and "stand-in" in summary and "$" not in summary, summary
    assert css(item, ".reply")[0].text.replace("\n", " ") == "↗ sent to operator 42"
    assert by_id(page, "stand-in").is_displayed()
    assert "stand-in" in by_id(page, "last-turn").text and "$" not in by_id(page, "last-turn").text
    b.wait_for(page, lambda p: css(p, "#inbox .event-line"), "the hive event in the inbox")
    lines = [e.text for e in css(page, "#inbox .event-line")]
    assert f"question #{number} answered by operator: yes" in lines, lines
    assert all(DATE.fullmatch(t.text) for t in css(page, "#inbox time"))
    assert '"event"' not in by_id(page, "inbox").text  # no raw JSON
    assert not by_id(page, "login-section").is_displayed()
    page.save_screenshot(str(shots / "3-after-the-turn.png"))
    css(item, "summary")[0].click()
    b.wait_for(page, lambda p: "the model finished" in item.text, "the turn's events")
    assert "session started" in item.text and "system:" not in item.text
    page.save_screenshot(str(shots / "4-a-turn-opened.png"))


def test_the_page_shows_a_turn_its_reply_and_a_hive_event(
        daemon: DaemonProcess, api: MessagesApi, shots: Path) -> None:
    reason = b.missing()
    if reason:
        pytest.fail(reason)
    profile = short_dir()

    async def scenario() -> None:
        async with running_real_ui(daemon, api, name="alice") as (agent, _rig), \
                b.tcp_door(agent.socket, UI_SECRET) as url:
            page = await asyncio.to_thread(b.start_browser, profile)
            try:
                await asyncio.to_thread(before, page, url, shots)
                with Client(daemon.host_socket) as host:
                    number = await mail_for_a_turn(agent, api, host)
                running = asyncio.create_task(turn(agent, api))
                await asyncio.to_thread(during, page, shots)
                await running
                await asyncio.to_thread(after, page, shots, number)
            finally:
                await asyncio.to_thread(b.close, page, profile)

    run(scenario(), timeout=180)
