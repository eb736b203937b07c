"""What the store hands out: messages as their recipient sees them, agents, counts."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


@dataclass(frozen=True)
class Delivery:
    """One message as its recipient sees it."""

    id: int
    sender: str
    recipient: str
    body: str
    in_reply_to: int | None
    sent_at: float
    redelivered: bool

    def as_wire(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "from": self.sender,
            "to": self.recipient,
            "body": self.body,
            "in_reply_to": self.in_reply_to,
            "sent_at": self.sent_at,
            "redelivered": self.redelivered,
        }


class Desired(StrEnum):
    """What the operator (or an approved request) wants an agent's container to be."""

    NONE = "none"  # a plain mailbox: registered, no container
    RUNNING = "running"
    STOPPED = "stopped"
    DESTROYED = "destroyed"  # container gone, state kept: spawn revives it


@dataclass(frozen=True)
class AgentRecord:
    name: str
    allowed_recipients: tuple[str, ...]
    registered_at: float
    uid_base: int | None = None
    desired: Desired = Desired.NONE
    paused: bool = False  # the operator's mark: its harness leases no mail while set
    deployed_sha: str | None = None  # the applied config commit its container was given


@dataclass(frozen=True)
class MailboxCounts:
    unread: int
    in_flight: int
