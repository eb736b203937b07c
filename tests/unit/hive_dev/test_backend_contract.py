"""The Backend contract, on the in-memory FakeBackend the lifecycle unit tests run on."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from hive_c0re.errors import InvalidInput
from hive_c0re.lifecycle.backend import ContainerSpec
from hive_dev.backend import FakeBackend
from tests.backend_contract import BackendContract, make_spec


class FakeWorld:
    def __init__(self, root: Path) -> None:
        self.backend = FakeBackend()
        self.root = root

    def spec(self, agent: str, *, exits: bool = False) -> ContainerSpec:
        if exits:
            self.backend.failing.add(agent)
        else:
            self.backend.failing.discard(agent)
        return make_spec(self.root, agent, ["true"], 65536 * 2)

    def crash(self, agent: str) -> None:
        self.backend.crash(agent)

    def eventually(self, condition: Callable[[], bool]) -> bool:
        return condition()  # no time passes in memory

    def up(self, agent: str) -> None:
        pass  # a fake container is up as soon as it runs


class TestFakeBackendContract(BackendContract):
    @pytest.fixture
    def world(self, tmp_path: Path) -> FakeWorld:
        return FakeWorld(tmp_path)


def test_a_bad_name_is_refused_before_it_is_recorded(tmp_path: Path) -> None:
    world = FakeWorld(tmp_path)
    with pytest.raises(InvalidInput):
        world.backend.stop("../x")
    assert world.backend.calls == []
