"""The operator's verbs the dashboard reads the hive with (the CLI can use them too).

All of them are host.sock's only; every field is checked by its wire rule, and
every name by :func:`hive_c0re.names.validate_agent_name`, before it reaches a
query, a path or a unit.
"""

from __future__ import annotations

import logging
from typing import Any

from hive_c0re import wire
from hive_c0re.daemon import approval_view
from hive_c0re.daemon.handlers import handles
from hive_c0re.daemon.hive import Hive
from hive_c0re.daemon.server import Stream
from hive_c0re.daemon.sockets import Caller
from hive_c0re.names import MANAGER, OPERATOR, SYSTEM, validate_agent_name

log = logging.getLogger(__name__)


@handles("subscribe_events")
async def subscribe_events(hive: Hive, caller: Caller, args: dict[str, Any]) -> Stream:
    backlog, subscription = hive.events.subscribe(args.get("after"))
    return Stream(wire.ok(events=backlog), subscription.next_frame, subscription.close)


@handles("approval_diff")
async def approval_diff(hive: Hive, caller: Caller, args: dict[str, Any]) -> dict[str, Any]:
    return await approval_view.approval_diff(hive, args["id"])


# -- the operator's mail and the flow ----------------------------------------------


def _mailbox_name(name: str) -> str:
    """A name mail can be to or from: an agent's (checked), or one of the hive's own."""
    return name if name in (MANAGER, OPERATOR, SYSTEM) else validate_agent_name(name)


@handles("messages")
async def messages(hive: Hive, caller: Caller, args: dict[str, Any]) -> dict[str, Any]:
    name = args.get("name")
    found = hive.store.messages(args.get("limit", 50), args.get("before"),
                                None if name is None else _mailbox_name(name))
    return wire.ok(messages=found)


@handles("mark_read")
async def mark_read(hive: Hive, caller: Caller, args: dict[str, Any]) -> dict[str, Any]:
    marked = hive.store.mark_read(args["ids"])
    if marked:
        log.info("the operator marked %d message(s) read", marked)
    return wire.ok(marked=marked)
