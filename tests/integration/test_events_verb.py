"""The ``events`` verb through a real daemon: one agent's events, by time and by id."""

from __future__ import annotations

import time

import pytest

from hive_c0re.errors import InvalidInput, NotFound
from hive_c0re.wire import Client
from hive_dev.daemon import DaemonProcess


def test_events_are_one_agents_oldest_first_and_follow_by_id(daemon: DaemonProcess) -> None:
    with Client(daemon.host_socket) as op:
        for name in ("alice", "bob"):
            op.call("register", name=name)
        op.call("set_paused", name="alice", paused=True)
        op.call("set_paused", name="bob", paused=True)
        cut = time.time()
        op.call("set_paused", name="alice", paused=False)
        answer = op.call("events", name="alice")
        kinds = [(e["kind"], e["agent"]) for e in answer["events"]]
        assert kinds[-2:] == [("paused", "alice"), ("resumed", "alice")]
        assert {agent for _, agent in kinds} == {"alice"}
        assert answer["unit"].endswith(".service") and "alice" in answer["unit"]
        since = op.call("events", name="alice", since=cut)["events"]
        assert [e["kind"] for e in since] == ["resumed"]
        last = answer["events"][-1]["id"]
        assert op.call("events", name="alice", after=last)["events"] == []
        assert len(op.call("events", limit=1)["events"]) == 1


def test_events_of_nobody_known_is_a_clear_error(daemon: DaemonProcess) -> None:
    with Client(daemon.host_socket) as op:
        with pytest.raises(NotFound):
            op.call("events", name="carol")
        with pytest.raises(InvalidInput, match="since"):
            op.call("events", name="carol", since=-1)
