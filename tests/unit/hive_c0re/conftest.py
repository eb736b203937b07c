"""Fixtures shared by the unit tests: threads (questions, reminders, the scheduler) and the
lifecycle bench (a real store and git, the in-memory backend; alice has plain state)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.unit.hive_c0re.lifecycle_support import Bench
from tests.unit.hive_c0re.threads_support import ManualClock, ThreadHive


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def hive(tmp_path: Path, clock: ManualClock) -> Iterator[ThreadHive]:
    """A store and scheduler on a clock the test moves; alice, bob (may write alice), carol."""
    h = ThreadHive(tmp_path / "broker.sqlite", clock)
    h.store.register_agent("alice")
    h.store.register_agent("bob", ["alice"])
    h.store.register_agent("carol")
    yield h
    h.store.close()


@pytest.fixture
def bench(tmp_path: Path) -> Iterator[Bench]:
    bench = Bench(tmp_path)
    bench.plain_state("alice")
    yield bench
    bench.close()
