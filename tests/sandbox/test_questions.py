"""Questions and reminders on a real daemon under a sandboxed systemd.

Times are never asserted as durations: an event must arrive, and its
``sent_at`` must not be before the due time the daemon gave when it was set.
"""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from hive_c0re.client import Client
from hive_c0re.errors import PolicyRefused
from hive_dev.sandbox import SandboxHive

LONG_POLL = 60  # never reached: each poll below is woken by the event it waits for


def agent(hive: SandboxHive, name: str) -> Client:
    return hive.client(hive.agent_socket(name), timeout=30)


def register(hive: SandboxHive, *names: str) -> None:
    for name in names:
        hive.call("register", name=name)


def next_event(client: Client) -> tuple[dict[str, Any], dict[str, Any]]:
    """Long-poll for the next message (it must come from system); return (message, event)."""
    (message,) = client.call("recv", wait_seconds=LONG_POLL, max=1)["messages"]
    client.call("ack_turn")
    assert message["from"] == "system", message
    return message, json.loads(message["body"])


def no_mail(client: Client) -> bool:
    messages: list[dict[str, Any]] = client.call("recv", wait_seconds=0)["messages"]
    return messages == []


def broker(hive: SandboxHive) -> Path:
    """The daemon's broker file, from the STATE_DIRECTORY systemd gave it."""
    environ = hive.sandbox.run("cat", f"/proc/{hive.main_pid()}/environ").stdout
    state = dict(v.partition("=")[::2] for v in environ.split("\0"))["STATE_DIRECTORY"]
    return Path(state.split(":")[0]) / "broker.sqlite"


def logged(hive: SandboxHive) -> list[tuple[str, str, dict[str, Any]]]:
    """The hive's event log: (kind, agent, data), oldest first."""
    db = sqlite3.connect(f"file:{broker(hive)}?mode=ro", uri=True, timeout=30)
    try:
        rows = db.execute("SELECT kind, agent, data FROM hive_event ORDER BY id").fetchall()
    finally:
        db.close()
    return [(kind, name, json.loads(data)) for kind, name, data in rows]


def test_a_reminder_wakes_a_long_polling_agent_when_it_is_due(hive: SandboxHive) -> None:
    register(hive, "alice")
    with agent(hive, "alice") as alice:
        reminder = alice.call("remind", message="check the build", delay_seconds=1.5,
                              file_path="/state/build.md")["reminder"]
        assert reminder["status"] == "pending"
        assert alice.call("get_open_threads")["reminders"] == [reminder]
        assert no_mail(alice)
        message, event = next_event(alice)
        assert event == {"event": "reminder", "id": reminder["id"],
                         "message": "check the build", "file_path": "/state/build.md"}
        assert message["sent_at"] >= reminder["due_at"]
        assert alice.call("get_open_threads")["reminders"] == []
    fired = [data for kind, name, data in logged(hive) if kind == "reminder_fired"]
    assert [(d["id"], d["file_path"]) for d in fired] == [(reminder["id"], "/state/build.md")]


def test_a_question_to_the_operator_is_answered_on_the_command_line(
        hive: SandboxHive) -> None:
    register(hive, "alice")
    with agent(hive, "alice") as alice:
        asked = alice.call("ask", question="Merge now?",
                           options=["yes", "no", "later"])["question"]
        assert asked["target"] == "operator" and asked["status"] == "open"
        # The operator sees it in questions, not in the inbox; the manager hears of it.
        listing = hive.cli("questions")
        assert listing.returncode == 0, listing.stderr
        assert "Merge now?" in listing.stdout and "yes | no | later" in listing.stdout
        assert hive.call("inbox")["messages"] == []
        with hive.client(hive.manager_socket) as manager:
            (told,) = manager.call("recv", wait_seconds=0)["messages"]
        assert json.loads(told["body"])["event"] == "question_asked"

        done = hive.cli("answer", str(asked["id"]), "Later")
        assert done.returncode == 0, done.stderr
        _, event = next_event(alice)
        assert event == {"event": "question_answered", "id": asked["id"],
                         "question": "Merge now?", "answer": "later",
                         "choices": ["later"], "by": "operator"}
        again = hive.cli("answer", str(asked["id"]), "yes")
        assert again.returncode == 4 and "already answered" in again.stderr
    kinds = [(kind, name) for kind, name, _ in logged(hive)]
    assert kinds == [("question_asked", "alice"), ("question_answered", "alice")]


def test_a_question_to_a_peer_arrives_as_an_event_and_the_answer_comes_back(
        hive: SandboxHive) -> None:
    register(hive, "alice", "bob")
    with agent(hive, "alice") as alice, agent(hive, "bob") as bob:
        asked = alice.call("ask", question="Which tests fail?", to="bob",
                           options=["unit", "integration", "none"], multi=True,
                           ttl_seconds=600)["question"]
        _, event = next_event(bob)
        assert event == {"event": "question_asked", "id": asked["id"], "from": "alice",
                         "question": "Which tests fail?",
                         "options": ["unit", "integration", "none"], "multi": True,
                         "deadline": asked["deadline"]}
        assert [q["id"] for q in bob.call("get_open_threads")["to_answer"]] == [asked["id"]]
        assert [q["id"] for q in alice.call("get_open_threads")["asked"]] == [asked["id"]]

        answered = bob.call("answer", question_id=asked["id"],
                            answer="integration, unit")["question"]
        assert answered["choices"] == ["integration", "unit"]
        _, event = next_event(alice)
        assert (event["event"], event["answer"], event["choices"], event["by"]) == (
            "question_answered", "integration, unit", ["integration", "unit"], "bob")
        assert bob.call("get_open_threads")["to_answer"] == []
        assert no_mail(bob)


