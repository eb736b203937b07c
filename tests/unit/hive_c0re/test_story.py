"""The story's words: journal entries, events, times and ``--since`` (``hive-c0re logs``)."""

from __future__ import annotations

import logging
from datetime import datetime

import pytest

from hive_c0re import logs, story
from hive_c0re.errors import InvalidInput


def test_first_words_keep_one_line_and_end_with_an_ellipsis_when_cut() -> None:
    assert story.first_words("hello\n  world") == "hello world"
    cut = story.first_words("word " * 40, limit=20)
    assert len(cut) <= 20 and cut.endswith("…") and "\n" not in cut


def test_a_line_has_exactly_one_timestamp() -> None:
    at = datetime(2026, 12, 2, 1, 50, 3, 250000).timestamp()
    line = story.render(story.StoryLine(at, "hive", "mail #3 operator → alice: hi"))
    assert line == "2026-12-02 01:50:03.250  hive   mail #3 operator → alice: hi"


def test_a_container_entry_is_the_agents_and_loses_its_own_name() -> None:
    entry = {"__REALTIME_TIMESTAMP": datetime(2026, 12, 2, 1, 0, 0), "PRIORITY": "6",
             "SYSLOG_IDENTIFIER": "hive-agent-alice",
             "MESSAGE": "alice: turn 2 tool mcp__hive__send {\"to\": \"operator\"}"}
    line = story.from_entry(entry, "alice")
    assert (line.source, line.text) == ("agent", 'turn 2 tool mcp__hive__send {"to": "operator"}')
    assert line.at == datetime(2026, 12, 2, 1, 0, 0).timestamp()


def test_a_daemon_warning_says_so() -> None:
    entry = {"__REALTIME_TIMESTAMP": datetime(2026, 12, 2), "PRIORITY": "4",
             "SYSLOG_IDENTIFIER": "hive-c0re", "MESSAGE": "container of alice crashed"}
    assert story.from_entry(entry, "alice").text == "warning: container of alice crashed"


@pytest.mark.parametrize(("kind", "data", "words"), [
    ("spawned", {"uid_base": 1048576}, "spawned (uid base 1048576)"),
    ("destroyed", {"purged": False}, "destroyed, state kept"),
    ("container_crash", {"result": "exit-code", "exit_status": 7},
     "container crashed: exit-code (exit status 7)"),
    ("approval_resolved", {"id": 4, "status": "deployed"}, "approval #4 deployed"),
    ("question_asked", {"id": 2}, "question #2 asked"),
    ("stopped", {}, "stopped"),
    ("odd_one", {"why": "x", "list": [1]}, "odd_one (why=x)"),
])
def test_events_read_as_words(kind: str, data: dict[str, object], words: str) -> None:
    line = story.from_event({"id": 1, "at": 5.0, "kind": kind, "agent": "alice", "data": data})
    assert (line.at, line.source, line.text) == (5.0, "event", words)


def test_lines_sort_oldest_first_and_read_as_json() -> None:
    late, early = story.StoryLine(2.0, "hive", "b"), story.StoryLine(1.0, "agent", "a")
    assert sorted([late, early]) == [early, late]
    assert early.as_dict() == {"at": story.stamp(1.0), "source": "agent", "text": "a"}


def test_since_takes_durations_epochs_and_iso_times() -> None:
    assert story.parse_since("10m", now=1000.0) == 400.0
    assert story.parse_since("2h", now=10000.0) == 2800.0
    assert story.parse_since("1700000000") == 1700000000.0
    assert story.parse_since("2026-12-02T01:50") == datetime(2026, 12, 2, 1, 50).timestamp()
    with pytest.raises(InvalidInput, match="not a time"):
        story.parse_since("yesterday-ish")


def test_a_line_about_two_agents_is_in_both_their_journal_fields() -> None:
    record = logging.LogRecord("hive_c0re.broker.mailroom", logging.INFO, "m.py", 1,
                               "mail #%d %s → %s", (3, "alice", "bob"), None)
    record.HIVE_AGENT = ["alice", "bob"]
    record.HIVE_MESSAGE = 3
    fields = logs.journal_fields(record, "hive-c0re")
    assert "MESSAGE=mail #3 alice → bob" in fields
    assert [f for f in fields if f.startswith("HIVE_")] == [
        "HIVE_AGENT=alice", "HIVE_AGENT=bob", "HIVE_MESSAGE=3"]


def test_in_a_container_a_line_is_its_priority_and_message_only() -> None:
    formatter = logs.PriorityFormatter("%(message)s")
    record = logging.LogRecord("h", logging.WARNING, "h.py", 1, "turn %d failed", (2,), None)
    assert formatter.format(record) == "<4>turn 2 failed"
