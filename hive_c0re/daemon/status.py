"""One status row per agent (the manager included), in the original hyperhive's shape.

A row has the original's keys, which its clients decode: ``name``,
``running``, ``failed``, ``needs_update``, ``needs_login``, ``paused`` (always
booleans), ``parent`` (null: this hive has no sub-agents), ``deployed_sha``
(12 hex digits or null), ``active_model``, ``status_text`` and
``status_set_at`` (RFC 3339 UTC or null), ``url`` (the agent's dashboard
page, null without a dashboard); then ours, which those clients ignore.
The container's unit and the applied repo are read in worker threads, so a
row never blocks the event loop.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import TYPE_CHECKING, Any

from hive_c0re.broker.store import AgentRecord, Desired
from hive_c0re.daemon.hive import Hive
from hive_c0re.errors import HiveError
from hive_c0re.lifecycle.backend import POLICY_FILE
from hive_c0re.names import MANAGER
from hive_c0re.timestamps import rfc3339

if TYPE_CHECKING:
    from hive_c0re.daemon.crashwatch import UnitState

log = logging.getLogger(__name__)

ORIGINAL_KEYS = ("name", "running", "failed", "needs_update", "needs_login", "paused",
                 "parent", "deployed_sha", "active_model", "status_text", "status_set_at", "url")
SHORT_SHA = 12



async def status_rows(hive: Hive) -> list[dict[str, Any]]:
    """Every agent's row, the manager's first, the others by name."""
    names = [MANAGER, *(a.name for a in hive.store.agents())]
    return list(await asyncio.gather(*(status_row(hive, name) for name in names)))


async def status_row(hive: Hive, name: str) -> dict[str, Any]:
    """``name``'s row; raise NotFound for a name that is neither an agent nor the manager."""
    record = _manager_record(hive) if name == MANAGER else hive.store.agent(name)
    has_unit = _has_container(hive, record)
    state, applied = await asyncio.gather(
        hive.containers.unit_state(name) if has_unit else _none(),
        _applied_head(hive, record) if has_unit else _none())
    failed = _failed(record, state)
    running = (state is not None and state.active in ("active", "reloading", "deactivating")
               and not failed)
    logged_in = hive.mail.reports.logged_in(name)
    row: dict[str, Any] = {
        "name": name, "running": running, "failed": failed,
        "needs_update": bool(applied and record.deployed_sha and applied != record.deployed_sha),
        "needs_login": logged_in is False, "paused": hive.containers.pauses.paused(name),
        "parent": None,
        "deployed_sha": record.deployed_sha[:SHORT_SHA] if record.deployed_sha else None,
        # What the harness last said it runs (a /model switch), else what its policy says.
        "active_model": _reported_model(hive, name) or (_model(hive, name) if has_unit
                                                         else None),
        # The harness reports no status line yet: null, as the original when unset.
        "status_text": None, "status_set_at": None,
        "url": _url(hive, name),
    }
    full = {**row, **_ours(hive, record, state, logged_in)}
    return {**full, "state": agent_state(full)}


def _ours(hive: Hive, record: AgentRecord, state: UnitState | None,
          logged_in: bool | None) -> dict[str, Any]:
    """What this hive knows beyond the original's keys."""
    name = record.name
    counts = hive.store.counts(name)
    manager = name == MANAGER
    activity = hive.mail.reports.activities.get(name)
    return {
        "desired": str(record.desired),
        "uid_base": record.uid_base,
        "allowed_recipients": list(record.allowed_recipients),
        "unread": counts.unread,
        "in_flight": counts.in_flight,
        # in_turn: mail is leased to a turn that has not acked yet.
        "turn": "in_turn" if counts.in_flight else "idle",
        # A graceful stop is waiting for the running turn to end (no new leases).
        "stopping": hive.containers.pauses.held(name),
        "logged_in": logged_in,
        "socket": str(hive.paths.manager_socket if manager else hive.paths.agent_socket(name)),
        "listening": (hive.sockets.manager is not None if manager
                      else hive.sockets.is_listening(name)),
        # Why it is not listening, while its socket cannot be bound (retried).
        "socket_error": hive.sockets.socket_error(name),
        # What its harness last said it is doing, and how its last turn went (null
        # until it has said: the daemon does not see compaction or rate limits).
        "activity": activity.state if activity is not None else None,
        "last_turn": activity.last_turn if activity is not None else None,
        # Its claude CLI is ended between turns to save memory; the next turn resumes.
        "released": activity.released if activity is not None else False,
        "unit_state": state.active if state is not None else None,
        "unit_result": state.result if state is not None else None,
        "full_deployed_sha": record.deployed_sha,
        # When the container last came up (its unit's ActiveEnterTimestamp), while it runs.
        "started_at": rfc3339(state.active_since) if state is not None and state.active in (
            "active", "reloading") else None,
    }


