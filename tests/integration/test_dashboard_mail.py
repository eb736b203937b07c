"""/inbox through the real login: compose, threads, reply, mark read, the flow.

A real daemon and a real dashboard process; the agents are registered
mailboxes whose mail is read on their own sockets with ``recv``, as their
harness would. Looking at the inbox marks nothing read: only the form or a
reply does.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.wait import WebDriverWait

from hive_dev.dashboard import Answer, Dashboard, WebSession, running_dashboard

PAL, BUDDY = "pal", "buddy"
SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"
WAIT = 30  # seconds a live change gets to reach the page (a bound, not a measure)


@pytest.fixture(scope="module")
def dash() -> Iterator[Dashboard]:
    with running_dashboard() as running:
        for name in (PAL, BUDDY):
            running.call("register", name=name)
        yield running


@pytest.fixture(scope="module")
def web(dash: Dashboard) -> WebSession:
    return dash.login()



def received(dash: Dashboard, name: str) -> list[dict[str, Any]]:
    """What ``name`` reads in one turn (its mail, leased, then acked)."""
    messages: list[dict[str, Any]] = dash.as_agent(name, "recv", wait_seconds=5)["messages"]
    dash.as_agent(name, "ack_turn")
    return messages


def sent_to_operator(dash: Dashboard, body: str, in_reply_to: int | None = None) -> int:
    (message_id,) = dash.as_agent(PAL, "send", to="operator", body=body,
                          in_reply_to=in_reply_to)["ids"]
    return int(message_id)


def states(dash: Dashboard) -> dict[int, str]:
    return {m["id"]: m["state"] for m in dash.call("mail", name="operator")["messages"]}


def post_pairs(web: WebSession, path: str, pairs: list[tuple[str, str]]) -> Answer:
    """A form post with repeated fields, the session's CSRF token first."""
    return web.request("POST", path, urlencode([("csrf", web.csrf), *pairs]).encode(), {
        "Content-Type": "application/x-www-form-urlencoded",
        "Origin": f"http://{web.host}:{web.port}"})


def thread_of(page: str, message_id: int) -> str:
    """The HTML of the thread holding ``message_id``."""
    for found in re.finditer(r'<article class="thread[^"]*" id="thread-\d+">.*?</article>',
                             page, re.S):
        if f'id="message-{message_id}"' in found.group(0):
            return found.group(0)
    raise AssertionError(f"no thread holds #{message_id}:\n{page}")


def test_compose_reaches_the_agent_and_its_answer_threads_under_it_as_text(
        dash: Dashboard, web: WebSession) -> None:
    done = web.post("/inbox/send", {"to": PAL, "body": f"hello {SCRIPT}"})
    assert done.status == 303 and done.header("Location") == "/inbox", done.text
    (hello,) = [m for m in received(dash, PAL) if m["from"] == "operator"]
    assert hello["body"] == f"hello {SCRIPT}"
    answer = sent_to_operator(dash, f"hi back {IMG}", in_reply_to=int(hello["id"]))
    page = web.get("/inbox")
    assert page.status == 200, page.text
    thread = thread_of(page.text, answer)
    assert f'id="message-{hello["id"]}"' in thread  # the operator's own message heads it
    assert "hello &lt;script&gt;alert(1)&lt;/script&gt;" in thread
    assert "hi back &lt;img src=x onerror=alert(1)&gt;" in thread
    assert "<img" not in page.text and "<script>" not in page.text.replace(
        '<script src="/static/', "")
    # Looking marked nothing read.
    assert states(dash)[answer] == "unread"
    assert f'id="message-{answer}"' in web.get("/fragments/inbox").text
    assert web.get("/fragments/inbox").text.startswith(
        '<section id="inbox" hx-get="/fragments/inbox" hx-trigger="sse:inbox"')
    assert web.get("/fragments/flow").text.startswith(
        '<section id="flow" hx-get="/fragments/flow" hx-trigger="sse:flow"')


