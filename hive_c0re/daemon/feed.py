"""The agents' status feed: who watches, and which agents changed since each last looked.

Best effort by construction: a subscriber holds at most one pending mark per
agent (a name, never a row), so however many changes happen while it does
not read, it costs the daemon one entry per agent, and when it reads again it
gets each changed agent's row as it is *then*. Each row is built and encoded
once per change, and the same frame is written to every subscriber that asks
for it, so a hundred watchers cost little more than one does.
"""

from __future__ import annotations

import asyncio
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
        """The next changed agent's current row, as the answer frame that carries it
        (waits for a change)."""
        while True:
            while not self._pending:
                self._woken.clear()
                await self._woken.wait()
            name = next(iter(self._pending))
            del self._pending[name]
            try:
                frame = await self._feed.frame(name)
            except Exception:
                # One agent's row failing must not end the subscription; its next change retries.
                log.exception("no status row for %s", name, extra={"HIVE_AGENT": name})
                continue
            if self._sent.get(name) != frame:
                self._sent[name] = frame
                return frame

    def close(self) -> None:
        self._feed.unsubscribe(self)


class StatusFeed:
    """The hub every change of an agent's status goes through: ``changed(name)``."""

    def __init__(self) -> None:
        self.subscribers: set[Subscription] = set()
        self._source: RowSource | None = None
        # The frame being built (or built) for each agent since its last change.
        self._rows: dict[str, asyncio.Future[bytes]] = {}

    def bind(self, source: RowSource) -> None:
        """Where rows come from (the hive's status rows), once the hive is put together."""
        self._source = source

    def changed(self, name: str) -> None:
        """``name``'s status may have changed: every subscriber is owed its row."""
        self._rows.pop(name, None)
        for subscriber in self.subscribers:
            subscriber.mark(name)

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
            self._rows.clear()  # nobody to share them with

    async def frame(self, name: str) -> bytes:
        """``name``'s row as of its last change in its answer frame, built once for every
        subscriber."""
        future = self._rows.get(name)
        if future is None:
            future = asyncio.ensure_future(self._build(name))
            self._rows[name] = future
        elif future.done() and not future.cancelled() and future.exception() is None:
            return future.result()  # the common case of a fan-out: built by the first asker
        try:
            # Shielded: a subscriber that hangs up mid-build does not cancel it for the others.
            return await asyncio.shield(future)
        except Exception:
            if self._rows.get(name) is future:
                del self._rows[name]  # a failed build is not kept: the next ask tries again
            raise

    async def _build(self, name: str) -> bytes:
        assert self._source is not None, "the feed is bound when the hive is built"
        return wire.encode(wire.ok(agent_statuses=[await self._source(name)]))
