"""``GET /live``: one SSE stream per tab naming the topics that changed.

One pair of daemon subscriptions (``subscribe_events``, ``subscribe_agent_status``)
serves every tab: each item becomes a set of topics, numbered, and every tab
is told. A tab holds the set of topics it has not sent yet, not a queue of
items, so a slow tab costs a bounded set: a burst reaches it as one
coalesced change, and past :data:`MAX_PENDING` topics as "everything
changed". Each SSE batch ends with an ``id:`` (this process's boot tag and
the change's number): a reconnecting tab's ``Last-Event-ID`` gets the topics
changed since, or every topic once when the id is from another boot or
older than the history kept. A ``dashboard_logout`` event naming a tab's
session ends its stream at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp_sse import sse_response

from hive_c0re.dashboard.config import HIVE
from hive_c0re.dashboard.hive import HiveClient
from hive_c0re.dashboard.security import session_of
from hive_c0re.errors import HiveError
from hive_c0re.names import validate_agent_name

log = logging.getLogger(__name__)

TOPICS = ("problems", "agents", "approvals", "inbox", "flow", "questions", "reminders",
          "events")
OPERATOR = "operator"
LOGOUT = "dashboard_logout"
HISTORY = 1000  # changes kept for resuming tabs
MAX_PENDING = 64  # topics a tab may owe before it is owed "everything" instead
PING = 15.0  # seconds between keep-alive comments
READY_WAIT = 5.0  # a new tab waits this long at most for the daemon's feeds to be live
RETRY = (0.2, 0.5, 1.0, 2.0, 5.0)  # seconds between attempts to follow the daemon again
EVERYTHING = "*"

Feed = Callable[[Callable[[], None]], Awaitable[None]]


def is_agent_name(name: Any) -> bool:
    try:
        validate_agent_name(name)
    except HiveError:
        return False
    return True


def agent_topic(name: Any) -> set[str]:
    return {f"agent:{name}"} if is_agent_name(name) else set()


def event_topics(event: dict[str, Any]) -> set[str]:
    """What an event-log row changes on the pages."""
    kind = str(event.get("kind", ""))
    topics = {"events", *agent_topic(event.get("agent"))}
    if kind.startswith("approval"):
        topics |= {"approvals", "problems"}
    elif kind.startswith("question"):
        topics |= {"questions", "problems"}
    elif kind.startswith("reminder"):
        topics.add("reminders")
    elif "crash" in kind or "login" in kind:
        topics |= {"problems", "agents"}
    return topics


def mail_topics(mail: dict[str, Any]) -> set[str]:
    """What a stored message changes: the flow always, the inbox when it is the operator's."""
    topics = {"flow", *agent_topic(mail.get("from")), *agent_topic(mail.get("to"))}
    if mail.get("to") == OPERATOR:
        topics |= {"inbox", "problems"}
    return topics


def status_topics(row: dict[str, Any]) -> set[str]:
    return {"agents", "problems", *agent_topic(row.get("name"))}


@dataclass(eq=False)
class Tab:
    """One open stream: what it owes its browser, and whether it must end."""

    session_id: int
    pending: set[str] = field(default_factory=set)
    seq: int = 0
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    cut: bool = False

    def owe(self, topics: Iterable[str], seq: int) -> None:
        self.pending |= set(topics)
        if len(self.pending) > MAX_PENDING:
            self.pending = {EVERYTHING}
        self.seq = max(self.seq, seq)
        self.wake.set()

    def end(self) -> None:
        self.cut = True
        self.wake.set()


