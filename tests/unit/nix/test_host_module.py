"""services.hive-c0re, evaluated by nixpkgs' module system: its units are the shipped ones."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from hive_c0re.lifecycle.nspawn import HostSide, host_side, render_template
from hive_c0re.settings import SETTINGS
from hive_c0re.units import UNIT_NAMES
from hive_dev.nix_modules import EvalRefused, evaluate
from tests.unit.nix import units_support
from tests.unit.nix.host_support import host, services, sockets, stand_in

pytestmark = pytest.mark.usefixtures("nixpkgs_lib")

SETTING_VARIABLES = frozenset(s.env for s in SETTINGS)
# What the module's daemon environment holds beyond the unit file's: where git
# is (the unit file's hosts find it on PATH), and the agents' unit directory.
DAEMON_EXTRAS = frozenset({"HYPERHIVE_GIT", "HYPERHIVE_UNIT_DIR"})
TCP_LISTENER = "127.0.0.1:7000"


def unit_of(result: Any, file_name: str) -> dict[str, Any]:
    name, _, kind = file_name.rpartition(".")
    table = services(result) if kind == "service" else sockets(result)
    return dict(table[name.removesuffix("@") + "@" if name.endswith("@") else name])


def compare(result: Any, file_name: str) -> None:
    """The module's unit says what the shipped ``file_name`` says, directive by directive."""
    shipped = units_support.load(file_name, f"{stand_in('hyperhive')}/bin/hive-c0re")
    unit = unit_of(result, file_name)
    assert unit["description"] == shipped.description
    for option in units_support.LISTS.values():
        assert unit.get(option, []) == shipped.lists.get(option, []), option
    section = "serviceConfig" if file_name.endswith(".service") else "socketConfig"
    assert units_support.as_text(unit[section]) == shipped.config
    if section == "serviceConfig":
        environment = unit["environment"]
        assert {k: environment[k] for k in shipped.environment} == shipped.environment
        assert set(environment) - set(shipped.environment) <= SETTING_VARIABLES | DAEMON_EXTRAS


@pytest.mark.parametrize("file_name", UNIT_NAMES)
def test_unit_matches_the_shipped_unit_file(file_name: str) -> None:
    compare(host(), file_name)


@pytest.mark.parametrize("backend", ["nixos", "nspawn"])
def test_the_agents_template_is_the_daemons_alone(backend: str) -> None:
    # The daemon writes hive-agent@.service into system.control, which systemd
    # prefers: a copy declared here would be shadowed, and drift.
    assert "hive-agent@" not in services(host(f'services.hive-c0re.backend = "{backend}";'))


def test_the_daemons_template_runs_the_modules_nspawn() -> None:
    environment = services(host('services.hive-c0re.backend = "nspawn";'))["hive-c0re"][
        "environment"]
    nspawn = f"{stand_in('systemd')}/bin/systemd-nspawn"
    assert environment["HYPERHIVE_NSPAWN_PROGRAM"] == nspawn
    side = host_side(environment["HYPERHIVE_NSPAWN_PROGRAM"],
                     environment["HYPERHIVE_CONTAINER_USR"])
    assert side == HostSide(nspawn=nspawn, usr=Path("/run/current-system/sw"))
    text = render_template(Path("/var/lib/hyperhive/roots"),
                           Path(environment["HYPERHIVE_UNIT_DIR"]), side.nspawn)
    assert f"ExecStart={nspawn} $HIVE_NSPAWN\n" in text
    assert "ConditionPathExists=|/etc/systemd/system.control/hive-agent@%i.service.d/" in text


def test_sockets_listen_where_the_shipped_ones_do_plus_the_dashboard_port() -> None:
    result = host()
    hyperhive = units_support.load("hive-c0re.socket", "")
    dashboard = units_support.load("hive-c0re-dashboard.socket", "")
    assert sockets(result)["hive-c0re"]["listenStreams"] == hyperhive.listen_streams
    assert sockets(result)["hive-c0re-dashboard"]["listenStreams"] == [
        *dashboard.listen_streams, TCP_LISTENER]


