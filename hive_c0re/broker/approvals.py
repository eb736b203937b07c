"""Approval rows: one per request, its status moving forward, every step also an event row.

Nothing here is ever deleted: the table and the event log are the audit trail.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from hive_c0re.broker.models import Approval
from hive_c0re.broker.store import Store
from hive_c0re.errors import InvalidInput, NotFound
from hive_c0re.timestamps import rfc3339


class Kind(StrEnum):
    SPAWN = "spawn"
    INIT_CONFIG = "init_config"
    APPLY_COMMIT = "apply_commit"


class Status(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    BUILDING = "building"
    DEPLOYED = "deployed"
    FAILED = "failed"
    DENIED = "denied"


# The only moves a request can make; anything else is a bug or a race, refused.
NEXT: dict[Status, frozenset[Status]] = {
    Status.PENDING: frozenset({Status.APPROVED, Status.DENIED, Status.FAILED}),
    Status.APPROVED: frozenset({Status.BUILDING, Status.FAILED}),
    Status.BUILDING: frozenset({Status.DEPLOYED, Status.FAILED}),
}


@dataclass(frozen=True)
class ApprovalRecord:
    id: int
    agent: str
    kind: Kind
    sha: str | None
    status: Status
    note: str | None
    description: str | None
    created_at: float
    updated_at: float

    def as_wire(self) -> dict[str, Any]:
        # The original's keys first (its clients decode them: RFC 3339 times), then ours.
        resolved = None if self.status is Status.PENDING else self.updated_at
        return {"id": self.id, "agent": self.agent, "kind": str(self.kind),
                "commit_ref": self.sha, "requested_at": rfc3339(self.created_at),
                "status": str(self.status), "description": self.description, "note": self.note,
                "resolved_at": rfc3339(resolved), "sha": self.sha,
                "created_at": self.created_at, "updated_at": self.updated_at}


def _record(row: Approval) -> ApprovalRecord:
    return ApprovalRecord(id=row.id, agent=row.agent, kind=Kind(row.kind), sha=row.sha,
                          status=Status(row.status), note=row.note, description=row.description,
                          created_at=row.created_at, updated_at=row.updated_at)


class ApprovalBook:
    """The approvals table behind a narrow interface, on the daemon's store."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def create(self, agent: str, kind: Kind, sha: str | None, description: str | None) -> int:
        now = self.store.clock()
        with self.store.db.atomic():
            row_id = int(Approval.insert(agent=agent, kind=kind.value, ref=sha, sha=sha,
                                         status=Status.PENDING.value, description=description,
                                         created_at=now, updated_at=now).execute())
            self._event(row_id, agent, Status.PENDING, None)
        return row_id

    def get(self, approval_id: int) -> ApprovalRecord:
        row = Approval.get_or_none(Approval.id == approval_id)
        if row is None:
            raise NotFound(f"no approval #{approval_id}", hint="`hive-c0re approvals` lists them")
        return _record(row)

    def move(self, approval_id: int, status: Status, note: str | None = None) -> ApprovalRecord:
        """Advance one request; refuse a move its current status does not allow."""
        with self.store.db.atomic():
            current = self.get(approval_id)
            if status not in NEXT.get(current.status, frozenset()):
                raise InvalidInput(f"approval #{approval_id} is {current.status}; "
                                   f"it cannot become {status}")
            fields: dict[Any, Any] = {Approval.status: status.value,
                                      Approval.updated_at: self.store.clock()}
            if note is not None:
                fields[Approval.note] = note
            Approval.update(fields).where(Approval.id == approval_id).execute()
            self._event(approval_id, current.agent, status, note)
        return self.get(approval_id)

    def listing(self, status: Status | None = None) -> list[ApprovalRecord]:
        query = Approval.select().order_by(Approval.id)
        if status is not None:
            query = query.where(Approval.status == status.value)
        return [_record(row) for row in query]

    def _event(self, approval_id: int, agent: str, status: Status, note: str | None) -> None:
        self.store.record_event("approval", agent, id=approval_id, status=status.value,
                                note=note)
