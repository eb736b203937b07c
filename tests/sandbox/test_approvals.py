"""The approval flow with real git repos, real containers and the real systemd."""

from __future__ import annotations

import json
import os
import shutil

import pytest

from hive_c0re.errors import HiveError, InvalidInput, NotFound
from hive_dev.sandbox import Sandbox, SandboxHive, containers_hive, in_container
from tests.sandbox.approval_support import (
    applied_dir,
    deploy,
    git,
    manager,
    propose,
    proposed_dir,
    state_dir,
)


def tags(hive: SandboxHive, agent: str) -> dict[str, str]:
    listing = git(applied_dir(hive, agent), "tag", "--format=%(refname:short) %(*objectname)"
                  "%(objectname)")
    found = {}
    for line in listing.splitlines():
        name, target = line.split(" ", 1)
        found[name] = target[:40]
    return found


GOOD = """model = "sonnet"
[resources]
memory_max = "512M"
tasks_max = 256
[cli]
idle_release_seconds = 60
"""
BROKEN_AT_BUILD = """model = "sonnet"
[resources]
tasks_max = 64
[mcp_servers.notes]
command = "/usr/bin/hyperhive-no-such-server"
"""


def test_good_commit_deploys_bad_one_fails_and_rolls_back(container_hive: SandboxHive) -> None:
    hive = container_hive
    hive.call("spawn", name="alice")
    before = git(applied_dir(hive, "alice"), "rev-parse", "main")

    good = propose(hive, "alice", GOOD, "alice gets sonnet and limits")
    asked = manager(hive, "request_apply_commit", agent="alice", sha=good,
                    description="a bigger model")["approval"]
    assert asked["status"] == "pending" and asked["sha"] == good
    assert [a["id"] for a in hive.call("pending")["approvals"]] == [asked["id"]]
    assert tags(hive, "alice") == {f"proposal/{asked['id']}": good}
    assert git(applied_dir(hive, "alice"), "rev-parse", "main") == before

    done = hive.call("approve", id=asked["id"])["approval"]
    assert done["status"] == "deployed", done
    assert git(applied_dir(hive, "alice"), "rev-parse", "main") == good
    assert {f"{step}/{asked['id']}" for step in ("proposal", "approved", "building",
                                                 "deployed")} <= set(tags(hive, "alice"))
    unit = "hive-agent@alice.service"
    assert hive.sandbox.show(unit, "TasksMax") == "256"
    assert hive.sandbox.show(unit, "MemoryMax") == str(512 * 1024 * 1024)
    policy = in_container(hive, "alice", "print(open('/etc/hive/policy.json').read())")
    handed = json.loads(policy.stdout)
    assert (handed["model"], handed["cli_idle_release_seconds"], handed["cli_max_rss_mib"]) == (
        "sonnet", 60, None)

    bad = propose(hive, "alice", BROKEN_AT_BUILD, "an MCP server that is not installed")
    failing = manager(hive, "request_apply_commit", agent="alice", sha=bad)["approval"]
    failed = hive.call("approve", id=failing["id"])["approval"]
    assert failed["status"] == "failed", failed
    assert "hyperhive-no-such-server" in failed["note"]
    assert git(applied_dir(hive, "alice"), "rev-parse", "main") == good
    assert hive.sandbox.show(unit, "ActiveState") == "active"
    assert hive.sandbox.show(unit, "TasksMax") == "256"
    failed_tag = f"failed/{failing['id']}"
    assert tags(hive, "alice")[failed_tag] == bad
    assert git(applied_dir(hive, "alice"), "tag", "-l", "--format=%(contents)", failed_tag)
    assert f"deployed/{failing['id']}" not in tags(hive, "alice")


def test_invalid_config_is_refused_at_request_time(container_hive: SandboxHive) -> None:
    hive = container_hive
    hive.call("spawn", name="alice")
    bad = propose(hive, "alice", 'model = "gpt-4"\n', "not an allowed model")
    with pytest.raises(InvalidInput, match=r"agent\.toml: model"):
        manager(hive, "request_apply_commit", agent="alice", sha=bad)
    typo = propose(hive, "alice", 'modle = "haiku"\n', "typo")
    with pytest.raises(InvalidInput, match="did you mean model"):
        manager(hive, "request_apply_commit", agent="alice", sha=typo)
    assert hive.call("approvals")["approvals"] == []
    assert tags(hive, "alice") == {}


def test_deny_records_the_note_in_row_and_tag(container_hive: SandboxHive) -> None:
    hive = container_hive
    hive.call("spawn", name="alice")
    sha = propose(hive, "alice", 'model = "opus"\n', "the biggest model")
    asked = manager(hive, "request_apply_commit", agent="alice", sha=sha)["approval"]
    denied = hive.call("deny", id=asked["id"], note="too costly for a note taker")["approval"]
    assert denied["status"] == "denied" and denied["note"] == "too costly for a note taker"
    message = git(applied_dir(hive, "alice"), "tag", "-l", "--format=%(contents)",
                  f"denied/{asked['id']}")
    assert "too costly for a note taker" in message
    with pytest.raises(InvalidInput, match="denied"):
        hive.call("approve", id=asked["id"])
    statuses = [step["status"] for step in hive.call("approvals")["approvals"]]
    assert statuses == ["denied"]


