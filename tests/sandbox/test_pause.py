"""Pausing real containers: the mark is the host's, whatever happens to the container.

Real systemd (the sandbox's), a real nspawn container running the real harness and
the real claude CLI, the real daemon; the model is the scripted stand-in. alice is
paused while her container is stopped; the daemon restarts; her container starts and
restarts; her mail waits through all of it and no turn starts; resumed, she answers.
Paused in the middle of a turn, she finishes it and acks, and takes no other.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from hive_dev.fakes.messages_api import ApiProcess
from hive_dev.fakes.script import Match, Reply, ToolCall, write_script
from hive_dev.harness_support import container_env_file
from hive_dev.sandbox import Sandbox, SandboxHive, containers_hive

pytestmark = pytest.mark.sandbox

HARNESS = "{python} -m hive_ag3nt serve --no-ui"
DEADLINE = 120.0  # generous: every step is real; never a timing assertion
QUIET = 10.0  # how long the paused agent, its mail waiting, must take no turn
ASKED = "are you there, alice?"


def wait_for(what: str, found: Callable[[], bool], timeout: float = DEADLINE) -> None:
    deadline = time.monotonic() + timeout
    while not found():
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}")
        time.sleep(0.1)


def row(hive: SandboxHive, name: str = "alice") -> dict[str, Any]:
    (found,) = hive.call("agent_status", name=name)["agent_statuses"]
    return dict(found)


def asked(api: ApiProcess, text: str = ASKED) -> list[Any]:
    """The model calls that carry ``text`` (the operator's question): a turn on it started."""
    return [r for r in api.requests() if r.is_messages and text in r.last_user_text]


def restart_daemon(hive: SandboxHive) -> None:
    old = hive.main_pid()
    hive.sandbox.systemctl("restart", "hive-c0re.service")
    wait_for("the daemon back", lambda: hive.main_pid() not in (0, old)
             and hive.active() == "active")


def stays_quiet(hive: SandboxHive, api: ApiProcess, seconds: float, text: str = ASKED) -> None:
    """For ``seconds``, nothing is leased and no turn starts: the question (and the hive's
    wake-up notes to alice, "you were started") wait unread."""
    waiting = row(hive)["unread"]
    assert waiting >= 1
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        status = row(hive)
        assert (status["unread"], status["in_flight"], status["paused"]) == (waiting, 0, True)
        assert asked(api, text) == []
        time.sleep(0.5)


def collect(hive: SandboxHive, got: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The operator's mail so far (reading marks it read: what came is kept in ``got``)."""
    got.extend(hive.call("inbox")["messages"])
    return got


def manager_events(hive: SandboxHive) -> list[str]:
    mail = hive.call("mail", name="manager", limit=200)["messages"]
    return [json.loads(m["body"])["event"] for m in mail if m["from"] == "system"]


def test_a_paused_container_keeps_its_mark_and_its_mail_until_resumed(
        sandbox: Sandbox, tmp_path: Path) -> None:
    hive = containers_hive(sandbox, HYPERHIVE_AGENT_COMMAND=HARNESS,
                           HYPERHIVE_AGENT_ENV_FILE=str(tmp_path / "agent.env"))
    answer = ToolCall("mcp__hive__send", {"to": "operator", "body": "here"}, id="toolu_here")
    script = write_script(tmp_path / "script.json", [
        Reply(tool_calls=[answer], match=Match(last_user_contains=ASKED)),
        Reply(text="answered", match=Match(tool_result_for="toolu_here")),
    ])
    got: list[dict[str, Any]] = []
    with ApiProcess(script, tmp_path) as api:
        container_env_file(tmp_path / "agent.env", api.url)
        hive.call("spawn", name="alice")
        wait_for("alice's harness up", lambda: row(hive)["running"] and row(hive)["listening"])
        # Her turn on the hive's "you were spawned" ends first: stopped mid-turn, its
        # lease would come back (requeued) when her harness starts again, and the mail
        # that waits would grow while the test counts it.
        wait_for("alice idle", lambda: (row(hive)["unread"], row(hive)["in_flight"]) == (0, 0))
        spawned = row(hive)
        hive.call("stop", name="alice")
        # Paused while stopped: the mark is the host's, not the container's.
        assert hive.call("set_paused", name="alice", paused=True)["changed"] is True
        stopped = row(hive)
        hive.call("send", to="alice", body=ASKED)
        restart_daemon(hive)
        after_restart = row(hive)
        hive.call("start", name="alice")
        stays_quiet(hive, api, QUIET)
        hive.call("restart", name="alice")
        wait_for("alice's container back", lambda: row(hive)["running"])
        stays_quiet(hive, api, 3.0)
        cli = hive.cli("resume", "alice")
        wait_for("alice's answer", lambda: bool(collect(hive, got)))
        wait_for("alice's mail acked",
                 lambda: (row(hive)["unread"], row(hive)["in_flight"]) == (0, 0))
        resumed = row(hive)

    assert spawned["running"] is True and spawned["failed"] is False
    assert re.fullmatch(r"[0-9a-f]{12}", spawned["deployed_sha"])
    assert spawned["needs_update"] is False and spawned["paused"] is False
    assert (stopped["running"], stopped["paused"], stopped["desired"]) == (False, True, "stopped")
    assert after_restart["paused"] is True
    assert cli.returncode == 0 and "alice: resumed" in cli.stdout, cli.stderr
    assert [(m["from"], m["body"]) for m in got] == [("alice", "here")]
    assert (resumed["paused"], resumed["running"]) == (False, True)
    events = manager_events(hive)
    assert events.count("paused") == 1 and events.count("resumed") == 1


def test_pausing_a_container_mid_turn_lets_the_turn_finish_and_ack(
        sandbox: Sandbox, tmp_path: Path) -> None:
    hive = containers_hive(sandbox, HYPERHIVE_AGENT_COMMAND=HARNESS,
                           HYPERHIVE_AGENT_ENV_FILE=str(tmp_path / "agent.env"))
    first = ToolCall("mcp__hive__send", {"to": "operator", "body": "first"}, id="toolu_1")
    second = ToolCall("mcp__hive__send", {"to": "operator", "body": "second"}, id="toolu_2")
    script = write_script(tmp_path / "script.json", [
        # Held back: the turn is still running when the operator pauses alice.
        Reply(tool_calls=[first], match=Match(last_user_contains="job one"), delay=4.0),
        Reply(text="one done", match=Match(tool_result_for="toolu_1")),
        Reply(tool_calls=[second], match=Match(last_user_contains="job two")),
        Reply(text="two done", match=Match(tool_result_for="toolu_2")),
    ])
    got: list[dict[str, Any]] = []
    hive.call("register", name="alice")
    hive.call("send", to="alice", body="job one")
    with ApiProcess(script, tmp_path) as api:
        container_env_file(tmp_path / "agent.env", api.url)
        hive.call("spawn", name="alice")
        wait_for("the turn on job one", lambda: bool(asked(api, "job one")))
        mid_turn = row(hive)
        hive.call("set_paused", name="alice", paused=True)
        hive.call("send", to="alice", body="job two")
        wait_for("the running turn's answer", lambda: bool(collect(hive, got)))
        wait_for("the running turn acked", lambda: row(hive)["in_flight"] == 0)
        stays_quiet(hive, api, 5.0, "job two")
        hive.call("set_paused", name="alice", paused=False)
        wait_for("the second answer", lambda: len(collect(hive, got)) >= 2)
        wait_for("alice idle", lambda: (row(hive)["unread"], row(hive)["in_flight"]) == (0, 0))

    assert (mid_turn["turn"], mid_turn["paused"]) == ("in_turn", False)
    assert [m["body"] for m in got] == ["first", "second"]