def test_a_reply_threads_reaches_the_agent_and_marks_the_thread_read(
        dash: Dashboard, web: WebSession) -> None:
    first = sent_to_operator(dash, "can I take the afternoon?")
    page = web.get("/inbox").text
    thread = thread_of(page, first)
    assert f'name="in_reply_to" value="{first}"' in thread
    assert f'name="id" value="{first}"' in thread  # the reply marks it read
    done = post_pairs(web, "/inbox/reply", [("to", PAL), ("in_reply_to", str(first)),
                                            ("id", str(first)), ("body", "yes, go")])
    assert done.status == 303, done.text
    (reply,) = [m for m in received(dash, PAL) if m["from"] == "operator"]
    assert (reply["body"], reply["in_reply_to"]) == ("yes, go", first)
    assert states(dash)[first] == "acked"
    after = thread_of(web.get("/inbox").text, first)
    assert f'id="message-{reply["id"]}"' in after and "yes, go" in after


def test_mark_read_marks_only_what_the_form_names(dash: Dashboard, web: WebSession) -> None:
    one, two = sent_to_operator(dash, "one"), sent_to_operator(dash, "two")
    done = post_pairs(web, "/inbox/read", [("id", str(one))])
    assert done.status == 303, done.text
    assert (states(dash)[one], states(dash)[two]) == ("acked", "unread")
    bad = post_pairs(web, "/inbox/read", [("id", "1; drop")])
    assert bad.status == 400 and "a message id is a number" in bad.text
    assert states(dash)[two] == "unread"


def test_compose_to_everyone_reaches_every_agent(dash: Dashboard, web: WebSession) -> None:
    done = web.post("/inbox/send", {"to": "*", "body": "all hands"})
    assert done.status == 303, done.text
    for name in (PAL, BUDDY):
        assert "all hands" in [m["body"] for m in received(dash, name)]


def test_a_send_the_hive_refuses_is_shown_with_its_reason(
        dash: Dashboard, web: WebSession) -> None:
    refused = web.post("/inbox/send", {"to": "nobody", "body": "hi"})
    assert refused.status in (400, 404), refused.text
    assert "nobody" in refused.text and "Refused" in refused.text


def test_the_flow_shows_mail_between_agents_as_text(dash: Dashboard, web: WebSession) -> None:
    (message_id,) = dash.as_agent(PAL, "send", to=BUDDY, body=f"psst {SCRIPT}")["ids"]
    flow = web.get("/fragments/flow")
    assert flow.status == 200, flow.text
    assert f'id="message-{message_id}"' in flow.text
    assert "psst &lt;script&gt;alert(1)&lt;/script&gt;" in flow.text
    assert "<script>" not in flow.text
    page = web.get("/inbox").text
    assert page.count(f'id="message-{message_id}"') == 1  # in the flow, not the inbox


def test_in_chromium_hostile_mail_injects_nothing(dash: Dashboard) -> None:
    mine = sent_to_operator(dash, f"{SCRIPT} {IMG} <a href=\"javascript:alert(1)\">x</a>")
    with dash.browser() as driver:
        driver.get(f"{dash.url}/inbox")
        assert f"{SCRIPT} {IMG}" in driver.find_element(By.ID, f"message-{mine}").text
        assert driver.find_elements(By.CSS_SELECTOR, "main img, main script, main a") == []
        with pytest.raises(NoAlertPresentException):
            driver.switch_to.alert.text  # noqa: B018 (it raises when no dialog fired)


def test_in_chromium_new_mail_and_flow_arrive_without_a_reload(dash: Dashboard) -> None:
    with dash.browser() as driver:
        driver.get(f"{dash.url}/inbox")
        driver.execute_script("window.hiveMark = 'still here'")
        mine = sent_to_operator(dash, "arrives live")
        (between,) = dash.as_agent(PAL, "send", to=BUDDY, body="flows live")["ids"]
        thread = (By.CSS_SELECTOR, f"#inbox #message-{mine}")
        flowing = (By.CSS_SELECTOR, f"#flow #message-{between}")
        for found in (thread, flowing):
            WebDriverWait(driver, WAIT).until(
                expected_conditions.presence_of_element_located(found))
        assert "arrives live" in driver.find_element(*thread).text
        assert driver.execute_script("return window.hiveMark") == "still here"
