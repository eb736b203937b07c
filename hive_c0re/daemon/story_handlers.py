"""The ``events`` verb: the hive's event log, for ``hive-c0re logs`` (see hive_c0re/story.py)."""

from __future__ import annotations

from typing import Any

from hive_c0re import wire
from hive_c0re.daemon.handlers import handles
from hive_c0re.daemon.hive import Hive
from hive_c0re.daemon.sockets import Caller
from hive_c0re.lifecycle.uids import MANAGER_BASE
from hive_c0re.names import MANAGER, validate_agent_name

DEFAULT_LIMIT = 1000


def _matches(event: dict[str, Any], args: dict[str, Any]) -> bool:
    if "name" in args and event["agent"] != args["name"]:
        return False
    if "since" in args and event["at"] < args["since"]:
        return False
    return "after" not in args or event["id"] > args["after"]


@handles("events")
async def events(hive: Hive, caller: Caller, args: dict[str, Any]) -> dict[str, Any]:
    unit = uid_base = None
    if "name" in args:
        name = args["name"]
        if name == MANAGER:
            uid_base = MANAGER_BASE
        else:
            # An agent destroyed with its state kept is still in the store: its story stays.
            uid_base = hive.store.agent(validate_agent_name(name)).uid_base  # raises NotFound
        unit = hive.containers.lifecycle.backend.unit(name)
    # The log is bounded (max_events), so one pass over it stays small.
    found = [e for e in hive.store.events() if _matches(e, args)]
    return wire.ok(events=found[-args.get("limit", DEFAULT_LIMIT):], unit=unit,
                   uid_base=uid_base)
