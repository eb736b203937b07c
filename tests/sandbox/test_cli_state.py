"""The operator's `agents` table tells the truth through real containers: a stop, a crash and
a destroy each show as one state word, the manager's row included."""

from __future__ import annotations

import json
import re
import time
from typing import Any

import pytest

from hive_dev.sandbox import SandboxHive


def ok(hive: SandboxHive, *args: str) -> str:
    done = hive.cli(*args)
    assert done.returncode == 0, f"hive-c0re {' '.join(args)}: {done.stdout}{done.stderr}"
    return done.stdout


def rows(hive: SandboxHive) -> dict[str, dict[str, Any]]:
    return {r["name"]: r for r in json.loads(ok(hive, "--json", "agents"))["agents"]}


def wait_state(hive: SandboxHive, name: str, state: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while (seen := rows(hive)[name]["state"]) != state:
        assert time.monotonic() < deadline, f"{name} is {seen}, not {state}"
        time.sleep(0.2)


def table(hive: SandboxHive, title: str) -> dict[str, list[str]]:
    """The `agents` table as printed (shown in the test's output), by name: its cells."""
    shown = ok(hive, "agents")
    print(f"\n$ hive-c0re agents   # {title}\n{shown}")
    cells = [[c.strip() for c in line.strip("│ ").split("│")]
             for line in shown.splitlines() if line.startswith("│")]
    return {c[0]: c[1:] for c in cells}


def test_agents_shows_a_stop_a_crash_and_a_destroy(managed_hive: SandboxHive,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "120")
    hive = managed_hive
    ok(hive, "spawn", "carol")
    wait_state(hive, "carol", "idle")
    wait_state(hive, "manager", "idle")
    before = table(hive, "carol spawned")
    assert before["manager"][:1] == ["idle"] and before["carol"][:1] == ["idle"]
    assert re.fullmatch(r"\d+[smhd].*", before["carol"][1]), before  # an uptime
    assert before["carol"][2] == "" and before["manager"][2] == ""  # as it is wanted

    assert ok(hive, "stop", "carol") == "carol: stopped\n"
    assert re.fullmatch(r"carol: queued #\d+; carol is stopped\n",
                        ok(hive, "send", "carol", "are you there?"))
    stopped = table(hive, "after hive-c0re stop carol and a send to it")
    assert stopped["carol"][:4] == ["stopped", "-", "", "1"], stopped

    ok(hive, "start", "carol")
    wait_state(hive, "carol", "idle")
    hive.sandbox.systemctl("kill", "--kill-whom=main", "-s", "KILL", "hive-agent@carol.service")
    wait_state(hive, "carol", "crashed")
    crashed = table(hive, "after its container was killed")
    assert crashed["carol"][:3] == ["crashed", "-", "running"], crashed
    status = ok(hive, "status", "carol")
    assert re.search(r"state\s+crashed", status) and re.search(r"desired\s+running", status)

    assert ok(hive, "destroy", "carol") == "carol: destroyed; its state is kept\n"
    gone = table(hive, "after hive-c0re destroy carol")
    assert gone["carol"][:3] == ["destroyed", "-", ""], gone
    assert gone["manager"][0] == "idle", gone
