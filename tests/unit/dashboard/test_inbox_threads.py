"""The inbox's threads: messages grouped by what they reply to, whatever the ids claim."""

from __future__ import annotations

from typing import Any

from hive_c0re.dashboard.views.mail import threads


def message(id: int, sender: str, to: str, in_reply_to: int | None = None,
            state: str = "unread") -> dict[str, Any]:
    return {"id": id, "from": sender, "to": to, "body": f"#{id}", "in_reply_to": in_reply_to,
            "sent_at": 1_800_000_000.0 + id, "state": state}


def ids(found: list[Any]) -> list[list[int]]:
    return [[m["id"] for m in thread.messages] for thread in found]


def test_replies_join_their_thread_and_the_newest_activity_comes_first() -> None:
    found = threads([message(1, "operator", "alice"), message(2, "alice", "operator", 1),
                     message(3, "bob", "operator"), message(4, "operator", "alice", 2,
                                                           state="acked"),
                     message(5, "alice", "operator", 4)])
    assert ids(found) == [[1, 2, 4, 5], [3]]
    assert found[0].unread == [2, 5]  # only mail to the operator counts as its unread
    reply_to = found[0].reply_to
    assert reply_to is not None and reply_to["id"] == 5


def test_a_reply_to_a_message_out_of_sight_starts_its_own_thread() -> None:
    assert ids(threads([message(7, "alice", "operator", 3), message(8, "bob", "operator", 3)])
               ) == [[8], [7]]


def test_a_loop_of_replies_ends_instead_of_hanging() -> None:
    found = threads([message(1, "alice", "operator", 2), message(2, "alice", "operator", 1)])
    assert sorted(m["id"] for t in found for m in t.messages) == [1, 2]


def test_the_hives_own_notices_get_no_reply_form() -> None:
    (thread,) = threads([message(1, "system", "operator")])
    assert thread.reply_to is None and thread.unread == [1]
