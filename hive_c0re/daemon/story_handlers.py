"""The ``events`` verb: the hive's event log, for ``hive-c0re logs`` (see hive_c0re/story.py)."""

from __future__ import annotations

from typing import Any

from hive_c0re import wire
from hive_c0re.daemon.handlers import handles
from hive_c0re.daemon.hive import Hive
from hive_c0re.daemon.sockets import Caller
from hive_c0re.errors import NotFound
from hive_c0re.lifecycle.uids import MANAGER_BASE
from hive_c0re.names import MANAGER, validate_agent_name

DEFAULT_LIMIT = 1000


def _matches(event: dict[str, Any], args: dict[str, Any]) -> bool:
    if "name" in args and event["agent"] != args["name"]:
        return False
    if "since" in args and event["at"] < args["since"]:
        return False
    return "after" not in args or event["id"] > args["after"]


def _uid_base(hive: Hive, name: str, found: list[dict[str, Any]]) -> int | None:
    """The agent's uid range; raise NotFound for a name the hive never had (a purged
    agent is gone from the store, its events are not)."""
    if name == MANAGER:
        return MANAGER_BASE
    try:
        # An agent destroyed with its state kept is still in the store: its story stays.
        return hive.store.agent(validate_agent_name(name)).uid_base
    except NotFound:
        if any(e["agent"] == name for e in found):
            return None
        raise


@handles("events")
async def events(hive: Hive, caller: Caller, args: dict[str, Any]) -> dict[str, Any]:
    unit = uid_base = None
    # The log is bounded (max_events), so one pass over it stays small.
    every = hive.store.events()
    found = [e for e in every if _matches(e, args)]
    if "name" in args:
        uid_base = _uid_base(hive, args["name"], every)
        unit = hive.containers.lifecycle.backend.unit(args["name"])
    return wire.ok(events=found[-args.get("limit", DEFAULT_LIMIT):], unit=unit,
                   uid_base=uid_base)
