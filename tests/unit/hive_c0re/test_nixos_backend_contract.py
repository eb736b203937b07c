"""The Backend contract, on the NixosBackend driving a model of a NixOS host.

nixos-container and a NixOS systemd are absent here: the runner is
:class:`NixosHost` (tests/unit/hive_c0re/nixos_support.py), which answers as
they would as far as the contract observes.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from hive_c0re.lifecycle.backend import ContainerSpec, Systemctl
from hive_c0re.lifecycle.nixos import DROPIN, NixosBackend, container_name
from tests.backend_contract import BackendContract, make_spec
from tests.unit.hive_c0re.nixos_support import NixosHost


class NixosWorld:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.host = NixosHost(conf_dir=root / "nixos-containers",
                              dropin_root=root / "system.control")
        self.backend = NixosBackend(self.host, Systemctl(), flake_for=self.flake,
                                    conf_dir=self.host.conf_dir,
                                    dropin_root=self.host.dropin_root,
                                    builds=root / "nixos-builds")

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


def test_without_the_hives_drop_in_the_model_restarts_a_crashed_container(
        tmp_path: Path) -> None:
    """The crash clause passes because of the drop-in's Restart=no, not the model's whim:
    nixpkgs' own unit (Restart=on-failure) brings the container back."""
    world = NixosWorld(tmp_path)
    world.backend.install(world.spec("alice"))
    (world.backend.dropin_dir("alice") / DROPIN).unlink()
    world.backend.start("alice")
    world.crash("alice")
    assert world.backend.is_active("alice")