# systemd's Result values that mean something killed the container from outside.
CRASH_RESULTS = ("signal", "core-dump", "watchdog", "oom-kill")


def agent_state(row: dict[str, Any]) -> str:
    """The one word for what ``row``'s agent is doing now (a key of vocabulary.STATES).

    Compaction and rate limits are what the harness reported (``activity``): only it
    knows of them.
    """
    desired, unit = row.get("desired"), row.get("unit_state")
    if desired == str(Desired.DESTROYED):
        return "destroyed"
    if unit is None:
        return "mailbox" if desired == str(Desired.NONE) else "unknown"
    if row.get("failed"):
        return "crashed" if row.get("unit_result") in CRASH_RESULTS else "failed"
    if unit == "activating":
        return "starting"
    if unit == "deactivating" or row.get("stopping"):
        return "stopping"
    if not row.get("running"):
        return "stopped"
    if row.get("needs_login"):
        return "needs-login"
    if row.get("paused"):
        return "paused"
    if row.get("activity") in ("compacting", "rate-limited"):
        return str(row["activity"])
    if row.get("turn") == "in_turn" or row.get("activity") == "thinking":
        return "thinking"
    return "idle (released)" if row.get("released") else "idle"


def _reported_model(hive: Hive, name: str) -> str | None:
    activity = hive.mail.reports.activities.get(name)
    return activity.model if activity is not None else None


async def _none() -> None:
    return None


def _manager_record(hive: Hive) -> AgentRecord:
    if not hive.settings.manager_command:
        # Without a container the manager is a plain mailbox: desired none, no uid range.
        return AgentRecord(MANAGER, (), 0.0, paused=hive.containers.pauses.paused(MANAGER))
    return hive.containers.lifecycle.manager.record()


def _has_container(hive: Hive, record: AgentRecord) -> bool:
    if record.name == MANAGER:
        return bool(hive.settings.manager_command)
    return record.uid_base is not None and record.desired not in (Desired.NONE,
                                                                  Desired.DESTROYED)


def _failed(record: AgentRecord, state: UnitState | None) -> bool:
    """The unit failed, or went down on its own while it was wanted running."""
    if state is None:
        return False
    if state.active == "failed":
        return True
    if record.desired is not Desired.RUNNING:
        return False
    if state.active == "deactivating":
        # Killed from outside, its other processes still ending: the crash watch has
        # reported it already, so the row says crashed, not stopping.
        return state.result in CRASH_RESULTS
    return state.active == "inactive" and state.result not in ("", "success")


async def _applied_head(hive: Hive, record: AgentRecord) -> str | None:
    """The applied repo's HEAD (null for the manager, which has none)."""
    if record.name == MANAGER or record.deployed_sha is None:
        return None
    repo = hive.containers.lifecycle.seeding.applied_repo(record.name)
    try:
        return await asyncio.to_thread(repo.head)
    except HiveError as exc:
        log.warning("cannot read %s's applied config: %s", record.name, exc.message,
                    extra={"HIVE_AGENT": record.name})
        return None


def _model(hive: Hive, name: str) -> str | None:
    """The model its container was handed (policy.json; the harness may switch later)."""
    directory = hive.paths.manager_policy if name == MANAGER else hive.paths.agent_policy(name)
    try:
        model = json.loads((directory / POLICY_FILE).read_text()).get("model")
    except (OSError, ValueError, AttributeError):
        return None
    return model if isinstance(model, str) else None


def _url(hive: Hive, name: str) -> str | None:
    """The agent's page on the dashboard, once one is configured (``dashboard_url``)."""
    base = getattr(hive.settings, "dashboard_url", "")
    if not isinstance(base, str) or not base:
        return None
    return f"{base.rstrip('/')}/agents/{name}"
