"""Lifecycle promises, driven from outside with the documented CLI only, as an operator would."""

from __future__ import annotations

import json
import time

import pytest

from hive_dev.sandbox import SandboxHive
from tests.sandbox.approval_support import state_dir
from tests.sandbox.test_containers import wait_reply


def ok(hive: SandboxHive, *args: str) -> str:
    done = hive.cli(*args)
    assert done.returncode == 0, f"hive-c0re {' '.join(args)}: {done.stdout}{done.stderr}"
    return done.stdout


def status(hive: SandboxHive, name: str) -> dict[str, object]:
    view: dict[str, object] = json.loads(ok(hive, "--json", "status", name))
    return view


def test_purge_after_a_plain_destroy_wipes_the_kept_state(container_hive: SandboxHive) -> None:
    hive = container_hive
    ok(hive, "spawn", "bob")
    ok(hive, "destroy", "bob")
    assert state_dir(hive, "bob").exists()  # a plain destroy keeps the state
    ok(hive, "destroy", "--purge", "--yes", "bob")
    assert not state_dir(hive, "bob").exists()
    listed = json.loads(ok(hive, "--json", "agents"))["agents"]
    assert "bob" not in [agent["name"] for agent in listed]
    # A name purged is free again: spawning it starts from a fresh seed.
    ok(hive, "spawn", "bob")
    assert status(hive, "bob")["desired"] == "running"


def test_every_verb_is_idempotent_against_a_unit_already_gone(
        container_hive: SandboxHive) -> None:
    hive = container_hive
    ok(hive, "spawn", "bob")
    ok(hive, "stop", "bob")
    ok(hive, "stop", "bob")  # twice: the unit is already down
    ok(hive, "destroy", "bob")
    ok(hive, "destroy", "bob")  # twice: nothing left to remove
    assert state_dir(hive, "bob").exists()
    ok(hive, "destroy", "--purge", "--yes", "bob")


def test_rebuild_of_a_stopped_agent_applies_the_config_and_leaves_it_stopped(
        container_hive: SandboxHive) -> None:
    hive = container_hive
    ok(hive, "spawn", "bob")
    ok(hive, "stop", "bob")
    ok(hive, "rebuild", "bob")
    unit = "hive-agent@bob.service"
    assert hive.sandbox.show(unit, "ActiveState") in ("inactive", "failed")
    assert status(hive, "bob")["desired"] == "stopped"
    # Once started, desired and running agree, and a kill of that container is a crash.
    ok(hive, "start", "bob")
    assert status(hive, "bob")["desired"] == "running"
    hive.wait_active(unit)
    hive.sandbox.systemctl("kill", "--signal=SIGKILL", unit)
    deadline = time.monotonic() + 30
    while not any(e["event"] == "container_crash" for e in manager_events(hive)):
        assert time.monotonic() < deadline, "the crash of a started agent was not reported"
        time.sleep(0.2)


def manager_events(hive: SandboxHive) -> list[dict[str, object]]:
    told = json.loads(ok(hive, "--json", "mail", "manager", "--limit", "200"))["messages"]
    return [json.loads(m["body"]) for m in told if m["from"] == "system"]


@pytest.mark.usefixtures("managed_hive")
def test_the_operator_can_see_stop_start_and_restart_the_manager(
        managed_hive: SandboxHive) -> None:
    hive = managed_hive
    unit = "hive-agent@manager.service"
    hive.call("whoami")  # starts the daemon, which creates the manager's container
    hive.wait_active(unit)
    seen = status(hive, "manager")
    assert seen["name"] == "manager"
    assert seen["desired"] == "running"
    assert seen["running"] is True
    ok(hive, "spawn", "alice")  # the manager hears of it
    told = [json.loads(m["body"]).get("event") for m in
            json.loads(ok(hive, "--json", "mail", "manager"))["messages"]]
    assert "spawned" in told
    ok(hive, "stop", "manager")
    assert hive.sandbox.show(unit, "ActiveState") in ("inactive", "failed")
    seen = status(hive, "manager")
    assert (seen["desired"], seen["running"]) == ("stopped", False)
    # Stopped on purpose: a daemon restart leaves it stopped.
    hive.sandbox.systemctl("restart", "hive-c0re.service")
    hive.wait_active()
    time.sleep(2)
    assert hive.sandbox.show(unit, "ActiveState") in ("inactive", "failed")
    ok(hive, "start", "manager")
    hive.wait_active(unit)
    before = hive.sandbox.show(unit, "InvocationID")
    ok(hive, "restart", "manager")
    hive.wait_active(unit)
    assert hive.sandbox.show(unit, "InvocationID") != before
    assert status(hive, "manager")["desired"] == "running"
    # The echo manager still answers the operator after all that.
    ok(hive, "send", "manager", "still there?")
    wait_reply(hive, "manager heard: still there?")
