"""The Backend contract, on the NixosBackend driving a model of a NixOS host.

nixos-container and a NixOS systemd are absent here: the runner is
:class:`NixosHost` (tests/unit/hive_c0re/nixos_support.py), which answers as
they would as far as the contract observes. What the NixosBackend fails is
marked ``xfail(strict=True)`` with the reason: findings, not papered over.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from hive_c0re.errors import InvalidInput
from hive_c0re.lifecycle.backend import ContainerSpec, Systemctl
from hive_c0re.lifecycle.nixos import NixosBackend, container_name
from tests.backend_contract import BackendContract, World, make_spec
from tests.unit.hive_c0re.nixos_support import NixosHost


class NixosWorld:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.host = NixosHost(conf_dir=root / "nixos-containers",
                              dropin_root=root / "system.control")
        self.backend = NixosBackend(self.host, Systemctl(), flake_for=self.flake,
                                    conf_dir=self.host.conf_dir,
                                    dropin_root=self.host.dropin_root)

    @staticmethod
    def flake(agent: str) -> str:
        return f"git+file:///var/lib/hyperhive/applied/{agent}#{agent}"

    def spec(self, agent: str, *, exits: bool = False) -> ContainerSpec:
        # The container runs the system built from the agent's flake, not spec.command:
        # a broken one is a system whose init exits at once.
        (self.host.broken.add if exits else self.host.broken.discard)(container_name(agent))
        return make_spec(self.root / "agents", agent, ["hive-ag3nt", "serve"], 65536 * 2)

    def crash(self, agent: str) -> None:
        self.host.crash(container_name(agent))

    def eventually(self, condition: Callable[[], bool]) -> bool:
        return condition()  # the model moves only when asked

    def up(self, agent: str) -> None:
        pass  # a Type=notify unit is active only once its container said it is ready


class TestNixosBackendContract(BackendContract):
    @pytest.fixture
    def world(self, tmp_path: Path) -> NixosWorld:
        return NixosWorld(tmp_path)

    @pytest.mark.xfail(strict=True, raises=InvalidInput, reason=(
        "finding: NixosBackend names containers with validate_agent_name, which refuses "
        "'manager', so a nixos hive cannot install the manager's container"))
    def test_the_manager_has_a_unit(self, world: World) -> None:
        super().test_the_manager_has_a_unit(world)

    @pytest.mark.xfail(strict=True, reason=(
        "finding: nixpkgs' container@.service has Restart=on-failure and the backend's "
        "drop-in does not override it, so systemd brings a crashed container back on its "
        "own, whatever the agent's restart policy says"))
    def test_a_crashed_container_stays_down_until_started(self, world: World) -> None:
        super().test_a_crashed_container_stays_down_until_started(world)


def test_the_model_leaves_a_crashed_container_down_where_a_drop_in_says_so(
        tmp_path: Path) -> None:
    """The crash finding is the unit's Restart= setting, not the model's whim."""
    world = NixosWorld(tmp_path)
    world.backend.install(world.spec("alice"))
    dropin = world.host.dropin_root / "container@h-alice.service.d" / "60-restart.conf"
    dropin.parent.mkdir(parents=True)
    dropin.write_text("[Service]\nRestart=no\n")
    world.backend.start("alice")
    world.crash("alice")
    assert not world.backend.is_active("alice")
