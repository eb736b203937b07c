"""The approval flow on the in-memory backend: what the manager asks, the operator decides,
and what the lifecycle then did (real store, real git, real config repos)."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Callable

import pytest

from hive_c0re.broker.approvals import ApprovalBook, Kind, Status
from hive_c0re.broker.store import Desired
from hive_c0re.errors import InvalidInput, NotFound
from hive_c0re.lifecycle.approvals import STATE_DIR_MISSING, Approvals
from hive_c0re.lifecycle.gitrepo import ConfigRepo
from hive_c0re.lifecycle.nixos_seed import AGENT_NIX, FLAKE_LOCK, FLAKE_NIX
from hive_c0re.lifecycle.proposed import CONFIG_FILE
from tests.unit.hive_c0re.lifecycle_support import Bench


@pytest.fixture
def approvals(bench: Bench) -> Approvals:
    return Approvals(ApprovalBook(bench.store), bench.mail, bench.lifecycle)


def propose(bench: Bench, name: str, text: str) -> str:
    """Commit ``text`` as ``agent.toml`` in ``name``'s proposed repo, as the manager would."""
    repo = bench.paths.proposed_repo(name)
    (repo / CONFIG_FILE).write_text(text)
    git = ["git", "-C", str(repo), "-c", "user.name=manager", "-c", "user.email=m@hive"]
    subprocess.run([*git, "commit", "-qam", "a proposal"], check=True)
    done = subprocess.run([*git, "rev-parse", "HEAD"], check=True, capture_output=True,
                          text=True)
    return done.stdout.strip()


def resolved(bench: Bench) -> list[dict[str, object]]:
    return [data for kind, _, data in bench.mail.events if kind == "approval_resolved"]


def test_an_approved_spawn_spawns_the_agent(bench: Bench, approvals: Approvals) -> None:
    record = approvals.request_spawn("alice", "a helper")
    assert [r.id for r in approvals.pending()] == [record.id]

    done = asyncio.run(approvals.approve(record.id))

    assert done.status is Status.DEPLOYED
    assert bench.store.agent("alice").desired is Desired.RUNNING
    assert bench.backend.is_active("alice")
    assert approvals.pending() == []
    assert resolved(bench)[0]["status"] == "deployed"


def test_a_denied_spawn_touches_nothing(bench: Bench, approvals: Approvals) -> None:
    record = approvals.request_spawn("alice", None)

    done = asyncio.run(approvals.deny(record.id, "not now"))

    assert (done.status, done.note) == (Status.DENIED, "not now")
    assert bench.backend.calls == []
    assert bench.store.agent_or_none("alice") is None
    assert resolved(bench)[0]["note"] == "not now"
    with pytest.raises(InvalidInput, match="not pending"):
        asyncio.run(approvals.approve(record.id))


def test_an_approved_init_config_hands_the_manager_a_repo(bench: Bench,
                                                         approvals: Approvals) -> None:
    record = approvals.request_init_config("alice", None)

    done = asyncio.run(approvals.approve(record.id))

    assert done.status is Status.DEPLOYED
    assert (bench.paths.proposed_repo("alice") / CONFIG_FILE).is_file()
    assert bench.backend.calls == []  # a config repo, no container yet
    assert ("config_ready", "alice", {"path": "/agents/alice"}) in bench.mail.events
    with pytest.raises(InvalidInput, match="already has a proposed config repo"):
        approvals.request_init_config("alice", None)


def test_an_init_config_where_something_sits_fails_and_leaves_it(bench: Bench,
                                                                approvals: Approvals) -> None:
    record = approvals.request_init_config("alice", None)
    bench.paths.proposed_root.mkdir(parents=True)
    planted = bench.paths.proposed_repo("alice")
    planted.write_text("the manager's")

    done = asyncio.run(approvals.approve(record.id))

    assert done.status is Status.FAILED
    assert "already sits" in (done.note or "")
    assert planted.read_text() == "the manager's"


def initialised(bench: Bench, approvals: Approvals, name: str) -> None:
    asyncio.run(approvals.approve(approvals.request_init_config(name, None).id))


