"""The dashboard's login verbs (see hive_c0re/broker/sessions.py) and ``agent_ui``,
host.sock only.

The dashboard itself is a wire client on host.sock: it redeems the code a
root-only command printed, asks per request whose cookie it holds, and
reaches each agent's own UI through an ``agent_ui`` pipe.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

from hive_c0re import agent_ui as doors
from hive_c0re import wire
from hive_c0re.broker.sessions import SessionBook
from hive_c0re.daemon.handlers import handles
from hive_c0re.daemon.hive import Hive
from hive_c0re.daemon.server import Pipe
from hive_c0re.daemon.sockets import Caller
from hive_c0re.errors import InvalidInput
from hive_c0re.names import MANAGER, validate_agent_name
from hive_c0re.timestamps import rfc3339

log = logging.getLogger(__name__)


@handles("dashboard_code")
async def dashboard_code(hive: Hive, caller: Caller, args: dict[str, Any]) -> dict[str, Any]:
    code, expires_at = SessionBook(hive.store).issue_code()
    log.info("a dashboard login code was made; it works once, until %s", rfc3339(expires_at))
    return wire.ok(code=code, expires_at=rfc3339(expires_at))


@handles("dashboard_redeem")
async def dashboard_redeem(hive: Hive, caller: Caller, args: dict[str, Any]) -> dict[str, Any]:
    try:
        new = SessionBook(hive.store).redeem(args["code"], args.get("user_agent"))
    except InvalidInput:
        log.warning("a dashboard login code was refused (used, expired or unknown)")
        raise
    log.info("dashboard session #%d logged in", new.record.id)
    return wire.ok(session=new.as_wire())


@handles("dashboard_session")
async def dashboard_session(hive: Hive, caller: Caller, args: dict[str, Any]) -> dict[str, Any]:
    found = SessionBook(hive.store).session(args["token"])
    return wire.ok(session=found.as_cookie_check(args["token"]))


@handles("dashboard_sessions")
async def dashboard_sessions(hive: Hive, caller: Caller, args: dict[str, Any]) -> dict[str, Any]:
    return wire.ok(sessions=[s.as_wire() for s in SessionBook(hive.store).sessions()])


@handles("dashboard_logout")
async def dashboard_logout(hive: Hive, caller: Caller, args: dict[str, Any]) -> dict[str, Any]:
    every = args.get("all", False)
    if every == ("id" in args):
        raise InvalidInput("dashboard_logout needs exactly one of id and all: true")
    revoked = SessionBook(hive.store).revoke(None if every else args["id"])
    if revoked:
        log.info("dashboard session(s) logged out: %s", ", ".join(f"#{i}" for i in revoked))
    return wire.ok(revoked=revoked)


@handles("agent_ui")
async def agent_ui(hive: Hive, caller: Caller, args: dict[str, Any]) -> Pipe:
    name = args["name"]
    if name != MANAGER:
        # NotFound for a name the hive does not have, before any path is made of it.
        name = hive.store.agent(validate_agent_name(name)).name
    door = doors.agent_ui(hive.paths, name)
    log.info("the operator opened %s's UI", name, extra={"HIVE_AGENT": name})
    return Pipe(wire.ok(secret=door.secret, socket=str(door.socket)),
                functools.partial(doors.connect, door))
