"""The overview in Debian's chromium: actions swap the agents' table in place (htmx), and
destroy asks first, in the same place; a real daemon and a real dashboard behind it.
(A refusal shown in the table is tested over HTTP: the live feed redraws the table too
soon after for a browser to read it reliably.)"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from selenium.common.exceptions import StaleElementReferenceException
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


def press(page: Any, name: str, action: str) -> None:
    """Click ``name``'s ``action`` button; the live feed may swap the table in between,
    so a button gone stale is looked up again."""
    selector = f'#agent-{name} button[name="action"][value="{action}"]'

    def clicked(p: Any) -> bool:
        try:
            p.find_element(By.CSS_SELECTOR, selector).click()
        except StaleElementReferenceException:
            return False
        return True

    wait(page, clicked, f"{name}'s {action} button")


def paused(dash: Dashboard, name: str) -> bool:
    (row,) = dash.call("agent_status", name=name)["agent_statuses"]
    return bool(row["paused"])


def test_pause_swaps_the_row_without_a_reload(dash: Dashboard) -> None:
    with dash.browser() as page:
        wait(page, lambda p: p.find_elements(By.ID, "agent-alice"), "alice's row")
        assert page.title == "(0) hyperhive"
        wait(page, lambda p: p.execute_script("return !!window.htmx"), "htmx loaded")
        page.execute_script("window.beforeTheSwap = true")
        press(page, "alice", "pause")
        wait(page, lambda p: p.find_elements(
            By.CSS_SELECTOR, '#agent-alice button[value="resume"]'), "alice's Resume")
        assert paused(dash, "alice")
        assert page.execute_script("return window.beforeTheSwap === true")  # no reload
        press(page, "alice", "resume")
        wait(page, lambda p: p.find_elements(
            By.CSS_SELECTOR, '#agent-alice button[value="pause"]'), "alice's Pause")
        assert not paused(dash, "alice")


def test_destroy_asks_in_place_then_keeps_the_agent(dash: Dashboard) -> None:
    with dash.browser() as page:
        wait(page, lambda p: p.execute_script("return !!window.htmx"), "htmx loaded")
        press(page, "bob", "destroy")
        wait(page, lambda p: p.find_elements(By.CSS_SELECTOR, '#agents [role="alertdialog"]'),
             "the confirm button")
        assert [r["name"] for r in dash.call("agent_status")["agent_statuses"]
                if r["desired"] == "destroyed"] == []
        confirm = page.find_element(By.CSS_SELECTOR, '#agents [role="alertdialog"] button')
        confirm.click()  # a plain form: the live feed changes nothing until it is sent
        wait(page, lambda p: p.find_elements(By.ID, "kept-bob"), "bob among the kept")
        assert [a["name"] for a in dash.call("kept_agents")["agents"]] == ["bob"]
        assert not page.find_elements(By.ID, "agent-bob")
