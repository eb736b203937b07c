"""Agents as real nspawn containers under the sandboxed systemd."""

from __future__ import annotations

import json
import time

import pytest

from hive_c0re.errors import InvalidInput
from hive_dev.sandbox import SandboxHive, in_container
from tests.sandbox.approval_support import state_dir

PROBE = """
import json, os, socket
s = socket.socket(socket.AF_UNIX)
s.connect("/run/hive/hive.sock")
s.sendall(b'{"cmd": "whoami"}\\n')
who = json.loads(s.makefile().readline())
print(json.dumps({
    "uid": os.getuid(),
    "uid_map": open("/proc/self/uid_map").read().split(),
    "whoami": who,
    "run_hive": sorted(os.listdir("/run/hive")),
    "visible": {p: os.path.exists(p) for p in ARGS},
    "policy": json.load(open("/etc/hive/policy.json"))["model"],
}))
"""


def probe(hive: SandboxHive, agent: str, paths: list[str]) -> dict[str, object]:
    done = in_container(hive, agent, f"ARGS = {paths!r}\n" + PROBE)
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout)
    return result


def wait_reply(hive: SandboxHive, want: str, timeout: float = 30) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    seen: list[dict[str, object]] = []
    while time.monotonic() < deadline:
        seen += hive.call("inbox", wait_seconds=1)["messages"]
        for message in seen:
            if message["body"] == want:
                return message
    raise AssertionError(f"no reply {want!r}; inbox had {seen}")


def test_two_agents_in_real_containers_see_only_their_own(container_hive: SandboxHive) -> None:
    hive = container_hive
    for name in ("alice", "bob"):
        assert hive.call("spawn", name=name)["agent"]["desired"] == "running"
    host_state = str(state_dir(hive, "alice").parent.parent)
    seen = probe(hive, "alice", [host_state, str(hive.agent_socket("bob")),
                                 "/run/hive/../agents/bob", "/etc/shadow", "/root/.bashrc",
                                 "/state", "/root/.claude", "/home"])
    assert seen["whoami"] == {"version": 1, "ok": True, "name": "alice", "socket": "agent"}
    assert seen["uid"] == 0
    uid_map = seen["uid_map"]
    assert isinstance(uid_map, list) and uid_map[0] == "0" and uid_map[1] != "0"
    assert seen["run_hive"] == ["hive.sock"]
    assert seen["visible"] == {host_state: False, str(hive.agent_socket("bob")): False,
                               "/run/hive/../agents/bob": False, "/etc/shadow": False,
                               "/root/.bashrc": False, "/state": True, "/root/.claude": True,
                               "/home": False}
    assert seen["policy"] == "haiku"
    bob = hive.call("agent_status", name="bob")["agent"]
    alice = hive.call("agent_status", name="alice")["agent"]
    assert alice["uid_base"] != bob["uid_base"]
    assert int(uid_map[1]) == alice["uid_base"]


def test_state_persists_until_purge_and_is_not_host_root(container_hive: SandboxHive) -> None:
    hive = container_hive
    hive.call("spawn", name="alice")
    written = in_container(hive, "alice", "open('/state/notes.md', 'w').write('remember')")
    assert written.returncode == 0, written.stderr
    # On the agent's disk, mounted in the sandbox's mount namespace.
    notes = state_dir(hive, "alice") / "disk" / "state" / "notes.md"
    assert hive.sandbox.run("cat", str(notes)).stdout == "remember"
    owner = int(hive.sandbox.run("stat", "-c", "%u", str(notes)).stdout)
    assert owner == hive.call("agent_status", name="alice")["agent"]["uid_base"] != 0

    hive.call("stop", name="alice")
    assert hive.sandbox.show("hive-agent@alice.service", "ActiveState") == "inactive"
    hive.call("start", name="alice")
    assert in_container(hive, "alice", "print(open('/state/notes.md').read())").stdout == \
        "remember\n"

    hive.call("destroy", name="alice")
    assert hive.sandbox.run("test", "-e", str(notes), check=False).returncode == 1, \
        "a destroyed agent's disk stays unmounted until it is spawned again"
    assert (state_dir(hive, "alice") / "disk.img").is_file()
    with pytest.raises(Exception, match="destroyed"):
        hive.call("send", to="alice", body="anyone there?")
    hive.call("spawn", name="alice")
    assert in_container(hive, "alice", "print(open('/state/notes.md').read())").stdout == \
        "remember\n"

    hive.call("destroy", name="alice", purge=True)
    assert not state_dir(hive, "alice").exists()
    assert [a["name"] for a in hive.call("agents")["agents"]] == []
    hive.call("spawn", name="alice")
    fresh = in_container(hive, "alice", "import os; print(os.path.exists('/state/notes.md'))")
    assert fresh.stdout == "False\n"


def test_agent_answers_and_survives_a_daemon_restart(container_hive: SandboxHive) -> None:
    hive = container_hive
    hive.call("spawn", name="alice")
    hive.call("send", to="alice", body="before")
    wait_reply(hive, "alice heard: before")
    first = hive.main_pid()
    hive.sandbox.systemctl("restart", "hive-c0re.service")
    hive.wait_active()
    assert hive.main_pid() != first
    # Sent while the container's client is still reconnecting: kept, then answered.
    hive.call("send", to="alice", body="after")
    reply = wait_reply(hive, "alice heard: after")
    assert reply["from"] == "alice"
    assert hive.sandbox.show("hive-agent@alice.service", "ActiveState") == "active"


def test_lifecycle_wakes_the_agent_and_unit_has_limits(container_hive: SandboxHive) -> None:
    hive = container_hive
    hive.call("spawn", name="alice")
    hive.call("restart", name="alice")
    # The stand-in agent logs each wake message from system it receives.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        woken = hive.sandbox.journal("SYSLOG_IDENTIFIER=hive-agent-alice").count(
            "from system needs no answer")
        if woken >= 2:
            break
        time.sleep(0.2)
    assert woken == 2  # one for the spawn, one for the restart
    for hostile in ("../x", "a;b", "--flag", "manager", "A"):
        with pytest.raises(InvalidInput):
            hive.call("spawn", name=hostile)
    units = hive.sandbox.systemctl("list-units", "--all", "hive-agent@*", "--no-legend").stdout
    assert "hive-agent@alice.service" in units and units.count("hive-agent@") == 1


def test_daemon_start_brings_up_agents_that_should_run(container_hive: SandboxHive) -> None:
    hive = container_hive
    for name in ("alice", "bob"):
        hive.call("spawn", name=name)
    hive.call("stop", name="bob")
    hive.sandbox.systemctl("stop", "hive-c0re.service")
    # Behind the daemon's back: alice's container goes away too.
    hive.sandbox.systemctl("stop", "hive-agent@alice.service")
    hive.call("whoami")  # socket activation starts the daemon again
    deadline = time.monotonic() + 30
    while hive.sandbox.show("hive-agent@alice.service", "ActiveState") != "active":
        assert time.monotonic() < deadline, "alice was not brought back up"
        time.sleep(0.1)
    assert hive.sandbox.show("hive-agent@bob.service", "ActiveState") == "inactive"
