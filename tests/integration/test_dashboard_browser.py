"""The dashboard in Debian's chromium: the login, the CSP held, the live title count
and the notifications, through a real dashboard over a real daemon."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from hive_c0re.client import Client
from hive_dev.dashboard import Dashboard, running_dashboard
from tests.integration.browser import missing, wait_for

pytestmark = pytest.mark.skipif(missing() is not None, reason=str(missing()))

# Run before any page script: what the CSP refused, and each notification shown.
WATCH = """
window.cspViolations = [];
document.addEventListener("securitypolicyviolation",
  (e) => window.cspViolations.push(e.violatedDirective + " " + e.blockedURI));
window.notices = [];
if ("Notification" in window) {
  const Real = window.Notification;
  window.Notification = class extends Real {
    constructor(title, options) { super(title, options); window.notices.push(options.body); }
  };
}
"""


@pytest.fixture(scope="module")
def dash() -> Iterator[Dashboard]:
    with running_dashboard() as dashboard:
        dashboard.call("register", name="alice")
        yield dashboard


@pytest.fixture
def browser(dash: Dashboard) -> Iterator[Any]:
    with dash.browser() as driver:
        driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": WATCH})
        driver.get(f"{dash.url}/")
        yield driver


def ask(dash: Dashboard, question: str) -> int:
    with Client(dash.daemon.agent_socket("alice"), timeout=30) as alice:
        return int(alice.call("ask", question=question)["question"]["id"])


def test_the_login_leaves_no_code_behind_and_a_cookie_no_script_reads(
        dash: Dashboard, browser: Any) -> None:
    assert browser.current_url == f"{dash.url}/"
    assert "code=" not in " ".join(browser.execute_script("return performance.getEntries()"
                                                          ".map(e => e.name)"))
    cookie = browser.get_cookie("hive_session")
    assert cookie["httpOnly"] is True and cookie["sameSite"] == "Strict"
    assert "hive_session" not in browser.execute_script("return document.cookie")


def test_the_overview_runs_under_the_csp_with_its_stream_open(browser: Any) -> None:
    wait_for(browser, lambda b: b.execute_script(
        "return typeof htmx !== 'undefined' && document.body.getAttribute('sse-connect')"),
        "htmx and the stream set up")
    assert browser.execute_script("return window.cspViolations") == []


def test_the_tab_title_counts_what_waits_live(dash: Dashboard, browser: Any) -> None:
    before = int(browser.find_element("id", "problem-count").get_attribute("data-count"))
    question = ask(dash, "may I?")
    try:
        wait_for(browser, lambda b: b.title == f"({before + 1}) hyperhive",
                 f"the title ({before + 1}) hyperhive; it is {browser.title!r}")
    finally:
        dash.call("cancel_question", id=question)
    wait_for(browser, lambda b: b.title == f"({before}) hyperhive", "the count back down")


def test_notifications_are_offered_then_shown_for_a_question(
        dash: Dashboard, browser: Any) -> None:
    button = browser.find_element("id", "notify")
    permission = browser.execute_script("return Notification.permission")
    assert button.is_displayed() == (permission == "default")
    browser.execute_cdp_cmd("Browser.grantPermissions", {
        "origin": dash.url, "permissions": ["notifications"]})
    assert browser.execute_script("return Notification.permission") == "granted"
    question = ask(dash, "ping?")
    try:
        wait_for(browser, lambda b: b.execute_script("return window.notices.length") > 0,
                 "a notification")
    finally:
        dash.call("cancel_question", id=question)
    assert "question" in browser.execute_script("return window.notices[0]")