def test_an_approved_commit_spawns_on_it_and_tags_each_step(bench: Bench,
                                                            approvals: Approvals) -> None:
    initialised(bench, approvals, "alice")
    text = (bench.paths.proposed_repo("alice") / CONFIG_FILE).read_text()
    sha = propose(bench, "alice", text.replace('tasks_max = 512', 'tasks_max = 99'))

    record = asyncio.run(approvals.request_apply_commit("alice", sha, "fewer tasks"))
    assert (record.kind, record.sha) == (Kind.APPLY_COMMIT, sha)
    done = asyncio.run(approvals.approve(record.id))

    assert done.status is Status.DEPLOYED
    applied = bench.applied("alice")
    assert applied.head() == sha
    assert {f"{step}/{record.id}" for step in ("proposal", "approved", "building",
                                               "deployed")} <= set(applied.tags())
    assert bench.backend.installed["alice"].resources.tasks_max == 99
    assert bench.backend.is_active("alice")


def test_a_commit_that_fails_to_deploy_puts_the_old_config_back(bench: Bench,
                                                               approvals: Approvals) -> None:
    initialised(bench, approvals, "alice")
    asyncio.run(bench.lifecycle.spawn("alice"))
    before = bench.applied("alice").head()
    text = (bench.paths.proposed_repo("alice") / CONFIG_FILE).read_text()
    sha = propose(bench, "alice", text.replace('tasks_max = 512', 'tasks_max = 99'))
    record = asyncio.run(approvals.request_apply_commit("alice", sha, None))
    bench.backend.failing.add("alice")
    bench.backend.calls.clear()

    done = asyncio.run(approvals.approve(record.id))

    assert done.status is Status.FAILED
    assert "did not stay up" in (done.note or "")
    assert bench.applied("alice").head() == before
    assert f"failed/{record.id}" in bench.applied("alice").tags()
    # Rebuilt on the proposal, then rebuilt again on the config that was there.
    assert bench.backend.calls == [("install", "alice"), ("restart", "alice")] * 2
    assert bench.backend.installed["alice"].resources.tasks_max == 512


def test_a_commit_with_a_broken_agent_toml_is_refused_when_asked(bench: Bench,
                                                                approvals: Approvals) -> None:
    initialised(bench, approvals, "alice")
    sha = propose(bench, "alice", "model = [\n")

    with pytest.raises(InvalidInput, match="not valid TOML"):
        asyncio.run(approvals.request_apply_commit("alice", sha, None))
    assert approvals.pending() == []


def test_a_commit_of_an_agent_without_a_proposed_repo_is_not_found(approvals: Approvals) -> None:
    with pytest.raises(NotFound, match="no proposed config repo"):
        asyncio.run(approvals.request_apply_commit("alice", "a" * 40, None))


def test_a_pending_commit_whose_state_vanished_fails_on_listing(bench: Bench,
                                                               approvals: Approvals) -> None:
    initialised(bench, approvals, "alice")
    text = (bench.paths.proposed_repo("alice") / CONFIG_FILE).read_text()
    sha = propose(bench, "alice", text + "\n")
    record = asyncio.run(approvals.request_apply_commit("alice", sha, None))
    bench.lifecycle.seeding.purge("alice")

    assert approvals.pending() == []
    assert approvals.book.get(record.id).note == STATE_DIR_MISSING
    assert resolved(bench)[-1]["status"] == "failed"


# The flake root builds is the hive's: a path input copies any file root can read into
# the store, and a lock would pin the host's hyperhive for good.
LOOT = 'inputs.loot = { url = "path:/root/secret"; flake = false; };\n'


def propose_files(bench: Bench, name: str, files: dict[str, str]) -> str:
    """Commit ``files`` (new or changed) in ``name``'s proposed repo, as the manager would."""
    repo = bench.paths.proposed_repo(name)
    for path, text in files.items():
        (repo / path).write_text(text)
    git = ["git", "-C", str(repo), "-c", "user.name=manager", "-c", "user.email=m@hive"]
    subprocess.run([*git, "add", "--", *files], check=True)
    subprocess.run([*git, "commit", "-qm", "a proposal"], check=True)
    done = subprocess.run([*git, "rev-parse", "HEAD"], check=True, capture_output=True,
                          text=True)
    return done.stdout.strip()


