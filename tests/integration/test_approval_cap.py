"""A real daemon bounds the requests the manager may leave pending for one agent.

Each pending apply_commit costs the dashboard a diff to read and highlight on
every render; past ``max_pending_approvals`` for an agent, the manager's
request_spawn, request_init_config and request_apply_commit are refused with
a message that says what to do, until the operator decides one.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hive_c0re.errors import InvalidInput
from hive_dev.daemon import DaemonProcess, running_daemon

CAP = 2


@pytest.fixture
def daemon() -> Iterator[DaemonProcess]:
    with running_daemon(max_pending_approvals=str(CAP)) as running:
        yield running


def manager(daemon: DaemonProcess, verb: str, **args: Any) -> dict[str, Any]:
    return daemon.call_as_manager(verb, **args)


def operator(daemon: DaemonProcess, verb: str, **args: Any) -> dict[str, Any]:
    return daemon.call_as_operator(verb, **args)


def commit(repo: Path, line: str) -> str:
    """A commit in the proposed repo, made as the manager makes it (plain git)."""
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(repo), "-c", "safe.directory=*",
                               "-c", "user.name=manager", "-c", "user.email=m@hive", *args],
                              capture_output=True, text=True, check=True).stdout.strip()
    toml = repo / "agent.toml"
    toml.write_text(f"{toml.read_text()}# {line}\n")
    git("commit", "-qam", line)
    return git("rev-parse", "HEAD")


def test_spawn_and_init_config_past_the_cap_are_refused_until_one_is_decided(
        daemon: DaemonProcess) -> None:
    first = [manager(daemon, "request_spawn", name="bob")["approval"] for _ in range(CAP)]
    for verb in ("request_spawn", "request_init_config"):
        with pytest.raises(InvalidInput, match="max_pending_approvals") as refused:
            manager(daemon, verb, name="bob")
        assert f"bob has {CAP} requests waiting" in refused.value.message
        assert refused.value.hint and "approval_resolved" in refused.value.hint
    assert manager(daemon, "request_spawn", name="carol")["approval"]["status"] == "pending"
    operator(daemon, "deny", id=first[0]["id"], note="no")
    assert manager(daemon, "request_init_config", name="bob")["approval"]["status"] == "pending"
    mine = [a for a in operator(daemon, "pending")["approvals"] if a["agent"] == "bob"]
    assert len(mine) == CAP


def test_apply_commit_past_the_cap_is_refused_and_pins_nothing(daemon: DaemonProcess) -> None:
    seed = manager(daemon, "request_init_config", name="alice")["approval"]
    assert operator(daemon, "approve", id=seed["id"])["approval"]["status"] == "deployed"
    repo = daemon.root / "state" / "proposed-disk" / "repos" / "alice"
    for n in range(CAP):
        asked = manager(daemon, "request_apply_commit", agent="alice", sha=commit(repo, f"c{n}"))
        assert asked["approval"]["status"] == "pending"
    extra = commit(repo, "one too many")
    with pytest.raises(InvalidInput, match="alice has 2 requests waiting"):
        manager(daemon, "request_apply_commit", agent="alice", sha=extra)
    every = operator(daemon, "approvals")["approvals"]
    assert extra not in {a.get("sha") for a in every}
