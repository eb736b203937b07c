"""What every verb handler is given: the hive's parts, each owning one thing."""

from __future__ import annotations

from dataclasses import dataclass

from hive_c0re.broker.mailroom import Mailroom
from hive_c0re.broker.questions import QuestionBook
from hive_c0re.broker.reminders import ReminderBook
from hive_c0re.broker.store import Store
from hive_c0re.daemon import notify
from hive_c0re.daemon.containers import Containers
from hive_c0re.daemon.event_feed import EventFeed
from hive_c0re.daemon.feed import StatusFeed
from hive_c0re.daemon.scheduler import Scheduler
from hive_c0re.daemon.sockets import Sockets
from hive_c0re.paths import Paths
from hive_c0re.settings import Settings


@dataclass(frozen=True)
class Hive:
    """The daemon's parts; :func:`hive_c0re.daemon.wiring.build_hive` puts them together."""

    store: Store
    paths: Paths
    settings: Settings
    mail: Mailroom  # messages, hive events and the wake-ups
    sockets: Sockets  # every socket and who is behind it
    questions: QuestionBook
    reminders: ReminderBook
    scheduler: Scheduler  # fires reminders and expires questions when due
    containers: Containers  # the lifecycle, the approvals, the crash watch, the egress
    feed: StatusFeed  # who watches the agents' status, told of every change
    events: EventFeed  # who follows the event log and the mail (subscribe_events)

    def report_status(self) -> None:
        if notify.enabled():
            notify.status(self.mail.status_line())

    async def close(self) -> None:
        await self.containers.stop_watching()
        await self.sockets.close()
        await self.containers.egress.stop()
