"""``GET /events``: every harness event and state change, live, as server-sent events.

Each client gets a bounded queue. A client that falls that far behind is
dropped (its stream ends); the browser reconnects on its own and starts over
from the current status, so memory never grows with a stalled reader.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
from collections.abc import Callable
from typing import Any

from aiohttp import web

from hive_ag3nt.harness import Harness, State
from hive_ag3nt.ui.config import HARNESS, SETTINGS

log = logging.getLogger(__name__)

REPLAY_MAX = 500  # events of the last turn sent to a client that connects
HEARTBEAT = b": heartbeat\n\n"
RETRY = b"retry: 2000\n\n"


def frame(name: str, data: Any) -> bytes:
    """One SSE message; JSON has no raw newlines, so one ``data:`` line is enough."""
    return f"event: {name}\ndata: {json.dumps(data, default=str)}\n\n".encode()


class Subscriber:
    def __init__(self, size: int, first: list[bytes]) -> None:
        self.queue: asyncio.Queue[bytes] = asyncio.Queue(size)
        self.first = first  # what it is sent before anything live
        self.dropped = False


class LiveFeed:
    """Fans the harness's events and state changes out to the SSE clients."""

    def __init__(self, harness: Harness, queue_size: int) -> None:
        self.harness = harness
        self.queue_size = queue_size
        self.subscribers: set[Subscriber] = set()
        self._loop = asyncio.get_running_loop()
        self._thread = threading.get_ident()

    def attach(self) -> None:
        self.harness.events.listeners.append(self._on_event)
        self.harness.state_listeners.append(self._on_state)

    def detach(self) -> None:
        with contextlib.suppress(ValueError):
            self.harness.events.listeners.remove(self._on_event)
        with contextlib.suppress(ValueError):
            self.harness.state_listeners.remove(self._on_state)

    def subscribe(self) -> Subscriber:
        """Register a client; its first frames are the status and the last turn so far.

        Nothing awaits between the snapshot and the registration, so no event
        is missed or sent twice.
        """
        first = [RETRY, frame("state", self.harness.status()), *self._replay()]
        subscriber = Subscriber(self.queue_size, first)
        self.subscribers.add(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self.subscribers.discard(subscriber)

    def close(self) -> None:
        """End every stream (shutdown)."""
        for subscriber in list(self.subscribers):
            self._drop(subscriber)

    def _replay(self) -> list[bytes]:
        last = self.harness.events.last_turns(1)
        if not last:
            return []
        turn = last[0].id
        events = self.harness.events.events(turn)[-REPLAY_MAX:]
        return [frame("event", {"turn": turn, **event}) for event in events]

    def _on_event(self, event: dict[str, Any]) -> None:
        if self.subscribers:
            self._publish("event", lambda: event)

    def _on_state(self, state: State) -> None:
        if self.subscribers:
            self._publish("state", self.harness.status)

    def _publish(self, name: str, data: Callable[[], Any]) -> None:
        """Queue one message for every client; runs inside the harness's own calls, so it
        must never raise into them."""
        try:
            message = frame(name, data())
            if threading.get_ident() == self._thread:
                self._fan_out(message)
            else:  # a listener called from a worker thread
                self._loop.call_soon_threadsafe(self._fan_out, message)
        except Exception:
            log.exception("cannot send a %s to the live panel", name)

    def _fan_out(self, message: bytes) -> None:
        for subscriber in list(self.subscribers):
            try:
                subscriber.queue.put_nowait(message)
            except asyncio.QueueFull:
                log.info("live panel client fell %d events behind; dropping it",
                         self.queue_size)
                self._drop(subscriber)

    def _drop(self, subscriber: Subscriber) -> None:
        subscriber.dropped = True
        self.subscribers.discard(subscriber)
        with contextlib.suppress(asyncio.QueueFull):
            subscriber.queue.put_nowait(b"")  # wakes its writer


FEED = web.AppKey("live_feed", LiveFeed)


async def stream(request: web.Request) -> web.StreamResponse:
    feed = request.app[FEED]
    heartbeat = request.app[SETTINGS].heartbeat
    response = web.StreamResponse(headers={
        "Content-Type": "text/event-stream", "Cache-Control": "no-cache",
        "X-Accel-Buffering": "no"})
    subscriber = feed.subscribe()
    try:
        await response.prepare(request)
        for message in subscriber.first:
            await response.write(message)
        await _pump(subscriber, response, heartbeat)
    except ConnectionError:
        pass  # the client went away
    finally:
        feed.unsubscribe(subscriber)
    return response


async def _pump(subscriber: Subscriber, response: web.StreamResponse, heartbeat: float) -> None:
    while not subscriber.dropped:
        try:
            async with asyncio.timeout(heartbeat):
                message = await subscriber.queue.get()
        except TimeoutError:
            message = HEARTBEAT
        if subscriber.dropped:
            return
        await response.write(message)


async def _close(app: web.Application) -> None:
    app[FEED].close()


async def _detach(app: web.Application) -> None:
    app[FEED].detach()


def setup(app: web.Application) -> None:
    feed = LiveFeed(app[HARNESS], app[SETTINGS].sse_queue)
    feed.attach()
    app[FEED] = feed
    app.router.add_get("/events", stream)
    app.on_shutdown.append(_close)
    app.on_cleanup.append(_detach)
