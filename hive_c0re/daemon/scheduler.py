"""Reminders fire and questions expire when due: a loop you can step, and no polling.

The scheduler knows the next due time (the earliest pending reminder or open
question's deadline) and sleeps until then, or until :meth:`Scheduler.due_changed`
says a new reminder or question is due sooner. Each due item is its own
transaction (the event message stored, the row marked), then its recipient is
woken. Everything lives in the broker, so after a restart the first step fires
whatever fell due meanwhile, once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from hive_c0re.broker.questions import QuestionBook
from hive_c0re.broker.reminders import ReminderBook
from hive_c0re.broker.store import Clock

log = logging.getLogger(__name__)

Wake = Callable[[str], None]

RETRY_AFTER = 60.0  # a due item that failed to fire is tried again after this long
# While something is pending, the wall clock is read again at least this often,
# so a clock that is stepped (NTP, suspend) delays nothing by more than this.
MAX_NAP = 600.0
BATCH = 256  # items fired per step; the loop yields to the sockets between steps


class Thread(StrEnum):
    REMINDER = "reminder"
    QUESTION = "question"


@dataclass(frozen=True, order=True)
class Due:
    at: float
    thread: Thread
    id: int


class Scheduler:
    def __init__(self, questions: QuestionBook, reminders: ReminderBook, wake: Wake,
                 clock: Clock = time.time, batch: int = BATCH) -> None:
        self.questions = questions
        self.reminders = reminders
        self.wake = wake
        self.clock = clock
        self.batch = batch
        self.next_due: float | None = None
        self._changed = asyncio.Event()
        # Items that failed to fire, and when to try them again.
        self._held: dict[tuple[Thread, int], float] = {}

    def due_changed(self, at: float) -> None:
        """Something new is due at ``at``: wake the loop if that is sooner than it knew."""
        if self.next_due is None or at < self.next_due:
            self.next_due = at
            self._changed.set()

    def step(self, now: float) -> float | None:
        """Fire what is due at ``now`` (at most ``batch`` items); return the next due time.

        The next due time is ``now`` or earlier when more is already due.
        A failing item is logged and held back for RETRY_AFTER; it never stops
        the others.
        """
        self._held = {key: retry for key, retry in self._held.items() if retry > now}
        held = {thread: {i for (t, i) in self._held if t is thread} for thread in Thread}
        due = sorted(
            [Due(at, Thread.REMINDER, i)
             for at, i in self.reminders.due(now, self.batch, held[Thread.REMINDER])]
            + [Due(at, Thread.QUESTION, i)
               for at, i in self.questions.due(now, self.batch, held[Thread.QUESTION])]
        )[:self.batch]
        for item in due:
            self._fire(item, now)
        held = {thread: {i for (t, i) in self._held if t is thread} for thread in Thread}
        upcoming = [self.reminders.next_due(held[Thread.REMINDER]),
                    self.questions.next_deadline(held[Thread.QUESTION]),
                    *self._held.values()]
        self.next_due = min((at for at in upcoming if at is not None), default=None)
        return self.next_due

    def _fire(self, item: Due, now: float) -> None:
        try:
            woken = self._fire_one(item, now)
        except Exception:
            log.exception("could not fire %s #%d; trying again in %.0f s", item.thread,
                          item.id, RETRY_AFTER)
            self._held[(item.thread, item.id)] = now + RETRY_AFTER
            return
        if woken is not None:
            self.wake(woken)

    def _fire_one(self, item: Due, now: float) -> str | None:
        """Fire one item in its own transaction; return the mailbox to wake, if any."""
        if item.thread is Thread.REMINDER:
            reminder = self.reminders.fire(item.id, now)
            if reminder is None:
                return None
            log.info("reminder #%d fired for %s", reminder.id, reminder.agent,
                     extra={"HIVE_AGENT": reminder.agent})
            return reminder.agent
        change = self.questions.expire(item.id, now)
        if change is None:
            return None
        log.info("question #%d of %s to %s expired unanswered", change.record.id,
                 change.record.asker, change.record.target,
                 extra={"HIVE_AGENT": change.record.asker})
        return change.notified

    async def run(self) -> None:
        """Step whenever something falls due, until cancelled."""
        while True:
            self._changed.clear()
            try:
                upcoming = self.step(self.clock())
            except Exception:
                log.exception("scheduler step failed; trying again in %.0f s", RETRY_AFTER)
                upcoming = self.next_due = self.clock() + RETRY_AFTER
            await self._sleep_until(upcoming)

    async def _sleep_until(self, upcoming: float | None) -> None:
        if upcoming is None:
            await self._changed.wait()
            return
        seconds = min(upcoming - self.clock(), MAX_NAP)
        if seconds <= 0:
            await asyncio.sleep(0)  # more is due: let the sockets in first
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._changed.wait()
