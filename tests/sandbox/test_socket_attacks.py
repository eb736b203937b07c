"""Agents attacking the daemon through their sockets, from inside real containers.

- An agent that puts a regular file where its socket goes costs itself its
  socket at the next daemon start (logged, in its status, retried), never the
  hive: ``host.sock`` and the other agents keep working, and the retry or a
  rebuild gives the agent its socket back.
- An agent that floods its socket with connections is refused past
  ``max_connections`` at once, all sockets together stay within one budget
  with room only the operator may use, and the operator keeps working.
"""

from __future__ import annotations

import json
import subprocess
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from hive_c0re.client import Client
from hive_c0re.errors import InvalidInput, Unreachable
from hive_dev.sandbox import Sandbox, SandboxHive, in_container
from tests.sandbox.test_containers import wait_reply

DEADLINE = 60.0  # a guard against hanging, never an assertion about speed

REPLACE_SOCKET = """
import os
os.unlink("/run/hive/hive.sock")
with open("/run/hive/hive.sock", "w") as planted:
    planted.write("not a socket")
"""


def restart_daemon(hive: SandboxHive) -> None:
    before = hive.main_pid()
    hive.sandbox.systemctl("restart", "hive-c0re.service", check=False)
    deadline = time.monotonic() + DEADLINE
    while hive.active() != "active" or hive.main_pid() == before:
        state = hive.active()
        assert state != "failed" and time.monotonic() < deadline, (
            f"hive-c0re.service is {state}:\n" + hive.sandbox.systemctl(
                "status", "hive-c0re.service", "--no-pager", "-n", "30", check=False).stdout)
        time.sleep(0.1)


def test_a_planted_socket_file_costs_only_that_agent_its_socket(
        container_hive: SandboxHive) -> None:
    hive = container_hive
    for name in ("alice", "bob"):
        hive.call("spawn", name=name)
    planted = in_container(hive, "alice", REPLACE_SOCKET)
    assert planted.returncode == 0, planted.stderr

    restart_daemon(hive)
    with hive.client(timeout=10) as operator:
        assert operator.call("whoami")["name"] == "operator"
        alice = operator.call("agent_status", name="alice")["agent"]
        assert alice["listening"] is False
        assert "not a socket" in alice["socket_error"]
        listed = {a["name"]: a for a in operator.call("agents")["agents"]}
        assert listed["bob"]["listening"] is True and listed["bob"]["socket_error"] is None
        operator.call("send", to="bob", body="still there?")
    wait_reply(hive, "bob heard: still there?")
    shown = hive.cli("status", "alice")
    assert shown.returncode == 0 and "not a socket" in shown.stdout, shown
    assert "alice has no socket" in hive.sandbox.journal("-u", "hive-c0re.service")

    # A lifecycle verb is a retry too: the daemon takes its path back.
    hive.call("rebuild", name="alice")
    alice = hive.call("agent_status", name="alice")["agent"]
    assert alice["listening"] is True and alice["socket_error"] is None
    hive.call("send", to="alice", body="back?")
    wait_reply(hive, "alice heard: back?")


def test_the_periodic_retry_gives_a_running_agent_its_socket_back(sandbox: Sandbox) -> None:
    hive = SandboxHive(sandbox, HYPERHIVE_SYSTEMD_SCOPE="user",
                       HYPERHIVE_UNIT_DIR=str(sandbox.unit_dir),
                       HYPERHIVE_APPLY_SETTLE_SECONDS="1",
                       HYPERHIVE_SOCKET_RETRY_INTERVAL="2")
    hive.call("spawn", name="alice")
    assert in_container(hive, "alice", REPLACE_SOCKET).returncode == 0
    restart_daemon(hive)
    assert hive.call("whoami")["name"] == "operator"
    # Without a restart of its container: the directory it sees is the same one.
    deadline = time.monotonic() + DEADLINE
    while not hive.call("agent_status", name="alice")["agent"]["listening"]:
        assert time.monotonic() < deadline, "alice never got her socket back"
        time.sleep(0.2)
    hive.call("send", to="alice", body="found you")
    wait_reply(hive, "alice heard: found you")
    journal = hive.sandbox.journal("-u", "hive-c0re.service")
    assert "alice has no socket" in journal and "alice has its socket again" in journal


FLOOD = """
import json, os, resource, socket, time
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
held, unconnected = [], 0
give_up = time.monotonic() + 30
for _ in range(COUNT):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.setblocking(False)
    while True:
        try:
            sock.connect("/run/hive/hive.sock")
            held.append(sock)
            break
        except OSError:  # a full backlog, or a daemon gone (or coming back)
            if time.monotonic() > give_up:
                unconnected += 1
                sock.close()
                break
            time.sleep(0.005)
open("/run/hive/flood-ready", "w").write(str(len(held)))
while not os.path.exists("/run/hive/flood-done"):
    time.sleep(0.05)
refused = 0
for sock in held:
    sock.setblocking(False)
    try:
        got = sock.recv(4096)
    except (BlockingIOError, ConnectionResetError):
        continue
    refused += b"too many connections" in got
print(json.dumps({"held": len(held), "unconnected": unconnected, "refused": refused}))
"""


def daemon_fds(hive: SandboxHive) -> int:
    listing = hive.sandbox.run("ls", f"/proc/{hive.main_pid()}/fd").stdout
    return len(listing.split())


