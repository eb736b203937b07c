"""The status rows' verbs: ``agent_status`` and ``set_paused`` (see daemon/status.py)."""

from __future__ import annotations

import logging
from typing import Any

from hive_c0re import wire
from hive_c0re.daemon.handlers import handles
from hive_c0re.daemon.hive import Hive
from hive_c0re.daemon.sockets import Caller
from hive_c0re.daemon.status import status_row, status_rows
from hive_c0re.names import MANAGER, validate_agent_name

log = logging.getLogger(__name__)


def _known(hive: Hive, name: object) -> str:
    """An agent's name, or the manager's; raise NotFound for anyone else."""
    if name == MANAGER:
        return MANAGER
    return hive.store.agent(validate_agent_name(name)).name


@handles("agent_status")
async def agent_status(hive: Hive, caller: Caller, args: dict[str, Any]) -> dict[str, Any]:
    if "name" not in args:
        return wire.ok(agent_statuses=await status_rows(hive))
    row = await status_row(hive, _known(hive, args["name"]))
    return wire.ok(agent_statuses=[row], agent=row)


@handles("set_paused")
async def set_paused(hive: Hive, caller: Caller, args: dict[str, Any]) -> dict[str, Any]:
    name = _known(hive, args["name"])
    paused: bool = args["paused"]
    changed = hive.containers.pauses.set_paused(name, paused)
    if changed:
        # Its running turn goes on: the harness acks it, then leases nothing more.
        log.info("%s %s", "paused" if paused else "resumed", name, extra={"HIVE_AGENT": name})
        hive.mail.announce("paused" if paused else "resumed", name)
        hive.report_status()
    row = await status_row(hive, name)
    return wire.ok(agent_statuses=[row], agent=row, changed=changed)
