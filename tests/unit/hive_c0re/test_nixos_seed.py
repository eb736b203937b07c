"""A new agent's config repo holds its NixOS system: flake.nix and agent.nix beside agent.toml."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from hive_c0re.lifecycle.gitrepo import ConfigRepo
from hive_c0re.lifecycle.nixos_seed import (
    AGENT_NIX,
    FLAKE_NIX,
    nix_system,
    seed_files,
    seed_manager_config,
)
from hive_c0re.lifecycle.proposed import ProposedRepos
from hive_c0re.paths import Paths
from tests.unit.hive_c0re.lifecycle_support import Bench


@pytest.fixture(autouse=True)
def _real_git(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HYPERHIVE_GIT", raising=False)


def test_the_seeded_repos_hold_the_agents_system(tmp_path: Path) -> None:
    paths = Paths(state=tmp_path / "state", runtime=tmp_path / "run")
    assert ProposedRepos(paths, 1 << 20).seed("alice")
    applied = ConfigRepo(paths.applied_repo("alice"))
    for name, text in seed_files().items():
        assert applied.read_file(applied.head(), name) == text
        assert (paths.proposed_repo("alice") / name).read_text() == text


def test_the_flake_builds_the_configuration_the_backend_asks_for(tmp_path: Path) -> None:
    paths = Paths(state=tmp_path / "state", runtime=tmp_path / "run")
    attribute = paths.applied_flake("bob").rpartition("#")[2]
    flake = seed_files(machine="x86_64")[FLAKE_NIX]
    assert f"nixosConfigurations.{attribute} = container [ ];" in flake
    assert 'system = "x86_64-linux";' in flake
    assert "@" not in flake  # every placeholder filled
    assert "hyperhive.nixosModules.harness" in seed_files()[AGENT_NIX]


def test_no_agent_is_named_in_the_seed() -> None:
    """One seed serves every agent of a host: the container's name is the backend's."""
    assert all("alice" not in text for text in seed_files().values())
    assert seed_files() == seed_files()


@pytest.mark.parametrize(("machine", "system"), [("x86_64", "x86_64-linux"),
                                                 ("aarch64", "aarch64-linux"),
                                                 ("arm64", "aarch64-linux"),
                                                 ("ppc64le", "powerpc64le-linux"),
                                                 ("riscv64", "riscv64-linux")])
def test_the_nix_system_is_the_hosts(machine: str, system: str) -> None:
    assert nix_system(machine) == system


def test_the_managers_config_is_seeded_once_outside_its_binds(tmp_path: Path) -> None:
    paths = Paths(state=tmp_path / "state", runtime=tmp_path / "run")
    assert seed_manager_config(paths.manager_config)
    repo = ConfigRepo(paths.manager_config)
    head = repo.head()
    assert {name: repo.read_file(head, name) for name in seed_files()} == seed_files()
    assert not seed_manager_config(paths.manager_config)  # there already: left as it is
    assert repo.head() == head
    assert paths.applied_flake("manager") == f"git+file://{paths.manager_config}?ref=main#manager"
    assert "nixosConfigurations.manager = " in seed_files()[FLAKE_NIX]


def test_the_nixos_backends_manager_gets_its_config_before_it_is_installed(
        tmp_path: Path) -> None:
    bench = Bench(tmp_path, manager_command="{python} -m hive_m1nd serve")
    bench.backend.name = "nixos"
    (bench.paths.manager_state / "state").mkdir(parents=True)
    try:
        asyncio.run(bench.lifecycle.manager.ensure())
        assert bench.backend.calls[0] == ("install", "manager")
        assert ConfigRepo(bench.paths.manager_config).exists()
        spec = bench.backend.installed["manager"]
        bound = {host for host, _, _ in spec.hive_binds()} | {h for h, _ in spec.writable_binds}
        assert not any(bench.paths.manager_config.is_relative_to(b) for b in bound)
    finally:
        bench.close()


def test_the_nspawn_backends_manager_needs_no_config_repo(tmp_path: Path) -> None:
    bench = Bench(tmp_path, manager_command="{python} -m hive_m1nd serve")
    (bench.paths.manager_state / "state").mkdir(parents=True)
    try:
        asyncio.run(bench.lifecycle.manager.ensure())
        assert not bench.paths.manager_config.exists()
    finally:
        bench.close()
