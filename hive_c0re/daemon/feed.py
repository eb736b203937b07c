"""The agents' status feed: who watches, and which agents changed since each last looked.

Best effort by construction: a subscriber holds at most one pending mark per
agent (a name, never a row), so however many changes happen while it does
not read, it costs the daemon one entry per agent, and when it reads again it
gets each changed agent's latest row. A changed agent's row is built and
encoded once, at most one build per agent at a time (changes during a build
make one more build, after it), and the same frame is written to every
subscriber, so a hundred watchers cost little more than one does.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from hive_c0re import wire

log = logging.getLogger(__name__)

Row = dict[str, Any]
RowSource = Callable[[str], Awaitable[Row]]

# Hive events after which an agent's row may read differently (mail.announce kinds).
STATUS_EVENTS = frozenset({
    "spawned", "started", "stopped", "killed", "restarted", "rebuilt", "destroyed",
    "container_crash", "restart_limit", "needs_login", "logged_in", "needs_update",
    "paused", "resumed", "approval_resolved", "config_ready",
})


class Subscription:
    """One watcher's pending marks: each agent at most once, oldest change first."""

    def __init__(self, feed: StatusFeed) -> None:
        self._feed = feed
        self._pending: dict[str, None] = {}  # an ordered set of names
        self._woken = asyncio.Event()
        # The frame this watcher was last sent per agent, so an unchanged row is not sent twice.
        self._sent: dict[str, bytes] = {}

    def mark(self, name: str) -> None:
        self._pending[name] = None
        self._woken.set()

    def pending(self) -> int:
        return len(self._pending)

    async def next_frame(self) -> bytes:
        """The next changed agent's latest row, as the answer frame that carries it
        (waits for a change)."""
        while True:
            while not self._pending:
                self._woken.clear()
                await self._woken.wait()
            name = next(iter(self._pending))
            del self._pending[name]
            frame = self._feed.frames.get(name)
            if frame is not None and self._sent.get(name) != frame:
                self._sent[name] = frame
                return frame

    def close(self) -> None:
        self._feed.unsubscribe(self)


class StatusFeed:
    """The hub every change of an agent's status goes through: ``changed(name)``."""

    def __init__(self) -> None:
        self.subscribers: set[Subscription] = set()
        self._source: RowSource | None = None
        self.frames: dict[str, bytes] = {}  # each agent's latest row, encoded
        self._building: dict[str, asyncio.Future[bytes]] = {}
        self._again: set[str] = set()  # changed during their build: build once more

    def bind(self, source: RowSource) -> None:
        """Where rows come from (the hive's status rows), once the hive is put together."""
        self._source = source

    def changed(self, name: str) -> None:
        """``name``'s status may have changed: its row is rebuilt, then every subscriber
        is owed it. Nobody subscribed, nothing is built."""
        if not self.subscribers:
            return
        if name in self._building:
            self._again.add(name)
        else:
            self._build(name)

    def on_event(self, kind: str, agent: str | None) -> None:
        """A hive event (mail.announce): a change when it touches an agent's status."""
        if agent is not None and kind in STATUS_EVENTS:
            self.changed(agent)

    def subscribe(self) -> Subscription:
        subscription = Subscription(self)
        self.subscribers.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        self.subscribers.discard(subscription)
        if not self.subscribers:
            self.frames.clear()  # nobody to share them with; rebuilt at the next change

    def _build(self, name: str) -> None:
        building = asyncio.ensure_future(self._encoded(name))
        self._building[name] = building
        building.add_done_callback(functools.partial(self._built, name))

    async def _encoded(self, name: str) -> bytes:
        assert self._source is not None, "the feed is bound when the hive is built"
        return wire.encode(wire.ok(agent_statuses=[await self._source(name)]))

    def _built(self, name: str, building: asyncio.Future[bytes]) -> None:
        del self._building[name]
        if name in self._again:
            self._again.discard(name)
            self._build(name)  # only the newest state is worth sending
            return
        if building.cancelled():
            return
        if (error := building.exception()) is not None:
            # One agent's row failing costs that row, not the feed: its next change retries.
            log.error("no status row for %s: %s", name, error, exc_info=error,
                      extra={"HIVE_AGENT": name})
            return
        if self.subscribers:
            self.frames[name] = building.result()
            for subscriber in self.subscribers:
                subscriber.mark(name)
