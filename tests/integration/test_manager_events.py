"""The manager hears about questions between others, as events from system."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hive_c0re.client import Client
from hive_dev.daemon import DaemonProcess
from hive_dev.harness_support import daemon_process


@pytest.fixture
def daemon() -> Iterator[DaemonProcess]:
    """A daemon of the test's own: the manager's inbox starts empty."""
    with daemon_process() as d:
        yield d


def manager_events(daemon: DaemonProcess) -> list[dict[str, Any]]:
    with Client(daemon.root / "run" / "manager" / "hive.sock") as manager:
        found = manager.call("recv", wait_seconds=2)["messages"]
        manager.call("ack_turn")
    return [json.loads(m["body"]) for m in found if m["from"] == "system"]


def test_questions_between_others_reach_the_manager(daemon: DaemonProcess) -> None:
    with Client(daemon.host_socket) as operator:
        operator.call("register", name="alice")
        with Client(daemon.agent_socket("alice")) as alice:
            asked = alice.call("ask", question="deploy on friday?", options=["yes", "no"])
        (event,) = manager_events(daemon)
        assert event == {"event": "question_asked", "agent": "alice", "to": "operator",
                         "id": asked["question"]["id"], "question": "deploy on friday?"}
        operator.call("answer", question_id=asked["question"]["id"], answer="no")
    (event,) = manager_events(daemon)
    assert (event["event"], event["agent"], event["by"]) == ("question_answered", "alice",
                                                              "operator")


def test_questions_to_the_manager_are_not_doubled(daemon: DaemonProcess, tmp_path: Path) -> None:
    with Client(daemon.host_socket) as operator:
        operator.call("register", name="bob")
    with Client(daemon.agent_socket("bob")) as bob:
        bob.call("ask", question="may I?", to="manager")
    events = manager_events(daemon)
    assert [e["event"] for e in events] == ["question_asked"]