def test_daemon_runs_the_package_with_git_and_the_system_profile() -> None:
    result = host("services.hive-c0re.extraPackages = [ pkgs.jq ];")
    daemon = services(result)["hive-c0re"]
    git = stand_in("git")
    assert daemon["serviceConfig"]["ExecStart"] == f"{stand_in('hyperhive')}/bin/hive-c0re serve"
    assert daemon["serviceConfig"]["Type"] == "notify"
    assert daemon["serviceConfig"]["WatchdogSec"] == "30s"
    assert daemon["serviceConfig"]["RuntimeDirectoryPreserve"] == "yes"
    assert daemon["path"] == [git, stand_in("jq"), "/run/current-system/sw"]
    assert daemon["environment"]["HYPERHIVE_GIT"] == f"{git}/bin/git"
    assert daemon["environment"]["HYPERHIVE_BACKEND"] == "nixos"
    assert result["environment"]["systemPackages"] == [stand_in("hyperhive")]


def test_disabled_gives_no_units() -> None:
    result = evaluate("{ services.hive-c0re.enable = false; }")
    assert result["systemd"] == {"services": {}, "sockets": {}, "tmpfiles": {"rules": []}}
    assert result["environment"]["systemPackages"] == []
    assert result["networking"]["firewall"]["allowedTCPPorts"] == []


def test_the_dashboard_can_be_left_out() -> None:
    result = host("services.hive-c0re.dashboard.enable = false;")
    assert set(services(result)) == {"hive-c0re"}
    assert set(sockets(result)) == {"hive-c0re"}
    assert "HYPERHIVE_DASHBOARD_URL" not in services(result)["hive-c0re"]["environment"]


def test_a_dashboard_beyond_loopback_opens_the_firewall_and_its_address_allow() -> None:
    result = host('services.hive-c0re.dashboard = { address = "::"; port = 8443; '
                  "openFirewall = true; };")
    dashboard = services(result)["hive-c0re-dashboard"]
    assert sockets(result)["hive-c0re-dashboard"]["listenStreams"][-1] == "[::]:8443"
    assert dashboard["serviceConfig"]["IPAddressAllow"] == "any"
    assert result["networking"]["firewall"]["allowedTCPPorts"] == [8443]
    assert "HYPERHIVE_DASHBOARD_URL" not in dashboard["environment"]  # no one name to give


def test_the_dashboards_address_is_its_url() -> None:
    result = host('services.hive-c0re.dashboard = { address = "192.0.2.7"; port = 8000; };')
    assert services(result)["hive-c0re"]["environment"]["HYPERHIVE_DASHBOARD_URL"] == \
        "http://192.0.2.7:8000/"
    assert services(host())["hive-c0re"]["environment"]["HYPERHIVE_DASHBOARD_URL"] == \
        f"http://{TCP_LISTENER}/"


def test_the_daemon_writes_agent_units_where_nixos_lets_it_for_nspawn() -> None:
    daemon = services(host('services.hive-c0re.backend = "nspawn";'))["hive-c0re"]
    assert daemon["environment"]["HYPERHIVE_UNIT_DIR"] == "/etc/systemd/system.control"
    assert daemon["environment"]["HYPERHIVE_BACKEND"] == "nspawn"
    assert daemon["environment"]["HYPERHIVE_EXTRA_READ_ONLY_BINDS"] == "/nix/store:/etc/static"
    # NixOS's /usr holds only bin/env: the containers' /usr is the system profile.
    assert daemon["environment"]["HYPERHIVE_CONTAINER_USR"] == "/run/current-system/sw"
    package = stand_in("hyperhive")
    assert daemon["environment"]["HYPERHIVE_AGENT_COMMAND"] == f"{package}/bin/hive-ag3nt serve"
    assert daemon["environment"]["HYPERHIVE_MANAGER_COMMAND"] == f"{package}/bin/hive-m1nd serve"


# -- assertions ---------------------------------------------------------------------------


