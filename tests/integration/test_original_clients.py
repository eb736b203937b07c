"""The original hyperhive's clients against a real daemon (no containers: see tests/sandbox).

The client (tests/original_client.py) knows only hyperhive(7) COMPATIBILITY
WITH THE ORIGINAL'S CLIENTS; every answer is decoded with the original's key
set and types. Our own client only sets the stage (registering agents).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator

import pytest

from hive_c0re.client import Client
from hive_dev.daemon import DaemonProcess
from tests.original_client import (
    CONTRACT,
    EVERY,
    KINDS,
    STATUSES,
    OriginalClient,
    decode,
    man_contract,
)


@pytest.fixture
def original(daemon: DaemonProcess) -> Iterator[OriginalClient]:
    with OriginalClient(daemon.host_socket) as client:
        yield client


def register(daemon: DaemonProcess, *names: str) -> None:
    with Client(daemon.host_socket) as ours:
        for name in names:
            ours.call("register", name=name)


def test_the_man_section_states_this_clients_contract() -> None:
    stated, examples = man_contract()
    assert stated == CONTRACT
    for title, requests in examples.items():
        # Each entry's examples are requests of its own verb (the "Every answer" entry has none).
        assert all(r["cmd"] == title for r in requests), (title, requests)
    assert set(examples) - {r["cmd"] for rs in examples.values() for r in rs} == {"Every answer"}


def test_list_gives_the_agents_names(daemon: DaemonProcess, original: OriginalClient) -> None:
    register(daemon, "bob", "alice")
    answer = original.ask({"cmd": "list"})
    assert answer["ok"] is True
    assert {"alice", "bob"} <= set(answer["agents"])
    assert answer["agents"] == sorted(answer["agents"])


def test_a_queued_spawn_is_pending_then_denied(original: OriginalClient) -> None:
    queued = original.ask({"cmd": "request_spawn", "name": "carol"})
    assert queued["ok"] is True, queued
    rows = original.ask({"cmd": "pending"})["approvals"]
    row = next(r for r in rows if r["agent"] == "carol")
    assert (row["kind"], row["status"], row["commit_ref"], row["resolved_at"]) == (
        "spawn", "pending", None, None)
    assert row["kind"] in KINDS and row["status"] in STATUSES
    denied = original.ask({"cmd": "deny", "id": row["id"], "note": "not this week"})
    assert denied["ok"] is True, denied
    assert row["id"] not in [r["id"] for r in original.ask({"cmd": "pending"})["approvals"]]
    # A decided request cannot be decided again; the answer says which and why.
    again = original.ask({"cmd": "approve", "id": row["id"]})
    assert again["ok"] is False and f"#{row['id']}" in again["error"], again


def test_deny_needs_no_note(original: OriginalClient) -> None:
    original.ask({"cmd": "request_spawn", "name": "dave"})
    row = next(r for r in original.ask({"cmd": "pending"})["approvals"] if r["agent"] == "dave")
    assert original.ask({"cmd": "deny", "id": row["id"]})["ok"] is True


@pytest.mark.parametrize("cmd", ["approve", "deny"])
def test_an_unknown_approval_id_is_refused_by_name(original: OriginalClient, cmd: str) -> None:
    answer = original.ask({"cmd": cmd, "id": 424242})
    assert answer["ok"] is False
    assert "424242" in answer["error"], answer


def test_urls_home_is_null_without_a_dashboard(original: OriginalClient) -> None:
    assert original.ask({"cmd": "urls"})["urls"]["home"] is None


def test_urls_home_is_the_configured_dashboard() -> None:
    daemon = DaemonProcess(dashboard_url="http://hive.example:7000/")
    try:
        with OriginalClient(daemon.host_socket) as original:
            assert original.ask({"cmd": "urls"})["urls"] == {"home": "http://hive.example:7000/"}
    finally:
        daemon.stop()
        shutil.rmtree(daemon.root, ignore_errors=True)


@pytest.mark.parametrize("request_, says", [
    ({"cmd": "start", "scope": {"agent_names": []}}, "empty"),
    ({"cmd": "stop", "scope": {"agent_names": []}, "graceful": True}, "empty"),
    ({"cmd": "stop", "scope": {"agent_names": ["alice", "ghost"]}}, "ghost"),
    ({"cmd": "start", "name": "alice", "scope": {"agent_names": ["alice"]}}, "not both"),
    ({"cmd": "stop"}, "name or scope"),
    ({"cmd": "start", "scope": {}}, "agent_names"),
])
def test_a_scope_that_names_no_agent_or_a_missing_one_is_refused_whole(
        daemon: DaemonProcess, original: OriginalClient, request_: dict[str, object],
        says: str) -> None:
    register(daemon, "alice")
    answer = original.ask(request_)
    assert answer["ok"] is False and says in answer["error"], answer


def test_every_answer_echoes_request_id_and_id_is_the_approval(
        original: OriginalClient) -> None:
    assert original.ask({"cmd": "list", "request_id": "r-1"})["request_id"] == "r-1"
    refused = original.ask({"cmd": "approve", "id": 424243, "request_id": 9})
    assert refused["request_id"] == 9 and "424243" in refused["error"]


# -- the status rows, pausing and the feed --------------------------------------------------


def test_agent_status_rows_have_the_originals_keys(daemon: DaemonProcess,
                                                    original: OriginalClient) -> None:
    register(daemon, "dora")
    every = original.ask({"cmd": "agent_status"})
    assert {"manager", "dora"} <= {row["name"] for row in every["agent_statuses"]}
    one = original.ask({"cmd": "agent_status", "name": "dora"})
    (row,) = one["agent_statuses"]
    assert (row["name"], row["running"], row["paused"], row["parent"]) == (
        "dora", False, False, None)


def test_set_paused_answers_in_the_originals_shape(daemon: DaemonProcess,
                                                   original: OriginalClient) -> None:
    register(daemon, "emil")
    for paused in (True, True, False, False):  # idempotent both ways
        assert original.ask({"cmd": "set_paused", "name": "emil", "paused": paused})["ok"]
        (row,) = original.ask({"cmd": "agent_status", "name": "emil"})["agent_statuses"]
        assert row["paused"] is paused
    refused = original.ask({"cmd": "set_paused", "name": "nobody", "paused": True})
    assert refused["ok"] is False and "nobody" in refused["error"], refused


def test_subscribe_agent_status_streams_rows_in_the_originals_shape(
        daemon: DaemonProcess) -> None:
    with OriginalClient(daemon.host_socket, timeout=30) as feed:
        first = feed.ask({"cmd": "subscribe_agent_status"}, title=EVERY)
        assert first == {"version": 1, "ok": True}  # a bare ok
        register(daemon, "finn")
        while True:
            answer = json.loads(feed.lines.readline())
            decode(answer, EVERY)
            decode(answer, "subscribe_agent_status")
            decode(answer, "agent_status")  # each row is a status row
            (row,) = answer["agent_statuses"]
            if row["name"] == "finn":
                break
        assert row["running"] is False and row["paused"] is False
