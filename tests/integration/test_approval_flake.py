"""A real daemon refuses a proposed commit that touches the flake root builds.

The manager writes the proposed repos; the nixos backend builds an agent's
applied flake as root, and a flake's inputs are fetched before anything is
evaluated. So a commit whose flake.nix names an input of its own (here a
``path:`` input that would copy a root-only file into the store) or that
carries a flake.lock is refused when the manager asks, with a message the
manager can act on, and nothing is pinned for the operator.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hive_c0re.errors import InvalidInput
from hive_dev.daemon import DaemonProcess, running_daemon

LOOT = '  inputs.loot = { url = "path:/root/secret"; flake = false; };\n'


@pytest.fixture
def daemon() -> Iterator[DaemonProcess]:
    with running_daemon() as running:
        yield running


def manager(daemon: DaemonProcess, verb: str, **args: Any) -> dict[str, Any]:
    return daemon.call_as_manager(verb, **args)


def operator(daemon: DaemonProcess, verb: str, **args: Any) -> dict[str, Any]:
    return daemon.call_as_operator(verb, **args)


def commit(repo: Path, files: dict[str, str]) -> str:
    """A commit of ``files`` in the proposed repo, made as the manager makes it."""
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(repo), "-c", "safe.directory=*",
                               "-c", "user.name=manager", "-c", "user.email=m@hive", *args],
                              capture_output=True, text=True, check=True).stdout.strip()
    for name, text in files.items():
        (repo / name).write_text(text)
    git("add", "--", *files)
    git("commit", "-qm", "a proposal")
    return git("rev-parse", "HEAD")


def test_a_flake_input_or_lock_is_refused_and_pins_nothing(daemon: DaemonProcess) -> None:
    seed = manager(daemon, "request_init_config", name="alice")["approval"]
    assert operator(daemon, "approve", id=seed["id"])["approval"]["status"] == "deployed"
    repo = daemon.root / "state" / "proposed-disk" / "repos" / "alice"
    flake = (repo / "flake.nix").read_text()

    stolen = commit(repo, {"flake.nix": flake.replace("{\n", "{\n" + LOOT, 1)})
    with pytest.raises(InvalidInput, match=r"changes flake\.nix") as refused:
        manager(daemon, "request_apply_commit", agent="alice", sha=stolen)
    assert "hive's own" in refused.value.message
    assert refused.value.hint and "agent.nix" in refused.value.hint

    locked = commit(repo, {"flake.nix": flake, "flake.lock": '{"version": 7}\n'})
    with pytest.raises(InvalidInput, match=r"adds flake\.lock") as refused:
        manager(daemon, "request_apply_commit", agent="alice", sha=locked)
    assert refused.value.hint == "git rm flake.lock"

    every = operator(daemon, "approvals")["approvals"]
    assert {stolen, locked}.isdisjoint(a.get("sha") for a in every)
    # The daemon is still there, and a commit that keeps the hive's files is taken.
    subprocess.run(["git", "-C", str(repo), "-c", "safe.directory=*", "rm", "-q", "flake.lock"],
                   check=True)
    fine = commit(repo, {"agent.toml": (repo / "agent.toml").read_text() + "# fine\n"})
    asked = manager(daemon, "request_apply_commit", agent="alice", sha=fine)
    assert asked["approval"]["status"] == "pending"
