"""A new agent's seeded flake.nix and agent.nix build a container system with the harness.

Evaluated as NixOS would evaluate them for the nixos backend's ``nix build``:
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


# What the host registers as hyperhive-unfree, by the host's own nixpkgs config.
PREDICATE = 'nixpkgs.config.allowUnfreePredicate = pkg: lib.getName pkg == "claude-code";'
OTHER_PREDICATE = 'nixpkgs.config.allowUnfreePredicate = pkg: lib.getName pkg == "vscode";'
ALLOW_ALL = "nixpkgs.config.allowUnfree = true;"
UNFREE_WARNING = "claude-code is unfree and this host's nixpkgs config does not allow it"


def registered_unfree(result: Any) -> Path:
    return Path(result["registry"]["hyperhive-unfree"])


def seeded(repo: Path, unfree: Path | None = None) -> Any:
    """The seeded repo's configurations, its ``unfree`` input the flake the host
    registers (by default that of a host that allowed claude-code)."""
    if unfree is None:
        unfree = registered_unfree(host(PREDICATE))
    done = run_nix(["--eval", "--strict", "--json", str(ROOT / "tests" / "nix" / "seed.nix"),
                    "--arg", "lib", f"import {nix_path(nix_lib())}",
                    "--arg", "repo", nix_path(repo), "--arg", "unfree", nix_path(unfree)],
                   program="nix-instantiate", timeout=60)
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
    assert paths.applied_flake("alice").endswith("#agent")  # what the nixos backend builds


def test_the_seeded_system_takes_hyperhive_nixpkgs_and_unfree_from_the_hosts_registry(
        applied: Path) -> None:
    assert seeded(applied)["inputs"] == {"hyperhive": "flake:hyperhive",
                                         "nixpkgs": "hyperhive/nixpkgs",
                                         "unfree": "flake:hyperhive-unfree"}


@pytest.mark.parametrize("opt_in", [PREDICATE, ALLOW_ALL], ids=["by-name", "allow-unfree"])
def test_a_host_that_allowed_claude_code_allows_the_agents_it_and_nothing_else(
        applied: Path, opt_in: str) -> None:
    result = host(opt_in)
    assert not [w for w in result["warnings"] if UNFREE_WARNING in w]
    # The host's own config is the operator's alone: no hive module defines any of it.
    assert not [f for f in result["unfree"]["definedBy"] if "/nixos/modules/" in f]
    registered = registered_unfree(result)
    assert registered == ROOT / "nixos" / "agent-unfree" / "claude-code"
    for role in ("agent", "manager"):
        unfree = seeded(applied, registered)["configurations"][role]["unfree"]
        assert unfree == {"allowUnfree": False, "claudeCode": True, "other": False}


@pytest.mark.parametrize("opt_in", ["", OTHER_PREDICATE], ids=["nothing", "another-package"])
def test_a_host_that_did_not_allow_claude_code_allows_the_agents_nothing_and_says_what_to_set(
        applied: Path, opt_in: str) -> None:
    result = host(opt_in)
    (warning,) = [w for w in result["warnings"] if UNFREE_WARNING in w]
    assert PREDICATE in warning  # the line to add, as it is written
    assert registered_unfree(result) == ROOT / "nixos" / "agent-unfree" / "none"
    unfree = seeded(applied, registered_unfree(result))["configurations"]["agent"]["unfree"]
    assert unfree == {"allowUnfree": False, "claudeCode": False, "other": False}


def test_the_nspawn_backend_registers_no_unfree_flake_and_warns_of_none() -> None:
    # Its agents run the host's own programs: nothing of theirs is built from a flake.
    result = host('services.hive-c0re.backend = "nspawn";')
    assert "hyperhive-unfree" not in result["registry"]
    assert not [w for w in result["warnings"] if UNFREE_WARNING in w]


def test_the_host_registers_the_flake_the_seed_names() -> None:
    registered = host(PREDICATE, "services.hive-c0re.flake = { outPath = \"/nix/store/"
                           "00000000000000000000000000000000-source\"; };")
    assert registered["registry"]["hyperhive"] == \
        "/nix/store/00000000000000000000000000000000-source"
    assert set(registered["registry"]) == {"hyperhive", "hyperhive-unfree"}
    assert registered["warnings"] == []
    unregistered = host(PREDICATE)
    assert set(unregistered["registry"]) == {"hyperhive-unfree"}
    assert any("services.hive-c0re.flake is unset" in w for w in unregistered["warnings"])
    elsewhere = host(PREDICATE,
                          "nix.registry.hyperhive.flake = { outPath = \"/srv/hyperhive\"; };")
    assert elsewhere["warnings"] == []


def test_the_managers_configuration_runs_hive_m1nd_with_its_repos(applied: Path) -> None:
    manager = seeded(applied)["configurations"]["manager"]
    assert set(manager["services"]) == {"hive-m1nd"}
    service = manager["services"]["hive-m1nd"]
    assert "/agents" in service["unitConfig"]["RequiresMountsFor"]
    assert service["serviceConfig"]["ExecStart"] == f"{stand_in('hyperhive')}/bin/hive-m1nd serve"
