"""Where the daemon's parts are put together: the one place that knows them all."""

from __future__ import annotations

import functools
import socket

from hive_c0re.broker.mailroom import Mailroom
from hive_c0re.broker.questions import QuestionBook
from hive_c0re.broker.reminders import ReminderBook
from hive_c0re.broker.store import Desired, Store
from hive_c0re.daemon.containers import Containers
from hive_c0re.daemon.dispatch import answer
from hive_c0re.daemon.event_feed import EventFeed
from hive_c0re.daemon.feed import StatusFeed
from hive_c0re.daemon.hive import Hive
from hive_c0re.daemon.scheduler import Scheduler
from hive_c0re.daemon.sockets import Sockets
from hive_c0re.daemon.subscribe import feed_row  # and registers its handler
from hive_c0re.paths import Paths
from hive_c0re.settings import Settings


def build_hive(store: Store, paths: Paths, settings: Settings) -> Hive:
    """The daemon's parts on ``store``, each handed exactly the others it uses."""
    feed = StatusFeed()
    mail = Mailroom(store, settings, on_event=feed.on_event)
    questions = QuestionBook(store, settings.max_open_threads)
    reminders = ReminderBook(store, settings.max_open_threads)
    sockets = Sockets(paths, settings, store, mail, on_change=feed.changed)
    hive = Hive(store=store, paths=paths, settings=settings, mail=mail, sockets=sockets,
                questions=questions, reminders=reminders,
                scheduler=Scheduler(questions, reminders, mail.signals.notify,
                                    clock=store.clock),
                containers=Containers(paths, settings, store, mail, sockets,
                                           on_status=feed.changed), feed=feed,
                events=EventFeed(store, settings.event_feed_bytes))
    feed.bind(functools.partial(feed_row, hive))
    return hive


async def open_sockets(hive: Hive, host_sock: socket.socket) -> None:
    """Serve the operator on ``host_sock``, then the manager and every agent kept."""
    await hive.sockets.start_host(host_sock, functools.partial(answer, hive))
    for agent in hive.store.agents():
        if agent.desired is not Desired.DESTROYED:
            await hive.sockets.listen_at_start(agent.name, agent.uid_base)
