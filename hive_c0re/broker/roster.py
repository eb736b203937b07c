"""The agent table: who is registered, their container state and allow-lists.

:class:`~hive_c0re.broker.store.Store` is a :class:`Roster`; the roster owns
the ``agent`` rows and their in-memory copy, on the store's connection.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence

import peewee

from hive_c0re.broker.models import Agent
from hive_c0re.broker.records import AgentRecord, Desired
from hive_c0re.errors import InvalidInput, NotFound
from hive_c0re.names import MANAGER, OPERATOR, SYSTEM, validate_agent_name

# Senders whose mail no allow-list restricts.
UNRESTRICTED_SENDERS = frozenset({OPERATOR, MANAGER, SYSTEM})


class Roster:
    """Register, look up and forget agents; say whom each may write to."""

    db: peewee.SqliteDatabase
    clock: Callable[[], float]

    def _load_roster(self) -> None:
        # The daemon is the only writer of the agent table, so an in-memory copy
        # stays exact and keeps peewee's query building off the send path.
        self._agents = {row.name: _agent_record(row) for row in Agent.select()}

    def register_agent(self, name: str, allowed_recipients: Sequence[str] = ()) -> AgentRecord:
        """Create or update an agent's record (idempotent)."""
        validate_agent_name(name)
        allowed = _validate_allow_list(allowed_recipients)
        now = self.clock()
        with self.db.atomic():
            (Agent.insert(name=name, allowed_recipients=json.dumps(allowed), registered_at=now)
             .on_conflict(conflict_target=[Agent.name],
                          update={Agent.allowed_recipients: json.dumps(allowed)})
             .execute())
            row = Agent.get(Agent.name == name)
        self._agents[name] = _agent_record(row)
        return self._agents[name]

    def set_container(
        self, name: str, *, desired: Desired, uid_base: int | None = None
    ) -> AgentRecord:
        """Record an agent's desired container state (and its uid range on first spawn)."""
        agent = self.agent(name)
        base = agent.uid_base if uid_base is None else uid_base
        with self.db.atomic():
            Agent.update(desired=desired.value, uid_base=base).where(Agent.name == name).execute()
            row = Agent.get(Agent.name == name)
        self._agents[name] = _agent_record(row)
        return self._agents[name]

    def set_paused(self, name: str, paused: bool) -> AgentRecord:
        """Set or clear the agent's pause mark (idempotent); it is kept across restarts."""
        return self._update(name, paused=bool(paused))

    def set_deployed(self, name: str, sha: str | None) -> AgentRecord:
        """Record the applied config commit the agent's container was just given."""
        return self._update(name, deployed_sha=sha)

    def _update(self, name: str, **columns: object) -> AgentRecord:
        self.agent(name)  # raises NotFound
        with self.db.atomic():
            Agent.update(**columns).where(Agent.name == name).execute()
            row = Agent.get(Agent.name == name)
        self._agents[name] = _agent_record(row)
        return self._agents[name]

    def free_uid_base(self, first: int, size: int = 65536) -> int:
        """The lowest uid range at or above ``first`` that no agent holds."""
        taken = {a.uid_base for a in self._agents.values()}
        base = first
        while base in taken:
            base += size
        return base

    def unregister_agent(self, name: str) -> None:
        """Forget the agent's record; its stored mail stays for a later re-register."""
        validate_agent_name(name)
        if Agent.delete().where(Agent.name == name).execute() == 0:
            raise NotFound(f"no agent named {name!r}")
        self._agents.pop(name, None)

    def agent(self, name: str) -> AgentRecord:
        record = self._agents.get(name)
        if record is None:
            validate_agent_name(name)
            raise NotFound(f"no agent named {name!r}", hint="`hive-c0re agents` lists them")
        return record

    def agent_or_none(self, name: str) -> AgentRecord | None:
        return self._agents.get(name)

    def agents(self) -> list[AgentRecord]:
        return [self._agents[name] for name in sorted(self._agents)]

    def may_reach(self, sender: str, to: str) -> bool:
        """Whether ``sender``'s allowed recipients let it write to mailbox ``to``."""
        allowed = self._allowed_for(sender)
        return allowed is None or to in allowed

    def _allowed_for(self, sender: str) -> frozenset[str] | None:
        """None means unrestricted; otherwise the set of recipients ``sender`` may reach."""
        if sender in UNRESTRICTED_SENDERS:
            return None
        listed = self.agent(sender).allowed_recipients
        if not listed:
            return None
        return frozenset(listed) | {MANAGER, OPERATOR}


def _validate_allow_list(names: Sequence[str]) -> list[str]:
    if isinstance(names, str) or not isinstance(names, Sequence):
        raise InvalidInput("allowed_recipients must be a list of agent names")
    out: list[str] = []
    for name in names:
        if name in (MANAGER, OPERATOR):
            continue  # always allowed; storing them would suggest otherwise
        out.append(validate_agent_name(name))
    return sorted(set(out))


def _agent_record(row: Agent) -> AgentRecord:
    return AgentRecord(
        name=row.name,
        allowed_recipients=tuple(json.loads(row.allowed_recipients)),
        registered_at=row.registered_at,
        uid_base=row.uid_base,
        desired=Desired(row.desired),
        paused=bool(row.paused),
        deployed_sha=row.deployed_sha,
    )

