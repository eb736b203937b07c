"""/questions through the real login: answer (one, several, free text), cancel; reminders.

A real daemon and a real dashboard process; the questions and reminders are
an agent's, asked on its own socket, and the answers reach it as the events
the daemon sends (read with ``recv`` on that socket, as its harness would).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.wait import WebDriverWait

from hive_c0re.client import Client
from hive_dev.dashboard import Answer, Dashboard, WebSession, running_dashboard

AGENT = "asker"
SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"
WAIT = 30  # seconds a live change gets to reach the page (a bound, not a measure)


@pytest.fixture(scope="module")
def dash() -> Iterator[Dashboard]:
    with running_dashboard() as running:
        running.call("register", name=AGENT)
        yield running


@pytest.fixture(scope="module")
def web(dash: Dashboard) -> WebSession:
    return dash.login()


def agent(dash: Dashboard, verb: str, **args: Any) -> dict[str, Any]:
    with Client(dash.daemon.agent_socket(AGENT)) as client:
        return client.call(verb, **args)


def ask(dash: Dashboard, question: str, **args: Any) -> int:
    return int(agent(dash, "ask", question=question, **args)["question"]["id"])


def post_pairs(web: WebSession, path: str, pairs: list[tuple[str, str]]) -> Answer:
    """A form post with repeated fields (checkboxes), the session's CSRF token first."""
    return web.request("POST", path, urlencode([("csrf", web.csrf), *pairs]).encode(), {
        "Content-Type": "application/x-www-form-urlencoded",
        "Origin": f"http://{web.host}:{web.port}"})


def told(dash: Dashboard, *question_ids: int) -> dict[int, str]:
    """The answers the asker was sent (question_answered events) for ``question_ids``."""
    answers: dict[int, str] = {}
    for _ in range(10):
        for message in agent(dash, "recv", wait_seconds=5)["messages"]:
            body = json.loads(message["body"]) if message["from"] == "system" else {}
            if body.get("event") == "question_answered":
                answers[int(body["id"])] = str(body["answer"])
        agent(dash, "ack_turn")
        if set(question_ids) <= set(answers):
            return {q: answers[q] for q in question_ids}
    raise AssertionError(f"question_answered events: {answers}, not all of {question_ids}")


def card(page: str, question_id: int) -> str:
    found = re.search(rf'<article class="question" id="question-{question_id}">.*?</article>',
                      page, re.S)
    assert found, page
    return found.group(0)


def test_options_are_radio_buttons_or_checkboxes_with_a_deadline_and_text_is_escaped(
        dash: Dashboard, web: WebSession) -> None:
    single = ask(dash, f"lunch? {SCRIPT}", options=["yes", IMG])
    multi = ask(dash, "colours?", options=["red", "green", "blue"], multi=True)
    page = web.get("/questions")
    assert page.status == 200, page.text
    one, several = card(page.text, single), card(page.text, multi)
    assert one.count('type="radio"') == 2 and 'type="checkbox"' not in one
    assert several.count('type="checkbox"') == 3
    assert re.search(r'<time class="countdown" datetime="\d{4}-\d\d-\d\dT[\d:]+Z">[\dhms ]+'
                     r'</time>', one), one
    assert 'name="text"' in one and 'name="text"' in several  # free text is always there
    assert "lunch? &lt;script&gt;alert(1)&lt;/script&gt;" in one
    assert 'value="&lt;img src=x onerror=alert(1)&gt;"' in one
    assert "<img" not in page.text and "<script>" not in page.text.replace(
        '<script src="/static/', "")
    assert web.get("/fragments/questions").text.count('class="question"') >= 2
    assert web.get("/fragments/questions").text.startswith(
        '<section id="questions" hx-get="/fragments/questions" hx-trigger="sse:questions"')
    assert web.get("/fragments/reminders").text.startswith(
        '<section id="reminders" hx-get="/fragments/reminders" hx-trigger="sse:reminders"')


