"""The mailroom on a real store: sends wake receivers, events reach the manager as mail,
and an agent's own reports stay within its budget."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hive_c0re.broker.mailroom import Mailroom
from hive_c0re.broker.store import Store
from hive_c0re.settings import Settings


@pytest.fixture
def mailroom(tmp_path: Path) -> Iterator[Mailroom]:
    settings = Settings.load({"inbox_cap": 2, "agent_event_burst": 2}, environ={})
    store = Store(tmp_path / "broker.sqlite", settings)
    store.register_agent("alice")
    store.register_agent("bob")
    yield Mailroom(store, settings)
    store.close()


def events_for(mailroom: Mailroom, mailbox: str) -> list[dict[str, Any]]:
    return [json.loads(d.body) for d in mailroom.store.peek(mailbox, 32) if d.sender == "system"]


def test_a_send_wakes_the_waiting_receiver(mailroom: Mailroom) -> None:
    async def scenario() -> bool:
        waiting = asyncio.get_running_loop().create_task(mailroom.signals.wait("bob", 60))
        await asyncio.sleep(0)
        assert mailroom.signals.waiting() == 1
        mailroom.send("alice", "bob", "hello", None)
        return await waiting

    assert asyncio.run(scenario()) is True
    assert [d.body for d in mailroom.store.peek("bob", 8)] == ["hello"]
    assert mailroom.signals.waiting() == 0


def test_an_event_is_logged_and_mailed_to_the_manager_and_the_agent(mailroom: Mailroom) -> None:
    mailroom.announce("spawned", "alice", tell_agent=True, uid_base=7)
    assert [e["kind"] for e in mailroom.store.events()] == ["spawned"]
    told = {"event": "spawned", "agent": "alice", "uid_base": 7}
    assert events_for(mailroom, "manager") == [told]
    assert events_for(mailroom, "alice") == [told]


def test_notices_past_an_agents_burst_are_held_back_and_counted(mailroom: Mailroom) -> None:
    async def scenario() -> None:
        for n in range(4):
            mailroom.tell_manager_for("alice", "question_asked", "alice", id=n)

    asyncio.run(scenario())
    assert [e["id"] for e in events_for(mailroom, "manager")] == [0, 1]
    mailroom.tell_manager_for("operator", "question_asked", "alice", id=9)  # never held
    assert events_for(mailroom, "manager")[-1]["id"] == 9


def test_a_repeated_login_report_is_announced_once(mailroom: Mailroom) -> None:
    async def scenario() -> None:
        for _ in range(3):
            mailroom.reports.login("alice", True)
        mailroom.reports.login("alice", False)

    asyncio.run(scenario())
    assert [e["kind"] for e in mailroom.store.events()] == ["logged_in", "needs_login"]


def test_mail_its_receiver_never_got_is_unread_again(mailroom: Mailroom) -> None:
    ids = mailroom.send("alice", "bob", "hello", None)
    assert [d.id for d in mailroom.store.lease("bob", 8)] == ids
    mailroom.take_back("bob", ids, acked=False)
    assert [d.id for d in mailroom.store.peek("bob", 8)] == ids
    assert mailroom.status_line() == "2 agent(s); 1 unread; 0 waiting on mail"
