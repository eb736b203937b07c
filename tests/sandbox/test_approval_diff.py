"""approval_diff and approve with the sha shown: real git repos, real containers, real systemd."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from hive_c0re.cli import cli
from hive_c0re.errors import InvalidInput, NotFound
from hive_dev.sandbox import SandboxHive
from tests.sandbox.approval_support import applied_dir, git, manager, propose

SONNET = 'model = "sonnet"\n'
LATER = 'model = "sonnet"\n# <script>alert(1)</script> committed after the request\n'


def test_the_diff_is_the_pinned_commits_and_a_stale_sha_deploys_nothing(
        container_hive: SandboxHive) -> None:
    hive = container_hive
    hive.call("spawn", name="alice")
    deployed = git(applied_dir(hive, "alice"), "rev-parse", "main")
    pinned = propose(hive, "alice", SONNET, "alice gets sonnet")
    asked = manager(hive, "request_apply_commit", agent="alice", sha=pinned)["approval"]
    # The manager goes on committing after it asked: the request still shows its own commit.
    later = propose(hive, "alice", LATER, "something else")
    shown = hive.call("approval_diff", id=asked["id"])
    assert shown["sha"] == pinned and shown["base"] == deployed
    assert shown["approval"]["id"] == asked["id"] and shown["truncated"] is False
    assert shown["diff"].startswith("diff --git a/agent.toml b/agent.toml\n")
    assert '+model = "sonnet"' in shown["diff"]
    assert "<script>" not in shown["diff"] and "\x1b[" not in shown["diff"]

    with pytest.raises(InvalidInput, match="pins"):
        hive.call("approve", id=asked["id"], sha=later)
    with pytest.raises(InvalidInput, match="not a full commit sha"):
        hive.call("approve", id=asked["id"], sha=pinned[:12])
    # Nothing was deployed, and the request still waits.
    assert git(applied_dir(hive, "alice"), "rev-parse", "main") == deployed
    assert [a["id"] for a in hive.call("pending")["approvals"]] == [asked["id"]]
    assert not git(applied_dir(hive, "alice"), "tag", "-l", f"approved/{asked['id']}")

    done = hive.call("approve", id=asked["id"], sha=pinned)["approval"]
    assert done["status"] == "deployed", done
    assert git(applied_dir(hive, "alice"), "rev-parse", "main") == pinned
    after = hive.call("approval_diff", id=asked["id"])
    assert after["base"] == pinned and after["diff"] == ""


def test_a_new_agents_diff_is_against_the_empty_tree(container_hive: SandboxHive) -> None:
    hive = container_hive
    hive.call("whoami")  # the first operator call starts the daemon, which opens the rest
    seeded = manager(hive, "request_init_config", name="dora")["approval"]
    assert hive.call("approve", id=seeded["id"])["approval"]["status"] == "deployed"
    sha = propose(hive, "dora", SONNET, "dora's first config")
    asked = manager(hive, "request_apply_commit", agent="dora", sha=sha)["approval"]
    shown = hive.call("approval_diff", id=asked["id"])
    assert shown["base"] is None and shown["sha"] == sha
    assert "new file mode" in shown["diff"] and '+model = "sonnet"' in shown["diff"]


def test_requests_without_a_commit_and_unknown_ones_are_clear_errors(
        container_hive: SandboxHive) -> None:
    hive = container_hive
    spawn = hive.call("request_spawn", name="eve")["approval"]
    with pytest.raises(InvalidInput, match="spawn request: it pins no commit"):
        hive.call("approval_diff", id=spawn["id"])
    with pytest.raises(InvalidInput, match="pins no commit"):
        hive.call("approve", id=spawn["id"], sha="0" * 40)
    assert hive.call("pending")["approvals"][0]["status"] == "pending"
    with pytest.raises(NotFound):
        hive.call("approval_diff", id=999)
    with pytest.raises(InvalidInput, match="id"):
        hive.call("approval_diff", id=0)


def test_the_cli_approves_only_the_sha_it_was_given(container_hive: SandboxHive) -> None:
    hive = container_hive
    hive.call("spawn", name="alice")
    pinned = propose(hive, "alice", SONNET, "alice gets sonnet")
    asked = manager(hive, "request_apply_commit", agent="alice", sha=pinned)["approval"]
    base = ["--socket", str(hive.host_socket)]
    refused = CliRunner().invoke(cli, [*base, "approve", str(asked["id"]), "--sha", "1" * 40])
    assert refused.exit_code != 0 and "nothing was approved" in refused.output, refused.output
    done = CliRunner().invoke(cli, [*base, "approve", str(asked["id"]), "--sha", pinned])
    assert done.exit_code == 0, done.output
