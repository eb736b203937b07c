"""The event feed's hub on a real store: only committed rows go out, one transaction's
and once, and the queue bound drops a subscriber with one notice."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hive_c0re.broker.store import Store
from hive_c0re.daemon.event_feed import OVERFLOW, EventFeed, FellBehind
from hive_c0re.settings import Settings


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path / "broker.sqlite", Settings.load(environ={}))
    s.register_agent("alice")
    yield s
    s.close()


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


def test_a_rolled_back_write_is_never_sent_and_a_committed_one_is(store: Store) -> None:
    async def scenario() -> list[dict[str, Any]]:
        feed = EventFeed(store, 1 << 20)
        _, subscription = feed.subscribe(None)
        with pytest.raises(RuntimeError), store.transaction():
            store.record_event("spawned", "alice")
            raise RuntimeError("the change failed")
        with store.transaction() as outbox:
            store.record_event("paused", "alice")
            outbox.post("alice", {"event": "paused"}, store.clock())
        await settle()
        frames = []
        while subscription.pending():
            frames.append(json.loads(await subscription.next_frame()))
        return frames

    frames = asyncio.run(scenario())
    assert [f["events"][0]["kind"] for f in frames if "events" in f] == ["paused"]
    [mail] = [f["mail"] for f in frames if "mail" in f]
    assert (mail["from"], mail["to"]) == ("system", "alice") and "body" not in mail


def test_the_backlog_is_the_newest_after_the_cursor_and_nothing_is_sent_twice(
        store: Store) -> None:
    async def scenario() -> tuple[list[int], list[int], int, int]:
        with store.transaction():
            ids = [store.record_event("paused", "alice", n=n) for n in range(1500)]
        feed = EventFeed(store, 1 << 20)
        _, first = feed.subscribe(None)
        # Written, and not yet read by the hub, when the second one's backlog holds it.
        ids.append(store.record_event("resumed", "alice"))
        backlog, second = feed.subscribe(ids[0])
        await settle()
        live = json.loads(await first.next_frame())["events"][0]["id"]
        return ids, [e["id"] for e in backlog], live, second.pending()

    ids, backlog, live, second_pending = asyncio.run(scenario())
    assert backlog == ids[-1000:]
    assert live == ids[-1]
    assert second_pending == 0


def test_a_subscriber_past_its_bound_is_told_once_then_ended_and_freed(store: Store) -> None:
    async def scenario() -> tuple[list[bytes], bool]:
        feed = EventFeed(store, 4096)
        _, slow = feed.subscribe(None)
        with store.transaction():
            for n in range(200):
                store.record_event("paused", "alice", n=n)
        await settle()
        frames = [await slow.next_frame()]
        with pytest.raises(FellBehind):
            await slow.next_frame()
        return frames, slow in feed.subscribers

    frames, still_subscribed = asyncio.run(scenario())
    # Its queue went at once: the notice is all it is sent.
    assert frames == [OVERFLOW] and not still_subscribed
