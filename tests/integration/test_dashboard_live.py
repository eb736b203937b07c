"""``GET /live`` through a real dashboard over a real daemon: what the hive does
becomes the topics the pages re-fetch."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from hive_c0re.client import Client
from hive_c0re.dashboard.live import TOPICS
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
