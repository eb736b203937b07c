"""An approval as the operator decides it: the pinned commit's diff, and the check that the
commit approved is the one that was shown.

git runs only in the agent's applied repo (the daemon's own, no container
writes it), where the request pinned its commit as ``proposal/<id>``: what the
manager commits to its proposed repo afterwards never changes what is shown.
"""

from __future__ import annotations

import asyncio
from typing import Any

from hive_c0re import wire, wire_dashboard
from hive_c0re.broker.approvals import ApprovalRecord, Kind
from hive_c0re.broker.store import Desired
from hive_c0re.daemon.hive import Hive
from hive_c0re.errors import InvalidInput
from hive_c0re.lifecycle.gitrepo import ConfigRepo, validate_sha
from hive_c0re.names import validate_agent_name


def _pinned(hive: Hive, approval_id: int) -> tuple[ApprovalRecord, str]:
    record = hive.containers.approvals.book.get(approval_id)  # raises NotFound
    if record.kind is not Kind.APPLY_COMMIT or record.sha is None:
        raise InvalidInput(f"approval #{approval_id} is a {record.kind} request: it pins no "
                           "commit", hint="only apply_commit requests carry a diff and a sha")
    return record, record.sha


def check_shown_sha(hive: Hive, approval_id: int, shown: object) -> None:
    """Raise InvalidInput unless ``shown`` is the commit approval ``approval_id`` pinned."""
    sha = validate_sha(shown)
    _record, pinned = _pinned(hive, approval_id)
    if sha != pinned:
        raise InvalidInput(f"approval #{approval_id} pins {pinned[:12]}, not {sha[:12]}; "
                           "nothing was approved",
                           hint="look at its diff again (approval_diff) before approving")


def deployed_sha(hive: Hive, name: str) -> str | None:
    """The applied commit the agent's container runs; None while it has no container."""
    agent = hive.store.agent_or_none(name)
    if agent is None or agent.desired not in (Desired.RUNNING, Desired.STOPPED):
        return None
    return agent.deployed_sha


def _cut(diff: str) -> tuple[str, bool]:
    """``diff`` within :data:`wire_dashboard.MAX_DIFF` characters, cut at a line's end."""
    if len(diff) <= wire_dashboard.MAX_DIFF:
        return diff, False
    return diff[:diff.rfind("\n", 0, wire_dashboard.MAX_DIFF) + 1], True


async def approval_diff(hive: Hive, approval_id: int) -> dict[str, Any]:
    record, sha = _pinned(hive, approval_id)
    name = validate_agent_name(record.agent)
    base = deployed_sha(hive, name)
    repo = ConfigRepo(hive.paths.applied_repo(name))
    diff, truncated = _cut(await asyncio.to_thread(repo.diff, base, sha))
    return wire.ok(approval=record.as_wire(), base=base, sha=sha, diff=diff,
                   truncated=truncated)
