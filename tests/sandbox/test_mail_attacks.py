"""Mail an agent (or a stalled client) could make vanish or bury, against the real daemon.

- An answer its client stops reading is cut off after ``write_timeout`` and
  what it carried is taken back: the operator's read-and-ack ``inbox`` is
  unread again, an agent's leased ``recv`` is unleased.
- ``report_login`` in a loop from inside a container writes next to nothing.
- With 10,000 unread peer messages in the manager's inbox, a container crash
  is still stored and is the first thing the manager's next ``recv`` gets.
"""

from __future__ import annotations

import json
import socket
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from hive_c0re.client import Client
from hive_c0re.errors import InboxFull
from hive_dev.sandbox import Sandbox, SandboxHive, in_container
from tests.sandbox.test_crashes import crashes, manager_mail

BIG = "x" * 60_000  # 32 of these make an answer far larger than any socket buffer
DEADLINE = 60.0  # a guard against hanging, never an assertion about speed


def stalled(path: Path, request: dict[str, Any]) -> socket.socket:
    """A client that sends ``request`` and then never reads."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(str(path))
    sock.sendall(json.dumps(request).encode() + b"\n")
    return sock


def left_in(sock: socket.socket) -> bytes:
    """Whatever the stalled client could still read once it looks."""
    sock.settimeout(5)
    got = bytearray()
    try:
        while chunk := sock.recv(1 << 20):
            got += chunk
    except OSError:
        pass
    sock.close()
    return bytes(got)


def collect(client: Client, verb: str, want: set[int]) -> list[dict[str, Any]]:
    """Call ``verb`` until every id in ``want`` came back (or the guard runs out)."""
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + DEADLINE
    while not want <= {m["id"] for m in seen}:
        assert time.monotonic() < deadline, (
            f"{len(want - {m['id'] for m in seen})} message(s) never came back")
        seen += client.call(verb, wait_seconds=1)["messages"]
    return seen


def test_an_inbox_answer_the_operator_never_read_is_unread_again(sandbox: Sandbox) -> None:
    hive = SandboxHive(sandbox, HYPERHIVE_WRITE_TIMEOUT="1")
    hive.call("register", name="alice")
    with hive.client(hive.agent_socket("alice")) as alice:
        ids = {alice.call("send", to="operator", body=f"{n} {BIG}")["ids"][0] for n in range(32)}

    reader = stalled(hive.host_socket, {"cmd": "inbox", "max": 32})
    with hive.client() as operator:
        seen = collect(operator, "inbox", ids)
        assert hive.call("whoami")["name"] == "operator"
    assert {m["id"] for m in seen} == ids
    # The stalled client got no whole answer, so nothing was shown twice.
    assert b"\n" not in left_in(reader)


def test_a_recv_answer_an_agent_never_read_is_unleased(sandbox: Sandbox) -> None:
    hive = SandboxHive(sandbox, HYPERHIVE_WRITE_TIMEOUT="1")
    hive.call("register", name="alice")
    ids = {hive.call("send", to="alice", body=f"{n} {BIG}")["ids"][0] for n in range(32)}

    reader = stalled(hive.agent_socket("alice"),
                     {"cmd": "recv", "wait_seconds": 1, "max": 32})
    with hive.client(hive.agent_socket("alice")) as alice:
        seen = collect(alice, "recv", ids)
        assert alice.call("ack_turn")["acked"] == 32
    # Nobody saw them before: not marked redelivered.
    assert not any(m["redelivered"] for m in seen)
    assert b"\n" not in left_in(reader)


def pipelined(path: Path, requests: list[dict[str, Any]], batch: int = 500
              ) -> list[dict[str, Any]]:
    """Send ``requests`` on one connection, ``batch`` frames at a time; return the answers."""
    answers: list[dict[str, Any]] = []
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(DEADLINE)
        sock.connect(str(path))
        lines = sock.makefile("rb")
        for start in range(0, len(requests), batch):
            chunk = requests[start:start + batch]
            sock.sendall(b"".join(json.dumps(r).encode() + b"\n" for r in chunk))
            answers += [json.loads(lines.readline()) for _ in chunk]
    return answers


def broker(hive: SandboxHive) -> sqlite3.Connection:
    """The broker file, read-only: what the daemon actually wrote."""
    path = Path(hive.sandbox.env["XDG_CONFIG_HOME"]) / "hyperhive" / "broker.sqlite"
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True)


LOGIN_FLOOD = """
import json, socket
sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
sock.connect("/run/hive/hive.sock")
lines, ok = sock.makefile("rb"), 0
for start in range(0, 5000, 500):
    frames = [{"cmd": "report_login", "logged_in": n % 2 == 0} for n in range(start, start + 500)]
    sock.sendall(b"".join(json.dumps(f).encode() + b"\\n" for f in frames))
    ok += sum(json.loads(lines.readline())["ok"] for _ in frames)
