"""What the manager does to a config repo, for the tests: edit, commit, ask."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from hive_dev.sandbox import SandboxHive


def state_dir(hive: SandboxHive, agent: str) -> Path:
    # StateDirectory= of a user service lives under $XDG_CONFIG_HOME.
    return Path(hive.sandbox.env["XDG_CONFIG_HOME"]) / "hyperhive" / "agents" / agent


def proposed_dir(hive: SandboxHive, agent: str) -> Path:
    top = Path(hive.sandbox.env["XDG_CONFIG_HOME"]) / "hyperhive" / "proposed-disk"
    return top / "repos" / agent


def applied_dir(hive: SandboxHive, agent: str) -> Path:
    return Path(hive.sandbox.env["XDG_CONFIG_HOME"]) / "hyperhive" / "applied" / agent


def git(repo: Path, *args: str) -> str:
    # Plays the manager: a proposed repo its model wrote is that uid's, so git's
    # ownership check is waived here (the daemon never runs git in such a repo).
    done = subprocess.run(["git", "-C", str(repo), "-c", "safe.directory=*",
                           "-c", "user.name=manager", "-c", "user.email=manager@hive", *args],
                          capture_output=True, text=True, check=True)
    return done.stdout.strip()


def sandbox_git(hive: SandboxHive, repo: Path, *args: str) -> str:
    """git in the sandbox's mount namespace: with a manager, the proposed repos are on a
    disk mounted there."""
    return hive.sandbox.run("git", "-C", str(repo), "-c", "safe.directory=*",
                            *args).stdout.strip()


def propose(hive: SandboxHive, agent: str, toml: str, message: str) -> str:
    """Do what the manager does: edit the proposed agent.toml and commit."""
    repo = proposed_dir(hive, agent)
    (repo / "agent.toml").write_text(toml)
    git(repo, "commit", "-qam", message)
    return git(repo, "rev-parse", "HEAD")


def manager(hive: SandboxHive, cmd: str, **args: Any) -> dict[str, Any]:
    with hive.client(hive.manager_socket) as client:
        return client.call(cmd, **args)


def deploy(hive: SandboxHive, agent: str, toml: str, message: str) -> dict[str, Any]:
    """The whole way of a config change: the manager proposes and asks, the operator
    approves, and it is deployed."""
    sha = propose(hive, agent, toml, message)
    asked = manager(hive, "request_apply_commit", agent=agent, sha=sha)["approval"]
    done: dict[str, Any] = hive.call("approve", id=asked["id"])["approval"]
    assert done["status"] == "deployed", done["note"]
    return done
