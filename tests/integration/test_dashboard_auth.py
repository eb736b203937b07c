"""The dashboard's login verbs against a real daemon process on a real sqlite file.

Expiry is the store's clock; it is tested where the clock can be moved
(tests/unit/hive_c0re/test_sessions.py). Here: what a client of host.sock sees.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import pytest

from hive_c0re.client import Client
from hive_c0re.errors import InvalidInput, NotFound
from hive_dev.daemon import DaemonProcess, running_daemon


@pytest.fixture(scope="module")
def daemon() -> Iterator[DaemonProcess]:
    with running_daemon(clean_exit=True) as d:
        yield d


@pytest.fixture
def host(daemon: DaemonProcess) -> Iterator[Client]:
    with Client(daemon.host_socket) as client:
        yield client


def _login(host: Client, user_agent: str = "test-browser/1") -> dict[str, str]:
    code = host.call("dashboard_code")["code"]
    session: dict[str, str] = host.call("dashboard_redeem", code=code,
                                        user_agent=user_agent)["session"]
    return session


def test_a_fresh_code_redeems_once_and_its_session_is_known(host: Client) -> None:
    made = host.call("dashboard_code")
    assert made["expires_at"].endswith("Z")
    session = host.call("dashboard_redeem", code=made["code"])["session"]
    assert set(session) == {"id", "token", "csrf", "created_at"}
    found = host.call("dashboard_session", token=session["token"])["session"]
    assert found["id"] == session["id"] and found["csrf"] == session["csrf"]
    assert set(found) == {"id", "csrf", "created_at", "last_seen"}
    with pytest.raises(InvalidInput) as reused:
        host.call("dashboard_redeem", code=made["code"])
    with pytest.raises(InvalidInput) as forged:
        host.call("dashboard_redeem", code="AAAAAAAAAAAAAAAAAAAAAAAA")
    assert reused.value.message == forged.value.message
    assert "works once" in reused.value.message and reused.value.hint


def test_a_revoked_session_is_refused_at_once(host: Client) -> None:
    kept, ended = _login(host), _login(host)
    assert host.call("dashboard_logout", id=ended["id"])["revoked"] == [ended["id"]]
    with pytest.raises(NotFound, match="no such session"):
        host.call("dashboard_session", token=ended["token"])
    assert host.call("dashboard_session", token=kept["token"])["session"]["id"] == kept["id"]
    events = host.call("events")["events"]
    assert {"ids": [ended["id"]]} in [e["data"] for e in events if e["kind"] == "dashboard_logout"]


def test_sessions_are_listed_and_logout_all_ends_them(host: Client) -> None:
    mine = _login(host, "listed-browser/2")
    listed = host.call("dashboard_sessions")["sessions"]
    assert {"id": mine["id"], "user_agent": "listed-browser/2"}.items() <= next(
        s for s in listed if s["id"] == mine["id"]).items()
    assert all("token" not in s and "csrf" not in s for s in listed)
    revoked = host.call("dashboard_logout", all=True)["revoked"]
    assert mine["id"] in revoked
    assert host.call("dashboard_sessions")["sessions"] == []
    with pytest.raises(NotFound):
        host.call("dashboard_session", token=mine["token"])


def test_logout_needs_one_of_id_and_all_and_a_known_id(host: Client) -> None:
    with pytest.raises(InvalidInput, match="exactly one"):
        host.call("dashboard_logout")
    with pytest.raises(InvalidInput, match="exactly one"):
        host.call("dashboard_logout", id=1, all=True)
    with pytest.raises(NotFound, match="no dashboard session #999"):
        host.call("dashboard_logout", id=999)


def test_bad_fields_are_refused_and_the_daemon_goes_on(host: Client) -> None:
    with pytest.raises(InvalidInput, match="longer than 128"):
        host.call("dashboard_session", token="x" * 129)
    with pytest.raises(InvalidInput, match="must be a string"):
        host.call("dashboard_redeem", code=12)
    assert host.call("whoami")["name"] == "operator"


def test_the_broker_file_holds_no_code_or_token(daemon: DaemonProcess, host: Client) -> None:
    code = host.call("dashboard_code")["code"]
    session = host.call("dashboard_redeem", code=code)["session"]
    with sqlite3.connect(daemon.root / "state" / "broker.sqlite") as db:
        dump = "\n".join(db.iterdump())
    assert code not in dump and session["token"] not in dump and session["csrf"] not in dump


def test_an_agent_socket_has_no_login_verbs(daemon: DaemonProcess, host: Client) -> None:
    host.call("register", name="nologin")
    with Client(daemon.agent_socket("nologin")) as agent:
        for verb in ("dashboard_code", "dashboard_sessions"):
            with pytest.raises(InvalidInput, match="unknown verb"):
                agent.call(verb)
