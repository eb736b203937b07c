"""Reminders: a message from ``system`` an agent set for itself, delivered when due.

A reminder is pending until it fires (its message stored in the same
transaction that marks it fired, so it fires once) or its agent cancels it.
Rows are kept after either, as the audit trail.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from hive_c0re import wire
from hive_c0re.broker.models import Reminder, execute
from hive_c0re.broker.store import Store
from hive_c0re.errors import InvalidInput, NotFound
from hive_c0re.names import OPERATOR


class Status(StrEnum):
    PENDING = "pending"
    FIRED = "fired"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class ReminderRecord:
    id: int
    agent: str
    message: str
    file_path: str | None
    due_at: float
    created_at: float
    fired_at: float | None
    cancelled_at: float | None

    @property
    def status(self) -> Status:
        if self.fired_at is not None:
            return Status.FIRED
        if self.cancelled_at is not None:
            return Status.CANCELLED
        return Status.PENDING

    def as_wire(self) -> dict[str, Any]:
        return {"id": self.id, "agent": self.agent, "message": self.message,
                "file_path": self.file_path, "due_at": self.due_at,
                "created_at": self.created_at, "status": str(self.status),
                "fired_at": self.fired_at, "cancelled_at": self.cancelled_at}

    def event(self) -> dict[str, Any]:
        return {"event": "reminder", "id": self.id, "message": self.message,
                "file_path": self.file_path}


def _record(row: Reminder) -> ReminderRecord:
    return ReminderRecord(id=row.id, agent=row.agent, message=row.message,
                          file_path=row.file_path, due_at=row.due_at,
                          created_at=row.created_at, fired_at=row.fired_at,
                          cancelled_at=row.cancelled_at)


def parse_at(value: float | str) -> float:
    """Seconds since the epoch from a number or an ISO-8601 string with a timezone."""
    if not isinstance(value, str):
        try:
            return float(value)
        except OverflowError:
            raise InvalidInput("remind.at is out of range") from None
    try:
        when = datetime.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInput(f"remind.at {value!r} is not an ISO-8601 time",
                           hint="like 2030-01-31T09:00:00+01:00, or seconds since the epoch"
                           ) from None
    if when.tzinfo is None:
        raise InvalidInput(f"remind.at {value!r} has no timezone",
                           hint="add one: Z for UTC, or an offset like +01:00")
    try:
        return when.timestamp()
    except (OverflowError, ValueError):
        raise InvalidInput(f"remind.at {value!r} is out of range") from None


def due_time(now: float, delay: float | None, at: float | str | None) -> float:
    """When a reminder set at ``now`` is due; raise InvalidInput unless exactly one is given."""
    if (delay is None) == (at is None):
        raise InvalidInput("remind needs exactly one of delay_seconds and at")
    if delay is not None:
        return now + delay
    assert at is not None
    due = parse_at(at)
    if not math.isfinite(due) or due < now:
        raise InvalidInput("remind.at is in the past", hint=f"it is now {now:.0f}")
    if due > now + wire.MAX_AHEAD:
        raise InvalidInput("remind.at is more than a year ahead")
    return due


def check_file_path(path: str) -> str:
    if not path.startswith("/"):
        raise InvalidInput("remind.file_path must be an absolute path (in your container)")
    if "\0" in path:
        raise InvalidInput("remind.file_path holds a NUL character")
    return path


class ReminderBook:
    """The reminder table behind a narrow interface, on the daemon's store."""

    def __init__(self, store: Store, max_pending: int) -> None:
        self.store = store
        self.max_pending = max_pending

    def create(self, agent: str, message: str, *, delay: float | None = None,
               at: float | str | None = None, file_path: str | None = None) -> ReminderRecord:
        """Store a reminder for ``agent``; raise InvalidInput for a bad time or path."""
        if not message.strip():
            raise InvalidInput("remind.message is empty")
        now = self.store.clock()
        due = due_time(now, delay, at)
        path = None if file_path is None else check_file_path(file_path)
        if self._pending_count(agent) >= self.max_pending:
            raise InvalidInput(f"{agent} has {self.max_pending} pending reminders already",
                               hint="cancel_thread some, or wait for them to fire")
        with self.store.transaction():
            reminder_id = int(Reminder.insert(agent=agent, message=message, file_path=path,
                                              due_at=due, created_at=now).execute())
            self.store.record_event("reminder_set", agent, at=now, id=reminder_id, due_at=due)
        return self.get(reminder_id)

    def fire(self, reminder_id: int, now: float) -> ReminderRecord | None:
        """Deliver a pending reminder that is due: store its message and mark it fired.

        Both happen in one transaction, so a reminder fires once. Return None
        if it is not pending or not yet due.
        """
        with self.store.transaction() as outbox:
            changed = execute(self.store.db,
                              "UPDATE reminder SET fired_at = ? WHERE id = ? AND due_at <= ?"
                              " AND fired_at IS NULL AND cancelled_at IS NULL",
                              (now, reminder_id, now)).rowcount
            if not changed:
                return None
            record = self.get(reminder_id)
            outbox.post(record.agent, record.event(), now)
            self.store.record_event("reminder_fired", record.agent, at=now, id=record.id,
                                    due_at=record.due_at, file_path=record.file_path)
        return record

    def cancel(self, reminder_id: int, by: str) -> ReminderRecord:
        """The agent that set a pending reminder drops it."""
        record = self.get_or_none(reminder_id)
        if record is None or record.agent != by:
            raise NotFound(f"no reminder #{reminder_id} of {by}")
        return self._cancel(record, by)

    def cancel_any(self, reminder_id: int) -> ReminderRecord:
        """The operator drops anyone's pending reminder (the event log says it did)."""
        record = self.get_or_none(reminder_id)
        if record is None:
            raise NotFound(f"no reminder #{reminder_id}", hint="`reminders` lists them")
        return self._cancel(record, OPERATOR)

    def _cancel(self, record: ReminderRecord, by: str) -> ReminderRecord:
        now = self.store.clock()
        # Its owner's own cancellation needs no "by"; anyone else's is named.
        data = {} if by == record.agent else {"by": by}
        with self.store.transaction():
            changed = execute(self.store.db,
                              "UPDATE reminder SET cancelled_at = ? WHERE id = ?"
                              " AND fired_at IS NULL AND cancelled_at IS NULL",
                              (now, record.id)).rowcount
            if not changed:
                raise InvalidInput(f"reminder #{record.id} was already {record.status}")
            self.store.record_event("reminder_cancelled", record.agent, at=now, id=record.id,
                                    **data)
        return self.get(record.id)

    def get_or_none(self, reminder_id: int) -> ReminderRecord | None:
        row = Reminder.get_or_none(Reminder.id == reminder_id)
        return None if row is None else _record(row)

    def get(self, reminder_id: int) -> ReminderRecord:
        record = self.get_or_none(reminder_id)
        if record is None:
            raise NotFound(f"no reminder #{reminder_id}")
        return record

    def pending_for(self, agent: str) -> list[ReminderRecord]:
        rows = (Reminder.select()
                .where((Reminder.agent == agent) & Reminder.fired_at.is_null()
                       & Reminder.cancelled_at.is_null())
                .order_by(Reminder.due_at, Reminder.id))
        return [_record(row) for row in rows]

    def listing(self, every: bool = False) -> list[ReminderRecord]:
        """Every agent's pending reminders, soonest first; ``every``: all ever set, by id."""
        if every:
            return [_record(row) for row in Reminder.select().order_by(Reminder.id)]
        rows = (Reminder.select()
                .where(Reminder.fired_at.is_null() & Reminder.cancelled_at.is_null())
                .order_by(Reminder.due_at, Reminder.id))
        return [_record(row) for row in rows]

    def _pending_count(self, agent: str) -> int:
        return int(execute(self.store.db, "SELECT COUNT(*) FROM reminder WHERE agent = ?"
                           " AND fired_at IS NULL AND cancelled_at IS NULL",
                           (agent,)).fetchone()[0])

    # -- for the scheduler ----------------------------------------------------------

    def due(self, now: float, limit: int, skip: Collection[int] = ()) -> list[tuple[float, int]]:
        """(due_at, id) of pending reminders due at ``now``, earliest first, minus ``skip``."""
        return self._upcoming(limit, skip, now)

    def next_due(self, skip: Collection[int] = ()) -> float | None:
        """The earliest due time of a pending reminder not in ``skip``, or None."""
        found = self._upcoming(1, skip)
        return found[0][0] if found else None

    def _upcoming(self, limit: int, skip: Collection[int],
                  until: float = math.inf) -> list[tuple[float, int]]:
        rows = execute(self.store.db,
                       "SELECT due_at, id FROM reminder WHERE fired_at IS NULL"
                       " AND cancelled_at IS NULL AND due_at <= ? ORDER BY due_at, id LIMIT ?",
                       (until, limit + len(skip))).fetchall()
        return [(row[0], row[1]) for row in rows if row[1] not in skip][:limit]
