"""Crash watch: containers killed from outside are reported once; operator stops are not."""

from __future__ import annotations

import json
import sys
import time
from typing import Any

from hive_c0re.client import Client
from hive_dev.polling import wait_until
from hive_dev.sandbox import SandboxHive
from tests.sandbox.approval_support import deploy


def manager_mail(hive: SandboxHive, wait: float = 20) -> list[dict[str, Any]]:
    """Drain the manager's inbox for a while; return the events (JSON bodies from system)."""
    found: list[dict[str, Any]] = []
    deadline = time.monotonic() + wait
    with Client(hive.manager_socket) as manager:
        while time.monotonic() < deadline:
            batch = manager.call("recv", wait_seconds=1)["messages"]
            if batch:
                manager.call("ack_turn")
            found += [json.loads(m["body"]) for m in batch if m["from"] == "system"]
            if any(e["event"] == "container_crash" for e in found):
                break
    return found


def until_down(hive: SandboxHive, unit: str, wait: float = 20) -> str:
    """The unit's ActiveState once it is no longer going down (or after ``wait`` s)."""
    deadline = time.monotonic() + wait
    while (state := hive.sandbox.show(unit, "ActiveState")) == "deactivating":
        if time.monotonic() > deadline:
            break
        time.sleep(0.05)
    return state


def crashes(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in events if e["event"] == "container_crash"]


def test_a_container_killed_from_outside_is_reported_with_status_and_lines(
        container_hive: SandboxHive) -> None:
    hive = container_hive
    hive.call("spawn", name="alice")
    # A spawn returns once the stand-in has spoken, before it logs that it listens: the
    # kill waits for that line, which the report must then carry.
    wait_until(lambda: "echo agent listening" in hive.sandbox.journal(
        "SYSLOG_IDENTIFIER=hive-agent-alice"), "alice's listening line")
    hive.sandbox.systemctl("kill", "--kill-whom=main", "-s", "KILL", "hive-agent@alice.service")
    (crash,) = crashes(manager_mail(hive))
    assert crash["agent"] == "alice" and crash["unit"] == "hive-agent@alice.service"
    assert crash["result"] == "signal" and crash["exit_code"] == "killed"
    assert crash["exit_status"] == 9
    assert any("echo agent listening" in line for line in crash["journal"]), crash["journal"]
    # Told as soon as nspawn died, maybe while systemd still ends the container's other
    # processes; the default policy reports and leaves the decision to the manager.
    assert crash["active_state"] in ("deactivating", "failed")
    assert until_down(hive, "hive-agent@alice.service") == "failed"


def test_an_operator_stop_is_not_a_crash(container_hive: SandboxHive) -> None:
    hive = container_hive
    hive.call("spawn", name="alice")
    hive.call("stop", name="alice")
    events = manager_mail(hive, wait=4)
    assert [e["event"] for e in events] == ["spawned", "stopped"]


def test_a_crash_while_the_daemon_is_down_is_reported_once_after(
        container_hive: SandboxHive) -> None:
    hive = container_hive
    hive.call("spawn", name="alice")
    manager_mail(hive, wait=1)  # the spawn's own events
    hive.sandbox.systemctl("stop", "hive-c0re.service")
    hive.sandbox.systemctl("kill", "--kill-whom=main", "-s", "KILL", "hive-agent@alice.service")
    hive.call("whoami")  # the daemon comes back through its socket
    first = crashes(manager_mail(hive))
    assert len(first) == 1 and first[0]["agent"] == "alice"
    # A second daemon restart must not report the same incident again.
    hive.sandbox.systemctl("restart", "hive-c0re.service")
    hive.wait_active()
    assert crashes(manager_mail(hive, wait=4)) == []


def test_a_restart_policy_restarts_within_its_burst(container_hive: SandboxHive) -> None:
    hive = container_hive
    hive.call("spawn", name="alice")
    deploy(hive, "alice", "[restart]\npolicy = \"restart\"\nburst = 1\n"
           "interval_seconds = 600\n", "restart alice once if it dies")
    manager_mail(hive, wait=1)
    unit = "hive-agent@alice.service"

    hive.sandbox.systemctl("kill", "--kill-whom=main", "-s", "KILL", unit)
    events = manager_mail(hive)
    events += manager_mail(hive, wait=3)
    assert [e["event"] for e in events] == ["container_crash", "started"], events
    assert hive.sandbox.show(unit, "ActiveState") == "active"

    hive.sandbox.systemctl("kill", "--kill-whom=main", "-s", "KILL", unit)
    events = manager_mail(hive)
    events += manager_mail(hive, wait=3)
    assert [e["event"] for e in events] == ["container_crash", "restart_limit"], events
    assert until_down(hive, unit) == "failed"


READ_BOTH_WAYS = """
import asyncio, dataclasses, json
from hive_c0re.daemon.crashwatch import read_state
from hive_c0re.daemon.unitbus import UnitBus
from hive_c0re.lifecycle.backend import Scope, Systemctl

async def main():
    bus = UnitBus(user_mode=True)
    bus.start(asyncio.get_running_loop(), lambda unit: None)
    try:
        over_dbus = await asyncio.to_thread(bus.state, UNIT)
    finally:
        bus.stop()
    shown = read_state(Systemctl(Scope.USER), UNIT)
    print(json.dumps([dataclasses.asdict(over_dbus), dataclasses.asdict(shown)]))

asyncio.run(main())
"""


def test_the_watch_reads_over_d_bus_what_systemctl_shows(container_hive: SandboxHive) -> None:
    """The crash watch's own read (no process forked) against ``systemctl show``."""
    hive = container_hive
    hive.call("spawn", name="alice")
    unit = "hive-agent@alice.service"
    hive.sandbox.systemctl("kill", "--kill-whom=main", "-s", "KILL", unit)
    while hive.sandbox.show(unit, "ActiveState") not in ("failed", "inactive"):
        time.sleep(0.05)
    done = hive.sandbox.run(sys.executable, "-c", f"UNIT = {unit!r}\n" + READ_BOTH_WAYS)
    over_dbus, shown = json.loads(done.stdout)
    assert over_dbus["active"] == "failed" and len(over_dbus["invocation"]) == 32
    # systemctl's timestamp is whole seconds; D-Bus gives microseconds.
    assert abs(over_dbus.pop("active_since") - shown.pop("active_since")) < 1
    assert over_dbus == shown
