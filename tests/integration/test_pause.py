"""Pausing, held on the host: a real daemon, the real harness, the fast fake CLI as the model.

A paused agent's mail waits and no turn starts; a turn already running finishes and acks;
the mark outlives a daemon restart; resuming lets the waiting mail through at once.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from hive_c0re.cli import cli
from hive_c0re.client import Client
from hive_c0re.errors import InvalidInput, NotFound
from hive_dev.daemon import DaemonProcess, running_daemon
from hive_dev.fakes.script import Match, Reply, ToolCall
from hive_dev.harness_support import Rig, make_rig

QUIET = 10.0  # how long a paused agent with mail waiting must take no turn


@pytest.fixture
def daemon() -> Iterator[DaemonProcess]:
    with running_daemon() as d:
        yield d


def answering(word: str, tool_id: str) -> tuple[Reply, Reply]:
    """The model answers the operator ``word`` once, then ends its turn."""
    send = ToolCall("mcp__hive__send", {"to": "operator", "body": word}, id=tool_id)
    return (Reply(tool_calls=[send], match=Match(last_user_contains=word)),
            Reply(text="done", match=Match(tool_result_for=tool_id)))


def set_paused(rig: Rig, paused: bool) -> dict[str, Any]:
    with rig.operator() as op:
        return op.call("set_paused", name=rig.name, paused=paused)


def row(rig: Rig) -> dict[str, Any]:
    with rig.operator() as op:
        (found,) = op.call("agent_status", name=rig.name)["agent_statuses"]
    return dict(found)


def manager_events(rig: Rig) -> list[str]:
    with rig.operator() as op:
        mail = op.call("mail", name="manager", limit=100)["messages"]
    return [json.loads(m["body"])["event"] for m in reversed(mail) if m["from"] == "system"]


def collect(rig: Rig, got: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The operator's mail so far (``inbox`` marks it read: what came is kept in ``got``)."""
    got.extend(rig.inbox())
    return got


async def until(condition: Callable[[], bool], limit: float = 30) -> None:
    async with asyncio.timeout(limit):
        while not condition():  # noqa: ASYNC110 (another process brings it about)
            await asyncio.sleep(0.05)


async def running(rig: Rig, scenario: Callable[[], Any]) -> None:
    """Run the harness's loop while ``scenario`` (a coroutine function) runs."""
    loop = asyncio.get_running_loop().create_task(rig.harness.run())
    try:
        await scenario()
    finally:
        loop.cancel()
        await asyncio.gather(loop, return_exceptions=True)
        await rig.harness.close()


def test_a_paused_agent_takes_no_turn_then_resumes_and_answers(tmp_path: Path,
                                                               daemon: DaemonProcess) -> None:
    rig = make_rig(tmp_path, daemon, "pam", *answering("ping", "toolu_p"), recv_wait=2.0)
    first = set_paused(rig, True)
    assert first["changed"] is True and first["agent_statuses"][0]["paused"] is True
    assert set_paused(rig, True)["changed"] is False  # idempotent
    rig.send("ping")
    got: list[dict[str, Any]] = []

    async def scenario() -> None:
        await asyncio.sleep(QUIET)
        assert rig.calls() == [] and rig.counts() == (1, 0)  # the mail waits, unleased
        assert row(rig)["paused"] is True
        set_paused(rig, False)
        await until(lambda: len(collect(rig, got)) >= 1)
        await until(lambda: rig.counts() == (0, 0))  # the turn that answered acked

    asyncio.run(running(rig, scenario))
    assert [m["body"] for m in got] == ["ping"]
    assert row(rig)["paused"] is False
    assert set_paused(rig, False)["changed"] is False
    events = manager_events(rig)
    assert events.count("paused") == 1 and events.count("resumed") == 1


