"""The journal verb on the sandbox's real journald: an agent's container unit and the
daemon's lines about it, followed on with a cursor."""

from __future__ import annotations

from typing import Any

import pytest

from hive_c0re.errors import InvalidInput, NotFound
from hive_dev.polling import wait_until
from hive_dev.sandbox import SandboxHive


def journal(hive: SandboxHive, **args: Any) -> dict[str, Any]:
    hive.sandbox.run("journalctl", "--sync", check=False)
    return hive.call("journal", **args)


def messages(answer: dict[str, Any]) -> list[str]:
    return [line["message"] for line in answer["lines"]]


def test_an_agents_journal_is_its_unit_and_the_daemons_lines_and_follows_on(
        container_hive: SandboxHive) -> None:
    hive = container_hive
    hive.call("spawn", name="alice")
    hive.call("spawn", name="bob")
    unit = "hive-agent@alice.service"
    base = hive.call("agent_status", name="alice")["agent"]["uid_base"]
    wait_until(lambda: f"alice: spawned (uid base {base})" in messages(
        journal(hive, name="alice", lines=1000)), "the daemon's line of alice's spawn", 30)
    answer = journal(hive, name="alice", lines=1000)
    assert answer["unit"] == unit
    units = {line["unit"] for line in answer["lines"]}
    # The container's own lines, and the daemon's (from its own unit) about alice.
    assert unit in units and len(units) >= 2, units
    said = messages(answer)
    assert any(m.startswith("alice: echo agent listening (0 requeued") for m in said), said
    assert not any("bob" in m and "alice" not in m for m in messages(answer))
    for line in answer["lines"]:
        assert set(line) == {"cursor", "at", "unit", "priority", "message"}
        assert 0 <= line["priority"] <= 7 and line["at"] > 0
    assert [line["at"] for line in answer["lines"]] == sorted(line["at"] for line in
                                                             answer["lines"])
    assert answer["cursor"] == answer["lines"][-1]["cursor"]
    # The last lines, oldest first (the container may have said more since).
    last_two = journal(hive, name="alice", lines=2)["lines"]
    assert len(last_two) == 2 and last_two[0]["at"] <= last_two[1]["at"]
    assert last_two[0]["at"] >= answer["lines"][-2]["at"]

    # After the cursor: only what is new.
    cursor = answer["cursor"]
    assert journal(hive, name="alice", after=cursor)["cursor"] is not None
    hive.call("set_paused", name="alice", paused=True)
    wait_until(lambda: "paused alice" in messages(journal(hive, name="alice", after=cursor)),
               "the daemon's line of alice's pause after the cursor", 30)
    newer = journal(hive, name="alice", after=cursor)
    assert cursor not in [line["cursor"] for line in newer["lines"]]
    assert {line["cursor"] for line in newer["lines"]}.isdisjoint(
        line["cursor"] for line in answer["lines"])
    assert newer["cursor"] == newer["lines"][-1]["cursor"] != cursor


def test_a_bad_name_or_cursor_is_a_clear_error(container_hive: SandboxHive) -> None:
    hive = container_hive
    hive.call("register", name="carol")
    for cursor in ("x", "s=1;i=zz", "--flag", "s=1\n"):
        with pytest.raises(InvalidInput, match="not a journal cursor"):
            hive.call("journal", name="carol", after=cursor)
    with pytest.raises(NotFound):
        hive.call("journal", name="dave")
    with pytest.raises(InvalidInput, match="agent name"):
        hive.call("journal", name="../carol")
    with pytest.raises(InvalidInput, match="at most 1000"):
        hive.call("journal", name="carol", lines=1001)
