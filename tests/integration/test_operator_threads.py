"""The operator's reminders and questions verbs over a real daemon: reminders,
cancel_reminder, cancel_question."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator

import pytest

from hive_c0re.client import Client
from hive_c0re.errors import InvalidInput, NotFound
from hive_dev.daemon import DaemonProcess


@pytest.fixture(scope="module")
def hive() -> Iterator[DaemonProcess]:
    d = DaemonProcess(manager_command="")
    with Client(d.host_socket) as op:
        for name in ("ann", "ben"):
            op.call("register", name=name)
    yield d
    assert d.stop() == 0, (d.root / "daemon.log").read_text()
    shutil.rmtree(d.root, ignore_errors=True)


def events_to(client: Client) -> list[dict[str, object]]:
    """The hive's events waiting in an agent's inbox (read, then acked)."""
    found = client.call("recv", wait_seconds=0.2)["messages"]
    client.call("ack_turn")
    return [json.loads(m["body"]) for m in found if m["from"] == "system"]


def test_the_operator_lists_everyones_reminders_and_cancels_one(hive: DaemonProcess) -> None:
    with Client(hive.agent_socket("ann")) as ann, Client(hive.agent_socket("ben")) as ben, \
            Client(hive.host_socket) as op:
        later = ann.call("remind", message="<b>check</b> the build", delay_seconds=3600)
        sooner = ben.call("remind", message="tea", delay_seconds=600)["reminder"]
        pending = op.call("reminders")["reminders"]
        assert [r["id"] for r in pending] == [sooner["id"], later["reminder"]["id"]]
        assert pending[1]["message"] == "<b>check</b> the build"
        events_to(ann)

        cancelled = op.call("cancel_reminder", id=later["reminder"]["id"])["reminder"]
        assert cancelled["status"] == "cancelled" and cancelled["cancelled_at"] is not None
        # ann set it to be woken: it is told it will not be.
        [told] = [e for e in events_to(ann) if e["event"] == "reminder_cancelled"]
        assert told["id"] == cancelled["id"] and told["by"] == "operator"
        assert [r["id"] for r in op.call("reminders")["reminders"]] == [sooner["id"]]
        every = {r["id"]: r["status"] for r in op.call("reminders", all=True)["reminders"]}
        assert every == {sooner["id"]: "pending", cancelled["id"]: "cancelled"}
        [logged] = [e for e in op.call("events", name="ann")["events"]
                    if e["kind"] == "reminder_cancelled"]
        assert logged["data"] == {"id": cancelled["id"], "by": "operator"}

        with pytest.raises(InvalidInput, match="already cancelled"):
            op.call("cancel_reminder", id=cancelled["id"])
        with pytest.raises(NotFound):
            op.call("cancel_reminder", id=999_999)
        with pytest.raises(InvalidInput, match="at least 1"):
            op.call("cancel_reminder", id=0)
        # An agent cannot reach the operator's verb, and still cancels only its own.
        with pytest.raises(InvalidInput, match="unknown verb"):
            ben.call("cancel_reminder", id=sooner["id"])
        with pytest.raises(NotFound):
            ann.call("cancel_thread", kind="reminder", thread_id=sooner["id"])


def test_the_operator_cancels_a_question_asked_of_it_and_the_asker_is_told(
        hive: DaemonProcess) -> None:
    with Client(hive.agent_socket("ann")) as ann, Client(hive.host_socket) as op:
        asked = ann.call("ask", question="deploy <now>?", options=["yes", "no"])["question"]
        peer = ann.call("ask", question="lunch?", to="ben")["question"]
        events_to(ann)
        done = op.call("cancel_question", id=asked["id"])["question"]
        assert done["status"] == "cancelled" and done["answer"] == "[cancelled]"
        assert done["answered_by"] == "operator"
        [told] = [e for e in events_to(ann) if e["event"] == "question_answered"]
        assert told == {"event": "question_answered", "id": asked["id"],
                        "question": "deploy <now>?", "answer": "[cancelled]", "by": "operator"}
        assert asked["id"] not in [q["id"] for q in op.call("questions")["questions"]]
        with pytest.raises(InvalidInput, match="cancelled by operator"):
            op.call("answer", question_id=asked["id"], answer="yes")
        with pytest.raises(InvalidInput, match="cancelled by operator"):
            op.call("cancel_question", id=asked["id"])
        # A question to a peer is not the operator's to cancel.
        with pytest.raises(NotFound, match="addressed to operator"):
            op.call("cancel_question", id=peer["id"])
        with pytest.raises(NotFound):
            op.call("cancel_question", id=999_999)
