"""The lifecycle's verbs on a real store and real git, with the in-memory backend."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from hive_c0re.broker.store import Desired
from hive_c0re.egress.upstream import DEFAULT_UPSTREAM
from hive_c0re.errors import HiveError, InvalidInput, NotFound
from hive_c0re.lifecycle.agent_config import load_agent_config
from hive_c0re.lifecycle.backend import POLICY_FILE
from hive_c0re.lifecycle.gitrepo import ConfigRepo
from hive_c0re.lifecycle.seeding import Seeding
from tests.unit.hive_c0re.lifecycle_support import Bench


@pytest.fixture
def bench(tmp_path: Path) -> Iterator[Bench]:
    bench = Bench(tmp_path)
    bench.plain_state("alice", "bob")
    yield bench
    bench.close()


def test_spawn_seeds_registers_installs_starts_and_tells(bench: Bench) -> None:
    agent = asyncio.run(bench.lifecycle.spawn("alice"))

    assert agent.desired is Desired.RUNNING
    assert agent.uid_base == bench.settings.uid_base_start
    assert bench.store.agent("alice").uid_base == agent.uid_base
    assert bench.applied("alice").exists()
    assert (bench.paths.proposed_repo("alice") / ".git").is_dir()
    assert (bench.paths.agent_policy("alice") / POLICY_FILE).is_file()
    assert bench.backend.calls == [("install", "alice"), ("start", "alice")]
    assert bench.backend.is_active("alice")
    spec = bench.backend.installed["alice"]
    assert spec.uid_base == agent.uid_base
    assert spec.environment["HYPERHIVE_AGENT"] == "alice"
    assert bench.sockets.listening == {"alice": agent.uid_base}
    assert bench.egress.upstreams == [DEFAULT_UPSTREAM]
    assert bench.watched == 1
    assert bench.woken("alice") == ["spawn"]
    assert bench.mail.events == [("spawned", "alice", {"uid_base": agent.uid_base})]


def test_each_agent_gets_its_own_uid_range(bench: Bench) -> None:
    async def both() -> tuple[int | None, int | None]:
        alice = await bench.lifecycle.spawn("alice")
        bob = await bench.lifecycle.spawn("bob")
        return alice.uid_base, bob.uid_base

    alice, bob = asyncio.run(both())
    assert alice is not None and bob is not None
    assert abs(alice - bob) >= 65536


def test_spawning_an_agent_that_exists_is_refused(bench: Bench) -> None:
    async def twice() -> None:
        await bench.lifecycle.spawn("alice")
        await bench.lifecycle.spawn("alice")

    with pytest.raises(InvalidInput, match="already exists"):
        asyncio.run(twice())
    assert bench.backend.calls == [("install", "alice"), ("start", "alice")]


def test_stop_then_start_follows_what_the_operator_wants(bench: Bench) -> None:
    async def scenario() -> tuple[Desired, Desired]:
        await bench.lifecycle.spawn("alice")
        stopped = await bench.lifecycle.stop("alice")
        assert not bench.backend.is_active("alice")
        started = await bench.lifecycle.start("alice")
        return stopped.desired, started.desired

    assert asyncio.run(scenario()) == (Desired.STOPPED, Desired.RUNNING)
    assert bench.backend.is_active("alice")
    assert bench.mail.kinds() == ["spawned", "stopped", "started"]
    assert bench.woken("alice") == ["spawn", "start"]


def test_restart_restarts_the_unit_and_waits_for_the_harness(bench: Bench) -> None:
    async def scenario() -> None:
        await bench.lifecycle.spawn("alice")
        await bench.lifecycle.stop("alice")
        await bench.lifecycle.restart("alice")

    asyncio.run(scenario())
    assert bench.backend.calls[-1] == ("restart", "alice")
    assert bench.backend.is_active("alice")
    assert bench.store.agent("alice").desired is Desired.RUNNING
    assert bench.sockets.expected == ["alice", "alice"]
    assert bench.mail.kinds()[-1] == "restarted"


def test_rebuild_of_a_stopped_agent_installs_and_leaves_it_stopped(bench: Bench) -> None:
    async def scenario() -> None:
        await bench.lifecycle.spawn("alice")
        await bench.lifecycle.stop("alice")
        bench.backend.calls.clear()
        await bench.lifecycle.rebuild("alice")

    asyncio.run(scenario())
    assert bench.backend.calls == [("install", "alice")]
    assert not bench.backend.is_active("alice")
    assert bench.mail.events[-1] == ("rebuilt", "alice", {"started": False})


def test_rebuild_of_a_running_agent_reinstalls_and_restarts_it(bench: Bench) -> None:
    async def scenario() -> None:
        await bench.lifecycle.spawn("alice")
        bench.backend.calls.clear()
        await bench.lifecycle.rebuild("alice")

    asyncio.run(scenario())
    assert bench.backend.calls == [("install", "alice"), ("restart", "alice")]
    assert bench.mail.events[-1] == ("rebuilt", "alice", {"started": True})
    assert bench.woken("alice") == ["spawn", "rebuild"]


def test_verbs_on_an_agent_without_a_container_are_refused(bench: Bench) -> None:
    bench.store.register_agent("alice")
    for verb in (bench.lifecycle.start, bench.lifecycle.stop, bench.lifecycle.restart,
                 bench.lifecycle.rebuild):
        with pytest.raises(InvalidInput, match="has no container"):
            asyncio.run(verb("alice"))
    with pytest.raises(NotFound):
        asyncio.run(bench.lifecycle.start("bob"))
    assert bench.backend.calls == []


def test_destroy_keeps_state_and_config_and_a_spawn_revives_it(bench: Bench) -> None:
    async def scenario() -> tuple[int | None, int | None]:
        first = await bench.lifecycle.spawn("alice")
        await bench.lifecycle.destroy("alice", purge=False)
        assert bench.store.agent("alice").desired is Desired.DESTROYED
        assert "alice" not in bench.backend.installed
        assert bench.sockets.listening == {}
        assert not bench.paths.agent_policy("alice").exists()
        again = await bench.lifecycle.spawn("alice")
        return first.uid_base, again.uid_base

    first, again = asyncio.run(scenario())
    assert first == again
    assert bench.applied("alice").exists()
    assert bench.mail.kinds() == ["spawned", "destroyed", "spawned"]
    assert bench.mail.events[1] == ("destroyed", "alice", {"purged": False})


def test_destroy_with_purge_removes_state_repos_and_the_record(bench: Bench) -> None:
    async def scenario() -> None:
        await bench.lifecycle.spawn("alice")
        await bench.lifecycle.destroy("alice", purge=True)

    asyncio.run(scenario())
    assert bench.store.agent_or_none("alice") is None
    for tree in (bench.paths.agent_state("alice"), bench.paths.applied_repo("alice"),
                 bench.paths.proposed_repo("alice")):
        assert not tree.exists()
    assert bench.mail.events[-1] == ("destroyed", "alice", {"purged": True})


def test_bring_up_starts_what_should_run_and_is_not_running(bench: Bench) -> None:
    async def scenario() -> None:
        await bench.lifecycle.spawn("alice")
        await bench.lifecycle.spawn("bob")
        await bench.lifecycle.stop("bob")
        bench.backend.crash("alice")
        bench.backend.calls.clear()
        await bench.lifecycle.bring_up()

    asyncio.run(scenario())
    assert bench.backend.calls == [("install", "alice"), ("start", "alice")]
    assert bench.backend.is_active("alice") and not bench.backend.is_active("bob")


def test_settle_fails_when_the_container_does_not_stay_up(bench: Bench) -> None:
    bench.backend.failing.add("alice")

    async def scenario() -> None:
        await bench.lifecycle.spawn("alice")
        await bench.lifecycle.settle("alice")

    with pytest.raises(HiveError, match="did not stay up"):
        asyncio.run(scenario())


def test_manager_verbs_need_a_manager_container(bench: Bench) -> None:
    with pytest.raises(InvalidInput, match="no manager container"):
        asyncio.run(bench.lifecycle.start("manager"))
    assert bench.backend.calls == []


def test_the_manager_comes_up_unless_the_operator_stopped_it(tmp_path: Path) -> None:
    bench = Bench(tmp_path, manager_command="{python} -m hive_m1nd serve")
    (bench.paths.manager_state / "state").mkdir(parents=True)

    async def scenario() -> None:
        await bench.lifecycle.manager.ensure()
        assert bench.backend.is_active("manager")
        await bench.lifecycle.stop("manager")
        await bench.lifecycle.manager.ensure()

    try:
        asyncio.run(scenario())
        assert not bench.backend.is_active("manager")
        assert bench.lifecycle.manager.record().desired is Desired.STOPPED
        assert bench.backend.calls == [("install", "manager"), ("start", "manager"),
                                       ("stop", "manager"), ("install", "manager")]
        assert bench.mail.kinds() == ["stopped"]
    finally:
        bench.close()


VERBS = {"cat-file", "clone", "fetch", "init", "update-ref", "commit", "rev-parse", "tag"}


def git_shim(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """Point HYPERHIVE_GIT at the real git through a shim; (the shim, the log of its runs)."""
    ran = tmp_path / "ran"
    shim = tmp_path / "git"
    real = shutil.which("git")
    assert real is not None
    shim.write_text(f'#!/bin/sh\necho "$@" >> {ran}\nexec {real} "$@"\n')
    shim.chmod(0o755)
    monkeypatch.setenv("HYPERHIVE_GIT", str(shim))
    return shim, ran


def git_verbs(ran: Path) -> list[str]:
    """The git verbs the shim ran (past git's own options), bar the version checks."""
    lines = ran.read_text().splitlines() if ran.exists() else []
    return [next((word for word in line.split() if word in VERBS), line) for line in lines
            if "--version" not in line]


def test_a_spawn_past_the_seed_runs_no_git_and_a_revival_one(
        bench: Bench, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Past the seed (made once, by the first spawn) a new agent's repos are copies of it,
    so its config and the commit recorded as deployed are the seed's, read without git.
    An agent spawned again over its kept applied repo reads both with one ``cat-file``
    (none while this daemon still knows its ``main``)."""
    asyncio.run(bench.lifecycle.spawn("alice"))
    shim, ran = git_shim(tmp_path, monkeypatch)

    asyncio.run(bench.lifecycle.spawn("bob"))

    assert not ran.exists()
    monkeypatch.delenv("HYPERHIVE_GIT")
    applied = bench.applied("bob")
    assert bench.store.agent("bob").deployed_sha == applied.head()
    text = applied.read_file(applied.head(), "agent.toml")
    assert text is not None
    assert bench.backend.installed["bob"].resources == load_agent_config(text).resources

    monkeypatch.setenv("HYPERHIVE_GIT", str(shim))
    asyncio.run(bench.lifecycle.destroy("bob", purge=False))
    asyncio.run(bench.lifecycle.spawn("bob"))
    assert git_verbs(ran) == []
    bench.lifecycle.seeding = Seeding(bench.paths, bench.settings.proposal_max_bytes)  # restarted
    asyncio.run(bench.lifecycle.destroy("bob", purge=False))
    asyncio.run(bench.lifecycle.spawn("bob"))
    assert git_verbs(ran) == ["cat-file"]
    assert bench.store.agent("bob").deployed_sha == applied.head()


def test_starts_and_restarts_read_the_applied_config_once_per_commit(
        bench: Bench, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A commit's config never changes, so while the applied ``main`` still names the
    commit read last no git runs for it; once ``main`` moves, the next reading is git's."""
    async def cycle() -> None:
        await bench.lifecycle.restart("alice")
        await bench.lifecycle.stop("alice")
        await bench.lifecycle.start("alice")

    asyncio.run(bench.lifecycle.spawn("alice"))
    _, ran = git_shim(tmp_path, monkeypatch)
    asyncio.run(cycle())
    assert git_verbs(ran) == []

    text = bench.applied("alice").read_file(bench.applied("alice").head(), "agent.toml")
    assert text is not None and 'memory_max = "2G"' in text
    other = ConfigRepo(tmp_path / "other")
    sha = other.init({"agent.toml": text.replace('memory_max = "2G"', 'memory_max = "3G"')},
                     "more memory")
    bench.applied("alice").fetch_commit(other, sha)
    bench.applied("alice").set_main(sha, force=True)
    ran.unlink()
    asyncio.run(cycle())

    assert git_verbs(ran) == ["cat-file"]
    head, config = bench.lifecycle.seeding.applied_at_head("alice")
    assert (head, config.resources.memory_max) == (sha, "3G")
