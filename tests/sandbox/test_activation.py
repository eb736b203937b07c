"""hive-c0re under a real systemd: socket activation, notify status, journal fields."""

from __future__ import annotations

import json
import time

import pytest

from hive_c0re.errors import PolicyRefused
from hive_dev.sandbox import Sandbox, SandboxHive


def test_first_connection_starts_the_service_which_answers(hive: SandboxHive) -> None:
    assert hive.active() == "inactive"
    assert hive.call("whoami") == {"version": 1, "ok": True, "name": "operator",
                                   "socket": "host"}
    assert hive.active() == "active"
    assert hive.sandbox.show("hive-c0re.service", "Type") == "notify"


def test_status_shows_the_daemons_status_line(hive: SandboxHive) -> None:
    hive.call("register", name="alice")
    deadline = time.monotonic() + 20
    while True:
        status = hive.sandbox.systemctl("status", "hive-c0re.service", "--no-pager",
                                        check=False).stdout
        # The daemon reports at start and every few seconds after.
        if "Status: \"1 agent(s)" in status or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert "Status: \"" in status and "agent(s)" in status, status
    assert "Status: \"1 agent(s)" in status, status


def test_journal_holds_lines_with_hive_agent_fields(hive: SandboxHive) -> None:
    for name in ("bob", "carol"):
        hive.call("register", name=name)
    hive.call("register", name="alice", allowed_recipients=["bob"])
    with hive.client(hive.agent_socket("alice")) as alice, pytest.raises(PolicyRefused):
        alice.call("send", to="carol", body="x")
    lines = [json.loads(line) for line in hive.sandbox.journal("HIVE_AGENT=alice").splitlines()]
    messages = [line["MESSAGE"] for line in lines]
    assert any("registered agent alice" in m for m in messages), messages
    assert any("may not send to carol" in m for m in messages), messages
    assert {line["HIVE_AGENT"] for line in lines} == {"alice"}
    assert {line["SYSLOG_IDENTIFIER"] for line in lines} == {"hive-c0re"}
    units = {line.get("_SYSTEMD_USER_UNIT") or line.get("_SYSTEMD_UNIT") for line in lines}
    assert units == {"hive-c0re.service"}


def test_service_stops_cleanly_and_comes_back_on_the_next_connection(hive: SandboxHive) -> None:
    hive.call("register", name="alice")
    first = hive.main_pid()
    hive.sandbox.systemctl("stop", "hive-c0re.service")
    assert hive.active() == "inactive"
    assert hive.sandbox.show("hive-c0re.service", "Result") == "success"
    # The socket stays with systemd; the next operator call starts the daemon again,
    # which brings back alice's socket from the broker.
    assert [a["name"] for a in hive.call("agents")["agents"]] == ["alice"]
    assert hive.main_pid() != first
    with hive.client(hive.agent_socket("alice")) as alice:
        assert alice.call("whoami")["name"] == "alice"


def test_the_watchdog_is_petted_and_a_hung_daemon_is_restarted(sandbox: Sandbox) -> None:
    hive = SandboxHive(sandbox)
    dropin = sandbox.unit_dir / "hive-c0re.service.d" / "watchdog.conf"
    dropin.write_text("[Service]\nWatchdogSec=1s\n")
    sandbox.systemctl("daemon-reload")
    hive.call("whoami")
    first = hive.main_pid()
    time.sleep(3)  # three watchdog periods: a daemon that did not pet would be dead by now
    assert hive.active() == "active" and hive.main_pid() == first
    assert sandbox.show("hive-c0re.service", "NRestarts") == "0"
    # A daemon whose loop stops turning stops petting: systemd kills and restarts it.
    sandbox.run("kill", "-STOP", str(first))
    deadline = time.monotonic() + 30
    while hive.active() != "active" or hive.main_pid() == first:
        assert time.monotonic() < deadline, "the hung daemon was not restarted"
        time.sleep(0.2)
    assert sandbox.show("hive-c0re.service", "Result") in ("success", "watchdog")
    assert hive.call("whoami")["name"] == "operator"
