"""``hive-c0re dashboard login|sessions|logout``: the real CLI against a real daemon process."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
from click.testing import CliRunner, Result

from hive_c0re.cli import cli
from hive_c0re.client import Client
from hive_c0re.errors import ExitCode, InvalidInput, NotFound
from hive_dev.daemon import DaemonProcess, running_daemon

NOBODY = 65534


@pytest.fixture(scope="module")
def daemon() -> Iterator[DaemonProcess]:
    with running_daemon(clean_exit=True) as d:
        yield d


def hive(daemon: DaemonProcess, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--socket", str(daemon.host_socket), *args])


def _code(url: str) -> str:
    (code,) = parse_qs(urlsplit(url).query)["code"]
    return code


def _logged_in(daemon: DaemonProcess, user_agent: str) -> dict[str, str]:
    login = hive(daemon, "--json", "dashboard", "login")
    assert login.exit_code == 0, login.output
    with Client(daemon.host_socket) as host:
        session: dict[str, str] = host.call(
            "dashboard_redeem", code=_code(json.loads(login.output)["url"]),
            user_agent=user_agent)["session"]
    return session


def test_login_prints_a_url_whose_code_works_once(daemon: DaemonProcess) -> None:
    login = hive(daemon, "dashboard", "login")
    assert login.exit_code == 0, login.output
    url, said = login.output.splitlines()
    assert url.startswith("http://127.0.0.1:7000/login?code=")
    assert "works once" in said and "60 s" in said
    with Client(daemon.host_socket) as host:
        assert host.call("dashboard_redeem", code=_code(url))["session"]["id"] >= 1
        with pytest.raises(InvalidInput, match="works once"):
            host.call("dashboard_redeem", code=_code(url))


def test_login_url_is_on_the_configured_dashboard_url() -> None:
    with running_daemon(clean_exit=True, dashboard_url="https://hive.example:7443/") as d:
        login = hive(d, "--json", "dashboard", "login")
    assert login.exit_code == 0, login.output
    found = json.loads(login.output)
    assert found["url"] == f"https://hive.example:7443/login?code={found['code']}"
    assert found["expires_at"].endswith("Z")


def test_login_is_refused_to_anyone_but_root(daemon: DaemonProcess) -> None:
    # The effective uid is what the command checks; this process takes nobody's for the call.
    os.seteuid(NOBODY)
    try:
        refused = hive(daemon, "dashboard", "login")
    finally:
        os.seteuid(0)
    assert refused.exit_code == ExitCode.REFUSED, refused.output
    assert "for root only" in refused.output and "sudo" in refused.output
    assert "login?code=" not in refused.output


def test_sessions_lists_each_browser_and_logout_ends_one(daemon: DaemonProcess) -> None:
    first = _logged_in(daemon, "first-browser <b>[bold]</b>")
    second = _logged_in(daemon, "second-browser")
    listed = hive(daemon, "--json", "dashboard", "sessions")
    assert listed.exit_code == 0, listed.output
    agents = {s["id"]: s["user_agent"] for s in json.loads(listed.output)["sessions"]}
    assert agents[first["id"]] == "first-browser <b>[bold]</b>"
    table = hive(daemon, "dashboard", "sessions")
    assert table.exit_code == 0, table.output
    assert "[bold]" in table.output  # the browser's text as it is, not rich's markup
    ended = hive(daemon, "dashboard", "logout", str(first["id"]))
    assert ended.exit_code == 0, ended.output
    assert ended.output.strip() == f"#{first['id']}: logged out"
    with Client(daemon.host_socket) as host:
        with pytest.raises(NotFound):
            host.call("dashboard_session", token=first["token"])
        assert host.call("dashboard_session", token=second["token"])["session"]["id"]


def test_logout_all_then_nobody_is_logged_in(daemon: DaemonProcess) -> None:
    _logged_in(daemon, "some-browser")
    ended = hive(daemon, "--json", "dashboard", "logout", "--all")
    assert ended.exit_code == 0, ended.output
    assert json.loads(ended.output)["revoked"]
    listed = hive(daemon, "dashboard", "sessions")
    assert listed.exit_code == 0, listed.output
    assert "no browser is logged in" in listed.output
    again = hive(daemon, "dashboard", "logout", "--all")
    assert again.exit_code == 0 and "no session was logged in" in again.output


def test_logout_needs_an_id_or_all_and_a_known_id(daemon: DaemonProcess) -> None:
    neither = hive(daemon, "dashboard", "logout")
    assert neither.exit_code == ExitCode.USAGE and "--all" in neither.output
    both = hive(daemon, "dashboard", "logout", "3", "--all")
    assert both.exit_code == ExitCode.USAGE
    unknown = hive(daemon, "dashboard", "logout", "9999")
    assert unknown.exit_code == ExitCode.NOT_FOUND
    assert "no dashboard session #9999" in unknown.output
