"""A broker with the daemon's question, reminder and scheduler pieces, on a clock we step."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hive_c0re.broker.questions import QuestionBook
from hive_c0re.broker.reminders import ReminderBook
from hive_c0re.broker.store import Store
from hive_c0re.daemon.scheduler import Scheduler
from hive_c0re.settings import Settings
from hive_dev.clock import START as START
from hive_dev.clock import ManualClock as ManualClock


class ThreadHive:
    """The daemon's pieces for questions and reminders, on one broker file."""

    def __init__(self, path: Path, clock: ManualClock, **settings: Any) -> None:
        self.path = path
        self.clock = clock
        self.store = Store(path, Settings.load({"inbox_cap": 5, **settings}, environ={}),
                           clock=clock)
        self.questions = QuestionBook(self.store, self.store.settings.max_open_threads)
        self.reminders = ReminderBook(self.store, self.store.settings.max_open_threads)
        self.woken: list[str] = []
        self.scheduler = Scheduler(self.questions, self.reminders, self.woken.append,
                                   clock=clock)

    def mail(self, recipient: str) -> list[dict[str, Any]]:
        """Unread mail of ``recipient`` (left unread); system event bodies parsed."""
        found = []
        for delivery in self.store.peek(recipient, 32):
            assert delivery.sender == "system"
            found.append(json.loads(delivery.body) | {"sent_at": delivery.sent_at})
        return found

    def take(self, recipient: str) -> list[dict[str, Any]]:
        found = self.mail(recipient)
        self.store.read_and_ack(recipient, 32)
        return found


def kinds(store: Store) -> list[str]:
    return [event["kind"] for event in store.events()]
