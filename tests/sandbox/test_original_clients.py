"""The original hyperhive's lifecycle requests, sent as hyperhive(7) shows them, on real containers.

The client (tests/original_client.py) knows only the man page's section
COMPATIBILITY WITH THE ORIGINAL'S CLIENTS; it sends that section's example
requests as they are written there (they name alice and bob) and decodes each
answer with the original's keys and types. systemd says what really happened.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from hive_dev.fakes.messages_api import ApiProcess
from hive_dev.fakes.script import Match, Reply, ToolCall, write_script
from hive_dev.harness_support import container_env_file
from hive_dev.sandbox import Sandbox, SandboxHive, containers_hive
from tests.original_client import OriginalClient, decode, man_contract
from tests.sandbox.approval_support import state_dir

UNIT = "hive-agent@{}.service"


def example(title: str, index: int = 0) -> dict[str, Any]:
    """The man section's ``index``-th example request of ``title``."""
    return man_contract()[1][title][index]


def state(hive: SandboxHive, name: str) -> str:
    return hive.sandbox.show(UNIT.format(name), "ActiveState")


def stopped(hive: SandboxHive, name: str) -> bool:
    return state(hive, name) in ("inactive", "failed")


def test_spawn_kill_start_stop_restart_rebuild_destroy_as_the_man_page_shows_them(
        container_hive: SandboxHive) -> None:
    hive = container_hive
    with OriginalClient(hive.host_socket) as original:
        assert original.ask(example("spawn"))["ok"] is True
        assert original.ask({"cmd": "spawn", "name": "bob"})["ok"] is True
        hive.wait_active(UNIT.format("alice"))
        assert original.ask({"cmd": "list"})["agents"] == ["alice", "bob"]

        assert original.ask(example("kill"))["ok"] is True
        assert stopped(hive, "alice")
        assert original.ask(example("start"))["ok"] is True
        hive.wait_active(UNIT.format("alice"))
        assert original.ask(example("stop"))["ok"] is True
        assert stopped(hive, "alice")

        before = hive.sandbox.show(UNIT.format("bob"), "InvocationID")
        assert original.ask(example("restart", 0) | {"name": "bob"})["ok"] is True
        hive.wait_active(UNIT.format("bob"))
        assert hive.sandbox.show(UNIT.format("bob"), "InvocationID") != before
        assert original.ask(example("rebuild") | {"name": "bob"})["ok"] is True
        hive.wait_active(UNIT.format("bob"))

        assert original.ask(example("destroy"))["ok"] is True
        assert original.ask({"cmd": "list"})["agents"] == ["bob"]
        assert state_dir(hive, "alice").exists()  # purge false keeps its state


def test_a_scope_answers_per_agent_and_graceful_stop_stops(container_hive: SandboxHive) -> None:
    hive = container_hive
    with OriginalClient(hive.host_socket) as original:
        for name in ("alice", "bob"):
            assert original.ask({"cmd": "spawn", "name": name})["ok"] is True
            original.ask({"cmd": "kill", "name": name})
        started = original.ask(example("start", 1))  # alice and bob
        assert started["ok"] is True, started
        assert [(r["name"], r["ok"]) for r in started["results"]] == [("alice", True),
                                                                      ("bob", True)]
        for name in ("alice", "bob"):
            hive.wait_active(UNIT.format(name))
        graceful = original.ask(example("stop", 1))  # alice, gracefully
        assert graceful["ok"] is True, graceful
        assert [(r["name"], r["ok"]) for r in graceful["results"]] == [("alice", True)]
        assert stopped(hive, "alice") and state(hive, "bob") == "active"
        # Each agent once, in the scope's order.
        twice = original.ask({"cmd": "stop", "scope": {"agent_names": ["bob", "alice", "bob"]}})
        assert [r["name"] for r in twice["results"]] == ["bob", "alice"]
        assert stopped(hive, "bob")


def test_a_scope_that_fails_for_one_agent_says_which_and_still_does_the_others(
        container_hive: SandboxHive) -> None:
    hive = container_hive  # with no manager container: starting the manager fails
    with OriginalClient(hive.host_socket) as original:
        original.ask({"cmd": "spawn", "name": "alice"})
        original.ask({"cmd": "kill", "name": "alice"})
        answer = original.ask({"cmd": "start", "scope": {"agent_names": ["manager", "alice"]}})
        assert answer["ok"] is False and "manager" in answer["error"], answer
        decode(answer, "start")  # the rows are typed on a failed answer too
        rows = {r["name"]: r for r in answer["results"]}
        assert rows["alice"]["ok"] is True and "error" not in rows["alice"]
        assert rows["manager"]["ok"] is False and rows["manager"]["error"]
        hive.wait_active(UNIT.format("alice"))


def test_the_operator_queues_a_spawn_and_approves_it_by_id(container_hive: SandboxHive) -> None:
    hive = container_hive
    with OriginalClient(hive.host_socket) as original:
        assert original.ask(example("request_spawn"))["ok"] is True
        row = next(r for r in original.ask({"cmd": "pending"})["approvals"]
                   if r["agent"] == "alice")
        assert original.ask({"cmd": "approve", "id": row["id"]})["ok"] is True
        hive.wait_active(UNIT.format("alice"))
        assert original.ask({"cmd": "list"})["agents"] == ["alice"]
        assert original.ask({"cmd": "pending"})["approvals"] == []
        # The decided row, in our listing: resolved, with its times in RFC 3339.
        with hive.client() as ours:
            done = next(a for a in ours.call("approvals")["approvals"] if a["id"] == row["id"])
        assert done["resolved_at"] is not None and done["resolved_at"].endswith("Z")


def test_a_graceful_scoped_stop_lets_the_running_turn_answer_and_ack_first(
        sandbox: Sandbox, tmp_path: Path) -> None:
    hive = containers_hive(sandbox, HYPERHIVE_AGENT_COMMAND="{python} -m hive_ag3nt serve --no-ui",
                           HYPERHIVE_AGENT_ENV_FILE=str(tmp_path / "agent.env"))
    send = ToolCall("mcp__hive__send", {"to": "operator", "body": "done"}, id="toolu_1")
    script = write_script(tmp_path / "script.json", [
        # Held back: the turn still runs when the stop comes.
        Reply(tool_calls=[send], match=Match(last_user_contains="the job"), delay=4.0),
        Reply(text="finished", match=Match(tool_result_for="toolu_1")),
    ])
    hive.call("register", name="alice")
    hive.call("send", to="alice", body="the job")
    with ApiProcess(script, tmp_path) as api, OriginalClient(hive.host_socket) as original:
        container_env_file(tmp_path / "agent.env", api.url)
        assert original.ask({"cmd": "spawn", "name": "alice"})["ok"] is True
        deadline = time.monotonic() + 120
        while not any(r.is_messages and "the job" in r.last_user_text for r in api.requests()):
            assert time.monotonic() < deadline, "the turn never started"
            time.sleep(0.1)
        answer = original.ask(example("stop", 1))  # alice, gracefully
    assert answer["ok"] is True and answer["results"][0]["ok"] is True, answer
    assert stopped(hive, "alice")
    # The turn ran to its end before the stop: its answer came and its mail was acked.
    assert [m["body"] for m in hive.call("inbox")["messages"]] == ["done"]
    (row,) = hive.call("agent_status", name="alice")["agent_statuses"]
    assert (row["unread"], row["in_flight"]) == (0, 0), row
