"""Containers have a network of their own: the attacks of a hostile agent on the host's.

Each test attacks from inside a real nspawn container under the sandboxed
systemd. The sandbox has private mount and PID namespaces only, so the
test process's loopback is the host's: a service the test starts on
127.0.0.1 stands for a host-only API (a local proxy, the dashboard).
"""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from hive_dev.sandbox import SandboxHive, container_process, in_container

pytestmark = pytest.mark.sandbox

CONNECT = """
import json, socket
s = socket.socket()
s.settimeout(5)
try:
    s.connect(("127.0.0.1", PORT))
    s.sendall(b"from inside\\n")
    print(json.dumps({"reached": True}))
except OSError as exc:
    print(json.dumps({"reached": False, "error": type(exc).__name__}))
"""

LISTEN = """
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", PORT))
s.listen()
s.settimeout(8)
print("listening", flush=True)
try:
    conn, _ = s.accept()
    print("accepted", flush=True)
except OSError:
    print("nobody came", flush=True)
"""

INTERFACES = """
import json, socket
print(json.dumps(sorted(name for _, name in socket.if_nameindex())))
"""


@contextlib.contextmanager
def host_only_service() -> Iterator[socket.socket]:
    """A listener on the host's loopback, like a local API proxy for host processes only."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        server.settimeout(0)
        yield server


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def try_connect(hive: SandboxHive, agent: str, port: int) -> dict[str, object]:
    done = in_container(hive, agent, CONNECT.replace("PORT", str(port)))
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout)
    return result


def accepted(server: socket.socket) -> bool:
    try:
        conn, _ = server.accept()
    except BlockingIOError:
        return False
    conn.close()
    return True


@contextlib.contextmanager
def listening_in(hive: SandboxHive, agent: str, port: int) -> Iterator[subprocess.Popen[str]]:
    """A process in ``agent``'s container listening on ``port`` of every address it has."""
    pid = container_process(hive, agent)
    sandbox = hive.sandbox
    process = subprocess.Popen(
        ["nsenter", "-t", str(sandbox.init_pid), "-m", "-p", "--",
         "nsenter", "-t", str(pid), "-a", "-r", "-w", "--",
         sys.executable, "-c", LISTEN.replace("PORT", str(port))],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "listening", process.stderr
        yield process
    finally:
        process.kill()
        process.communicate()


def test_a_container_cannot_reach_a_host_only_loopback_service(
        container_hive: SandboxHive) -> None:
    hive = container_hive
    hive.call("spawn", name="alice")
    with host_only_service() as server:
        port = server.getsockname()[1]
        seen = try_connect(hive, "alice", port)
        assert seen == {"reached": False, "error": "ConnectionRefusedError"}, seen
        assert not accepted(server)
    done = in_container(hive, "alice", INTERFACES)
    assert json.loads(done.stdout) == ["lo"], done.stdout
    assert hive.call("agent_status", name="alice")["agent"]["name"] == "alice"


def test_a_port_bound_in_a_container_is_not_the_hosts(container_hive: SandboxHive) -> None:
    hive = container_hive
    hive.call("spawn", name="alice")
    port = free_port()
    with listening_in(hive, "alice", port) as squatter:
        with socket.socket() as host_process, pytest.raises(ConnectionRefusedError):
            host_process.settimeout(5)
            host_process.connect(("127.0.0.1", port))
        squatter.kill()
        out, _ = squatter.communicate()
    assert "accepted" not in out
    # The hive still serves the operator.
    assert [a["name"] for a in hive.call("agents")["agents"]] == ["alice"]


def test_one_agent_cannot_reach_another_agents_container(container_hive: SandboxHive) -> None:
    hive = container_hive
    for name in ("alice", "bob"):
        hive.call("spawn", name=name)
    port = free_port()
    with listening_in(hive, "bob", port) as bob:
        seen = try_connect(hive, "alice", port)
        bob.kill()
        out, _ = bob.communicate()
    assert seen == {"reached": False, "error": "ConnectionRefusedError"}, seen
    assert "accepted" not in out


PROXY = """
import json, socket
answers = {}
for target in TARGETS:
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(20)
    s.connect("/run/hive-egress/proxy.sock")
    s.sendall(target.encode() + b"\\r\\nHost: x\\r\\n\\r\\n")
    answers[target] = s.recv(4096).decode(errors="replace")
    s.close()
print(json.dumps(answers))
"""


def test_the_proxy_refuses_connect_to_loopback_and_private_addresses(
        container_hive: SandboxHive) -> None:
    hive = container_hive
    hive.call("spawn", name="alice")
    inside = ["127.0.0.1:443", "[::1]:443", "localhost:443", "2130706433:443", "0.0.0.0:443",
              "10.0.0.1:443", "192.168.1.1:443", "172.16.0.1:443", "169.254.169.254:80",
              "100.64.0.1:443", "[fe80::1]:443", "[fd00::1]:443", "[::ffff:127.0.0.1]:443"]
    with host_only_service() as server:
        port = server.getsockname()[1]
        targets = [f"CONNECT {t} HTTP/1.1" for t in inside]
        targets += [f"CONNECT 127.0.0.1:{port} HTTP/1.1", f"GET http://127.0.0.1:{port}/ HTTP/1.1"]
        done = in_container(hive, "alice", f"TARGETS = {targets!r}\n" + PROXY)
        assert done.returncode == 0, done.stderr
        answers = json.loads(done.stdout)
        assert not accepted(server)
    for target, answer in answers.items():
        assert answer.startswith("HTTP/1.1 403 "), (target, answer)
    for target in inside:
        assert "not a public address" in answers[f"CONNECT {target} HTTP/1.1"], answers
    assert f"port {port} is not one of" in answers[f"CONNECT 127.0.0.1:{port} HTTP/1.1"]
    assert "only CONNECT" in answers[f"GET http://127.0.0.1:{port}/ HTTP/1.1"]
    lines = hive.sandbox.journal("SYSLOG_IDENTIFIER=hive-egress").splitlines()
    base = hive.call("agent_status", name="alice")["agent"]["uid_base"]
    refused = [json.loads(line)["MESSAGE"] for line in lines]
    assert any(f"refused a tunnel for uid base {base}" in m for m in refused), refused
    assert hive.call("agent_status", name="alice")["agent"]["name"] == "alice"


def test_the_egress_takes_no_one_but_the_hives_containers(container_hive: SandboxHive) -> None:
    hive = container_hive
    hive.call("spawn", name="alice")
    egress = hive.sandbox.runtime / "hyperhive" / "egress"
    for name, request in (("api.sock", b"GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n"),
                          ("proxy.sock", b"CONNECT example.com:443 HTTP/1.1\r\n\r\n")):
        with socket.socket(socket.AF_UNIX) as host_root:  # uid 0: not a container's
            host_root.settimeout(20)
            host_root.connect(str(egress / name))
            # The egress may refuse at accept, from the peer's uid, before reading a byte.
            with contextlib.suppress(BrokenPipeError):
                host_root.sendall(request)
            assert host_root.recv(4096).startswith(b"HTTP/1.1 403 "), name


def test_the_egress_comes_back_for_running_containers_after_a_daemon_restart(
        container_hive: SandboxHive) -> None:
    hive = container_hive
    hive.call("spawn", name="alice")
    first = hive.main_pid()
    hive.sandbox.systemctl("restart", "hive-c0re.service")
    hive.wait_active()
    assert hive.main_pid() != first
    assert hive.sandbox.show("hive-agent@alice.service", "ActiveState") == "active"
    targets = ["CONNECT 127.0.0.1:443 HTTP/1.1"]
    deadline = time.monotonic() + 30
    while True:  # the new daemon brings the egress up after it is ready
        done = in_container(hive, "alice", f"TARGETS = {targets!r}\n" + PROXY)
        if done.returncode == 0 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert done.returncode == 0, done.stderr
    assert "not a public address" in json.loads(done.stdout)[targets[0]]