def with_loot(bench: Bench, name: str) -> dict[str, str]:
    flake = (bench.paths.proposed_repo(name) / FLAKE_NIX).read_text()
    stolen = flake.replace("{\n", "{\n  " + LOOT, 1)
    assert stolen != flake
    return {FLAKE_NIX: stolen}


@pytest.mark.parametrize(("files", "refusal"), [
    (with_loot, "changes flake.nix, which is the hive's own"),
    (lambda bench, name: {FLAKE_LOCK: '{"nodes": {}, "root": "root", "version": 7}\n'},
     "adds flake.lock"),
])
def test_a_commit_that_touches_the_flake_is_refused_when_asked(
        bench: Bench, approvals: Approvals,
        files: Callable[[Bench, str], dict[str, str]], refusal: str) -> None:
    initialised(bench, approvals, "alice")
    before = bench.applied("alice").head()
    sha = propose_files(bench, "alice", files(bench, "alice"))

    with pytest.raises(InvalidInput, match=refusal) as refused:
        asyncio.run(approvals.request_apply_commit("alice", sha, "a new input"))

    assert refused.value.hint
    assert approvals.pending() == []
    assert bench.applied("alice").head() == before
    assert bench.backend.calls == []


def test_a_flake_change_pinned_before_the_check_fails_at_deploy(bench: Bench,
                                                                approvals: Approvals) -> None:
    """A request queued by an older hive (no check when it was asked) is checked again."""
    initialised(bench, approvals, "alice")
    before = bench.applied("alice").head()
    sha = propose_files(bench, "alice", with_loot(bench, "alice"))
    applied = bench.applied("alice")
    bench.lifecycle.seeding.proposed.fetch("alice", applied, sha)
    approval_id = approvals.book.create("alice", Kind.APPLY_COMMIT, sha, None)
    applied.tag(f"proposal/{approval_id}", sha)

    done = asyncio.run(approvals.approve(approval_id))

    assert done.status is Status.FAILED
    assert "changes flake.nix" in (done.note or "")
    assert bench.applied("alice").head() == before
    assert bench.backend.calls == []  # nothing was built from it
    assert f"failed/{approval_id}" in applied.tags()


def test_a_commit_that_changes_agent_nix_is_deployed(bench: Bench,
                                                     approvals: Approvals) -> None:
    initialised(bench, approvals, "alice")
    agent_nix = (bench.paths.proposed_repo("alice") / AGENT_NIX).read_text()
    sha = propose_files(bench, "alice", {AGENT_NIX: agent_nix.replace(
        "# services.hive-harness.packages = [ pkgs.ripgrep ];",
        "services.hive-harness.packages = [ pkgs.ripgrep ];")})

    record = asyncio.run(approvals.request_apply_commit("alice", sha, "ripgrep"))
    done = asyncio.run(approvals.approve(record.id))

    assert done.status is Status.DEPLOYED
    assert bench.applied("alice").head() == sha


def test_a_flake_nix_an_older_hive_seeded_is_still_taken(bench: Bench,
                                                         approvals: Approvals) -> None:
    """After an upgrade that changed the seed, a repo seeded before keeps its flake.nix."""
    initialised(bench, approvals, "alice")
    proposed = bench.paths.proposed_repo("alice")
    older = (proposed / FLAKE_NIX).read_text().replace("# flake.nix:", "# flake.nix (older):")
    assert older != (proposed / FLAKE_NIX).read_text()
    ConfigRepo(bench.paths.seed_repos / ("0" * 16)).init(
        {FLAKE_NIX: older, AGENT_NIX: (proposed / AGENT_NIX).read_text()}, "seed config")
    sha = propose_files(bench, "alice", {FLAKE_NIX: older})

    record = asyncio.run(approvals.request_apply_commit("alice", sha, None))
    done = asyncio.run(approvals.approve(record.id))

    assert done.status is Status.DEPLOYED
    assert bench.applied("alice").head() == sha
