"""ask, answer, remind, get_open_threads and cancel_thread over a real daemon's sockets."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from hive_c0re.client import Client
from hive_c0re.errors import InvalidInput, NotFound, PolicyRefused
from hive_dev.daemon import DaemonProcess


@pytest.fixture(scope="module")
def daemon() -> Iterator[DaemonProcess]:
    d = DaemonProcess()
    with Client(d.host_socket) as host:
        host.call("register", name="ann")
        host.call("register", name="ben", allowed_recipients=["ann"])
        host.call("register", name="cy")
    yield d
    assert d.stop() == 0, (d.root / "daemon.log").read_text()
    shutil.rmtree(d.root, ignore_errors=True)


@pytest.fixture
def ann(daemon: DaemonProcess) -> Iterator[Client]:
    with Client(daemon.agent_socket("ann")) as client:
        yield client


@pytest.fixture
def ben(daemon: DaemonProcess) -> Iterator[Client]:
    with Client(daemon.agent_socket("ben")) as client:
        yield client


def manager_socket(daemon: DaemonProcess) -> Path:
    return daemon.root / "run" / "manager" / "hive.sock"


def drain(client: Client) -> list[dict[str, object]]:
    found = client.call("recv", wait_seconds=0.2)["messages"]
    client.call("ack_turn")
    return [json.loads(m["body"]) for m in found]


def test_identity_decides_who_asks_and_who_answers(ann: Client, ben: Client,
                                                   daemon: DaemonProcess) -> None:
    asked = ben.call("ask", question="ready?", to="ann")["question"]
    assert (asked["asker"], asked["target"]) == ("ben", "ann")
    assert [e["event"] for e in drain(ann)] == ["question_asked"]
    with pytest.raises(PolicyRefused, match="only ann can answer"):
        ben.call("answer", question_id=asked["id"], answer="yes")
    with pytest.raises(PolicyRefused, match="only ann can answer"), \
            Client(daemon.host_socket) as host:
        host.call("answer", question_id=asked["id"], answer="yes")
    with pytest.raises(NotFound), Client(manager_socket(daemon)) as manager:
        manager.call("answer", question_id=asked["id"], answer="yes")
    ann.call("answer", question_id=asked["id"], answer="yes")
    assert [e["by"] for e in drain(ben)] == ["ann"]


def test_the_allow_list_and_the_broadcast_rule_apply_to_questions(ben: Client) -> None:
    with pytest.raises(PolicyRefused, match="ben may not send to cy"):
        ben.call("ask", question="hi?", to="cy")
    with pytest.raises(InvalidInput, match="not to '\\*'"):
        ben.call("ask", question="all?", to="*")
    with pytest.raises(InvalidInput, match="reserved"):
        ben.call("ask", question="you?", to="system")
    with pytest.raises(InvalidInput, match="multi needs options"):
        ben.call("ask", question="which?", multi=True)
    asked = ben.call("ask", question="manager?", to="manager")["question"]
    assert asked["target"] == "manager"
    ben.call("cancel_thread", kind="question", thread_id=asked["id"])


def test_the_manager_asks_and_is_answered(daemon: DaemonProcess, ann: Client) -> None:
    with Client(manager_socket(daemon)) as manager:
        asked = manager.call("ask", question="rebuild now?", to="ann",
                             options=["yes", "no"])["question"]
        drain(ann)
        ann.call("answer", question_id=asked["id"], answer="no")
        (event,) = [e for e in drain(manager) if e["event"] == "question_answered"
                    and e["id"] == asked["id"] and "answer" in e]
    assert (event["id"], event["answer"], event["by"]) == (asked["id"], "no", "ann")


def test_remind_takes_a_delay_or_a_time_and_cancel_drops_it(ann: Client) -> None:
    with pytest.raises(InvalidInput, match="exactly one"):
        ann.call("remind", message="x")
    with pytest.raises(InvalidInput, match="exactly one"):
        ann.call("remind", message="x", delay_seconds=5, at=2_000_000_000)
    with pytest.raises(InvalidInput, match="no timezone"):
        ann.call("remind", message="x", at="2099-01-01T00:00:00")
    with pytest.raises(InvalidInput, match="absolute"):
        ann.call("remind", message="x", delay_seconds=5, file_path="notes.md")
    with pytest.raises(InvalidInput, match="delay_seconds must be at most"):
        ann.call("remind", message="x", delay_seconds=31 * 86400)
    soon = datetime.now(UTC).replace(microsecond=0).timestamp() + 3600
    iso = datetime.fromtimestamp(soon, UTC).isoformat()
    at = ann.call("remind", message="by the clock", at=iso)["reminder"]
    assert at["due_at"] == soon
    later = ann.call("remind", message="later", delay_seconds=600)["reminder"]
    pending = ann.call("get_open_threads")["reminders"]
    assert [r["id"] for r in pending] == [later["id"], at["id"]]  # by due time
    for reminder in (at, later):
        done = ann.call("cancel_thread", kind="reminder", thread_id=reminder["id"])
        assert done["reminder"]["status"] == "cancelled"
    assert ann.call("get_open_threads")["reminders"] == []
    with pytest.raises(InvalidInput, match="already cancelled"):
        ann.call("cancel_thread", kind="reminder", thread_id=at["id"])


def test_cancel_thread_names_a_kind_and_a_thread_of_ones_own(ann: Client, ben: Client) -> None:
    with pytest.raises(InvalidInput, match="must be question or reminder"):
        ann.call("cancel_thread", kind="message", thread_id=1)
    mine = ben.call("remind", message="ben's", delay_seconds=600)["reminder"]
    with pytest.raises(NotFound, match=f"no reminder #{mine['id']} of ann"):
        ann.call("cancel_thread", kind="reminder", thread_id=mine["id"])
    asked = ben.call("ask", question="ann?", to="ann")["question"]
    with pytest.raises(NotFound, match=f"no question #{asked['id']} asked by ann"):
        ann.call("cancel_thread", kind="question", thread_id=asked["id"])
    threads = ben.call("get_open_threads")
    assert [q["id"] for q in threads["asked"]] == [asked["id"]]
    assert [r["id"] for r in threads["reminders"]] == [mine["id"]]
    ben.call("cancel_thread", kind="question", thread_id=asked["id"])
    ben.call("cancel_thread", kind="reminder", thread_id=mine["id"])
    assert [e["event"] for e in drain(ann)] == ["question_asked"]  # and nothing after
    assert ann.call("get_open_threads")["to_answer"] == []