def test_hostile_names_and_refs_are_refused(container_hive: SandboxHive) -> None:
    hive = container_hive
    hive.call("spawn", name="alice")
    head = git(proposed_dir(hive, "alice"), "rev-parse", "HEAD")
    for sha in ("main", "HEAD", "../x", "a;b", "--flag", head[:12], "0" * 40):
        with pytest.raises(HiveError):
            manager(hive, "request_apply_commit", agent="alice", sha=sha)
    for name in ("../x", "a;b", "--flag", "operator"):
        with pytest.raises(InvalidInput):
            manager(hive, "request_apply_commit", agent=name, sha=head)
    with pytest.raises(NotFound):
        hive.call("approve", id=999)
    assert hive.call("approvals")["approvals"] == []
    assert not (applied_dir(hive, "alice").parent / "x").exists()


def test_no_agent_may_request_and_the_operator_may_only_queue_a_spawn(
        container_hive: SandboxHive) -> None:
    hive = container_hive
    hive.call("register", name="bob")
    with hive.client(hive.agent_socket("bob")) as bob, pytest.raises(InvalidInput,
                                                                     match="unknown verb"):
        bob.call("request_spawn", name="eve")
    # The operator may queue a spawn too (the original's request_spawn); the rest are the
    # manager's alone.
    assert hive.call("request_spawn", name="eve")["approval"]["status"] == "pending"
    with pytest.raises(InvalidInput, match="unknown verb"):
        hive.call("request_init_config", name="eve")


def test_spawn_request_and_vanished_state(container_hive: SandboxHive) -> None:
    hive = container_hive
    hive.call("whoami")  # the first operator call starts the daemon, which opens the rest
    asked = manager(hive, "request_spawn", name="carol", description="a tester")["approval"]
    assert hive.call("approve", id=asked["id"])["approval"]["status"] == "deployed"
    assert hive.sandbox.show("hive-agent@carol.service", "ActiveState") == "active"

    sha = propose(hive, "carol", 'model = "sonnet"\n', "sonnet")
    orphan = manager(hive, "request_apply_commit", agent="carol", sha=sha)["approval"]
    shutil.rmtree(state_dir(hive, "carol"))
    assert hive.call("pending")["approvals"] == []
    (row,) = [a for a in hive.call("approvals")["approvals"] if a["id"] == orphan["id"]]
    assert row["status"] == "failed" and row["note"] == "agent state dir missing"


def test_operator_cli_lists_approves_and_denies(container_hive: SandboxHive) -> None:
    hive = container_hive
    hive.call("spawn", name="alice")
    first = manager(hive, "request_apply_commit", agent="alice",
                    sha=propose(hive, "alice", 'model = "sonnet"\n', "sonnet"))["approval"]
    listed = hive.cli("approvals")
    assert listed.returncode == 0 and "apply_commit" in listed.stdout, listed.stderr
    approved = hive.cli("approve", str(first["id"]))
    assert approved.returncode == 0 and "deployed" in approved.stdout, approved.stderr
    second = manager(hive, "request_apply_commit", agent="alice",
                     sha=propose(hive, "alice", 'model = "opus"\n', "opus"))["approval"]
    denied = hive.cli("deny", str(second["id"]), "--note", "not now")
    assert denied.returncode == 0 and denied.stdout.startswith(f"#{second['id']}: denied")
    assert "not now" in denied.stdout
    rows = json.loads(hive.cli("--json", "approvals", "--all").stdout)["approvals"]
    assert [(r["id"], r["status"]) for r in rows] == [(first["id"], "deployed"),
                                                      (second["id"], "denied")]
    assert "no pending requests" in hive.cli("approvals").stdout
    again = hive.cli("approve", str(second["id"]))
    assert again.returncode == 4 and "denied, not pending" in again.stderr



def test_a_proposal_over_the_size_bound_is_refused_and_applied_stays_clean(
        sandbox: Sandbox) -> None:
    hive = containers_hive(sandbox, HYPERHIVE_PROPOSAL_MAX_BYTES="65536")
    hive.call("spawn", name="alice")
    applied = applied_dir(hive, "alice")
    before = git(applied, "cat-file", "--batch-all-objects", "--batch-check=%(objectname)")
    repo = proposed_dir(hive, "alice")
    (repo / "big").write_bytes(os.urandom(100_000))
    git(repo, "add", "big")
    big = propose(hive, "alice", GOOD, "sonnet, and a big file")
    with pytest.raises(InvalidInput, match="more than 65536 bytes") as caught:
        manager(hive, "request_apply_commit", agent="alice", sha=big)
    assert caught.value.hint and "proposal_max_bytes" in caught.value.hint
    assert git(applied, "cat-file", "--batch-all-objects",
               "--batch-check=%(objectname)") == before
    assert hive.call("approvals")["approvals"] == [] and tags(hive, "alice") == {}
    # Once the big file is gone for good, the same change goes through.
    git(repo, "reset", "-q", "--hard", "main~1")
    git(repo, "reflog", "expire", "--expire=now", "--all")
    git(repo, "gc", "-q", "--prune=now")
    deploy(hive, "alice", GOOD, "sonnet")
