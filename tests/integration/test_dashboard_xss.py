"""Agent text in a real browser: every page that shows it shows it as text.

A real daemon, a real dashboard process and Debian's chromium logged in
through a real one-time code (hive_dev.dashboard). Every string an agent or
the manager controls — a message to the operator and one between agents, a
question and its options, an approval's description, a commit's message, a
file name and a line of its diff, the event log's data — holds a script tag,
an image with an onerror handler and a javascript: link. The test then reads
the DOM the browser built, first as the server sent it and again after htmx
swapped each live area in from its fragment route: no element came from the
agent's text, the text itself is on the page, and no dialog opened.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from hive_dev.dashboard import Dashboard, manager_git, running_dashboard

SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"
LINK = '<a href="javascript:alert(1)">x</a>'
PAYLOAD = f"{SCRIPT} {IMG} {LINK}"
FILE = f"{IMG}.toml"

# Elements that could only come from agent text: the dashboard's own scripts all
# load from /static/, it has no image named x and no javascript: link.
INJECTED = """
return {
  img: document.querySelectorAll('img[src="x"], img[onerror]').length,
  script: [...document.scripts].filter(s => !s.src.startsWith(location.origin + '/static/')
                                       ).length,
  link: document.querySelectorAll('a[href^="javascript" i]').length,
  handler: [...document.querySelectorAll('*')].filter(
      e => [...e.attributes].some(a => a.name.startsWith('on'))).length,
};
"""

# The page's live areas and the fragment route each is re-fetched from.
LIVE = {
    "/": ("problems", "agents"),
    "/inbox": ("inbox", "flow"),
    "/questions": ("questions", "reminders"),
    "/approvals": ("approvals",),
    "/events": ("events",),
}





def commit_request(dash: Dashboard, name: str) -> int:
    """A pending apply_commit of ``name``: the payload in its description, its commit's
    message, the name of a file it adds and a line of its diff; the approval's id."""
    seeded = dash.as_agent("manager", "request_init_config", name=name)["approval"]
    assert dash.call("approve", id=seeded["id"])["approval"]["status"] == "deployed"
    repo = dash.daemon.root / "state" / "proposed-disk" / "repos" / name
    toml = (repo / "agent.toml").read_text()
    (repo / "agent.toml").write_text(f"{toml}# {PAYLOAD}\n")
    (repo / FILE).write_text(f"x = 1 # {PAYLOAD}\n")
    manager_git(repo, "add", "--", "agent.toml", FILE)
    manager_git(repo, "commit", "-qm", PAYLOAD)
    sha = manager_git(repo, "rev-parse", "HEAD")
    asked = dash.as_agent("manager", "request_apply_commit", agent=name, sha=sha,
                          description=PAYLOAD)
    return int(asked["approval"]["id"])


@pytest.fixture(scope="module")
def dash() -> Iterator[Dashboard]:
    with running_dashboard() as running:
        for name in ("alice", "bob"):
            running.call("register", name=name)
        running.as_agent("alice", "send", to="operator", body=PAYLOAD)
        running.as_agent("alice", "send", to="bob", body=PAYLOAD)
        running.as_agent("bob", "ask", question=PAYLOAD, options=[SCRIPT, IMG, LINK])
        running.as_agent("bob", "ask", question=PAYLOAD, options=[SCRIPT, IMG], multi=True)
        running.as_agent("alice", "remind", message=PAYLOAD, delay_seconds=3600)
        commit_request(running, "carol")
        running.as_agent("manager", "request_spawn", name="dave", description=PAYLOAD)
        yield running


@pytest.fixture(scope="module")
def browser(dash: Dashboard) -> Iterator[Any]:
    with dash.browser() as driver:
        yield driver


def no_dialog(browser: Any) -> None:
    from selenium.common.exceptions import NoAlertPresentException

    with pytest.raises(NoAlertPresentException):
        browser.switch_to.alert.text  # noqa: B018  (reading it is what raises)


def assert_nothing_injected(browser: Any, where: str) -> None:
    injected = browser.execute_script(INJECTED)
    assert injected == {"img": 0, "script": 0, "link": 0, "handler": 0}, (where, injected)
    no_dialog(browser)


def swap_in(browser: Any, topic: str) -> None:
    """Let htmx fetch ``/fragments/<topic>`` and swap it in, as an SSE event would."""
    browser.execute_async_script("""
        const [topic, done] = arguments;
        htmx.ajax('GET', '/fragments/' + topic, {target: '#' + topic, swap: 'outerHTML'})
            .then(() => done(true), () => done(false));
    """, topic)


@pytest.mark.parametrize("path", list(LIVE))
def test_agent_text_on_each_page_is_text_before_and_after_htmx_swaps(
        dash: Dashboard, browser: Any, path: str) -> None:
    browser.get(dash.url + path)
    assert browser.current_url == dash.url + path, browser.page_source
    assert_nothing_injected(browser, path)
    for topic in LIVE[path]:
        swap_in(browser, topic)
        assert_nothing_injected(browser, f"{path} after /fragments/{topic}")
    text = browser.find_element("tag name", "body").text
    if path != "/":  # the overview shows counts and rows, no agent-written text
        # (the event log shows data as JSON, so the link's quotes are escaped there)
        assert SCRIPT in text and IMG in text and "javascript:alert(1)" in text, text


def test_the_questions_options_are_choices_labelled_as_text(dash: Dashboard,
                                                           browser: Any) -> None:
    browser.get(dash.url + "/questions")
    labels = [label.text for label in browser.find_elements("css selector", "#questions label")]
    for option in (SCRIPT, IMG, LINK):
        assert any(option in label for label in labels), labels
    assert browser.find_elements("css selector", "#questions input[type=checkbox]")
    assert_nothing_injected(browser, "/questions")


def test_the_diff_shows_the_file_name_and_the_line_as_text(dash: Dashboard,
                                                          browser: Any) -> None:
    browser.get(dash.url + "/approvals")
    cards = browser.find_elements("css selector", "article.approval")
    (pinned,) = [a["id"] for a in dash.call("pending")["approvals"]
                 if a["kind"] == "apply_commit"]
    (card,) = [c.get_attribute("textContent") for c in cards
               if c.get_attribute("id") == f"approval-{pinned}"]
    assert FILE in card, card
    assert f"# {PAYLOAD}" in card, card
    assert_nothing_injected(browser, "/approvals")


def test_an_agents_page_and_the_event_filters_show_its_text_as_text(dash: Dashboard,
                                                                    browser: Any) -> None:
    browser.get(dash.url + "/agents/bob/")
    assert "bob" in browser.title, browser.page_source
    assert_nothing_injected(browser, "/agents/bob/")
    for path in ("/events?agent=bob", "/events?kind=question_asked"):
        browser.get(dash.url + path)
        assert_nothing_injected(browser, path)
        assert f"{SCRIPT} {IMG}" in browser.find_element("tag name", "body").text
