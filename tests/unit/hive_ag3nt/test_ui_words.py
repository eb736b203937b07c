"""The UI's words for hive events, the agent's replies and the stand-in's figures."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from hive_ag3nt.events import EventLog, rfc3339
from hive_ag3nt.model import STAND_IN_MODEL, honest_cost, is_stand_in, login_needed
from hive_ag3nt.ui.words import inbox_message, replies, system_line


def system(**event: Any) -> dict[str, Any]:
    return {"id": 1, "from": "system", "body": json.dumps(event), "sent_at": 0.0}


@pytest.mark.parametrize(("event", "line"), [
    ({"event": "spawned", "agent": "carol"}, "carol spawned"),
    ({"event": "question_answered", "id": 3, "question": "go?", "answer": "yes", "by": "operator"},
     "question #3 answered by operator: yes"),
    ({"event": "question_asked", "id": 4, "from": "bob", "question": "lunch?"},
     "question #4 from bob: lunch?"),
    ({"event": "lifecycle", "action": "start", "text": "you were started; check your notes"},
     "you were started; check your notes"),
    ({"event": "container_crash", "agent": "dave", "exit_status": 137},
     "dave container crash · exit status: 137"),
    ({"event": "approval_resolved", "agent": "erin", "decision": "approved", "note": ""},
     "erin approval resolved · decision: approved"),
])
def test_hive_events_read_as_lines(event: dict[str, Any], line: str) -> None:
    assert system_line(system(**event)) == line


@pytest.mark.parametrize("message", [
    {"from": "operator", "body": json.dumps({"event": "spawned", "agent": "x"})},  # not system
    {"from": "system", "body": "a reminder, in plain words"},
    {"from": "system", "body": "[1, 2]"},
    {"from": "system", "body": json.dumps({"no_event": 1})},
])
def test_other_mail_reads_as_itself(message: dict[str, Any]) -> None:
    assert system_line(message) is None


def test_a_long_value_is_cut() -> None:
    line = system_line(system(event="question_answered", id=1, answer="y" * 500, by="operator"))
    assert line is not None and line.endswith("…") and len(line) < 150


def test_inbox_message_says_when_in_rfc3339() -> None:
    shown = inbox_message(system(event="spawned", agent="carol") | {"sent_at": 1764640031.25})
    assert shown["sent_at"] == "2025-12-02T01:47:11.250Z"
    assert shown["event_line"] == "carol spawned"
    assert datetime.fromisoformat(shown["sent_at"]).timestamp() == 1764640031.25
    assert rfc3339(None) is None


def test_replies_are_what_the_agent_sent_and_to_whom() -> None:
    events: list[dict[str, Any]] = [
        {"kind": "tool_call", "id": "a", "tool": "mcp__hive__send",
         "input": {"to": "bob", "body": "hi"}},
        {"kind": "tool_result", "id": "a", "is_error": False, "content": "{}"},
        {"kind": "tool_call", "id": "b", "tool": "mcp__hive__send",
         "input": {"to": "nobody", "body": "lost"}},
        {"kind": "tool_result", "id": "b", "is_error": True, "content": "no such agent"},
        {"kind": "tool_call", "id": "c", "tool": "mcp__hive__ask", "input": {"question": "go?"}},
        {"kind": "tool_call", "id": "d", "tool": "mcp__hive__answer",
         "input": {"question_id": 7, "answer": "no"}},
        {"kind": "tool_call", "id": "e", "tool": "Bash", "input": {"command": "ls"}},
    ]
    assert replies(events) == [
        {"tool": "send", "to": "bob", "body": "hi", "ok": True},
        {"tool": "send", "to": "nobody", "body": "lost", "ok": False},
        {"tool": "ask", "to": "operator", "body": "go?", "ok": True},
        {"tool": "answer", "to": "question #7", "body": "no", "ok": True},
    ]


def test_the_stand_in_has_no_cost_and_needs_no_login() -> None:
    assert is_stand_in(STAND_IN_MODEL) and not is_stand_in("claude-haiku-4-5")
    assert not is_stand_in(None)
    assert honest_cost(STAND_IN_MODEL, 0.005) is None
    assert honest_cost("claude-haiku-4-5", 0.005) == 0.005
    assert not login_needed({}, stand_in=True)
    assert not login_needed({"ANTHROPIC_API_KEY": "k"}, stand_in=False)


def test_an_older_events_log_gains_the_served_model_column(tmp_path: Path) -> None:
    path = tmp_path / "events.sqlite"
    with sqlite3.connect(path) as db:  # as a harness before served_model made it
        db.execute("CREATE TABLE turn (id INTEGER PRIMARY KEY, started_at REAL, ended_at REAL, "
                   "status TEXT, model TEXT, trigger TEXT, duration_ms INTEGER, cost_usd REAL, "
                   "input_tokens INTEGER, output_tokens INTEGER, session_id TEXT, error TEXT)")
        db.execute("INSERT INTO turn VALUES (1, 1.0, 2.0, 'ok', 'haiku', 'mail', 1000, 0.01, "
                   "5, 6, NULL, NULL)")
    log = EventLog(path)
    try:
        (old,) = log.last_turns()
        assert (old.cost_usd, old.served_model, old.stand_in) == (0.01, None, False)
        turn = log.start_turn("haiku", "mail")
        log.end_turn(turn, "ok", cost_usd=None, served_model=STAND_IN_MODEL)
        new = log.last_turns(1)[0].as_dict()
        assert (new["served_model"], new["stand_in"], new["cost_usd"]) == (
            STAND_IN_MODEL, True, None)
        assert isinstance(new["started_at"], str)
    finally:
        log.close()
