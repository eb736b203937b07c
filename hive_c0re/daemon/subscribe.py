"""``subscribe_agent_status``: the operator's live status feed, one row per change."""

from __future__ import annotations

import asyncio
from typing import Any

from hive_c0re import wire
from hive_c0re.broker.records import Desired
from hive_c0re.daemon.handlers import _agent_view, _manager_view, handles
from hive_c0re.daemon.hive import Hive
from hive_c0re.daemon.server import Stream
from hive_c0re.daemon.sockets import Caller
from hive_c0re.names import MANAGER


@handles("subscribe_agent_status")
async def subscribe_agent_status(hive: Hive, caller: Caller, args: dict[str, Any]) -> Stream:
    subscription = hive.feed.subscribe()

    async def next_update() -> dict[str, Any]:
        return wire.ok(agent_statuses=[await subscription.next_row()])

    return Stream(wire.ok(), next_update, subscription.close)


def gone_row(name: str) -> dict[str, Any]:
    """The row of an agent that is no longer registered (unregistered or purged)."""
    return {"name": name, "running": False, "failed": False, "needs_update": False,
            "needs_login": False, "paused": False, "parent": None, "deployed_sha": None,
            "active_model": None, "status_text": None, "status_set_at": None, "url": None,
            "registered": False}


async def status_row(hive: Hive, name: str) -> dict[str, Any]:
    """``name``'s status row with the original's keys, and ours beside them."""
    if name == MANAGER:
        view = await _manager_view(hive)
    else:
        agent = hive.store.agent_or_none(name)
        if agent is None:
            return gone_row(name)
        view = _agent_view(hive, agent)
        has_container = agent.desired in (Desired.RUNNING, Desired.STOPPED)
        backend = hive.containers.lifecycle.backend if has_container else None
        view["running"] = backend is not None and await asyncio.to_thread(
            backend.is_active, name)
    return {**gone_row(name), **view, "registered": True}
