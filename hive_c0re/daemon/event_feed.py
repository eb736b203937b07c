"""The hive's live feed (``subscribe_events``): each event-log row and each stored message.

The store tells :meth:`EventFeed.written` of every insert. The feed reads what
was committed since it last looked on the event loop's next turn, so a write
rolled back is never sent and one transaction's rows go out together; no loop
polls. Each item is encoded once and the same frame queued to every
subscriber. A subscriber's queue is bounded in bytes (``event_feed_bytes``): one
that falls that far behind is dropped, its queue freed at once, with a last
``{"overflow": true}`` answer; it subscribes again with ``after``.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
from collections import deque
from typing import Any

from hive_c0re import wire, wire_dashboard
from hive_c0re.broker.store import Store

log = logging.getLogger(__name__)

MAX_BACKLOG = wire_dashboard.MAX_FEED_BACKLOG
OVERFLOW = wire.encode(wire.ok(overflow=True))
EVENT, MAIL = "event", "mail"


class FellBehind(ConnectionResetError):
    """The subscriber was dropped for falling behind; its connection ends quietly."""


class EventSubscription:
    """One subscriber's queue of frames, and the newest ids it has been given."""

    def __init__(self, feed: EventFeed, cursors: dict[str, int], limit: int) -> None:
        self._feed = feed
        self.cursors = cursors  # per kind: items at or below it were in the backlog (or sent)
        self._limit = limit
        self._queue: deque[bytes] = deque()
        self._queued = 0  # bytes in the queue
        self._woken = asyncio.Event()
        self.overflowed = False
        self._told = False

    def offer(self, kind: str, item_id: int, frame: bytes) -> None:
        if self.overflowed or item_id <= self.cursors[kind]:
            return
        self.cursors[kind] = item_id
        if self._queued + len(frame) > self._limit:
            log.warning("an event subscriber fell %d bytes behind; dropped (it resumes with "
                        "after)", self._queued)
            self.overflowed = True
            self._queue.clear()
            self._queued = 0
            self._feed.unsubscribe(self)
        else:
            self._queue.append(frame)
            self._queued += len(frame)
        self._woken.set()

    async def next_frame(self) -> bytes:
        """The next item's frame (waits for one); after an overflow, its notice, then the end."""
        while not self._queue and not self.overflowed:
            self._woken.clear()
            await self._woken.wait()
        if self._queue:
            frame = self._queue.popleft()
            self._queued -= len(frame)
            return frame
        if not self._told:
            self._told = True
            return OVERFLOW
        raise FellBehind("dropped from the event feed for falling behind")

    def close(self) -> None:
        self._feed.unsubscribe(self)


class EventFeed:
    """Every subscriber of ``subscribe_events``, and what was last read for them."""

    def __init__(self, store: Store, limit: int) -> None:
        self.store = store
        self.limit = limit
        self.subscribers: set[EventSubscription] = set()
        self._read = {EVENT: 0, MAIL: 0}  # the newest ids read from the store
        self._loop: asyncio.AbstractEventLoop | None = None
        self._scheduled = False
        store.on_write = self.written

    def subscribe(self, after: int | None) -> tuple[list[dict[str, Any]], EventSubscription]:
        """The backlog (the newest events after ``after``) and a subscription that follows on."""
        newest = {EVENT: self.store.newest_event_id(), MAIL: self.store.newest_message_id()}
        if not self.subscribers:
            self._loop = asyncio.get_running_loop()
            self._read = dict(newest)
        # Without after, only what comes next: the events verb reads the log itself.
        backlog = self.store.events_after(after, MAX_BACKLOG) if after is not None else []
        subscription = EventSubscription(self, newest, self.limit)
        self.subscribers.add(subscription)
        return backlog, subscription

    def unsubscribe(self, subscription: EventSubscription) -> None:
        self.subscribers.discard(subscription)

    def written(self) -> None:
        """A row was inserted (maybe not yet committed): read it on the loop's next turn."""
        if not self.subscribers or self._scheduled or self._loop is None:
            return
        self._scheduled = True
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            self._loop.call_soon(self._publish)
        else:  # a write from a worker thread
            self._loop.call_soon_threadsafe(self._publish)

    def _publish(self) -> None:
        self._scheduled = False
        if not self.subscribers:
            return
        items = self._committed()
        for subscriber in list(self.subscribers):
            for kind, item_id, frame in items:
                subscriber.offer(kind, item_id, frame)

    def _committed(self) -> list[tuple[str, int, bytes]]:
        """What was committed since the last read, each item encoded, in time order."""
        events = self.store.events_after(self._read[EVENT])
        mail = self.store.mail_after(self._read[MAIL])
        if events:
            self._read[EVENT] = events[-1]["id"]
        if mail:
            self._read[MAIL] = mail[-1]["id"]
        # Interleaved by time, each kind kept in id order (the cursors count on it).
        merged = heapq.merge(
            ((e["at"], EVENT, e["id"], wire.ok(events=[e])) for e in events),
            ((m["sent_at"], MAIL, m["id"], wire.ok(mail=m)) for m in mail),
            key=lambda item: item[0])
        return [(kind, item_id, wire.encode(answer)) for _, kind, item_id, answer in merged]
