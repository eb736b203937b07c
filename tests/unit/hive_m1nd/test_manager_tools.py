"""The manager's commit resolution, on a real git repo."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from hive_c0re.errors import InvalidInput
from hive_m1nd.tools import resolve_commit


@pytest.fixture
def agents(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    repo = tmp_path / "alice"
    repo.mkdir()
    git = ["git", "-C", str(repo), "-c", "user.name=m", "-c", "user.email=m@hive"]
    subprocess.run([*git, "init", "-q", "-b", "main"], check=True)
    (repo / "agent.toml").write_text('model = "haiku"\n')
    subprocess.run([*git, "add", "agent.toml"], check=True)
    subprocess.run([*git, "commit", "-qm", "seed"], check=True)
    monkeypatch.setenv("HYPERHIVE_AGENTS_DIR", str(tmp_path))
    return tmp_path


def head(agents: Path) -> str:
    return subprocess.run(["git", "-C", str(agents / "alice"), "rev-parse", "HEAD"],
                          capture_output=True, text=True, check=True).stdout.strip()


def test_head_and_short_shas_resolve_to_the_full_sha(agents: Path) -> None:
    full = head(agents)
    for ref in ("HEAD", full[:7], full):
        assert resolve_commit({"agent": "alice", "sha": ref})["sha"] == full


@pytest.mark.parametrize("ref", ["main", "--output=/tmp/x", "HEAD~1;rm", "../x", "", "abc"])
def test_anything_else_is_refused_before_git(agents: Path, ref: str) -> None:
    with pytest.raises(InvalidInput):
        resolve_commit({"agent": "alice", "sha": ref})


def test_unknown_commit_and_hostile_agent_are_refused(agents: Path) -> None:
    with pytest.raises(InvalidInput, match="not a commit in alice"):
        resolve_commit({"agent": "alice", "sha": "deadbeef"})
    with pytest.raises(InvalidInput):
        resolve_commit({"agent": "../alice", "sha": "HEAD"})

