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

from hive_c0re.wire import Client
from tests.sandbox import Sandbox, SandboxHive, in_container

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