def test_an_agent_cannot_answer_past_its_allow_list(hive: SandboxHive) -> None:
    register(hive, "alice")
    hive.call("register", name="bob", allowed_recipients=["carol"])
    with agent(hive, "alice") as alice, agent(hive, "bob") as bob:
        with pytest.raises(PolicyRefused, match="bob may not send to alice"):
            bob.call("send", to="alice", body="psst")
        asked = alice.call("ask", question="How are you?", to="bob")["question"]
        next_event(bob)  # question_asked
        # The attack: a free-text answer as the message bob may not send.
        with pytest.raises(PolicyRefused, match="bob may not answer alice"):
            bob.call("answer", question_id=asked["id"], answer="psst: the key is ...")
        assert no_mail(alice)
        assert [q["id"] for q in bob.call("get_open_threads")["to_answer"]] == [asked["id"]]
    # The operator is still served and sees the question open.
    listed = hive.call("questions", all=True)["questions"]
    assert [(q["id"], q["status"]) for q in listed] == [(asked["id"], "open")]


def test_an_unanswered_question_expires_to_expired(hive: SandboxHive) -> None:
    register(hive, "alice", "bob")
    with agent(hive, "alice") as alice, agent(hive, "bob") as bob:
        asked = alice.call("ask", question="Anyone there?", to="bob",
                           ttl_seconds=1.5)["question"]
        next_event(bob)  # question_asked
        message, event = next_event(alice)
        assert (event["event"], event["id"], event["answer"], event["by"]) == (
            "question_answered", asked["id"], "[expired]", "system")
        assert message["sent_at"] >= asked["deadline"]
        assert no_mail(bob)  # the target hears nothing more
    late = hive.call("questions", all=True)["questions"]
    assert [(q["id"], q["status"]) for q in late] == [(asked["id"], "expired")]


def test_pending_threads_survive_a_restart_of_the_daemon(hive: SandboxHive) -> None:
    register(hive, "alice", "bob")
    with agent(hive, "alice") as alice, agent(hive, "bob") as bob:
        reminder = alice.call("remind", message="after the restart",
                              delay_seconds=3)["reminder"]
        to_operator = alice.call("ask", question="Still want this?",
                                 options=["yes", "no"])["question"]
        to_bob = alice.call("ask", question="Are you there?", to="bob",
                            ttl_seconds=4)["question"]
        cancelled = alice.call("remind", message="never", delay_seconds=2)["reminder"]
        assert alice.call("cancel_thread", kind="reminder",
                          thread_id=cancelled["id"])["reminder"]["status"] == "cancelled"
        next_event(bob)  # question_asked, before the restart
        assert [r["id"] for r in alice.call("get_open_threads")["reminders"]] == [reminder["id"]]
    pid = hive.main_pid()
    restarted_at = time.time()
    hive.sandbox.systemctl("restart", "hive-c0re.service")
    hive.wait_active()
    assert hive.main_pid() != pid

    with agent(hive, "alice") as alice, agent(hive, "bob") as bob:
        threads = alice.call("get_open_threads")
        assert to_operator["id"] in [q["id"] for q in threads["asked"]]
        # Stored before the restart; fired (at once if overdue) by the new daemon.
        events = [next_event(alice) for _ in range(2)]
        by_kind = {event["event"]: (message, event) for message, event in events}
        message, event = by_kind["reminder"]
        assert (event["id"], event["message"]) == (reminder["id"], "after the restart")
        assert message["sent_at"] >= max(reminder["due_at"], restarted_at)
        message, event = by_kind["question_answered"]
        assert (event["id"], event["answer"]) == (to_bob["id"], "[expired]")
        assert message["sent_at"] >= to_bob["deadline"]

        done = hive.cli("answer", str(to_operator["id"]), "no")
        assert done.returncode == 0, done.stderr
        _, event = next_event(alice)
        assert (event["id"], event["answer"]) == (to_operator["id"], "no")
        assert no_mail(alice) and no_mail(bob)  # nothing fired twice, the cancelled never
        assert alice.call("get_open_threads") == {
            "version": 1, "ok": True, "asked": [], "to_answer": [], "reminders": []}
    fired = [data["id"] for kind, _, data in logged(hive) if kind == "reminder_fired"]
    assert fired == [reminder["id"]]
    lines = hive.sandbox.journal("SYSLOG_IDENTIFIER=hive-c0re").splitlines()
    journal = [json.loads(line)["MESSAGE"] for line in lines]
    for trouble in ("could not fire", "scheduler step failed", "internal error"):
        assert not [m for m in journal if trouble in m], journal
    assert f"reminder #{reminder['id']} fired for alice" in journal