def test_pausing_during_a_turn_lets_it_finish_and_ack(tmp_path: Path,
                                                      daemon: DaemonProcess) -> None:
    slow_send = ToolCall("mcp__hive__send", {"to": "operator", "body": "first"}, id="toolu_s")
    rig = make_rig(tmp_path, daemon, "tess",
                   Reply(tool_calls=[slow_send], match=Match(last_user_contains="one"),
                         delay=2.0),
                   Reply(text="done", match=Match(tool_result_for="toolu_s")),
                   *answering("two", "toolu_t"), recv_wait=2.0)
    rig.send("one")
    got: list[dict[str, Any]] = []

    async def scenario() -> None:
        await until(lambda: rig.counts() == (0, 1))  # leased to the running turn
        set_paused(rig, True)
        rig.send("two")
        await until(lambda: len(collect(rig, got)) >= 1)
        await until(lambda: rig.counts() == (1, 0))  # acked; the new mail waits
        await asyncio.sleep(3.0)  # more than a recv long-poll: still nothing leased
        assert rig.counts() == (1, 0) and [m["body"] for m in got] == ["first"]
        set_paused(rig, False)
        await until(lambda: len(collect(rig, got)) >= 2)
        await until(lambda: rig.counts() == (0, 0))

    asyncio.run(running(rig, scenario))
    assert [m["body"] for m in got] == ["first", "two"]


def test_the_mark_survives_a_daemon_restart(tmp_path: Path, daemon: DaemonProcess) -> None:
    rig = make_rig(tmp_path, daemon, "rita", *answering("still", "toolu_r"), recv_wait=2.0)
    set_paused(rig, True)
    with rig.operator() as op:
        op.call("set_paused", name="manager", paused=True)
    daemon.restart()
    assert row(rig)["paused"] is True
    with rig.operator() as op:
        (manager,) = op.call("agent_status", name="manager")["agent_statuses"]
        assert manager["paused"] is True
        everyone = op.call("agent_status")["agent_statuses"]
        assert {r["name"]: r["paused"] for r in everyone} == {"manager": True, "rita": True}
    rig.send("still")
    got: list[dict[str, Any]] = []

    async def scenario() -> None:
        await asyncio.sleep(4.0)  # two long-polls
        assert rig.calls() == [] and rig.counts() == (1, 0)
        set_paused(rig, False)
        await until(lambda: len(collect(rig, got)) >= 1)

    asyncio.run(running(rig, scenario))
    assert [m["body"] for m in got] == ["still"]


def test_set_paused_refuses_what_it_cannot_mark(daemon: DaemonProcess) -> None:
    with Client(daemon.host_socket) as op:
        with pytest.raises(NotFound, match="no agent named 'nobody'"):
            op.call("set_paused", name="nobody", paused=True)
        with pytest.raises(InvalidInput, match=r"set_paused\.paused must be true or false"):
            op.call("set_paused", name="manager", paused="yes")
        with pytest.raises(InvalidInput, match="needs the field 'paused'"):
            op.call("set_paused", name="manager")


def test_the_cli_pauses_resumes_and_shows_the_mark(daemon: DaemonProcess) -> None:
    def hive(*args: str) -> tuple[int, str]:
        done = CliRunner().invoke(cli, ["--socket", str(daemon.host_socket), *args])
        return done.exit_code, done.output

    with Client(daemon.host_socket) as op:
        op.call("register", name="cleo")
    assert hive("pause", "cleo") == (0, "cleo: paused\n")
    assert hive("pause", "cleo") == (0, "cleo: paused; it already was\n")
    code, shown = hive("status", "cleo")
    assert code == 0 and re.search(r"paused\s+yes", shown), shown
    code, text = hive("--json", "resume", "cleo")
    assert code == 0 and json.loads(text)["paused"] is False
    assert hive("resume", "cleo") == (0, "cleo: resumed; it was not paused\n")
    code, text = hive("--json", "pause", "manager")
    assert code == 0 and json.loads(text)["name"] == "manager"
    assert hive("resume", "manager") == (0, "manager: resumed\n")
    code, shown = hive("pause", "nobody")
    assert code == 5 and "no agent named 'nobody'" in shown
