"""Questions: an agent asks the operator or a peer; the answer comes back as an event.

A question is open until it is answered by its target, expires at its
deadline (answered ``[expired]``) or is cancelled by its asker (answered
``[cancelled]``). Each change is one transaction with the event message it
causes and its row in the hive's event log. Nothing here is deleted: the
table is the audit trail.
"""

from __future__ import annotations

import json
import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from hive_c0re import wire
from hive_c0re.broker.models import Question, execute
from hive_c0re.broker.store import Store
from hive_c0re.errors import InvalidInput, NotFound, PolicyRefused
from hive_c0re.names import BROADCAST, OPERATOR, SYSTEM

EXPIRED = "[expired]"
CANCELLED = "[cancelled]"


class Status(StrEnum):
    OPEN = "open"
    ANSWERED = "answered"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class QuestionRecord:
    id: int
    asker: str
    target: str
    question: str
    options: tuple[str, ...]
    multi: bool
    deadline: float
    asked_at: float
    status: Status
    answer: str | None
    answered_at: float | None
    answered_by: str | None
    choices: tuple[str, ...] | None

    def as_wire(self) -> dict[str, Any]:
        return {"id": self.id, "asker": self.asker, "target": self.target,
                "question": self.question, "options": list(self.options), "multi": self.multi,
                "deadline": self.deadline, "asked_at": self.asked_at,
                "status": str(self.status), "answer": self.answer,
                "answered_at": self.answered_at, "answered_by": self.answered_by,
                "choices": None if self.choices is None else list(self.choices)}

    def asked_event(self) -> dict[str, Any]:
        return {"event": "question_asked", "id": self.id, "from": self.asker,
                "question": self.question, "options": list(self.options), "multi": self.multi,
                "deadline": self.deadline}

    def answered_event(self) -> dict[str, Any]:
        event: dict[str, Any] = {"event": "question_answered", "id": self.id,
                                 "question": self.question, "answer": self.answer}
        if self.choices is not None:
            event["choices"] = list(self.choices)
        event["by"] = self.answered_by
        return event


@dataclass(frozen=True)
class Change:
    """A question after a change, and the mailbox that got an event message (to wake)."""

    record: QuestionRecord
    notified: str | None


def _record(row: Question) -> QuestionRecord:
    return QuestionRecord(
        id=row.id, asker=row.asker, target=row.target, question=row.question,
        options=tuple(json.loads(row.options)), multi=bool(row.multi), deadline=row.deadline,
        asked_at=row.asked_at, status=Status(row.outcome or Status.OPEN),
        answer=row.answer, answered_at=row.answered_at, answered_by=row.answered_by,
        choices=None if row.choices is None else tuple(json.loads(row.choices)))


def check_options(options: Sequence[str], multi: bool) -> tuple[str, ...]:
    """The options as stored: trimmed, none blank, no two alike; raise InvalidInput if not."""
    trimmed = tuple(option.strip() for option in options)
    if multi and not trimmed:
        raise InvalidInput("ask.multi needs options to pick from")
    if any(not option for option in trimmed):
        raise InvalidInput("ask.options has a blank option")
    if len({option.casefold() for option in trimmed}) != len(trimmed):
        raise InvalidInput("ask.options has the same option twice")
    if multi and any("," in option for option in trimmed):
        raise InvalidInput("ask.options of a multi question cannot hold commas",
                           hint="the answer lists the options it picks, comma-separated")
    return trimmed


def match_answer(record: QuestionRecord, text: str) -> tuple[str, tuple[str, ...] | None]:
    """The answer as stored and the options it picks; raise InvalidInput if it fits none.

    An option matches ignoring surrounding blanks and case; what is stored is
    the option as asked.
    """
    answer = text.strip()
    if not answer:
        raise InvalidInput("answer.answer is empty")
    if not record.options:
        return answer, None
    by_fold = {option.casefold(): option for option in record.options}
    picked = [part.strip() for part in answer.split(",")] if record.multi else [answer]
    unknown = [part for part in picked if part and part.casefold() not in by_fold]
    if unknown or not all(picked):
        shown = (", ".join(repr(part) for part in unknown) + " is not one of its options"
                 if unknown else "a choice is empty")
        raise InvalidInput(f"question #{record.id}: {shown}",
                           hint="options: " + ", ".join(record.options)
                           + (" (several, comma-separated)" if record.multi else ""))
    choices = tuple(dict.fromkeys(by_fold[part.casefold()] for part in picked))
    return ", ".join(choices), choices


