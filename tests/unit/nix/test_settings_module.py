"""The modules' settings submodules are the settings tables: every setting, typed, mapped."""

from __future__ import annotations

import json

import pytest

from hive_ag3nt.settings import HARNESS_SETTINGS
from hive_c0re.lifecycle.agents import MODEL_UID
from hive_c0re.settings import SETTINGS, Setting
from hive_dev.nix_modules import HARNESS_MODULE, EvalRefused, evaluate
from hive_dev.nixgen import HOST_SET, PROMOTED
from tests.unit.nix.host_support import host, services

pytestmark = pytest.mark.usefixtures("nixpkgs_lib")


# Values the module refuses on NixOS by an assertion (test_host_module): set as the default.
REFUSED_ON_NIXOS = frozenset({"systemd_scope"})


def other_value(setting: Setting) -> int | float | str:
    """A valid value of ``setting``, other than its default where it may be, so setting it shows."""
    if setting.name in REFUSED_ON_NIXOS:
        return setting.default
    if setting.choices:
        return next(c for c in reversed(setting.choices) if c != setting.default)
    if setting.type is str:
        return f"/srv/{setting.name}"
    default = float(setting.default)
    value = default + 1
    if setting.maximum is not None and value > setting.maximum:
        value = default - 1
    return setting.type(value)


def nix_value(value: int | float | str) -> str:
    text = json.dumps(value)
    return text if not isinstance(value, float) or "." in text else text + ".0"


def assignments(prefix: str, settings: tuple[Setting, ...]) -> str:
    return " ".join(f"{prefix}.{s.name} = {nix_value(other_value(s))};" for s in settings)


def test_every_daemon_setting_reaches_the_daemons_environment() -> None:
    offered = tuple(s for s in SETTINGS if s.name not in PROMOTED)
    result = host(assignments("services.hive-c0re.settings", offered),
                  'services.hive-c0re.backend = "nspawn";',
                  'services.hive-c0re.agentEnvironmentFile = "/run/secrets/agents.env";')
    environment = services(result)["hive-c0re"]["environment"]
    expected = {s.name: other_value(s) for s in offered}
    expected |= {"backend": "nspawn", "agent_env_file": "/run/secrets/agents.env"}
    # Read back as the daemon reads them: each setting's own parser on its variable.
    assert {s.name: s.parse(environment[s.env]) for s in SETTINGS} == expected


def test_promoted_settings_are_options_of_the_module_not_settings() -> None:
    with pytest.raises(EvalRefused) as refused:
        host('services.hive-c0re.settings.backend = "nspawn";')
    assert "The option `services.hive-c0re.settings.backend' does not exist." in \
        refused.value.message


def test_unset_settings_keep_the_daemons_defaults() -> None:
    environment = services(host("services.hive-c0re.dashboard.enable = false;"))[
        "hive-c0re"]["environment"]
    assert {s.env for s in SETTINGS} & set(environment) == {"HYPERHIVE_BACKEND"}


def test_every_harness_setting_reaches_the_harness_environment() -> None:
    offered = tuple(s for s in HARNESS_SETTINGS if s.name not in HOST_SET)
    result = evaluate("{ " + assignments("services.hive-harness.settings", offered)
                      + " }", modules=(HARNESS_MODULE,))
    environment = result["systemd"]["services"]["hive-ag3nt"]["environment"]
    expected = {s.name: other_value(s) for s in offered} | {"model_uid": MODEL_UID}
    assert {s.name: s.parse(environment[s.env]) for s in HARNESS_SETTINGS} == expected


@pytest.mark.parametrize(("assignment", "message"), [
    ("inbox_cap = \"many\";",
     "A definition for option `services.hive-c0re.settings.inbox_cap' is not of type "
     "`null or integer, at least 1'."),
    ("inbox_cap = 0;",
     "A definition for option `services.hive-c0re.settings.inbox_cap' is not of type "
     "`null or integer, at least 1'."),
    ("max_body_bytes = 8388609;",
     "is not of type `null or integer between 1 and 8388608 (both inclusive)'."),
    ("dashboard_session_days = 400;",
     "is not of type `null or integer or floating point number between 0.001 and 366"),
    ("sqlite_synchronous = \"OFF\";",
     "is not of type `null or one of \"NORMAL\", \"FULL\"'."),
    ("agent_command = 3;", "is not of type `null or string'."),
    ("inbox_cpa = 20000;",
     "The option `services.hive-c0re.settings.inbox_cpa' does not exist."),
])
def test_a_bad_setting_fails_evaluation_saying_why(assignment: str, message: str) -> None:
    with pytest.raises(EvalRefused) as refused:
        host(f"services.hive-c0re.settings.{assignment}")
    assert message in refused.value.message


def test_a_float_setting_takes_a_whole_number() -> None:
    environment = services(host("services.hive-c0re.settings.acked_retention_days = 7;"))[
        "hive-c0re"]["environment"]
    assert environment["HYPERHIVE_ACKED_RETENTION_DAYS"] == "7"


@pytest.mark.parametrize("value", [1209601.5, 0.001, 2.5e-05, 0.0])
def test_a_float_setting_is_written_exactly(value: float) -> None:
    environment = services(host(f"services.hive-c0re.settings.acked_retention_days = "
                                f"{value:f};"))["hive-c0re"]["environment"]
    assert float(environment["HYPERHIVE_ACKED_RETENTION_DAYS"]) == value


def test_a_float_this_nix_cannot_write_exactly_is_refused_saying_so() -> None:
    try:
        environment = services(host("services.hive-c0re.settings.write_timeout = 0.123456789;"))[
            "hive-c0re"]["environment"]
    except EvalRefused as refused:
        assert "setting write_timeout = 0.123457: this Nix cannot write it exactly" in \
            refused.message
    else:  # a newer Nix writes every digit
        assert float(environment["HYPERHIVE_WRITE_TIMEOUT"]) == 0.123456789
