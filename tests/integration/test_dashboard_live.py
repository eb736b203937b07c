"""``GET /live`` through a real dashboard over a real daemon: what the hive does
becomes the topics the pages re-fetch."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator

import pytest

from hive_c0re.client import Client
from hive_c0re.dashboard.live import PING, TOPICS
from hive_dev.dashboard import Dashboard, running_dashboard


@pytest.fixture(scope="module")
def dash() -> Iterator[Dashboard]:
    with running_dashboard() as dashboard:
        dashboard.call("register", name="alice")
        yield dashboard


def as_alice(dash: Dashboard, verb: str, **args: object) -> dict[str, object]:
    with Client(dash.daemon.agent_socket("alice"), timeout=30) as alice:
        return alice.call(verb, **args)


def test_mail_to_the_operator_names_inbox_problems_flow_and_the_agent(dash: Dashboard) -> None:
    with dash.login().live() as stream:
        assert stream.status == 200
        as_alice(dash, "send", to="operator", body="hello")
        seen = stream.topics_until({"inbox", "problems", "flow", "agent:alice"})
        assert "approvals" not in seen


def test_a_question_and_a_reminder_name_their_topics(dash: Dashboard) -> None:
    with dash.login().live() as stream:
        as_alice(dash, "ask", question="ok?", options=["yes", "no"])
        stream.topics_until({"questions", "problems", "events"})
        as_alice(dash, "remind", message="later", delay_seconds=3600)
        stream.topics_until({"reminders", "events"})


def test_a_status_change_names_agents_and_the_agents_page(dash: Dashboard) -> None:
    with dash.login().live() as stream:
        dash.call("set_paused", name="alice", paused=True)
        try:
            stream.topics_until({"agents", "problems", "agent:alice"})
        finally:
            dash.call("set_paused", name="alice", paused=False)


def test_each_batch_ends_with_an_id_that_resumes(dash: Dashboard) -> None:
    web = dash.login()
    with web.live() as stream:
        as_alice(dash, "send", to="operator", body="one")
        stream.topics_until({"inbox"})
        seen_id = stream.last_id
    assert seen_id and "-" in seen_id
    # Missed while no tab was open: reconnecting with the id sends just that.
    as_alice(dash, "remind", message="missed", delay_seconds=3600)
    with web.live(last_event_id=seen_id) as stream:
        seen = stream.topics_until({"reminders"})
        assert "inbox" not in seen


def test_what_changes_between_a_page_and_its_stream_is_heard(dash: Dashboard) -> None:
    web = dash.login()
    with web.live() as watcher:  # another tab: it shows when the hub has heard a change
        as_alice(dash, "send", to="operator", body="before the page")
        watcher.topics_until({"inbox"})
        page = web.get("/inbox").text
        found = re.search(r'sse-connect="([^"]+)"', page)
        assert found, page
        as_alice(dash, "send", to="operator", body="after the page, before its stream")
        watcher.topics_until({"inbox"})
        with web.live(path=html.unescape(found[1])) as stream:
            assert "inbox" in stream.topics_until({"inbox"})


@pytest.mark.parametrize("last_id", ["nonsense", "deadbeef-1", "x-99999999"])
def test_an_unknown_last_event_id_gets_every_topic_once(dash: Dashboard, last_id: str) -> None:
    with dash.login().live(last_event_id=last_id) as stream:
        seen = stream.topics_until({*TOPICS, "agent:alice"})
        assert seen == {*TOPICS, "agent:alice"}


def test_logging_this_session_out_ends_its_stream_at_once(dash: Dashboard) -> None:
    web, other = dash.login(), dash.login()
    session = dash.call("dashboard_session", token=web.cookies["hive_session"])["session"]
    with web.live() as stream, other.live() as bystander:
        dash.call("dashboard_logout", id=session["id"])
        # The cut comes before any keep-alive could: no event, then the end.
        assert stream.next(timeout=10) is None
        as_alice(dash, "send", to="operator", body="still here")
        bystander.topics_until({"inbox"})
    with web.live() as again:
        assert again.status == 401


def test_the_stream_needs_a_session(dash: Dashboard) -> None:
    with dash.session().live() as stream:
        assert stream.status == 401


def test_after_the_daemon_restarts_every_tab_hears_everything_changed() -> None:
    with running_dashboard() as fresh:
        fresh.call("register", name="alice")
        with fresh.login().live() as stream:
            fresh.daemon.restart()
            # What changed while the feeds were down is not all in them: re-fetch it all.
            seen = stream.topics_until({*TOPICS, "agent:alice"}, timeout=30)
            assert seen >= {*TOPICS, "agent:alice"}
            as_alice(fresh, "send", to="operator", body="after the restart")
            stream.topics_until({"inbox"})


def test_sigterm_ends_open_streams_and_the_dashboard_cleanly() -> None:
    with running_dashboard() as fresh, fresh.login().live() as stream:
        assert stream.status == 200
        assert fresh.stop() == 0
        assert stream.next(timeout=10) is None


def test_a_quiet_stream_is_kept_alive(dash: Dashboard) -> None:
    with dash.login().live() as stream:
        sock = stream.connection.sock
        assert sock is not None
        sock.settimeout(PING + 10)
        # Nothing happens in the hive: the first line is the keep-alive comment.
        assert stream.response.readline().startswith(b": ping")