def settled_fds(hive: SandboxHive, most: int) -> tuple[int, int]:
    """Wait until the daemon holds at most ``most`` fds; return (first seen, last seen).

    Refused connections are each closed as soon as the daemon gets to them, so
    the count falls to the held connections long before any idle timeout.
    """
    first = last = daemon_fds(hive)
    deadline = time.monotonic() + DEADLINE
    while last > most:
        assert time.monotonic() < deadline, f"the daemon still holds {last} fds"
        time.sleep(0.2)
        last = daemon_fds(hive)
    return first, last


def wait_for(path: Path, flood: Future[subprocess.CompletedProcess[str]]) -> None:
    deadline = time.monotonic() + DEADLINE
    while not path.exists():
        if flood.done():
            ended = flood.result()
            raise AssertionError(f"the flood ended early ({ended.returncode}): {ended.stderr}")
        assert time.monotonic() < deadline, "the flood never got going"
        time.sleep(0.1)


def test_a_connection_flood_from_a_container_leaves_the_operator_working(
        sandbox: Sandbox) -> None:
    hive = SandboxHive(sandbox, HYPERHIVE_SYSTEMD_SCOPE="user",
                       HYPERHIVE_UNIT_DIR=str(sandbox.unit_dir),
                       HYPERHIVE_APPLY_SETTLE_SECONDS="1",
                       HYPERHIVE_MAX_CONNECTIONS="200",
                       HYPERHIVE_MAX_TOTAL_CONNECTIONS="300",
                       HYPERHIVE_HOST_RESERVED_CONNECTIONS="64")
    hive.call("spawn", name="alice")
    hive.call("register", name="bob")
    # Signalled through alice's runtime directory: her /run/hive, on the host beside her socket.
    ready = hive.agent_socket("alice").with_name("flood-ready")
    done = hive.agent_socket("alice").with_name("flood-done")
    baseline, daemon = daemon_fds(hive), hive.main_pid()
    with ThreadPoolExecutor(1) as pool:
        flooding = pool.submit(in_container, hive, "alice", FLOOD.replace("COUNT", "1200"))
        try:
            wait_for(ready, flooding)
            # At most what alice may hold (one of them her harness's), and a few in passing.
            fds = settled_fds(hive, baseline + 200 + 10)
            # The operator works throughout, within its client's timeout, and the
            # daemon is the one that took the flood (not a restart after a crash).
            with Client(hive.host_socket, timeout=10) as operator:
                assert "alice" in {a["name"] for a in operator.call("agents")["agents"]}
                operator.call("send", to="bob", body="while alice floods")
            assert hive.main_pid() == daemon, "the daemon did not survive the flood:\n" + (
                hive.sandbox.run("journalctl", "--no-pager", "-u", "hive-c0re.service",
                                 "-n", "4", check=False).stdout)
            # Another agent's socket meets the shared budget: 300 less the 64 kept for
            # the operator, of which alice's flood holds up to 200.
            bobs = [Client(hive.agent_socket("bob"), timeout=10) for _ in range(100)]
            answers = []
            for client in bobs:
                try:
                    answers.append(client.call("whoami")["name"])
                except InvalidInput as exc:
                    answers.append(exc.message)
            assert "bob" in answers and "too many connections" in answers
            # The operator's reserve is still there with every agent socket at its limit.
            operators = [Client(hive.host_socket, timeout=10) for _ in range(32)]
            assert {c.call("whoami")["name"] for c in operators} == {"operator"}
            for client in [*bobs, *operators]:
                client.close()
        finally:
            done.write_text("")
        result = flooding.result(timeout=DEADLINE)
    assert result.returncode == 0, result.stderr
    counts = json.loads(result.stdout)
    assert counts["held"] + counts["unconnected"] == 1200
    # Past the per-socket cap, refused with an answer and closed at once: no fd kept.
    assert counts["refused"] >= 1200 - 200 - counts["unconnected"]
    print(f"flood: {counts}; the daemon's fds: {baseline} before, {fds} under it")
    with hive.client(hive.agent_socket("bob")) as bob:
        assert [m["body"] for m in bob.call("recv", wait_seconds=0)["messages"]] == [
            "while alice floods"]


def test_a_planted_manager_socket_file_costs_only_the_manager(sandbox: Sandbox) -> None:
    # Planted from the host, where the manager's container would plant it through its
    # /run/hive bind: the daemon meets the same file at its next start.
    hive = SandboxHive(sandbox, HYPERHIVE_SOCKET_RETRY_INTERVAL="1")
    hive.call("whoami")  # socket activation starts the daemon
    with Client(hive.manager_socket) as manager:
        assert manager.call("whoami")["name"] == "manager"
    hive.sandbox.systemctl("stop", "hive-c0re.service")
    hive.manager_socket.unlink()
    hive.manager_socket.write_text("not a socket")

    assert hive.call("whoami")["name"] == "operator"  # socket activation starts it again
    deadline = time.monotonic() + DEADLINE
    while True:
        try:
            with Client(hive.manager_socket, timeout=5) as manager:
                assert manager.call("whoami")["name"] == "manager"
            break
        except Unreachable:
            assert time.monotonic() < deadline, "the manager never got its socket back"
            time.sleep(0.2)
    journal = hive.sandbox.journal("-u", "hive-c0re.service")
    assert "manager has no socket" in journal and "manager has its socket again" in journal