def _check_still_open(record: QuestionRecord, now: float) -> None:
    """Raise InvalidInput saying how the question ended, if it has."""
    where = f"question #{record.id}"
    if record.status is Status.ANSWERED:
        raise InvalidInput(f"{where} was already answered by {record.answered_by}: "
                           f"{record.answer}")
    if record.status is Status.CANCELLED:
        raise InvalidInput(f"{where} was cancelled by {record.answered_by or record.asker}")
    if record.status is Status.EXPIRED or now >= record.deadline:
        raise InvalidInput(f"{where} expired unanswered")


class QuestionBook:
    """The question table behind a narrow interface, on the daemon's store."""

    def __init__(self, store: Store, max_open: int) -> None:
        self.store = store
        self.max_open = max_open

    # -- changes ------------------------------------------------------------------

    def ask(self, asker: str, question: str, *, to: str = OPERATOR,
            options: Sequence[str] = (), multi: bool = False,
            ttl: float = wire.DEFAULT_TTL) -> Change:
        """Store a question from ``asker`` to ``to`` (the operator or a peer it may reach).

        A peer gets a ``question_asked`` event in the same transaction; its full
        inbox refuses the question like a send.
        """
        if not question.strip():
            raise InvalidInput("ask.question is empty")
        if to == BROADCAST:
            raise InvalidInput("a question goes to the operator or one agent, not to '*'")
        stored_options = check_options(options, multi)
        (target,) = self.store.resolve_recipients(asker, to)
        if self._open_asked_by(asker) >= self.max_open:
            raise InvalidInput(f"{asker} has {self.max_open} open questions already",
                               hint="wait for answers, or cancel_thread some")
        notify = target if target != OPERATOR else None
        if notify is not None and (full := self.store.inbox_full(notify)) is not None:
            raise full
        now = self.store.clock()
        with self.store.transaction() as outbox:
            question_id = int(Question.insert(
                asker=asker, target=target, question=question,
                options=json.dumps(stored_options), multi=multi, deadline=now + ttl,
                asked_at=now).execute())
            record = self.get(question_id)
            if notify is not None:
                outbox.post(notify, record.asked_event(), now)
            self.store.record_event("question_asked", asker, at=now, id=question_id,
                                    target=target, question=question,
                                    options=list(stored_options), multi=multi,
                                    deadline=record.deadline)
        return Change(record, notify)

    def answer(self, question_id: int, by: str, text: str) -> Change:
        """``by`` answers an open question addressed to it; the asker gets the event.

        The answer is mail to the asker: like a send, it needs ``by``'s allowed
        recipients to include the asker, or a free-text answer would be a way
        around them.
        """
        record = self._addressed_to(question_id, by)
        if not self.store.may_reach(by, record.asker):
            raise PolicyRefused(
                f"{by} may not answer {record.asker}: not in its allowed recipients",
                hint=f"the question stays open until it expires or {record.asker} cancels it")
        now = self.store.clock()
        _check_still_open(record, now)
        answer, choices = match_answer(record, text)
        return self._close(record, Status.ANSWERED, answer, choices, by, now, tell_asker=True)

    def expire(self, question_id: int, now: float) -> Change | None:
        """Answer a question ``[expired]`` if it is still open at its deadline; else None."""
        record = self.get(question_id)
        if record.status is not Status.OPEN or record.deadline > now:
            return None
        return self._close(record, Status.EXPIRED, EXPIRED, None, SYSTEM, now, tell_asker=True)

    def cancel(self, question_id: int, by: str) -> QuestionRecord:
        """The asker withdraws an open question: answered ``[cancelled]``, nobody is told."""
        record = self.get_or_none(question_id)
        if record is None or record.asker != by:
            raise NotFound(f"no question #{question_id} asked by {by}")
        if record.status is not Status.OPEN:
            _check_still_open(record, self.store.clock())
        return self._close(record, Status.CANCELLED, CANCELLED, None, by, self.store.clock(),
                           tell_asker=False).record

    def decline(self, question_id: int, target: str) -> Change:
        """``target`` (the operator) cancels an open question asked of it: answered
        ``[cancelled]``, and the asker is told so it stops waiting."""
        record = self.get_or_none(question_id)
        if record is None or record.target != target:
            raise NotFound(f"no question #{question_id} addressed to {target}",
                           hint="`questions` lists the open ones")
        now = self.store.clock()
        _check_still_open(record, now)
        return self._close(record, Status.CANCELLED, CANCELLED, None, target, now,
                           tell_asker=True)

    def _close(self, record: QuestionRecord, status: Status, answer: str,
               choices: tuple[str, ...] | None, by: str, now: float, *,
               tell_asker: bool) -> Change:
        with self.store.transaction() as outbox:
            changed = (Question.update(
                answer=answer, answered_at=now, outcome=status.value, answered_by=by,
                choices=None if choices is None else json.dumps(choices))
                .where((Question.id == record.id) & Question.answered_at.is_null())
                .execute())
            if not changed:
                raise InvalidInput(f"question #{record.id} is no longer open")
            closed = self.get(record.id)
            if tell_asker:
                outbox.post(record.asker, closed.answered_event(), now)
            self._log_closed(closed, now)
        return Change(closed, record.asker if tell_asker else None)

    def _log_closed(self, closed: QuestionRecord, now: float) -> None:
        data: dict[str, Any] = {"id": closed.id, "target": closed.target,
                                "answer": closed.answer, "by": closed.answered_by,
                                "status": str(closed.status)}
        if closed.choices is not None:
            data["choices"] = list(closed.choices)
        self.store.record_event("question_answered", closed.asker, at=now, **data)

    # -- reading ------------------------------------------------------------------

    def get_or_none(self, question_id: int) -> QuestionRecord | None:
        row = Question.get_or_none(Question.id == question_id)
        return None if row is None else _record(row)

    def get(self, question_id: int) -> QuestionRecord:
        record = self.get_or_none(question_id)
        if record is None:
            raise NotFound(f"no question #{question_id}")
        return record

    def _addressed_to(self, question_id: int, by: str) -> QuestionRecord:
        """The question if ``by`` is its target; an asker or the operator learns why not."""
        record = self.get_or_none(question_id)
        if record is not None and record.target == by:
            return record
        if record is not None and (record.asker == by or by == OPERATOR):
            raise PolicyRefused(f"question #{question_id} is addressed to {record.target}; "
                                f"only {record.target} can answer it")
        # Other agents learn nothing about questions that are not theirs.
        raise NotFound(f"no question #{question_id} addressed to {by}",
                       hint="get_open_threads lists the questions you can answer")

    def open_asked_by(self, asker: str) -> list[QuestionRecord]:
        return self._select((Question.asker == asker) & Question.answered_at.is_null())

    def open_for(self, target: str) -> list[QuestionRecord]:
        return self._select((Question.target == target) & Question.answered_at.is_null())

    def everything(self) -> list[QuestionRecord]:
        return [_record(row) for row in Question.select().order_by(Question.id)]

    def _select(self, where: Any) -> list[QuestionRecord]:
        rows = Question.select().where(where).order_by(Question.deadline, Question.id)
        return [_record(row) for row in rows]

    def _open_asked_by(self, asker: str) -> int:
        return int(execute(self.store.db, "SELECT COUNT(*) FROM question"
                           " WHERE asker = ? AND answered_at IS NULL", (asker,)).fetchone()[0])

    # -- for the scheduler ----------------------------------------------------------

    def due(self, now: float, limit: int, skip: Collection[int] = ()) -> list[tuple[float, int]]:
        """(deadline, id) of open questions past their deadline, earliest first, minus ``skip``."""
        return self._upcoming(limit, skip, now)

    def next_deadline(self, skip: Collection[int] = ()) -> float | None:
        """The earliest deadline of an open question not in ``skip``, or None."""
        found = self._upcoming(1, skip)
        return found[0][0] if found else None

    def _upcoming(self, limit: int, skip: Collection[int],
                  until: float = math.inf) -> list[tuple[float, int]]:
        rows = execute(self.store.db,
                       "SELECT deadline, id FROM question WHERE answered_at IS NULL"
                       " AND deadline <= ? ORDER BY deadline, id LIMIT ?",
                       (until, limit + len(skip))).fetchall()
        return [(row[0], row[1]) for row in rows if row[1] not in skip][:limit]
