"""The approval flow: the manager asks, the operator decides, the daemon deploys.

apply_commit pins the proposed sha in the applied repo as ``proposal/<id>``
and validates its ``agent.toml`` before it is queued. Approve moves it through
``approved/<id>`` and ``building/<id>`` to ``deployed/<id>`` with main
fast-forwarded, or to ``failed/<id>`` (the error in the tag) with the previous
config back in place and running. Deny tags ``denied/<id>`` with the
operator's note. Each step is a tag and an event row; nothing is deleted.
"""

from __future__ import annotations

import asyncio
import logging

from hive_c0re.broker.approvals import ApprovalBook, ApprovalRecord, Kind, Status
from hive_c0re.broker.store import Desired
from hive_c0re.errors import HiveError, InvalidInput, NotFound
from hive_c0re.lifecycle.agents import Lifecycle
from hive_c0re.lifecycle.gitrepo import validate_sha
from hive_c0re.lifecycle.manager import MANAGER_REPOS
from hive_c0re.lifecycle.ports import Announcer
from hive_c0re.names import validate_agent_name

log = logging.getLogger(__name__)

STATE_DIR_MISSING = "agent state dir missing"


class Approvals:
    """The manager's requests and the operator's decisions; ``lifecycle`` carries them out."""

    def __init__(self, book: ApprovalBook, announcer: Announcer, lifecycle: Lifecycle) -> None:
        self.book = book
        self.announcer = announcer
        self.lifecycle = lifecycle
        self.store = lifecycle.store
        self.paths = lifecycle.paths
        self.seeding = lifecycle.seeding
        self.proposed = lifecycle.seeding.proposed

    # -- requests (the manager) ---------------------------------------------------

    def _room_for(self, name: str) -> None:
        """Refuse a request past the pending ones ``name`` may have (each costs a page
        render: its diff is read, parsed and highlighted)."""
        cap = self.lifecycle.settings.max_pending_approvals
        waiting = sum(1 for r in self.book.listing(Status.PENDING) if r.agent == name)
        if waiting >= cap:
            raise InvalidInput(
                f"{name} has {waiting} requests waiting for the operator already "
                f"(at most {cap}, the setting max_pending_approvals)",
                hint="wait for approval_resolved events, or ask the operator to deny some")

    def request_spawn(self, name: str, description: str | None) -> ApprovalRecord:
        validate_agent_name(name)
        self._room_for(name)
        return self.book.get(self.book.create(name, Kind.SPAWN, None, description))

    def request_init_config(self, name: str, description: str | None) -> ApprovalRecord:
        validate_agent_name(name)
        if self.proposed.exists(name):
            raise InvalidInput(f"{name} already has a proposed config repo")
        self._room_for(name)
        return self.book.get(self.book.create(name, Kind.INIT_CONFIG, None, description))

    async def request_apply_commit(self, name: str, sha: object,
                                   description: str | None) -> ApprovalRecord:
        """Validate and pin a proposed commit; refused before anything touches git if bad."""
        validate_agent_name(name)
        commit = validate_sha(sha)
        if not self.proposed.exists(name):
            raise NotFound(f"{name} has no proposed config repo",
                           hint="request_init_config seeds one")
        self._room_for(name)
        applied = await asyncio.to_thread(self.seeding.take_proposal, name, commit)
        approval_id = self.book.create(name, Kind.APPLY_COMMIT, commit, description)
        await asyncio.to_thread(applied.tag, f"proposal/{approval_id}", commit)
        log.info("approval #%d: %s asks to apply %s", approval_id, name, commit[:12],
                 extra={"HIVE_AGENT": name})
        return self.book.get(approval_id)

    # -- decisions (the operator) -----------------------------------------------

    def pending(self) -> list[ApprovalRecord]:
        """Pending requests; those whose agent's state vanished are failed on the way."""
        found = []
        for record in self.book.listing(Status.PENDING):
            if self._state_missing(record):
                self._resolved(self.book.move(record.id, Status.FAILED, STATE_DIR_MISSING))
                continue
            found.append(record)
        return found

    def _state_missing(self, record: ApprovalRecord) -> bool:
        return (record.kind is Kind.APPLY_COMMIT
                and not self.paths.agent_state(record.agent).is_dir())

    async def deny(self, approval_id: int, note: str | None) -> ApprovalRecord:
        record = self.book.move(approval_id, Status.DENIED, note)
        if record.kind is Kind.APPLY_COMMIT and record.sha:
            await self._tag(record, "denied", note)
        log.info("approval #%d denied: %s", approval_id, note, extra={"HIVE_AGENT": record.agent})
        self._resolved(record)
        return record

    def _resolved(self, record: ApprovalRecord) -> ApprovalRecord:
        """Tell the manager how its request ended (the terminal tag names the step)."""
        tag = f"{record.status}/{record.id}" if record.kind is Kind.APPLY_COMMIT else None
        self.announcer.announce("approval_resolved", record.agent, id=record.id,
                           request=str(record.kind), status=str(record.status), sha=record.sha,
                           tag=tag, note=record.note)
        if record.kind is Kind.INIT_CONFIG and record.status is Status.DEPLOYED:
            # Where the manager, who is told, sees the repo in its container.
            self.announcer.announce("config_ready", record.agent,
                               path=str(MANAGER_REPOS / record.agent))
        return record

    async def approve(self, approval_id: int) -> ApprovalRecord:
        record = self.book.get(approval_id)
        if record.status is not Status.PENDING:
            raise InvalidInput(f"approval #{approval_id} is {record.status}, not pending")
        if self._state_missing(record):
            return self._resolved(self.book.move(approval_id, Status.FAILED, STATE_DIR_MISSING))
        record = self.book.move(approval_id, Status.APPROVED)
        await self._tag(record, "approved")
        record = self.book.move(approval_id, Status.BUILDING)
        await self._tag(record, "building")
        try:
            await self._carry_out(record)
        except HiveError as exc:
            log.warning("approval #%d failed: %s", approval_id, exc,
                        extra={"HIVE_AGENT": record.agent})
            await self._tag(record, "failed", str(exc))
            return self._resolved(self.book.move(approval_id, Status.FAILED, str(exc)))
        await self._tag(record, "deployed")
        log.info("approval #%d deployed", approval_id, extra={"HIVE_AGENT": record.agent})
        return self._resolved(self.book.move(approval_id, Status.DEPLOYED))

    async def _carry_out(self, record: ApprovalRecord) -> None:
        if record.kind is Kind.SPAWN:
            await self.lifecycle.spawn(record.agent)
        elif record.kind is Kind.INIT_CONFIG:
            await asyncio.to_thread(self.seeding.seed_for_manager, record.agent)
        else:
            assert record.sha is not None
            await self._apply(record.agent, record.sha)

    async def _apply(self, name: str, sha: str) -> None:
        """Move applied main to ``sha`` and deploy it; on failure put the old config back."""
        await asyncio.to_thread(self.seeding.check_deployable, name, sha)
        previous = await asyncio.to_thread(self.seeding.move_main, name, sha)
        lifecycle = self.lifecycle
        agent = self.store.agent_or_none(name)
        desired = agent.desired if agent is not None and agent.uid_base is not None else None
        has_container = desired in (Desired.RUNNING, Desired.STOPPED)
        try:
            if has_container:
                await lifecycle.rebuild(name)  # a stopped agent takes it and stays stopped
            else:
                await lifecycle.spawn(name)
            if desired is not Desired.STOPPED:
                await lifecycle.settle(name)
        except HiveError:
            await asyncio.to_thread(self.seeding.move_main, name, previous)
            if has_container:
                await lifecycle.rebuild(name)
            raise

    async def _tag(self, record: ApprovalRecord, step: str, message: str | None = None) -> None:
        if record.kind is not Kind.APPLY_COMMIT or record.sha is None:
            return
        applied = self.seeding.applied_repo(record.agent)
        if applied.exists():
            await asyncio.to_thread(applied.tag, f"{step}/{record.id}", record.sha, message)