def refusal(*lines: str) -> str:
    with pytest.raises(EvalRefused) as refused:
        host(*lines)
    return refused.value.message


@pytest.mark.parametrize("port", [0, 65536, -1])
def test_dashboard_port_outside_the_range_is_refused(port: int) -> None:
    message = refusal(f"services.hive-c0re.dashboard.port = {port};")
    assert "Failed assertions:" in message
    assert f"services.hive-c0re.dashboard.port is {port}; a TCP port is 1 to 65535." in message


def test_nixos_backend_without_containers_is_refused() -> None:
    message = refusal("boot.enableContainers = false;")
    assert ('services.hive-c0re.backend = "nixos" runs agents as nixos-containers, but '
            "boot.enableContainers is false") in message


def test_nspawn_backend_does_not_need_nixos_containers() -> None:
    result = host('services.hive-c0re.backend = "nspawn";', "boot.enableContainers = false;")
    assert services(result)["hive-c0re"]["environment"]["HYPERHIVE_BACKEND"] == "nspawn"
    assert result["boot"]["enableContainers"] is False


def test_agent_environment_file_in_the_store_is_refused() -> None:
    message = refusal('services.hive-c0re.agentEnvironmentFile = "${pkgs.jq}/env";')
    assert "in the Nix store, which every local user can read" in message


@pytest.mark.parametrize("address", ["localhost", "", "hive.example", "256.0.0.1", "1.2.3", "1:2",
                                     "127.0.0.1:7000"])
def test_a_dashboard_address_that_is_no_literal_is_refused(address: str) -> None:
    message = refusal(f'services.hive-c0re.dashboard.address = "{address}";')
    assert (f'services.hive-c0re.dashboard.address is "{address}"; the dashboard\'s socket '
            "listens on an IPv4 or IPv6 address literal") in message


@pytest.mark.parametrize(("address", "listener"), [
    ("::1", "[::1]:7000"), ("0.0.0.0", "0.0.0.0:7000"), ("10.0.0.255", "10.0.0.255:7000"),
    ("fe80::1%eth0", "[fe80::1%eth0]:7000"), ("::ffff:192.0.2.1", "[::ffff:192.0.2.1]:7000")])
def test_a_dashboard_address_literal_is_taken(address: str, listener: str) -> None:
    result = host(f'services.hive-c0re.dashboard.address = "{address}";')
    assert sockets(result)["hive-c0re-dashboard"]["listenStreams"][-1] == listener


def test_a_dashboard_left_out_needs_no_address() -> None:
    result = host('services.hive-c0re.dashboard = { enable = false; address = "localhost"; };')
    assert "hive-c0re-dashboard" not in sockets(result)


def test_open_firewall_on_loopback_is_refused() -> None:
    message = refusal("services.hive-c0re.dashboard.openFirewall = true;")
    assert "the dashboard listens on 127.0.0.1 only" in message


def test_user_scope_is_refused() -> None:
    message = refusal('services.hive-c0re.settings.systemd_scope = "user";')
    assert 'settings.systemd_scope = "user" puts agents under a user manager' in message


def test_a_wrong_backend_is_refused_by_its_type() -> None:
    message = refusal('services.hive-c0re.backend = "docker";')
    assert "is not of type `one of \"nixos\", \"nspawn\"'" in message


# -- the unfree rule ----------------------------------------------------------------------


@pytest.mark.parametrize("module", ["{ services.hive-c0re.enable = true; }",
                                    "{ services.hive-c0re.enable = false; }"])
def test_nixpkgs_unfree_config_is_left_to_the_operator(module: str) -> None:
    unfree = evaluate(module)["unfree"]
    assert unfree == {"allowUnfree": False, "predicateSet": False, "definedBy": []}


def test_the_operators_unfree_choice_is_read_back_as_given() -> None:
    result = evaluate('{ services.hive-c0re.enable = true; nixpkgs.config.allowUnfreePredicate '
                      '= p: p.pname or "" == "claude-code"; }')
    assert result["unfree"]["allowUnfree"] is False
    assert result["unfree"]["predicateSet"] is True
