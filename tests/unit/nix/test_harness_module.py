"""services.hive-harness, evaluated by nixpkgs' module system: the inside of a container."""

from __future__ import annotations

from typing import Any

import pytest

from hive_c0re.lifecycle.agents import MODEL_UID
from hive_c0re.lifecycle.backend import CONTAINER_POLICY
from hive_c0re.lifecycle.nixos import ENVIRONMENT_FILE
from hive_dev.nix_modules import HARNESS_MODULE, EvalRefused, evaluate
from tests.unit.nix.host_support import stand_in

pytestmark = pytest.mark.usefixtures("nixpkgs_lib")


def harness(*lines: str) -> Any:
    return evaluate("{ pkgs, ... }: { " + " ".join(lines) + " }", modules=(HARNESS_MODULE,))


def test_an_agent_runs_hive_ag3nt_with_claude_code_from_pkgs() -> None:
    result = harness()
    service = result["systemd"]["services"]["hive-ag3nt"]
    assert set(result["systemd"]["services"]) == {"hive-ag3nt"}
    assert service["serviceConfig"]["ExecStart"] == f"{stand_in('hyperhive')}/bin/hive-ag3nt serve"
    assert service["environment"]["HYPERHIVE_CLAUDE"] == f"{stand_in('claude-code')}/bin/claude"
    assert service["serviceConfig"]["WorkingDirectory"] == "/state"
    assert service["wantedBy"] == ["multi-user.target"]


def test_the_manager_runs_hive_m1nd() -> None:
    result = harness('services.hive-harness.role = "manager";')
    assert set(result["systemd"]["services"]) == {"hive-m1nd"}
    assert result["systemd"]["services"]["hive-m1nd"]["serviceConfig"]["ExecStart"] == \
        f"{stand_in('hyperhive')}/bin/hive-m1nd serve"


def test_it_is_an_nspawn_container_with_no_network_services() -> None:
    result = harness()
    assert result["boot"]["isNspawnContainer"] is True
    assert result["systemd"]["sockets"] == {}
    assert result["networking"] == {"firewall": {"allowedTCPPorts": []}, "useDHCP": False}


def test_the_model_runs_as_its_own_user_with_the_hives_uid() -> None:
    result = harness()
    assert result["users"]["users"]["claude"]["uid"] == MODEL_UID
    assert result["users"]["groups"]["claude"]["gid"] == MODEL_UID
    environment = result["systemd"]["services"]["hive-ag3nt"]["environment"]
    assert environment["HYPERHIVE_MODEL_UID"] == str(MODEL_UID)
    assert environment["CLAUDE_CONFIG_DIR"] == "/root/.claude"


def test_the_model_uid_is_the_hosts_not_a_setting() -> None:
    with pytest.raises(EvalRefused) as refused:
        harness("services.hive-harness.settings.model_uid = 0;")
    assert "The option `services.hive-harness.settings.model_uid' does not exist." in \
        refused.value.message
    with pytest.raises(EvalRefused) as refused:
        harness("services.hive-harness.modelUid = 0;")
    assert "The option `services.hive-harness.modelUid' is read-only" in refused.value.message


def test_the_harness_reads_the_environment_the_host_writes() -> None:
    service = harness()["systemd"]["services"]["hive-ag3nt"]
    file = CONTAINER_POLICY / ENVIRONMENT_FILE
    # Required, no "-": a harness without HYPERHIVE_AGENT (or the key) must not start.
    assert service["serviceConfig"]["EnvironmentFile"] == str(file)


def test_mcp_server_programs_go_into_the_system_profile() -> None:
    result = harness("services.hive-harness.mcpServerPackages = [ pkgs.github-mcp-server ];",
                     "services.hive-harness.packages = [ pkgs.jq ];")
    assert result["environment"]["systemPackages"] == [stand_in("hyperhive"),
                                                       stand_in("github-mcp-server")]
    assert result["systemd"]["services"]["hive-ag3nt"]["path"] == [
        stand_in("hyperhive"), stand_in("jq"), "/run/current-system/sw"]


def test_disabled_runs_no_harness_but_stays_a_container() -> None:
    result = harness("services.hive-harness.enable = false;")
    assert result["systemd"]["services"] == {}
    assert result["boot"]["isNspawnContainer"] is True


def test_the_claude_package_must_be_a_package() -> None:
    with pytest.raises(EvalRefused) as refused:
        harness('services.hive-harness.claudePackage = "claude";')
    assert "`services.hive-harness.claudePackage' is not of type `package'" in refused.value.message


def test_nixpkgs_unfree_config_is_left_to_the_operator() -> None:
    assert harness()["unfree"] == {"allowUnfree": False, "predicateSet": False,
                                   "definedBy": []}
