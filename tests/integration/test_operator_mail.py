"""The operator's mail and the flow through a real daemon: messages, mail operator, mark_read."""

from __future__ import annotations

import pytest

from hive_c0re.client import Client
from hive_c0re.errors import InvalidInput, NotFound
from hive_dev.daemon import DaemonProcess


def test_the_flow_is_every_message_newest_first_and_pages_back(daemon: DaemonProcess) -> None:
    with Client(daemon.host_socket) as op:
        for name in ("alice", "bob"):
            op.call("register", name=name)
        with Client(daemon.agent_socket("alice")) as alice:
            [to_bob] = alice.call("send", to="bob", body="<img src=x onerror=alert(1)>")["ids"]
            [to_op] = alice.call("send", to="operator", body="done", in_reply_to=None)["ids"]
        [to_alice] = op.call("send", to="alice", body="thanks", in_reply_to=to_op)["ids"]
        newest = op.call("messages", limit=3)["messages"]
        assert [m["id"] for m in newest] == [to_alice, to_op, to_bob]
        assert newest[0] | {"sent_at": 0} == {
            "id": to_alice, "from": "operator", "to": "alice", "body": "thanks",
            "in_reply_to": to_op, "sent_at": 0, "redelivered": False, "state": "unread",
            "acked_at": None}
        assert newest[2]["body"] == "<img src=x onerror=alert(1)>"
        assert [m["id"] for m in op.call("messages", before=to_alice, limit=2)["messages"]] \
            == [to_op, to_bob]
        bobs = op.call("messages", name="bob")["messages"]
        assert {m["id"] for m in bobs} == {to_bob}
        assert all("bob" in (m["from"], m["to"]) for m in bobs)
        ops = op.call("messages", name="operator", limit=1000)["messages"]
        assert {to_op, to_alice} <= {m["id"] for m in ops}
        assert to_bob not in {m["id"] for m in ops}


def test_the_operator_reads_its_mail_and_marks_only_its_own_unread_read(
        daemon: DaemonProcess) -> None:
    with Client(daemon.host_socket) as op:
        op.call("register", name="carol")
        op.call("inbox")  # whatever earlier tests left unread
        with Client(daemon.agent_socket("carol")) as carol:
            first, second = (carol.call("send", to="operator", body=text)["ids"][0]
                             for text in ("one", "two"))
            [peer] = carol.call("send", to="manager", body="not yours")["ids"]
        mail = {m["id"]: m for m in op.call("mail", name="operator")["messages"]}
        assert mail[first]["state"] == mail[second]["state"] == "unread"
        assert peer not in mail
        # Only the operator's unread mail is marked: another's, an unknown id, a repeat are not.
        assert op.call("mark_read", ids=[first, peer, 2**62, first])["marked"] == 1
        assert op.call("mark_read", ids=[first])["marked"] == 0
        mail = {m["id"]: m for m in op.call("mail", name="operator")["messages"]}
        assert mail[first]["state"] == "acked" and mail[first]["acked_at"] is not None
        assert mail[second]["state"] == "unread"
        assert [m["id"] for m in op.call("inbox")["messages"]] == [second]
        assert op.call("mail", name="manager")["messages"][0]["state"] == "unread"


def test_bad_names_and_ids_are_refused_with_the_rule(daemon: DaemonProcess) -> None:
    with Client(daemon.host_socket) as op:
        for ids, rule in (("1", "list of ids"), ([0], "outside"), ([True], "list of ids"),
                          (list(range(1, 1002)), "more than 1000")):
            with pytest.raises(InvalidInput, match=rule):
                op.call("mark_read", ids=ids)
        with pytest.raises(InvalidInput, match="needs the field 'ids'"):
            op.call("mark_read")
        for name in ("../x", "*", "A"):
            with pytest.raises(InvalidInput, match="agent name"):
                op.call("messages", name=name)
        with pytest.raises(InvalidInput, match="at least 1"):
            op.call("messages", limit=0)
        with pytest.raises(NotFound):
            op.call("mail", name="nobody")