def test_answering_one_option_several_or_free_text_tells_the_asker(
        dash: Dashboard, web: WebSession) -> None:
    single = ask(dash, "tea?", options=["yes", "no"])
    multi = ask(dash, "which days?", options=["mon", "tue", "wed"], multi=True)
    free = ask(dash, "when?")
    answered = [post_pairs(web, f"/questions/{single}/answer", [("choice", "no")]),
                post_pairs(web, f"/questions/{multi}/answer",
                           [("choice", "mon"), ("choice", "wed"), ("text", "")]),
                post_pairs(web, f"/questions/{free}/answer", [("text", f"soon {SCRIPT}")])]
    assert [a.status for a in answered] == [303, 303, 303], [a.text for a in answered]
    assert told(dash, single, multi, free) == {single: "no", multi: "mon, wed",
                                               free: f"soon {SCRIPT}"}
    page = web.get("/questions").text
    assert not any(f'id="question-{q}"' in page for q in (single, multi, free))


def test_an_answer_the_question_does_not_take_is_refused_and_it_stays_open(
        dash: Dashboard, web: WebSession) -> None:
    question = ask(dash, "cake?", options=["yes", "no"])
    refused = post_pairs(web, f"/questions/{question}/answer", [("text", "maybe")])
    assert refused.status == 400, refused.text
    assert "is not one of its options" in refused.text and "yes, no" in refused.text
    empty = post_pairs(web, f"/questions/{question}/answer", [])
    assert empty.status == 400 and "empty" in empty.text
    assert question in [q["id"] for q in dash.call("questions")["questions"]]


def test_cancelling_a_question_closes_it(dash: Dashboard, web: WebSession) -> None:
    question = ask(dash, "still there?")
    done = web.post(f"/questions/{question}/cancel", {})
    assert done.status == 303 and done.header("Location") == "/questions", done.text
    every = {q["id"]: q["status"] for q in dash.call("questions", all=True)["questions"]}
    assert every[question] == "cancelled"
    assert told(dash, question) == {question: "[cancelled]"}
    assert f'id="question-{question}"' not in web.get("/questions").text


def test_reminders_are_listed_as_text_and_cancelled(dash: Dashboard, web: WebSession) -> None:
    reminder = int(agent(dash, "remind", message=f"water {SCRIPT}", delay_seconds=3600,
                         file_path="/state/plants.md")["reminder"]["id"])
    page = web.get("/questions").text
    row = re.search(rf'<tr id="reminder-{reminder}">.*?</tr>', page, re.S)
    assert row, page
    assert "water &lt;script&gt;alert(1)&lt;/script&gt;" in row.group(0)
    assert AGENT in row.group(0) and "/state/plants.md" in row.group(0)
    assert f'id="reminder-{reminder}"' in web.get("/fragments/reminders").text
    done = web.post(f"/reminders/{reminder}/cancel", {})
    assert done.status == 303, done.text
    assert reminder not in [r["id"] for r in dash.call("reminders")["reminders"]]
    assert f'id="reminder-{reminder}"' not in web.get("/questions").text


def test_in_chromium_a_hostile_question_and_reminder_inject_nothing(dash: Dashboard) -> None:
    question = ask(dash, f"{SCRIPT} {IMG}", options=[IMG, "javascript:alert(1)"])
    reminder = int(agent(dash, "remind", message=f"{IMG} later",
                         delay_seconds=3600)["reminder"]["id"])
    with dash.browser() as driver:
        driver.get(f"{dash.url}/questions")
        shown = driver.find_element(By.ID, f"question-{question}").text
        assert f"{SCRIPT} {IMG}" in shown and "javascript:alert(1)" in shown
        assert f"{IMG} later" in driver.find_element(By.ID, f"reminder-{reminder}").text
        assert driver.find_elements(By.CSS_SELECTOR, "main img, main script, main a") == []
        with pytest.raises(NoAlertPresentException):
            driver.switch_to.alert.text  # noqa: B018 (it raises when no dialog fired)


def test_in_chromium_a_new_question_and_reminder_arrive_without_a_reload(
        dash: Dashboard) -> None:
    with dash.browser() as driver:
        driver.get(f"{dash.url}/questions")
        driver.execute_script("window.hiveMark = 'still here'")
        question = ask(dash, "live?", options=["yes", "no"])
        reminder = int(agent(dash, "remind", message="live too",
                             delay_seconds=3600)["reminder"]["id"])
        for found in ((By.ID, f"question-{question}"), (By.ID, f"reminder-{reminder}")):
            WebDriverWait(driver, WAIT).until(
                expected_conditions.presence_of_element_located(found))
        assert driver.execute_script("return window.hiveMark") == "still here"
