"""/events through a real daemon and a real dashboard: newest first, filtered, checked, live."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from hive_dev.dashboard import Dashboard, WebSession, running_dashboard


@pytest.fixture
def dash() -> Iterator[Dashboard]:
    with running_dashboard() as found:
        for name in ("alice", "bob"):
            found.call("register", name=name)
        found.call("set_paused", name="alice", paused=True)
        found.call("set_paused", name="bob", paused=True)
        found.call("set_paused", name="alice", paused=False)
        found.call("request_spawn", name="carol", description="a reviewer")
        yield found


@pytest.fixture
def web(dash: Dashboard) -> WebSession:
    return dash.login()


def shown(page: str) -> list[tuple[str, str]]:
    """(kind, agent) of each row, top to bottom."""
    return re.findall(r'<tr id="event-\d+" class="kind-[a-z_]+">\s*<td>\d+</td>\s*'
                      r'<td><time[^>]*>[^<]*</time></td>\s*<td>([a-z_]+)</td>\s*'
                      r'<td>(?:<a href="[^"]*">)?([a-z-]+)', page)


def test_the_log_is_newest_first(dash: Dashboard, web: WebSession) -> None:
    page = web.get("/events")
    assert page.status == 200, page.text
    # The login that opened this session is an event of its own, with no agent.
    assert shown(page.text) == [("dashboard_login", "-"), ("approval", "carol"),
                                ("resumed", "alice"), ("paused", "bob"), ("paused", "alice")]


def test_filters_by_agent_and_kind(dash: Dashboard, web: WebSession) -> None:
    assert shown(web.get("/events?agent=alice").text) == [("resumed", "alice"),
                                                          ("paused", "alice")]
    assert shown(web.get("/events?kind=paused").text) == [("paused", "bob"),
                                                          ("paused", "alice")]
    both = web.get("/events?agent=bob&kind=resumed").text
    assert shown(both) == [] and "No events match." in both


def test_the_fragment_keeps_the_filters_for_its_next_fetch(dash: Dashboard,
                                                           web: WebSession) -> None:
    fragment = web.get("/fragments/events?agent=alice&kind=paused&limit=50")
    assert fragment.status == 200
    assert fragment.text.startswith(
        '<section id="events" hx-get="/fragments/events?agent=alice&amp;kind=paused'
        '&amp;limit=50" hx-trigger="sse:events"'), fragment.text
    assert shown(fragment.text) == [("paused", "alice")]
    dash.call("set_paused", name="alice", paused=True)
    assert len(shown(web.get("/fragments/events?agent=alice&kind=paused").text)) == 2


@pytest.mark.parametrize(("query", "words"), [
    ("agent=..%2Fx", "agent name '../x' is not allowed"),
    ("agent=operator", "agent name 'operator' is reserved"),
    ("kind=%3Cscript%3E", "kind '<script>' is not an event kind"),
    ("limit=0", "limit must be a whole number from 1 to 1000"),
    ("limit=lots", "limit must be a whole number from 1 to 1000"),
])
def test_a_bad_filter_is_refused_saying_which(dash: Dashboard, web: WebSession,
                                              query: str, words: str) -> None:
    before = dash.call("events")["events"]
    page = web.get(f"/events?{query}")
    assert page.status == 400, page.text
    assert words.replace("'", "&#39;").replace("<", "&lt;").replace(">", "&gt;") in page.text
    assert "<script>" not in page.text
    assert dash.call("events")["events"] == before


def test_an_agent_the_hive_never_had_is_not_found(dash: Dashboard, web: WebSession) -> None:
    page = web.get("/events?agent=zed")
    assert page.status == 404, page.text
    assert "zed" in page.text
