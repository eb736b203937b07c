"""What the overview may reuse between renders, kept true by the daemon's live feed.

At a hundred agents and a thousand pending approvals, ``pending`` and
``events`` cost the daemon far more than rendering the page does, and they
change only when the event log says so. So the overview keeps their answers
with the feed's generation for their topic (one ``subscribe_events`` held
here, read to the end of each frame): an approval event moves ``approvals``
on, a question event ``questions``, a crash ``crashes``. While the feed is
down nothing is reused, and each reconnect starts a new epoch, so an answer
from before a gap is never taken for current. The live fragments, fetched
because the feed said something changed, always ask the daemon afresh.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from aiohttp import web

from hive_c0re.dashboard.config import HIVE
from hive_c0re.errors import HiveError

log = logging.getLogger(__name__)

RETRY_SECONDS = 1.0


def topic_of(kind: str) -> str | None:
    """The cached topic an event-log row of ``kind`` changes, if any."""
    if kind == "approval":
        return "approvals"
    if kind.startswith("question"):
        return "questions"
    if kind == "container_crash":
        return "crashes"
    return None


class Watch:
    """Generations per topic, and the answers last read at each."""

    def __init__(self) -> None:
        self.connected = False
        self.epoch = 0
        self.generations: Counter[str] = Counter()
        self._kept: dict[str, tuple[tuple[int, int], Any]] = {}

    def saw(self, answer: dict[str, Any]) -> None:
        for event in answer.get("events") or ():
            topic = topic_of(str(event.get("kind", "")))
            if topic is not None:
                self.generations[topic] += 1

    async def follow(self, open_feed: Callable[[], AsyncIterator[dict[str, Any]]]) -> None:
        """Hold the feed, again after each loss, until cancelled."""
        while True:
            try:
                async for answer in open_feed():
                    if not self.connected:
                        self.epoch += 1
                        self._kept.clear()
                        self.connected = True
                    self.saw(answer)
            except (HiveError, OSError, ValueError) as exc:
                log.warning("the dashboard lost the hive's event feed: %s", exc)
            self.connected = False
            await asyncio.sleep(RETRY_SECONDS)

    async def reuse(self, topic: str, fetch: Callable[[], Awaitable[Any]],
                    keep: Callable[[Any], bool]) -> Any:
        """``fetch()``'s answer, or the one kept since ``topic`` last moved; an answer is
        kept only when ``keep`` says it may be (a refusal is not)."""
        if not self.connected:
            return await fetch()
        key = (self.epoch, self.generations[topic])
        kept = self._kept.get(topic)
        if kept is not None and kept[0] == key:
            return kept[1]
        value = await fetch()
        if keep(value) and self.connected and key[0] == self.epoch:
            self._kept[topic] = (key, value)
        return value


WATCH = web.AppKey("overview_watch", Watch)


async def watching(app: web.Application) -> AsyncIterator[None]:
    """The app's feed, held from startup to cleanup."""
    watch = app[WATCH]
    task = asyncio.get_running_loop().create_task(
        watch.follow(lambda: app[HIVE].stream("subscribe_events")))
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def setup(app: web.Application) -> None:
    app[WATCH] = Watch()
    app.cleanup_ctx.append(watching)
