"""The nixos backend's conf rewriting and the modules agree on what a container gets.

The host writes ``/etc/nixos-containers/h-<agent>.conf`` (hive_c0re.lifecycle.nixos_conf);
the harness module, inside, expects the hive's binds and a network of its own
with nothing on it; the host module lets the daemon write where the backend does.
"""

from __future__ import annotations

import shlex
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from hive_ag3nt.paths import AgentPaths
from hive_c0re.lifecycle import nixos, nixos_conf
from hive_c0re.lifecycle.backend import CONTAINER_POLICY, POLICY_FILE, ContainerSpec
from hive_c0re.lifecycle.manager import MANAGER_REPOS
from hive_c0re.lifecycle.uids import FIRST_AGENT_BASE
from hive_dev.nix_modules import HARNESS_MODULE, evaluate
from tests.unit.nix.host_support import host, services

pytestmark = pytest.mark.usefixtures("nixpkgs_lib")

# What `nixos-container create` writes (nixpkgs' nixos-container.pl), addresses and all.
CREATED = """\
# Container configuration file.
PRIVATE_NETWORK=1
HOST_ADDRESS=10.233.1.1
LOCAL_ADDRESS=10.233.1.2
HOST_BRIDGE=
HOST_PORT=
AUTO_START=0
"""


def spec(tmp_path: Path) -> ContainerSpec:
    return ContainerSpec(name="alice", runtime_dir=tmp_path / "run", state_dir=tmp_path / "state",
                         claude_dir=tmp_path / "claude", policy_dir=tmp_path / "policy",
                         command=["hive-ag3nt", "serve"], uid_base=FIRST_AGENT_BASE,
                         egress_dir=tmp_path / "egress")


def conf(tmp_path: Path) -> dict[str, str]:
    text = nixos_conf.rewrite_conf(CREATED, spec(tmp_path), private_users=True)
    pairs = (line.partition("=") for line in text.splitlines() if not line.startswith("#"))
    return {key: nixos_conf.parse_value(value) for key, _, value in pairs}


def bind_targets(flags: str) -> list[str]:
    targets = []
    for word in shlex.split(flags):
        option, _, value = word.partition("=")
        if option in nixos_conf.BIND_OPTIONS:
            targets.append(value.split(":")[1])
    return targets


def harness_service() -> Any:
    return evaluate("{ }", modules=(HARNESS_MODULE,))["systemd"]["services"]["hive-ag3nt"]


def test_the_harness_waits_for_every_bind_the_conf_gives_it(tmp_path: Path) -> None:
    targets = bind_targets(conf(tmp_path)["EXTRA_NSPAWN_FLAGS"])
    assert sorted(harness_service()["unitConfig"]["RequiresMountsFor"]) == sorted(targets)
    assert {Path(t) for t in targets} == nixos_conf.BIND_TARGETS


def test_the_managers_harness_waits_for_its_repos_too(tmp_path: Path) -> None:
    manager = replace(spec(tmp_path), name="manager",
                      writable_binds=[(tmp_path / "repos", MANAGER_REPOS)])
    text = nixos_conf.rewrite_conf(CREATED, manager, private_users=True)
    flags = next(nixos_conf.parse_value(line.partition("=")[2]) for line in text.splitlines()
                 if line.startswith("EXTRA_NSPAWN_FLAGS="))
    inside = evaluate('{ services.hive-harness.role = "manager"; }',
                      modules=(HARNESS_MODULE,))["systemd"]["services"]["hive-m1nd"]
    assert sorted(inside["unitConfig"]["RequiresMountsFor"]) == sorted(bind_targets(flags))
    assert inside["environment"]["HYPERHIVE_MODEL_OWNS"] == str(MANAGER_REPOS)


def test_the_policy_the_host_binds_is_where_the_harness_reads_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HYPERHIVE_POLICY", raising=False)  # the module sets none
    assert str(CONTAINER_POLICY) in harness_service()["unitConfig"]["RequiresMountsFor"]
    assert AgentPaths.from_env().policy == CONTAINER_POLICY / POLICY_FILE
    assert "HYPERHIVE_POLICY" not in harness_service()["environment"]


def test_the_container_network_is_private_and_empty_and_nothing_inside_asks_for_more(
        tmp_path: Path) -> None:
    written = conf(tmp_path)
    assert written["PRIVATE_NETWORK"] == "1"
    assert all(written[key] == "" for key in nixos_conf.NETWORK_KEYS if key in written)
    assert {"HOST_ADDRESS", "LOCAL_ADDRESS", "HOST_ADDRESS6", "LOCAL_ADDRESS6",
            "HOST_BRIDGE"} <= set(written)
    inside = evaluate("{ }", modules=(HARNESS_MODULE,))
    assert inside["networking"]["useDHCP"] is False
    assert inside["systemd"]["sockets"] == {}


def test_private_users_are_always_on_and_the_model_uid_fits_the_namespace(
        tmp_path: Path) -> None:
    assert conf(tmp_path)["PRIVATE_USERS"] == str(FIRST_AGENT_BASE)
    model_uid = evaluate("{ }", modules=(HARNESS_MODULE,))["users"]["users"]["claude"]["uid"]
    assert 0 < model_uid < 65536  # each agent's namespace maps 65536 uids
    writable = [w for w in shlex.split(conf(tmp_path)["EXTRA_NSPAWN_FLAGS"])
                if w.startswith("--bind=")]
    assert writable and all(w.endswith(":idmap") for w in writable)


def test_the_host_runs_nixos_containers_and_writes_where_the_backend_does() -> None:
    result = host()
    assert result["boot"]["enableContainers"] is True
    assert services(result)["hive-c0re"]["environment"]["HYPERHIVE_BACKEND"] == "nixos"
    assert f"d {nixos.DROPIN_ROOT} 0755 root root - -" in result["systemd"]["tmpfiles"]["rules"]
    assert "/run/current-system/sw" in services(result)["hive-c0re"]["path"]  # nixos-container
    # nixos-container --flake and the backend's own `nix build` need flakes.
    assert result["experimentalFeatures"] == ["nix-command", "flakes"]
    assert host('services.hive-c0re.backend = "nspawn";')["experimentalFeatures"] == []


def test_private_users_off_reaches_the_daemon_as_the_setting_says() -> None:
    environment = services(host('services.hive-c0re.settings.nixos_private_users = "no";'))[
        "hive-c0re"]["environment"]
    assert environment["HYPERHIVE_NIXOS_PRIVATE_USERS"] == "no"
