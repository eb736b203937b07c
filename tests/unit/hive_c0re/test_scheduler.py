"""The scheduler with an injected clock: due order, expiry, restarts, failures, the loop."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from pathlib import Path
from typing import Any

import pytest

from hive_c0re.broker import migrations
from hive_c0re.broker.models import execute
from hive_c0re.broker.questions import QuestionBook, Status
from hive_c0re.broker.reminders import ReminderBook
from hive_c0re.broker.store import Store
from hive_c0re.daemon.scheduler import RETRY_AFTER, Scheduler
from hive_c0re.settings import Settings
from tests.unit.hive_c0re.threads_support import START, ManualClock, ThreadHive, kinds

# -- the scheduler --------------------------------------------------------------------


def test_the_scheduler_fires_in_due_order_and_says_what_is_next(hive: ThreadHive,
                                                               clock: ManualClock) -> None:
    assert hive.scheduler.step(clock.now) is None
    hive.reminders.create("alice", "third", delay=30)
    hive.reminders.create("alice", "first", delay=10, file_path="/state/a")
    question = hive.questions.ask("alice", "second?", to="carol", ttl=20).record
    hive.reminders.create("bob", "fourth", delay=40)
    assert hive.scheduler.step(clock.now) == START + 10

    assert hive.scheduler.step(START + 9.999) == START + 10
    assert hive.mail("alice") == []
    assert hive.scheduler.step(START + 25) == START + 30
    assert hive.take("alice") == [
        {"event": "reminder", "id": 2, "message": "first", "file_path": "/state/a",
         "sent_at": START + 25},
        {"event": "question_answered", "id": question.id, "question": "second?",
         "answer": "[expired]", "by": "system", "sent_at": START + 25},
    ]
    assert hive.woken == ["alice", "alice"]
    assert hive.scheduler.step(START + 100) is None
    assert [m["message"] for m in hive.take("alice")] == ["third"]
    assert [m["message"] for m in hive.take("bob")] == ["fourth"]
    assert kinds(hive.store).count("reminder_fired") == 3


def test_an_unanswered_question_expires_to_expired(hive: ThreadHive, clock: ManualClock) -> None:
    asked = hive.questions.ask("alice", "anyone?", to="carol", ttl=60).record
    hive.take("carol")
    hive.scheduler.step(START + 59)
    assert hive.questions.get(asked.id).status is Status.OPEN
    hive.scheduler.step(START + 60)
    record = hive.questions.get(asked.id)
    assert (record.status, record.answer, record.answered_by) == (
        Status.EXPIRED, "[expired]", "system")
    (event,) = hive.take("alice")
    assert event["answer"] == "[expired]" and event["sent_at"] >= record.deadline
    assert hive.mail("carol") == []  # the target is not told
    logged = hive.store.events("question_answered")[0]
    assert logged["data"]["status"] == "expired" and logged["agent"] == "alice"


def test_answered_and_cancelled_questions_never_expire(
        hive: ThreadHive, clock: ManualClock) -> None:
    answered = hive.questions.ask("alice", "a?", ttl=10).record
    cancelled = hive.questions.ask("alice", "b?", ttl=10).record
    hive.questions.answer(answered.id, "operator", "done")
    hive.questions.cancel(cancelled.id, "alice")
    hive.take("alice")
    assert hive.scheduler.step(START + 100) is None
    assert hive.mail("alice") == []
    assert hive.questions.get(answered.id).answer == "done"


def test_nothing_fires_twice(hive: ThreadHive, clock: ManualClock) -> None:
    reminder = hive.reminders.create("alice", "once", delay=5)
    hive.questions.ask("alice", "once?", ttl=5)
    clock.now += 5
    hive.scheduler.step(clock.now)
    hive.scheduler.step(clock.now)
    hive.scheduler.step(clock.now + 1000)
    assert sorted(m["event"] for m in hive.mail("alice")) == ["question_answered", "reminder"]
    # Even asked directly, a fired reminder does not fire again.
    assert hive.reminders.fire(reminder.id, clock.now + 2000) is None
    assert hive.reminders.fire(reminder.id + 1, clock.now) is None  # no such reminder
    assert len(hive.mail("alice")) == 2


def test_a_reminder_is_not_fired_before_it_is_due(hive: ThreadHive, clock: ManualClock) -> None:
    reminder = hive.reminders.create("alice", "later", delay=50)
    assert hive.reminders.fire(reminder.id, START + 49.9) is None
    assert hive.reminders.get(reminder.id).status == "pending"


def test_after_a_restart_pending_items_fire_once_and_overdue_ones_at_once(
        tmp_path: Path, clock: ManualClock) -> None:
    path = tmp_path / "restart.sqlite"
    before = ThreadHive(path, clock)
    before.store.register_agent("alice")
    before.store.register_agent("carol")
    before.reminders.create("alice", "overdue", delay=10)
    before.reminders.create("alice", "still ahead", delay=1000)
    before.questions.ask("alice", "overdue?", to="carol", ttl=20)
    before.scheduler.step(START + 1)
    before.store.close()  # the daemon stops; time passes

    clock.now = START + 500
    after = ThreadHive(path, clock)
    try:
        assert after.scheduler.step(clock.now) == START + 1000
        assert [(e["event"], e["sent_at"]) for e in after.mail("alice")] == [
            ("reminder", START + 500), ("question_answered", START + 500)]
        assert after.woken == ["alice", "alice"]
    finally:
        after.store.close()

    # It restarts again (a new scheduler on the same file): nothing fires twice.
    again = ThreadHive(path, clock)
    try:
        assert again.scheduler.step(clock.now) == START + 1000
        assert len(again.take("alice")) == 2 and again.woken == []
        assert again.scheduler.step(START + 1000) is None
        assert [e["message"] for e in again.take("alice")] == ["still ahead"]
    finally:
        again.store.close()


def test_a_row_that_fails_is_logged_and_skipped_then_tried_again(
        hive: ThreadHive, clock: ManualClock, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    bad = hive.reminders.create("alice", "bad", delay=5)
    hive.reminders.create("alice", "good", delay=6)
    real_fire = hive.reminders.fire

    def fire(reminder_id: int, now: float) -> Any:
        if reminder_id == bad.id:
            raise RuntimeError("disk on fire")
        return real_fire(reminder_id, now)

    monkeypatch.setattr(hive.reminders, "fire", fire)
    with caplog.at_level(logging.ERROR):
        upcoming = hive.scheduler.step(START + 10)
    assert "could not fire reminder #1" in caplog.text
    assert [m["message"] for m in hive.take("alice")] == ["good"]
    # Held back, not retried in a busy loop; the next due time is the retry.
    assert upcoming == START + 10 + RETRY_AFTER
    assert hive.scheduler.step(START + 11) == START + 10 + RETRY_AFTER
    monkeypatch.setattr(hive.reminders, "fire", real_fire)
    assert hive.scheduler.step(START + 10 + RETRY_AFTER) is None
    assert [m["message"] for m in hive.take("alice")] == ["bad"]


def test_a_bad_row_does_not_stop_the_others(hive: ThreadHive, clock: ManualClock,
                                            caplog: pytest.LogCaptureFixture) -> None:
    hive.questions.ask("alice", "broken row?", ttl=5)
    hive.reminders.create("alice", "fine", delay=5)
    # A row no code of ours would write: options that are not JSON.
    execute(hive.store.db, "UPDATE question SET options = 'not json'")
    with caplog.at_level(logging.ERROR):
        assert hive.scheduler.step(START + 5) == START + 5 + RETRY_AFTER
    assert "could not fire question #1" in caplog.text
    assert [m["message"] for m in hive.take("alice")] == ["fine"]


def test_more_due_than_a_batch_fires_in_steps(tmp_path: Path, clock: ManualClock) -> None:
    h = ThreadHive(tmp_path / "batch.sqlite", clock)
    h.scheduler.batch = 3
    try:
        h.store.register_agent("alice")
        for i in range(7):
            h.reminders.create("alice", str(i), delay=1 + i / 10)
        clock.now += 10
        assert h.scheduler.step(clock.now) == START + 1.3  # more is due already
        assert h.scheduler.step(clock.now) == START + 1.6
        assert h.scheduler.step(clock.now) is None
        assert [m["message"] for m in h.mail("alice")] == [str(i) for i in range(7)]
    finally:
        h.store.close()


def test_the_loop_sleeps_until_woken_by_something_due_sooner(tmp_path: Path) -> None:
    """The real loop on the real clock: idle with nothing pending, woken by due_changed."""
    store = Store(tmp_path / "loop.sqlite", Settings.load(environ={}))
    store.register_agent("alice")
    reminders = ReminderBook(store, 10)
    woken: list[tuple[str, float]] = []

    async def scenario() -> float:
        fired = asyncio.Event()

        def wake(name: str) -> None:
            woken.append((name, time.time()))
            fired.set()

        scheduler = Scheduler(QuestionBook(store, 10), reminders, wake)
        task = asyncio.create_task(scheduler.run())
        try:
            await asyncio.sleep(0.05)
            assert scheduler.next_due is None  # asleep with nothing to wait for
            late = reminders.create("alice", "late", delay=3600)
            scheduler.due_changed(late.due_at)
            soon = reminders.create("alice", "soon", delay=0.2)
            scheduler.due_changed(soon.due_at)
            await fired.wait()
            assert woken[0][0] == "alice" and woken[0][1] >= soon.due_at
            assert scheduler.next_due == late.due_at
            return soon.due_at
        finally:
            task.cancel()

    try:
        due = asyncio.run(asyncio.wait_for(scenario(), 10))
        (message,) = store.peek("alice", 32)
        assert json.loads(message.body)["message"] == "soon"
        assert message.sent_at >= due
    finally:
        store.close()


def test_outcomes_owed_to_an_agent_are_stored_past_its_inbox_cap(hive: ThreadHive,
                                                                clock: ManualClock) -> None:
    asked = hive.questions.ask("alice", "q?", to="carol").record
    hive.reminders.create("alice", "r", delay=1)
    for i in range(5):
        hive.store.send("operator", "alice", f"m{i}")
    hive.questions.answer(asked.id, "carol", "a")
    hive.scheduler.step(START + 1)
    assert hive.store.counts("alice").unread == 7


def test_an_unregistered_agent_still_gets_its_reminder(
        hive: ThreadHive, clock: ManualClock) -> None:
    hive.reminders.create("carol", "kept", delay=1)
    hive.store.unregister_agent("carol")
    hive.scheduler.step(START + 1)
    hive.store.register_agent("carol")
    assert [m["message"] for m in hive.mail("carol")] == ["kept"]


# -- the schema ------------------------------------------------------------------------


def test_questions_and_reminders_from_v3_survive_the_migration(tmp_path: Path,
                                                              clock: ManualClock) -> None:
    import peewee

    path = tmp_path / "v3.sqlite"
    db = peewee.SqliteDatabase(str(path))
    assert migrations.migrate(db, upto=3) == 3
    execute(db, "INSERT INTO agent (name, registered_at) VALUES ('alice', 1)")
    execute(db, "INSERT INTO question (asker, target, question, deadline, asked_at)"
                f" VALUES ('alice', 'operator', 'old?', {START + 10}, {START})")
    execute(db, "INSERT INTO reminder (agent, message, due_at, created_at)"
                f" VALUES ('alice', 'old', {START + 5}, {START})")
    db.close()
    h = ThreadHive(path, clock)
    try:
        assert [q.status for q in h.questions.open_for("operator")] == [Status.OPEN]
        assert [r.status for r in h.reminders.pending_for("alice")] == ["pending"]
        assert h.scheduler.step(START) == START + 5
        h.questions.answer(1, "operator", "yes")
        assert h.scheduler.step(START + 10) is None
        assert [m["event"] for m in h.mail("alice")] == ["question_answered", "reminder"]
    finally:
        h.store.close()
