"""Questions and reminders in the broker: asking, answering, cancelling, checks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from hive_c0re.broker.questions import Status
from hive_c0re.errors import InboxFull, InvalidInput, NotFound, PolicyRefused
from tests.unit.hive_c0re.threads_support import START, ManualClock, ThreadHive, kinds

# -- asking -------------------------------------------------------------------------


def test_a_question_to_the_operator_is_listed_for_it_and_mails_nobody(hive: ThreadHive) -> None:
    change = hive.questions.ask("alice", "ship it?", options=["yes", "no"], ttl=60)
    record = change.record
    assert change.notified is None
    assert (record.asker, record.target, record.status) == ("alice", "operator", Status.OPEN)
    assert record.deadline == START + 60 and record.options == ("yes", "no")
    assert [q.id for q in hive.questions.open_for("operator")] == [record.id]
    assert [q.id for q in hive.questions.open_asked_by("alice")] == [record.id]
    assert hive.store.counts("operator").unread == 0
    assert hive.store.counts("manager").unread == 0
    (event,) = hive.store.events("question_asked")
    assert event["agent"] == "alice" and event["data"]["target"] == "operator"


def test_a_question_to_a_peer_arrives_as_an_event_from_system(hive: ThreadHive) -> None:
    change = hive.questions.ask("alice", "lunch?", to="carol", options=["pizza", "soup"],
                                multi=True, ttl=120)
    assert change.notified == "carol"
    assert hive.mail("carol") == [{
        "event": "question_asked", "id": change.record.id, "from": "alice",
        "question": "lunch?", "options": ["pizza", "soup"], "multi": True,
        "deadline": START + 120, "sent_at": START}]
    assert [q.id for q in hive.questions.open_for("carol")] == [change.record.id]
    assert kinds(hive.store) == ["question_asked"]


def test_the_allow_list_applies_to_questions_as_to_sends(hive: ThreadHive) -> None:
    with pytest.raises(PolicyRefused, match="bob may not send to carol"):
        hive.questions.ask("bob", "psst", to="carol")
    assert hive.store.counts("carol").unread == 0
    assert hive.questions.everything() == []
    for to in ("alice", "manager", "operator"):
        hive.questions.ask("bob", f"to {to}?", to=to)
    assert hive.store.counts("manager").unread == 1


@pytest.mark.parametrize(
    ("to", "error", "says"),
    [
        ("*", InvalidInput, "not to '\\*'"),
        ("alice", InvalidInput, "itself"),
        ("dave", NotFound, "no agent named 'dave'"),
    ],
)
def test_a_question_goes_to_one_reachable_other(hive: ThreadHive, to: str,
                                                error: type[Exception], says: str) -> None:
    with pytest.raises(error, match=says):
        hive.questions.ask("alice", "anyone?", to=to)
    assert hive.questions.everything() == []


@pytest.mark.parametrize(
    ("options", "multi", "says"),
    [
        ([], True, "multi needs options"),
        (["yes", " "], False, "blank option"),
        (["yes", "Yes "], False, "same option twice"),
        (["red, green", "blue"], True, "cannot hold commas"),
    ],
)
def test_options_are_checked_when_asked(hive: ThreadHive, options: list[str], multi: bool,
                                        says: str) -> None:
    with pytest.raises(InvalidInput, match=says):
        hive.questions.ask("alice", "which?", options=options, multi=multi)
    assert hive.questions.everything() == []


def test_an_empty_question_is_refused(hive: ThreadHive) -> None:
    with pytest.raises(InvalidInput, match="empty"):
        hive.questions.ask("alice", "  \n")


def test_a_peer_with_a_full_inbox_is_not_asked(hive: ThreadHive) -> None:
    for i in range(5):
        hive.store.send("operator", "carol", f"m{i}")
    with pytest.raises(InboxFull, match="inbox of carol is full"):
        hive.questions.ask("alice", "there?", to="carol")
    assert hive.questions.everything() == []
    assert hive.store.counts("carol").unread == 5


def test_open_questions_per_asker_are_bounded(tmp_path: Path, clock: ManualClock) -> None:
    h = ThreadHive(tmp_path / "b.sqlite", clock, max_open_threads=2)
    try:
        h.store.register_agent("alice")
        first = h.questions.ask("alice", "one").record
        h.questions.ask("alice", "two")
        with pytest.raises(InvalidInput, match="2 open questions already"):
            h.questions.ask("alice", "three")
        h.questions.cancel(first.id, "alice")
        h.questions.ask("alice", "three")
    finally:
        h.store.close()


# -- answering ------------------------------------------------------------------------


def test_the_operator_answers_and_the_asker_gets_the_event(
        hive: ThreadHive, clock: ManualClock) -> None:
    asked = hive.questions.ask("alice", "ship it?", options=["yes", "no"]).record
    clock.now += 5
    change = hive.questions.answer(asked.id, "operator", "  YES ")
    assert change.notified == "alice"
    record = change.record
    assert (record.status, record.answer, record.choices) == (Status.ANSWERED, "yes", ("yes",))
    assert (record.answered_by, record.answered_at) == ("operator", START + 5)
    assert hive.take("alice") == [{"event": "question_answered", "id": asked.id,
                                   "question": "ship it?", "answer": "yes", "choices": ["yes"],
                                   "by": "operator", "sent_at": START + 5}]
    assert hive.questions.open_for("operator") == []
    assert kinds(hive.store) == ["question_asked", "question_answered"]
    assert hive.store.events("question_answered")[0]["data"]["by"] == "operator"


def test_a_free_text_answer_is_stored_trimmed_without_choices(hive: ThreadHive) -> None:
    asked = hive.questions.ask("alice", "why?", to="carol").record
    record = hive.questions.answer(asked.id, "carol", "  because\n").record
    assert (record.answer, record.choices) == ("because", None)
    assert "choices" not in hive.take("alice")[0]
    with pytest.raises(InvalidInput, match="empty"):
        hive.questions.answer(hive.questions.ask("alice", "again?", to="carol").record.id,
                              "carol", " ")


def test_an_answer_must_be_one_of_the_options(hive: ThreadHive) -> None:
    asked = hive.questions.ask("alice", "ship it?", to="carol", options=["yes", "no"]).record
    with pytest.raises(InvalidInput, match="'maybe' is not one of its options") as caught:
        hive.questions.answer(asked.id, "carol", "maybe")
    assert caught.value.hint == "options: yes, no"
    with pytest.raises(InvalidInput, match="not one of its options"):
        hive.questions.answer(asked.id, "carol", "yes, no")  # one pick only
    assert hive.questions.get(asked.id).status is Status.OPEN
    assert hive.questions.answer(asked.id, "carol", "No").record.answer == "no"


def test_a_multi_answer_is_each_option_checked_and_stored_as_a_list(hive: ThreadHive) -> None:
    asked = hive.questions.ask("alice", "toppings?", to="carol",
                               options=["cheese", "ham", "olives"], multi=True).record
    with pytest.raises(InvalidInput, match="'pineapple' is not one of its options"):
        hive.questions.answer(asked.id, "carol", "cheese, pineapple")
    with pytest.raises(InvalidInput, match="a choice is empty"):
        hive.questions.answer(asked.id, "carol", "cheese,,ham")
    record = hive.questions.answer(asked.id, "carol", "olives ,CHEESE, olives").record
    assert (record.answer, record.choices) == ("olives, cheese", ("olives", "cheese"))
    (event,) = hive.take("alice")
    assert (event["answer"], event["choices"], event["by"]) == (
        "olives, cheese", ["olives", "cheese"], "carol")


def test_only_the_target_answers(hive: ThreadHive) -> None:
    to_carol = hive.questions.ask("alice", "carol?", to="carol").record
    to_operator = hive.questions.ask("alice", "operator?").record
    with pytest.raises(PolicyRefused, match="addressed to carol; only carol can answer"):
        hive.questions.answer(to_carol.id, "alice", "myself")  # the asker
    with pytest.raises(PolicyRefused, match="only carol can answer"):
        hive.questions.answer(to_carol.id, "operator", "on her behalf")
    # Other agents learn nothing: the same answer as for a question that does not exist.
    with pytest.raises(NotFound, match=f"no question #{to_carol.id} addressed to bob"):
        hive.questions.answer(to_carol.id, "bob", "me")
    with pytest.raises(NotFound, match="no question #999 addressed to bob"):
        hive.questions.answer(999, "bob", "me")
    with pytest.raises(NotFound):
        hive.questions.answer(to_operator.id, "carol", "not mine")
    assert {q.status for q in hive.questions.everything()} == {Status.OPEN}
    assert hive.store.counts("alice").unread == 0


def test_an_answer_obeys_the_answerers_allow_list_as_a_send_would(hive: ThreadHive) -> None:
    # bob may write alice only: carol's question must not become bob's way to reach her.
    asked = hive.questions.ask("carol", "any secrets?", to="bob").record
    with pytest.raises(PolicyRefused, match="bob may not answer carol: not in its allowed"):
        hive.questions.answer(asked.id, "bob", "here they are")
    assert hive.store.counts("carol").unread == 0
    assert hive.questions.get(asked.id).status is Status.OPEN
    assert kinds(hive.store) == ["question_asked"]
    allowed = hive.questions.ask("alice", "lunch?", to="bob").record
    assert hive.questions.answer(allowed.id, "bob", "soup").notified == "alice"


def test_answering_twice_or_after_expiry_or_cancel_is_a_clear_error(hive: ThreadHive,
                                                                  clock: ManualClock) -> None:
    answered = hive.questions.ask("alice", "a?", to="carol").record
    hive.questions.answer(answered.id, "carol", "first")
    with pytest.raises(InvalidInput, match="already answered by carol: first"):
        hive.questions.answer(answered.id, "carol", "second")

    cancelled = hive.questions.ask("alice", "b?", to="carol").record
    hive.questions.cancel(cancelled.id, "alice")
    with pytest.raises(InvalidInput, match="was cancelled by alice"):
        hive.questions.answer(cancelled.id, "carol", "late")

    expiring = hive.questions.ask("alice", "c?", to="carol", ttl=10).record
    clock.now += 10
    # Past its deadline, before the scheduler got to it: already too late.
    with pytest.raises(InvalidInput, match="expired unanswered"):
        hive.questions.answer(expiring.id, "carol", "late")
    hive.scheduler.step(clock.now)
    with pytest.raises(InvalidInput, match="expired unanswered"):
        hive.questions.answer(expiring.id, "carol", "late")
    assert hive.questions.get(answered.id).answer == "first"


# -- cancelling -----------------------------------------------------------------------


def test_only_the_asker_cancels_and_the_peer_hears_nothing_more(hive: ThreadHive) -> None:
    asked = hive.questions.ask("alice", "still there?", to="carol").record
    hive.take("carol")
    with pytest.raises(NotFound, match=f"no question #{asked.id} asked by carol"):
        hive.questions.cancel(asked.id, "carol")
    record = hive.questions.cancel(asked.id, "alice")
    assert (record.status, record.answer, record.answered_by) == (
        Status.CANCELLED, "[cancelled]", "alice")
    assert hive.mail("carol") == [] and hive.mail("alice") == []
    assert hive.questions.open_for("carol") == []
    with pytest.raises(InvalidInput, match="cancelled"):
        hive.questions.cancel(asked.id, "alice")
    assert hive.store.events("question_answered")[0]["data"]["answer"] == "[cancelled]"


def test_only_the_owner_cancels_a_pending_reminder(hive: ThreadHive, clock: ManualClock) -> None:
    reminder = hive.reminders.create("alice", "stretch", delay=60)
    with pytest.raises(NotFound, match=f"no reminder #{reminder.id} of bob"):
        hive.reminders.cancel(reminder.id, "bob")
    assert hive.reminders.cancel(reminder.id, "alice").status == "cancelled"
    with pytest.raises(InvalidInput, match="already cancelled"):
        hive.reminders.cancel(reminder.id, "alice")
    clock.now += 120
    assert hive.scheduler.step(clock.now) is None
    assert hive.mail("alice") == []
    fired = hive.reminders.create("alice", "drink", delay=1)
    clock.now += 1
    hive.scheduler.step(clock.now)
    with pytest.raises(InvalidInput, match="already fired"):
        hive.reminders.cancel(fired.id, "alice")


# -- reminders ----------------------------------------------------------------------------


def test_a_reminder_is_due_after_its_delay_or_at_its_time(hive: ThreadHive) -> None:
    assert hive.reminders.create("alice", "a", delay=90).due_at == START + 90
    assert hive.reminders.create("alice", "b", at=START + 5).due_at == START + 5
    iso = datetime.fromtimestamp(START + 3600, tz=timezone(timedelta(hours=2))).isoformat()
    assert hive.reminders.create("alice", "c", at=iso).due_at == START + 3600
    zulu = datetime.fromtimestamp(START + 60, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert hive.reminders.create("alice", "d", at=zulu).due_at == START + 60
    with_path = hive.reminders.create("alice", "e", delay=1, file_path="/state/todo.md")
    assert with_path.file_path == "/state/todo.md"
    assert [r.message for r in hive.reminders.pending_for("alice")] == ["e", "b", "d", "a", "c"]


@pytest.mark.parametrize(
    ("when", "says"),
    [
        ({}, "exactly one of delay_seconds and at"),
        ({"delay": 5, "at": START + 5}, "exactly one of delay_seconds and at"),
        ({"at": START - 1}, "in the past"),
        ({"at": START + 366 * 86400}, "more than a year ahead"),
        ({"at": "2027-01-15T10:00:00"}, "no timezone"),
        ({"at": "next tuesday"}, "not an ISO-8601 time"),
        ({"at": "2020-01-01T00:00:00Z"}, "in the past"),
        ({"at": 10**400}, "out of range"),
    ],
)
def test_a_reminder_time_is_checked(hive: ThreadHive, when: dict[str, Any], says: str) -> None:
    with pytest.raises(InvalidInput, match=says):
        hive.reminders.create("alice", "x", **when)
    assert hive.reminders.pending_for("alice") == []


@pytest.mark.parametrize(("path", "says"), [("notes.md", "absolute"),
                                            ("/state/a\0b", "NUL")])
def test_a_reminder_file_path_is_absolute(hive: ThreadHive, path: str, says: str) -> None:
    with pytest.raises(InvalidInput, match=says):
        hive.reminders.create("alice", "x", delay=1, file_path=path)


def test_pending_reminders_per_agent_are_bounded(tmp_path: Path, clock: ManualClock) -> None:
    h = ThreadHive(tmp_path / "b.sqlite", clock, max_open_threads=2)
    try:
        h.store.register_agent("alice")
        h.reminders.create("alice", "1", delay=5)
        h.reminders.create("alice", "2", delay=5)
        with pytest.raises(InvalidInput, match="2 pending reminders already"):
            h.reminders.create("alice", "3", delay=5)
        h.store.register_agent("bob")
        h.reminders.create("bob", "his own", delay=5)
    finally:
        h.store.close()
