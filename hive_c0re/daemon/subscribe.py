"""``subscribe_agent_status``: the operator's live status feed, one row per change."""

from __future__ import annotations

from typing import Any

from hive_c0re import wire
from hive_c0re.daemon import status
from hive_c0re.daemon.handlers import handles
from hive_c0re.daemon.hive import Hive
from hive_c0re.daemon.server import Stream
from hive_c0re.daemon.sockets import Caller
from hive_c0re.errors import NotFound


@handles("subscribe_agent_status")
async def subscribe_agent_status(hive: Hive, caller: Caller, args: dict[str, Any]) -> Stream:
    subscription = hive.feed.subscribe()
    return Stream(wire.ok(), subscription.next_frame, subscription.close)


def gone_row(name: str) -> dict[str, Any]:
    """The row of an agent no longer registered (unregistered or purged): the original's
    keys at their defaults, and ``registered`` false."""
    row: dict[str, Any] = dict.fromkeys(status.ORIGINAL_KEYS, None)
    row.update(name=name, running=False, failed=False, needs_update=False, needs_login=False,
               paused=False, registered=False)
    return row


async def feed_row(hive: Hive, name: str) -> dict[str, Any]:
    """``name``'s status row as ``agent_status`` gives it, or its gone row."""
    try:
        row = await status.status_row(hive, name)
    except NotFound:
        return gone_row(name)
    return {**row, "registered": True}