class Hub:
    """The daemon's feeds, followed once, told to every tab."""

    def __init__(self, hive: HiveClient) -> None:
        self.hive = hive
        self.boot = secrets.token_hex(4)
        self.seq = 0
        self.history: deque[tuple[int, frozenset[str]]] = deque(maxlen=HISTORY)
        self.agents: set[str] = set()
        self.tabs: set[Tab] = set()
        self.live = asyncio.Event()  # the event feed answers
        # The status feed answers and ``agents`` is known: "everything" names each page.
        self.agents_known = asyncio.Event()
        self._feeds: list[asyncio.Task[None]] = []
        self._last_event: int | None = None

    def start(self) -> None:
        if not self._feeds:
            self._feeds = [asyncio.create_task(self._follow(self._events_once)),
                           asyncio.create_task(self._follow(self._status_once))]

    async def close(self) -> None:
        for tab in self.tabs:
            tab.end()
        for task in self._feeds:
            task.cancel()
        for task in self._feeds:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._feeds = []

    def everything(self) -> set[str]:
        return {*TOPICS, *(f"agent:{name}" for name in self.agents)}

    def publish(self, topics: set[str]) -> None:
        self.seq += 1
        self.history.append((self.seq, frozenset(topics)))
        for tab in self.tabs:
            tab.owe(topics, self.seq)

    def cut(self, session_ids: Iterable[Any]) -> None:
        ids = set(session_ids)
        for tab in self.tabs:
            if tab.session_id in ids:
                tab.end()

    def position(self) -> str:
        """Where the feed is now, as an SSE id: a page rendered now saw everything before it.

        Empty until the hub follows the daemon: such a page's tab starts from
        where the feed is when it connects, as a tab always did.
        """
        return f"{self.boot}-{self.seq}" if self.live.is_set() else ""

    def since(self, last_event_id: str | None) -> set[str]:
        """What a tab that saw ``last_event_id`` has missed (everything if unknown)."""
        boot, _, number = (last_event_id or "").partition("-")
        if boot != self.boot or not number.isdigit() or int(number) > self.seq:
            return {EVERYTHING}
        seen = int(number)
        oldest = self.history[0][0] if self.history else self.seq + 1
        if seen < oldest - 1:
            return {EVERYTHING}
        return {topic for seq, topics in self.history if seq > seen for topic in topics}

    def on_event(self, event: dict[str, Any]) -> None:
        self._last_event = int(event["id"])
        if event.get("kind") == LOGOUT:
            self.cut((event.get("data") or {}).get("ids") or ())
        self.publish(event_topics(event))

    def on_status(self, row: dict[str, Any]) -> None:
        if is_agent_name(row.get("name")):
            self.agents.add(row["name"])
        self.publish(status_topics(row))

    async def _follow(self, once: Feed) -> None:
        """Keep following one feed; once back after a break, every tab hears
        "everything changed" (what happened meanwhile is not all in the feeds)."""
        failures, broken = 0, False

        def went_live() -> None:
            nonlocal failures, broken
            if broken:
                self.publish({EVERYTHING})
            failures, broken = 0, False

        while True:
            try:
                await once(went_live)
            except HiveError as error:
                log.warning("the hive's feed broke: %s", error.message)
            except (OSError, ValueError) as error:
                log.warning("the hive's feed broke: %s", error)
            broken = True
            await asyncio.sleep(RETRY[min(failures, len(RETRY) - 1)])
            failures += 1

    async def _events_once(self, went_live: Callable[[], None]) -> None:
        self.live.clear()
        async for answer in self.hive.stream("subscribe_events", after=self._last_event):
            if not self.live.is_set():
                self.live.set()
                went_live()
            for event in answer.get("events") or ():
                self.on_event(event)
            if answer.get("mail"):
                self.publish(mail_topics(answer["mail"]))
            if answer.get("overflow"):
                return

    async def _status_once(self, went_live: Callable[[], None]) -> None:
        async for answer in self.hive.stream("subscribe_agent_status"):
            if answer.get("agent_statuses") is None:
                # The feed's bare first answer: only changes follow, so learn the agents
                # there are now (each has a page whose topic "everything" must name).
                rows = (await self.hive.call("agent_status")).get("agent_statuses") or ()
                self.agents = {r["name"] for r in rows if is_agent_name(r.get("name"))}
                self.agents_known.set()
                went_live()
            for row in answer.get("agent_statuses") or ():
                self.on_status(row)


HUB = web.AppKey("live_hub", Hub)


async def send(response: Any, hub: Hub, tab: Tab) -> None:
    """Send what ``tab`` owes, each topic once, the batch's id on its last event."""
    topics = tab.pending
    tab.pending = set()
    tab.wake.clear()
    if EVERYTHING in topics:
        topics = hub.everything()
    ordered = sorted(topics)
    for index, topic in enumerate(ordered):
        last = index == len(ordered) - 1
        await response.send(topic, event=topic, id=f"{hub.boot}-{tab.seq}" if last else None)


async def pump(response: Any, hub: Hub, tab: Tab) -> None:
    while not tab.cut:
        await tab.wake.wait()
        if tab.cut:
            return
        await send(response, hub, tab)


async def still_valid(request: web.Request) -> bool:
    """The session again, now that its tab is listening: a logout between the first
    check and the tab's joining would otherwise go unheard."""
    return await session_of(request) is not None


async def live(request: web.Request) -> web.StreamResponse:
    hub = request.app[HUB]
    hub.start()
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(READY_WAIT):
            await asyncio.gather(hub.live.wait(), hub.agents_known.wait())
    tab = Tab(session_id=int(request["session"]["id"]), seq=hub.seq)
    hub.tabs.add(tab)
    try:
        if not await still_valid(request):
            raise web.HTTPUnauthorized(text="the session has ended\n")
        # A reconnecting tab says what it saw last; a new one, what its page was
        # rendered after (``since``): a change between the page's render and
        # this stream is not lost.
        resumed = request.headers.get("Last-Event-ID") or request.query.get("since") or None
        if resumed is not None:
            tab.owe(hub.since(resumed), hub.seq)
        async with sse_response(request, ping_interval=PING) as response:
            pumping = asyncio.create_task(pump(response, hub, tab))
            waiting = asyncio.create_task(response.wait())
            try:
                await asyncio.wait((pumping, waiting), return_when=asyncio.FIRST_COMPLETED)
            finally:  # also when this handler is cancelled (the browser went)
                for task in (pumping, waiting):
                    task.cancel()
                await asyncio.gather(pumping, waiting, return_exceptions=True)
        return response
    finally:
        hub.tabs.discard(tab)


async def template_context(request: web.Request) -> dict[str, Any]:
    """``live_since``: the feed's position for the page's ``/live?since=``.

    Taken before the page reads the hive: aiohttp_jinja2 runs its context
    processors ahead of the handler.
    """
    return {"live_since": request.app[HUB].position()}


def setup(app: web.Application) -> None:
    app[HUB] = Hub(app[HIVE])

    async def close(app: web.Application) -> None:
        await app[HUB].close()

    app.on_shutdown.append(close)
    app.router.add_get("/live", live, name="live")
