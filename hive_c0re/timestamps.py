"""Times as the wire, the CLI's JSON and the original hyperhive's clients read them:
RFC 3339 in UTC. Shared by the host and the container side (it imports nothing else)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal


def rfc3339(seconds: float | None,
            timespec: Literal["seconds", "milliseconds"] = "seconds") -> str | None:
    """``2026-12-02T01:06:09Z`` for seconds since the epoch; None stays None."""
    if seconds is None:
        return None
    moment = datetime.fromtimestamp(seconds, UTC)
    return moment.isoformat(timespec=timespec).replace("+00:00", "Z")
