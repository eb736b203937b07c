"""A new agent's seeded flake.nix and agent.nix build a container system with the harness.

Evaluated as NixOS would evaluate them for ``nixos-container create --flake``:
the flake's outputs are called with this checkout's modules as hyperhive and
a nixosSystem that is nixpkgs' real module system over the NixOS option
declarations (tests/nix/seed.nix).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from hive_c0re.lifecycle.gitrepo import ConfigRepo
from hive_c0re.lifecycle.nixos_seed import nix_system
from hive_c0re.lifecycle.proposed import ProposedRepos
from hive_c0re.paths import Paths
from hive_dev.nix import nix_lib, run_nix
from hive_dev.nix_modules import ROOT, nix_path, parse
from tests.unit.nix.host_support import host, stand_in

pytestmark = pytest.mark.usefixtures("nixpkgs_lib")


@pytest.fixture(autouse=True)
def _real_git(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HYPERHIVE_GIT", raising=False)


@pytest.fixture
def applied(tmp_path: Path) -> Path:
    """The applied repo's work tree of a freshly seeded agent ``alice``."""
    paths = Paths(state=tmp_path / "state", runtime=tmp_path / "run")
    ProposedRepos(paths, 1 << 20).seed("alice")
    return ConfigRepo(paths.applied_repo("alice")).path


def seeded(repo: Path) -> Any:
    done = run_nix(["--eval", "--strict", "--json", str(ROOT / "tests" / "nix" / "seed.nix"),
                    "--arg", "lib", f"import {nix_path(nix_lib())}",
                    "--arg", "repo", nix_path(repo)], program="nix-instantiate", timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_the_seeded_nix_files_parse(applied: Path) -> None:
    assert parse(applied / "flake.nix") is None
    assert parse(applied / "agent.nix") is None


def test_the_seeded_system_runs_the_harness_in_an_nspawn_container(applied: Path,
                                                                   tmp_path: Path) -> None:
    result = seeded(applied)
    alice = result["configurations"]["agent"]
    assert set(result["configurations"]) == {"agent", "manager"}
    assert alice["system"] == nix_system()
    assert alice["isNspawnContainer"] is True
    assert alice["services"]["hive-ag3nt"]["serviceConfig"]["ExecStart"] == \
        f"{stand_in('hyperhive')}/bin/hive-ag3nt serve"
    assert alice["overlays"] == 1  # hyperhive's, for pkgs.hyperhive
    assert alice["stateVersion"]
    paths = Paths(state=tmp_path / "state", runtime=tmp_path / "run")
    assert paths.applied_flake("alice").endswith("#agent")  # what nixos-container builds


def test_the_seeded_system_takes_hyperhive_and_nixpkgs_from_the_hosts_registry(
        applied: Path) -> None:
    assert seeded(applied)["inputs"] == {"hyperhive": "flake:hyperhive",
                                         "nixpkgs": "hyperhive/nixpkgs"}


def test_the_seeded_system_leaves_unfree_to_the_operator(applied: Path) -> None:
    assert seeded(applied)["configurations"]["agent"]["unfree"] is False


def test_the_host_registers_the_flake_the_seed_names() -> None:
    registered = host("services.hive-c0re.flake = { outPath = \"/nix/store/"
                      "00000000000000000000000000000000-source\"; };")
    assert registered["registry"] == {
        "hyperhive": "/nix/store/00000000000000000000000000000000-source"}
    assert registered["warnings"] == []
    unregistered = host()
    assert unregistered["registry"] == {}
    assert any("services.hive-c0re.flake is unset" in w for w in unregistered["warnings"])
    elsewhere = host("nix.registry.hyperhive.flake = { outPath = \"/srv/hyperhive\"; };")
    assert elsewhere["warnings"] == []


def test_the_managers_configuration_runs_hive_m1nd_with_its_repos(applied: Path) -> None:
    manager = seeded(applied)["configurations"]["manager"]
    assert set(manager["services"]) == {"hive-m1nd"}
    service = manager["services"]["hive-m1nd"]
    assert "/agents" in service["unitConfig"]["RequiresMountsFor"]
    assert service["serviceConfig"]["ExecStart"] == f"{stand_in('hyperhive')}/bin/hive-m1nd serve"
