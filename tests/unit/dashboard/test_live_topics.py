"""What each daemon item means for the pages, and how a tab owes and resumes topics."""

from __future__ import annotations

from pathlib import Path

from hive_c0re.dashboard.hive import HiveClient
from hive_c0re.dashboard.live import (
    EVERYTHING,
    HISTORY,
    MAX_PENDING,
    TOPICS,
    Hub,
    Tab,
    event_topics,
    mail_topics,
    status_topics,
)


def hub() -> Hub:
    # Never dialled: these tests feed the hub by hand.
    return Hub(HiveClient(Path("/nonexistent/host.sock")))


def test_events_name_their_pages() -> None:
    assert event_topics({"kind": "approval", "agent": "alice"}) == {
        "events", "approvals", "problems", "agent:alice"}
    assert event_topics({"kind": "question_asked", "agent": "bob"}) >= {"questions", "problems"}
    assert event_topics({"kind": "reminder_fired", "agent": None}) == {"events", "reminders"}
    assert event_topics({"kind": "container_crash", "agent": "c"}) >= {"problems", "agents"}
    assert event_topics({"kind": "dashboard_logout", "agent": None}) == {"events"}


def test_an_agent_topic_only_for_a_real_agent_name() -> None:
    for name in ("operator", "system", "../x", "A", "", None, 7, "a" * 20):
        assert not any(t.startswith("agent:") for t in event_topics({"kind": "x",
                                                                     "agent": name}))


def test_mail_names_the_flow_and_the_inbox_when_it_is_the_operators() -> None:
    assert mail_topics({"from": "alice", "to": "bob"}) == {"flow", "agent:alice", "agent:bob"}
    assert mail_topics({"from": "alice", "to": "operator"}) == {
        "flow", "inbox", "problems", "agent:alice"}
    assert status_topics({"name": "alice"}) == {"agents", "problems", "agent:alice"}


def test_a_slow_tab_owes_a_bounded_set_then_everything() -> None:
    tab = Tab(session_id=1)
    tab.owe({"inbox"}, 1)
    tab.owe({"inbox", "flow"}, 2)
    assert tab.pending == {"inbox", "flow"} and tab.seq == 2 and tab.wake.is_set()
    tab.owe({f"agent:a{i}" for i in range(MAX_PENDING)}, 3)
    assert tab.pending == {EVERYTHING} and tab.seq == 3
    tab.owe({"inbox"}, 4)
    assert tab.pending == {EVERYTHING, "inbox"}


def test_resuming_sends_what_changed_since_or_everything() -> None:
    h = hub()
    h.publish({"inbox"})
    h.publish({"flow"})
    h.publish({"reminders"})
    assert h.since(f"{h.boot}-1") == {"flow", "reminders"}
    assert h.since(f"{h.boot}-3") == set()
    for unknown in (None, "", "junk", f"{h.boot}-", f"{h.boot}-9", "other-1", f"{h.boot}--1"):
        assert h.since(unknown) == {EVERYTHING}


def test_resuming_from_before_the_history_kept_sends_everything() -> None:
    h = hub()
    for _ in range(HISTORY + 5):
        h.publish({"flow"})
    assert h.since(f"{h.boot}-1") == {EVERYTHING}
    assert h.since(f"{h.boot}-{h.seq - 1}") == {"flow"}


def test_everything_includes_each_agent_seen() -> None:
    h = hub()
    h.on_status({"name": "alice"})
    h.on_status({"name": "../etc"})
    assert h.everything() == {*TOPICS, "agent:alice"}


def test_a_logout_event_cuts_the_tabs_of_the_sessions_it_names() -> None:
    h = hub()
    mine, other = Tab(session_id=1), Tab(session_id=2)
    h.tabs |= {mine, other}
    h.on_event({"id": 5, "kind": "dashboard_logout", "agent": None, "data": {"ids": [1]}})
    assert mine.cut and not other.cut
    assert other.pending == {"events"}
    h.on_event({"id": 6, "kind": "dashboard_logout", "agent": None, "data": {}})
    assert not other.cut
