"""The dashboard is out of a container's reach: its unix socket is not in the container's
file system, its TCP port on the host's loopback is not on the container's network, and
the hive's socket the container does have refuses the verbs the dashboard lives on.

A real dashboard process serves beside a sandboxed hive whose agent runs in a real nspawn
container; every attack runs inside that container (all its namespaces). The sandbox has
private mount and PID namespaces only, so the dashboard's loopback port is the host's.
"""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from hive_dev.polling import wait_until
from hive_dev.sandbox import SandboxHive, in_container

pytestmark = pytest.mark.sandbox

# Every way in a process of the container could try: the socket where the units put it,
# the runtime directory it lives in, and the loopback port, by each name of the host.
PROBE = """
import json, os, socket
found = {}
for path in ("/run/hyperhive/dashboard.sock", "UNIX", "/run/hive/dashboard.sock"):
    found[path] = os.path.exists(path)
found["runtime"] = os.path.isdir("/run/hyperhive")
found["hive_dir"] = sorted(os.listdir("/run/hive"))
for host in ("127.0.0.1", "localhost", "::1"):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(family)
    s.settimeout(5)
    try:
        s.connect((host, PORT))
        s.sendall(b"GET /login HTTP/1.1\\r\\nHost: 127.0.0.1\\r\\n\\r\\n")
        found[host] = "reached: " + s.recv(100).decode(errors="replace")
    except OSError as exc:
        found[host] = type(exc).__name__
    finally:
        s.close()
print(json.dumps(found))
"""

# The hive's socket inside the container is the agent's own: it must refuse the verbs that
# mint a dashboard login or open an agent's UI, whatever the request claims.
DRIVE = """
import json, socket
answers = {}
for request in REQUESTS:
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(10)
    s.connect("/run/hive/hive.sock")
    s.sendall(json.dumps(request).encode() + b"\\n")
    answers[request["cmd"]] = json.loads(s.makefile().readline())
    s.close()
print(json.dumps(answers))
"""


@dataclass(frozen=True)
class Door:
    unix: Path
    port: int


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def answers(door: Door) -> bool:
    with socket.socket() as client:
        client.settimeout(2)
        try:
            client.connect(("127.0.0.1", door.port))
        except OSError:
            return False
    return door.unix.exists()


@contextlib.contextmanager
def dashboard_beside(hive: SandboxHive) -> Iterator[Door]:
    """A real dashboard process on the hive's host.sock: its unix socket where its unit
    puts it (``/run/hyperhive/dashboard.sock``) and a loopback TCP port."""
    door = Door(hive.host_socket.parent / "dashboard.sock", free_port())
    # Started here, not inside the sandbox's namespaces: it sees the same runtime
    # directory (the test reaches host.sock there too) and is this test's own child.
    process = subprocess.Popen(
        [sys.executable, "-m", "hive_c0re.dashboard", "--unix", str(door.unix),
         "--listen", f"127.0.0.1:{door.port}", "--socket", str(hive.host_socket)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: process.poll() is not None or answers(door), "the dashboard")
        if process.poll() is not None:
            raise RuntimeError(f"the dashboard did not start: {process.communicate()[1]}")
        yield door
    finally:
        process.terminate()
        try:
            process.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()


def login_page(door: Door) -> str:
    """What the host itself gets from the dashboard's port: proof the door is open."""
    with socket.create_connection(("127.0.0.1", door.port), timeout=10) as client:
        client.sendall(b"GET /login HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        return client.makefile("rb").readline().decode()


def test_a_container_cannot_reach_the_dashboard(container_hive: SandboxHive) -> None:
    hive = container_hive
    hive.call("spawn", name="alice")
    with dashboard_beside(hive) as door:
        assert login_page(door).startswith("HTTP/1.1 200"), "the host reaches it"
        probe = PROBE.replace("UNIX", str(door.unix)).replace("PORT", str(door.port))
        done = in_container(hive, "alice", probe)
        assert done.returncode == 0, done.stderr
        seen = json.loads(done.stdout)
        assert login_page(door).startswith("HTTP/1.1 200"), "and still does"
    assert not any(seen[path] for path in ("/run/hyperhive/dashboard.sock", str(door.unix),
                                           "/run/hive/dashboard.sock")), seen
    assert not seen["runtime"], seen
    assert "dashboard.sock" not in seen["hive_dir"], seen
    for host in ("127.0.0.1", "localhost", "::1"):
        assert not seen[host].startswith("reached"), (host, seen)


def test_a_container_cannot_mint_a_login_or_open_a_ui(container_hive: SandboxHive) -> None:
    hive = container_hive
    hive.call("spawn", name="alice")
    requests = [{"cmd": "dashboard_code"}, {"cmd": "dashboard_sessions"},
                {"cmd": "dashboard_redeem", "code": "x" * 20},
                {"cmd": "dashboard_logout", "all": True},
                {"cmd": "agent_ui", "name": "alice"}]
    done = in_container(hive, "alice", f"REQUESTS = {requests!r}\n" + DRIVE)
    assert done.returncode == 0, done.stderr
    for verb, answer in json.loads(done.stdout).items():
        assert answer["ok"] is False, (verb, answer)
    # The operator's own door is still open: the hive made no session for the container.
    assert hive.call("dashboard_sessions")["sessions"] == []