asks = [{"cmd": "ask", "question": f"question {n}?"} for n in range(1500)]
sock.sendall(b"".join(json.dumps(f).encode() + b"\\n" for f in asks))
asked = sum(json.loads(lines.readline())["ok"] for _ in asks)
print(ok, asked)
"""
LOGIN_KINDS = ("logged_in", "needs_login")


def told_manager(db: sqlite3.Connection, event: str) -> int:
    count: int = db.execute("SELECT COUNT(*) FROM message WHERE recipient = 'manager'"
                            " AND sender = 'system' AND body LIKE ?",
                            (f'%"event": "{event}"%',)).fetchone()[0]
    return count


def test_report_login_in_a_loop_writes_next_to_nothing(container_hive: SandboxHive) -> None:
    hive = container_hive
    hive.call("spawn", name="alice")
    flood = in_container(hive, "alice", LOGIN_FLOOD)
    # Every report is answered ok; questions stop at max_open_threads (1000).
    assert flood.returncode == 0 and flood.stdout.split() == ["5000", "1000"], flood.stderr

    db = broker(hive)
    try:
        events = db.execute("SELECT COUNT(*) FROM hive_event WHERE kind IN (?, ?)",
                            LOGIN_KINDS).fetchone()[0]
        logins = told_manager(db, "logged_in") + told_manager(db, "needs_login")
        questions = told_manager(db, "question_asked")
    finally:
        db.close()
    # agent_event_burst (10) at once, then a few a minute, for all of alice's reports and
    # notices together: 5,000 reports and 1,000 questions, a dozen writes.
    assert events <= 12 and logins + questions <= 12, (events, logins, questions)
    # The hive's real events still reach the manager.
    hive.sandbox.systemctl("kill", "--kill-whom=main", "-s", "KILL", "hive-agent@alice.service")
    assert crashes(manager_mail(hive))


def test_a_crash_is_the_managers_next_mail_behind_10000_unread_peer_messages(
        container_hive: SandboxHive) -> None:
    hive = container_hive
    hive.call("spawn", name="alice")
    manager_mail(hive, wait=2)  # the spawn's own events, read
    sends = [{"cmd": "send", "to": "manager", "body": f"peer {n}"} for n in range(10_000)]
    answers = pipelined(hive.agent_socket("alice"), sends)
    assert all(a["ok"] for a in answers), next(a for a in answers if not a["ok"])
    with hive.client(hive.agent_socket("alice")) as alice, pytest.raises(InboxFull):
        alice.call("send", to="manager", body="one more")

    hive.sandbox.systemctl("kill", "--kill-whom=main", "-s", "KILL", "hive-agent@alice.service")
    with Client(hive.manager_socket) as manager:
        deadline = time.monotonic() + DEADLINE
        while manager.call("recv", wait_seconds=0, max=1)["messages"][0]["from"] != "system":
            assert time.monotonic() < deadline, "the crash never reached the manager's inbox"
            time.sleep(0.2)
        first = manager.call("recv", wait_seconds=1)["messages"]
    assert first[0]["from"] == "system"
    assert json.loads(first[0]["body"])["event"] == "container_crash"
    assert [m["from"] for m in first[1:]] == ["alice"] * (len(first) - 1)
