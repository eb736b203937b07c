"""The pause mark and the deployed commit across the lifecycle's verbs (in-memory backend)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.unit.hive_c0re.lifecycle_support import Bench


@pytest.fixture
def bench(tmp_path: Path) -> Iterator[Bench]:
    bench = Bench(tmp_path)
    bench.plain_state("alice")
    yield bench
    bench.close()


def test_the_mark_outlives_every_verb_but_a_purge(bench: Bench) -> None:
    lifecycle, store = bench.lifecycle, bench.store

    async def scenario() -> list[bool]:
        await lifecycle.spawn("alice")
        store.set_paused("alice", True)
        seen = []
        for verb in (lifecycle.stop, lifecycle.start, lifecycle.restart, lifecycle.rebuild):
            seen.append((await verb("alice")).paused and store.agent("alice").paused)
        await lifecycle.destroy("alice", purge=False)
        await lifecycle.spawn("alice")
        seen.append(store.agent("alice").paused)
        await lifecycle.destroy("alice", purge=True)
        return seen

    assert asyncio.run(scenario()) == [True] * 5
    assert store.agent_or_none("alice") is None


def test_an_install_records_the_applied_commit_it_runs(bench: Bench) -> None:
    asyncio.run(bench.lifecycle.spawn("alice"))
    head = bench.applied("alice").head()
    assert bench.store.agent("alice").deployed_sha == head
