"""The Host and Origin rules and the dashboard's settings, word by word."""

from __future__ import annotations

import pytest

from hive_c0re.dashboard.config import DashboardConfig
from hive_c0re.dashboard.security import allowed, host_name, origin_allowed
from hive_c0re.dashboard.server import allowed_hosts, bind_tcp, load_config
from hive_c0re.errors import InvalidInput
from hive_c0re.settings import Settings

CONFIG = DashboardConfig(allowed_hosts=("hive.example", "[fd00::1]"))


@pytest.mark.parametrize(("header", "host"), [
    ("localhost", "localhost"), ("localhost:7000", "localhost"), ("LocalHost:1", "localhost"),
    ("127.0.0.1:7000", "127.0.0.1"), ("[::1]:7000", "[::1]"), ("[::1]", "[::1]"),
    ("hive.example", "hive.example"), ("", ""), ("[::1", ""),
])
def test_host_name_drops_the_port(header: str, host: str) -> None:
    assert host_name(header) == host


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "[::1]", "hive.example", "[fd00::1]"])
def test_local_and_configured_hosts_are_allowed(host: str) -> None:
    assert allowed(CONFIG, host)


@pytest.mark.parametrize("host", ["", "evil.example", "localhost.evil.example", "127.0.0.2",
                                  "hive.example.evil", "::1"])
def test_other_hosts_are_not(host: str) -> None:
    assert not allowed(CONFIG, host)


@pytest.mark.parametrize(("origin", "ok"), [
    ("http://localhost:7000", True), ("https://hive.example", True),
    ("http://[::1]:7000", True), ("null", False), ("http://evil.example", False),
    ("file://localhost", False), ("http://localhost.evil.example:7000", False),
    ("http://user@evil.example", False), ("", False),
])
def test_an_origin_must_be_an_allowed_web_host(origin: str, ok: bool) -> None:
    assert origin_allowed(CONFIG, origin) is ok


def test_allowed_hosts_setting_reads_names_and_refuses_anything_else() -> None:
    assert allowed_hosts(" Hive.Example, [fd00::1] ,,") == ("hive.example", "[fd00::1]")
    assert allowed_hosts("") == ()
    for bad in ("hive.example:7000", "http://hive.example", "a b", "*.example", "[zz]"):
        with pytest.raises(InvalidInput, match="dashboard_allowed_hosts"):
            allowed_hosts(bad)


def test_the_config_comes_from_the_settings() -> None:
    config = load_config(Settings.load({"dashboard_allowed_hosts": "hive.example",
                                        "dashboard_secure_cookies": "always",
                                        "dashboard_url": "https://hive.example/"}))
    assert config == DashboardConfig(allowed_hosts=("hive.example",),
                                     public_url="https://hive.example/", secure_cookies=True)
    assert load_config(Settings.load()).secure_cookies is False


@pytest.mark.parametrize("spec", ["7000", "localhost", ":7000", "127.0.0.1:http"])
def test_a_listen_address_needs_host_and_port(spec: str) -> None:
    with pytest.raises(InvalidInput, match="HOST:PORT"):
        bind_tcp(spec)


def test_a_listen_address_binds_ipv4_and_ipv6_loopback() -> None:
    for spec in ("127.0.0.1:0", "[::1]:0"):
        sock = bind_tcp(spec)
        try:
            assert sock.getsockname()[1] > 0
        finally:
            sock.close()
