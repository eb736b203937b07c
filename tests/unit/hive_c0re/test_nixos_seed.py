"""A new agent's config repo holds its NixOS system: flake.nix and agent.nix beside agent.toml."""

from __future__ import annotations

from pathlib import Path

import pytest

from hive_c0re.errors import InvalidInput
from hive_c0re.lifecycle.gitrepo import ConfigRepo
from hive_c0re.lifecycle.nixos_seed import AGENT_NIX, FLAKE_NIX, nix_system, seed_files
from hive_c0re.lifecycle.proposed import ProposedRepos
from hive_c0re.paths import Paths


@pytest.fixture(autouse=True)
def _real_git(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HYPERHIVE_GIT", raising=False)


def test_the_seeded_repos_hold_the_agents_system(tmp_path: Path) -> None:
    paths = Paths(state=tmp_path / "state", runtime=tmp_path / "run")
    assert ProposedRepos(paths, 1 << 20).seed("alice")
    applied = ConfigRepo(paths.applied_repo("alice"))
    for name, text in seed_files("alice").items():
        assert applied.read_file(applied.head(), name) == text
        assert (paths.proposed_repo("alice") / name).read_text() == text


def test_the_flake_builds_the_configuration_the_backend_asks_for(tmp_path: Path) -> None:
    paths = Paths(state=tmp_path / "state", runtime=tmp_path / "run")
    attribute = paths.applied_flake("bob").rpartition("#")[2]
    flake = seed_files("bob", machine="x86_64")[FLAKE_NIX]
    assert f'nixosConfigurations."{attribute}" = nixpkgs.lib.nixosSystem' in flake
    assert 'system = "x86_64-linux";' in flake
    assert "@" not in flake.replace("@AGENT@", "")  # every placeholder filled
    assert "hyperhive.nixosModules.harness" in seed_files("bob")[AGENT_NIX]


@pytest.mark.parametrize(("machine", "system"), [("x86_64", "x86_64-linux"),
                                                 ("aarch64", "aarch64-linux"),
                                                 ("arm64", "aarch64-linux"),
                                                 ("riscv64", "riscv64-linux")])
def test_the_nix_system_is_the_hosts(machine: str, system: str) -> None:
    assert nix_system(machine) == system


@pytest.mark.parametrize("name", ['a"; x = "', "Alice", "manager-too-long"])
def test_a_bad_name_never_reaches_a_template(name: str) -> None:
    with pytest.raises(InvalidInput):
        seed_files(name)
