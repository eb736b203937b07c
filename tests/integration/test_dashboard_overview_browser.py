"""The overview in Debian's chromium: actions swap the agents' table in place (htmx), and
destroy asks first, in the same place; a real daemon and a real dashboard behind it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from hive_dev.dashboard import Dashboard, running_dashboard
from tests.integration import browser

WAIT = 20.0


@pytest.fixture
def dash() -> Iterator[Dashboard]:
    reason = browser.missing()
    if reason:
        pytest.fail(reason)
    with running_dashboard() as found:
        for name in ("alice", "bob"):
            found.call("register", name=name)
        yield found


def wait(page: Any, shown: Callable[[Any], Any], what: str) -> None:
    WebDriverWait(page, WAIT, poll_frequency=0.05).until(shown, f"the page never showed {what}")


def button(page: Any, name: str, action: str) -> Any:
    return page.find_element(By.CSS_SELECTOR,
                             f'#agent-{name} button[name="action"][value="{action}"]')


def paused(dash: Dashboard, name: str) -> bool:
    (row,) = dash.call("agent_status", name=name)["agent_statuses"]
    return bool(row["paused"])


def test_pause_swaps_the_row_without_a_reload(dash: Dashboard) -> None:
    with dash.browser() as page:
        wait(page, lambda p: p.find_elements(By.ID, "agent-alice"), "alice's row")
        assert page.title == "(0) hyperhive"
        wait(page, lambda p: p.execute_script("return !!window.htmx"), "htmx loaded")
        page.execute_script("window.beforeTheSwap = true")
        button(page, "alice", "pause").click()
        wait(page, lambda p: p.find_elements(
            By.CSS_SELECTOR, '#agent-alice button[value="resume"]'), "alice's Resume")
        assert paused(dash, "alice")
        assert page.execute_script("return window.beforeTheSwap === true")  # no reload
        assert page.find_element(By.CSS_SELECTOR, "#agents .flash").text == "alice: paused"
        button(page, "alice", "resume").click()
        wait(page, lambda p: p.find_elements(
            By.CSS_SELECTOR, '#agent-alice button[value="pause"]'), "alice's Pause")
        assert not paused(dash, "alice")


def test_a_refusal_shows_in_the_table_and_the_table_stays(dash: Dashboard) -> None:
    with dash.browser() as page:
        wait(page, lambda p: p.execute_script("return !!window.htmx"), "htmx loaded")
        page.execute_script("window.beforeTheSwap = true")
        button(page, "bob", "pause").click()
        wait(page, lambda p: p.find_elements(
            By.CSS_SELECTOR, '#agent-bob button[value="resume"]'), "bob's Resume")
        dash.call("unregister", name="bob")  # gone behind the page's back
        button(page, "bob", "resume").click()
        wait(page, lambda p: p.find_elements(By.CSS_SELECTOR, "#agents .flash.error"),
             "the refusal")
        assert "bob" in page.find_element(By.CSS_SELECTOR, "#agents .flash.error").text
        assert page.find_elements(By.ID, "agent-alice")
        assert not page.find_elements(By.ID, "agent-bob")
        assert page.execute_script("return window.beforeTheSwap === true")


def test_destroy_asks_in_place_then_keeps_the_agent(dash: Dashboard) -> None:
    with dash.browser() as page:
        wait(page, lambda p: p.execute_script("return !!window.htmx"), "htmx loaded")
        button(page, "bob", "destroy").click()
        wait(page, lambda p: p.find_elements(By.CSS_SELECTOR, '#agents [role="alertdialog"]'),
             "the confirm button")
        assert [r["name"] for r in dash.call("agent_status")["agent_statuses"]
                if r["desired"] == "destroyed"] == []
        page.find_element(By.CSS_SELECTOR, '#agents [role="alertdialog"] button').click()
        wait(page, lambda p: p.find_elements(By.ID, "kept-bob"), "bob among the kept")
        assert [a["name"] for a in dash.call("kept_agents")["agents"]] == ["bob"]
        assert not page.find_elements(By.ID, "agent-bob")
