"""The operator's verbs the dashboard reads the hive with (the CLI can use them too).

All of them are host.sock's only; every field is checked by its wire rule, and
every name by :func:`hive_c0re.names.validate_agent_name`, before it reaches a
query, a path or a unit.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from hive_c0re import wire
from hive_c0re.broker.store import Desired
from hive_c0re.daemon import approval_view
from hive_c0re.daemon.handlers import handles
from hive_c0re.daemon.hive import Hive
from hive_c0re.daemon.journal_lines import check_cursor, read_journal
from hive_c0re.daemon.server import Stream
from hive_c0re.daemon.sockets import Caller
from hive_c0re.errors import NotFound
from hive_c0re.lifecycle.gitrepo import ConfigRepo
from hive_c0re.lifecycle.proposed import CONFIG_FILE
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


# -- reminders and questions ---------------------------------------------------------


@handles("reminders")
async def reminders(hive: Hive, caller: Caller, args: dict[str, Any]) -> dict[str, Any]:
    found = hive.reminders.listing(every=args.get("all", False))
    return wire.ok(reminders=[r.as_wire() for r in found])


@handles("cancel_reminder")
async def cancel_reminder(hive: Hive, caller: Caller, args: dict[str, Any]) -> dict[str, Any]:
    record = hive.reminders.cancel_any(args["id"])
    log.info("reminder #%d of %s cancelled by the operator", record.id, record.agent,
             extra={"HIVE_AGENT": record.agent})
    agent = hive.store.agent_or_none(record.agent)
    if agent is not None and agent.desired is not Desired.DESTROYED:
        # It set the reminder to be woken: told now, it does not wait for nothing.
        hive.mail.tell("reminder_cancelled", record.agent, [record.agent], id=record.id,
                       by=OPERATOR, message=record.message)
    return wire.ok(reminder=record.as_wire())


@handles("cancel_question")
async def cancel_question(hive: Hive, caller: Caller, args: dict[str, Any]) -> dict[str, Any]:
    change = hive.questions.decline(args["id"], OPERATOR)
    record = change.record
    if change.notified is not None:
        hive.mail.signals.notify(change.notified)
    log.info("question #%d of %s cancelled by the operator", record.id, record.asker,
             extra={"HIVE_AGENT": record.asker})
    if record.asker != MANAGER:
        hive.mail.tell_manager_for(OPERATOR, "question_answered", record.asker, id=record.id,
                                   by=OPERATOR, question=record.question)
    return wire.ok(question=record.as_wire())


# -- agents ------------------------------------------------------------------------


@handles("kept_agents")
async def kept_agents(hive: Hive, caller: Caller, args: dict[str, Any]) -> dict[str, Any]:
    destroyed_at = hive.store.last_at("destroyed")
    kept = [{"name": a.name, "destroyed_at": destroyed_at.get(a.name)}
            for a in hive.store.agents() if a.desired is Desired.DESTROYED]
    return wire.ok(agents=kept)


@handles("agent_config")
async def agent_config(hive: Hive, caller: Caller, args: dict[str, Any]) -> dict[str, Any]:
    name = hive.store.agent(validate_agent_name(args["name"])).name  # raises NotFound
    sha, toml = await asyncio.to_thread(_applied_config, ConfigRepo(hive.paths.applied_repo(name)))
    return wire.ok(name=name, sha=sha, toml=toml)


def _applied_config(repo: ConfigRepo) -> tuple[str, str]:
    """The applied repo's main and its agent.toml (git runs in the daemon's own repo)."""
    if not repo.exists():
        raise NotFound(f"{repo.path.name} has no applied config yet",
                       hint="an agent gets one when it is spawned or its config is approved")
    sha = repo.head()
    text = repo.read_file(sha, CONFIG_FILE)
    if text is None:
        raise NotFound(f"{repo.path.name}'s applied config has no {CONFIG_FILE}")
    return sha, text


@handles("journal")
async def journal(hive: Hive, caller: Caller, args: dict[str, Any]) -> dict[str, Any]:
    name = args["name"]
    if name != MANAGER:
        name = hive.store.agent(validate_agent_name(name)).name  # raises NotFound
    after = args.get("after")
    if after is not None:
        check_cursor(after)
    unit = hive.containers.lifecycle.backend.unit(name)
    found = await asyncio.to_thread(read_journal, name, unit, args.get("lines", 100), after)
    return wire.ok(**found, unit=unit)
