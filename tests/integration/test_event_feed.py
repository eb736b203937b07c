"""subscribe_events against a real daemon: the backlog, each new event and message, and a
subscriber that falls behind is dropped with an overflow answer, then resumes."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hive_c0re.client import Client
from hive_c0re.errors import InvalidInput
from hive_dev.daemon import DaemonProcess, running_daemon

NAMES = ["alice", *(f"f{i:02d}" for i in range(19))]
FLOOD = 200  # broadcasts, each a message to every name and the manager


class Feed:
    """A raw subscription: one request line, then one frame per item."""

    def __init__(self, path: Path, *, receive_buffer: int | None = None,
                 **request: Any) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        if receive_buffer is not None:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        self.sock.settimeout(30)
        self.sock.connect(str(path))
        self.sock.sendall(json.dumps({"cmd": "subscribe_events", **request}).encode() + b"\n")
        self.buffer = b""
        self.first = self.frame()

    def frame(self) -> dict[str, Any]:
        """The next frame; {} once the daemon has closed the subscription."""
        while b"\n" not in self.buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                assert not self.buffer, self.buffer
                return {}
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        answer = dict(json.loads(line))
        assert answer["ok"] is True and answer["version"] == 1, answer
        return answer

    def until(self, key: str, **wanted: object) -> dict[str, Any]:
        """Read until an item under ``key`` (events: its one event) says ``wanted``."""
        while True:
            answer = self.frame()
            assert answer, "the daemon closed the subscription"
            item = answer.get(key)
            if key == "events" and item:
                [item] = item
            if item and all(item.get(k) == v for k, v in wanted.items()):
                return dict(item)

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def hive() -> Iterator[DaemonProcess]:
    with running_daemon(manager_command="", event_feed_bytes="4096") as d:
        yield d


def test_the_backlog_then_each_event_and_message_as_it_is_stored(hive: DaemonProcess) -> None:
    with Client(hive.host_socket) as op:
        op.call("register", name="alice")
        op.call("set_paused", name="alice", paused=True)
        cut = op.call("events")["events"][-1]["id"]
        op.call("set_paused", name="alice", paused=False)
        feed = Feed(hive.host_socket, after=cut - 1)
        assert [(e["kind"], e["agent"]) for e in feed.first["events"]] == [
            ("paused", "alice"), ("resumed", "alice")]
        assert feed.first["events"][0]["id"] == cut
        [sent] = op.call("send", to="alice", body="<b>hi</b>")["ids"]
        mail = feed.until("mail", id=sent)
        # The feed names a message; its body is the mail verbs' to show.
        assert mail == {"id": sent, "from": "operator", "to": "alice", "in_reply_to": None,
                        "sent_at": mail["sent_at"]}
        op.call("set_paused", name="alice", paused=True)
        event = feed.until("events", kind="paused")
        assert event["agent"] == "alice" and event["id"] > cut
        # Without after: no backlog, only what comes next.
        fresh = Feed(hive.host_socket)
        assert fresh.first["events"] == []
        op.call("set_paused", name="alice", paused=False)
        assert fresh.until("events", kind="resumed")["id"] == feed.until(
            "events", kind="resumed")["id"]
    feed.close()
    fresh.close()


def test_a_subscriber_that_falls_behind_is_dropped_with_overflow_and_resumes(
        hive: DaemonProcess) -> None:
    stalled = Feed(hive.host_socket, receive_buffer=4096, after=0)
    reader = Feed(hive.host_socket)
    with Client(hive.host_socket) as op:
        for name in NAMES:
            op.call("register", name=name)
        last = op.call("send", to="alice", body="first")["ids"][0]
        keeping_up = threading.Thread(target=reader.until, args=("mail",),
                                      kwargs={"id": last + FLOOD * (len(NAMES) + 1)})
        keeping_up.start()
        # Far more than the stalled one's queue (4096 bytes) and its socket buffers hold.
        ids = [i for _ in range(FLOOD) for i in op.call("send", to="*", body="x")["ids"]]
        assert ids[-1] == last + FLOOD * (len(NAMES) + 1)
        keeping_up.join(timeout=60)
        assert not keeping_up.is_alive(), "the reading subscriber stopped getting mail"
        got: list[dict[str, Any]] = []
        while answer := stalled.frame():
            got.append(answer)
        assert got[-1] == {"version": 1, "ok": True, "overflow": True}
        seen = [a["mail"]["id"] for a in got if "mail" in a]
        assert seen and seen == sorted(seen) and seen[-1] < ids[-1]
        # The reader kept up and goes on; a new subscription follows on from after.
        last_event = max([a["events"][0]["id"] for a in got if a.get("events")], default=0)
        again = Feed(hive.host_socket, after=last_event)
        op.call("set_paused", name="alice", paused=True)
        assert again.until("events", kind="paused")["id"] == reader.until(
            "events", kind="paused")["id"]
        assert all(e["id"] > last_event for e in again.first["events"])
    for feed in (stalled, reader, again):
        feed.close()


def test_a_bad_after_is_refused_and_agents_cannot_subscribe(hive: DaemonProcess) -> None:
    with Client(hive.host_socket) as op:
        with pytest.raises(InvalidInput, match="after"):
            op.call("subscribe_events", after=-1)
        with pytest.raises(InvalidInput, match="after"):
            op.call("subscribe_events", after="1")
        op.call("register", name="alice")
    with Client(hive.agent_socket("alice")) as alice, pytest.raises(InvalidInput,
                                                                    match="unknown verb"):
        alice.call("subscribe_events")
