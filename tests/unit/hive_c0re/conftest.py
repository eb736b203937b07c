"""Fixtures shared by the unit tests of questions, reminders and the scheduler."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

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
