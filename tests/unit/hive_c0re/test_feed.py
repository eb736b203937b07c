"""The status feed's hub: coalescing per subscriber and per build, shared frames, unchanged
rows not resent."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from hive_c0re.daemon.feed import StatusFeed


class Rows:
    """A row source whose rows the test sets; counts how often each is built."""

    def __init__(self) -> None:
        self.state: dict[str, int] = {}
        self.built = 0

    async def __call__(self, name: str) -> dict[str, Any]:
        self.built += 1
        return {"name": name, "value": self.state.get(name, 0)}


def row_of(frame: bytes) -> dict[str, Any]:
    answer = json.loads(frame)
    assert answer["ok"] is True and answer["version"] == 1
    [row] = answer["agent_statuses"]
    return dict(row)


async def settle() -> None:
    """Let the feed's builds (each a few steps of the loop) finish."""
    for _ in range(20):
        await asyncio.sleep(0)


def feed_with(rows: Rows) -> StatusFeed:
    feed = StatusFeed()
    feed.bind(rows)
    return feed


def test_a_subscriber_that_did_not_read_gets_each_agents_latest_row_once() -> None:
    async def scenario() -> list[dict[str, Any]]:
        rows = Rows()
        feed = feed_with(rows)
        subscription = feed.subscribe()
        for value in range(1000):
            rows.state["alice"] = value
            feed.changed("alice")
            rows.state["bob"] = value
            feed.changed("bob")
            if value % 100 == 0:
                await settle()
        await settle()
        assert subscription.pending() == 2  # a mark per agent, however many changes
        return [row_of(await subscription.next_frame()) for _ in range(2)]

    assert asyncio.run(scenario()) == [{"name": "alice", "value": 999},
                                       {"name": "bob", "value": 999}]


def test_changes_during_a_build_make_one_more_build_not_one_each() -> None:
    async def scenario() -> tuple[int, dict[str, Any]]:
        rows = Rows()
        feed = feed_with(rows)
        subscription = feed.subscribe()
        for value in range(1000):
            rows.state["alice"] = value
            feed.changed("alice")
        await settle()
        return rows.built, row_of(await subscription.next_frame())

    built, row = asyncio.run(scenario())
    assert built == 2 and row == {"name": "alice", "value": 999}


def test_every_subscriber_gets_the_same_frame_built_once() -> None:
    async def scenario() -> None:
        rows = Rows()
        feed = feed_with(rows)
        subscriptions = [feed.subscribe() for _ in range(50)]
        feed.changed("alice")
        await settle()
        frames = [await s.next_frame() for s in subscriptions]
        assert rows.built == 1
        assert all(frame is frames[0] for frame in frames)

    asyncio.run(scenario())


def test_a_row_that_reads_as_the_last_one_sent_is_not_sent_again() -> None:
    async def scenario() -> dict[str, Any]:
        rows = Rows()
        feed = feed_with(rows)
        subscription = feed.subscribe()
        feed.changed("alice")
        await settle()
        await subscription.next_frame()
        feed.changed("alice")  # nothing about it changed
        rows.state["bob"] = 1
        feed.changed("bob")
        await settle()
        return row_of(await subscription.next_frame())

    assert asyncio.run(scenario()) == {"name": "bob", "value": 1}


def test_only_status_events_about_an_agent_are_changes() -> None:
    async def scenario() -> int:
        feed = feed_with(Rows())
        subscription = feed.subscribe()
        feed.on_event("question_asked", "alice")
        feed.on_event("started", None)
        feed.on_event("container_crash", "alice")
        feed.on_event("paused", "bob")
        await settle()
        return subscription.pending()

    assert asyncio.run(scenario()) == 2


def test_a_failing_row_costs_that_row_not_the_subscription() -> None:
    async def scenario() -> dict[str, Any]:
        rows = Rows()

        async def source(name: str) -> dict[str, Any]:
            if name == "broken":
                raise RuntimeError("no row")
            return await rows(name)

        feed = StatusFeed()
        feed.bind(source)
        subscription = feed.subscribe()
        feed.changed("broken")
        feed.changed("alice")
        await settle()
        return row_of(await subscription.next_frame())

    assert asyncio.run(scenario()) == {"name": "alice", "value": 0}


def test_an_unsubscribed_watcher_is_no_longer_marked() -> None:
    feed = feed_with(Rows())
    subscription = feed.subscribe()
    subscription.close()
    feed.changed("alice")
    assert subscription.pending() == 0 and not feed.subscribers
