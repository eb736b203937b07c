"""No mail is lost between the daemon and the turn loop: real daemon, the fast fake CLI.

Every leased message is either shown to a turn or taken back, operator input
arriving with it or a daemon restart between (or during) turns.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hive_ag3nt.harness import State
from hive_ag3nt.hive import HiveConnection, retry_safe
from hive_ag3nt.tools import ToolFailures, call_tool
from hive_c0re.client import Client
from hive_c0re.wire import VERBS
from hive_dev.daemon import DaemonProcess
from hive_dev.fakes.script import Match, Reply, ToolCall
from hive_dev.harness_support import Rig, daemon_process, make_rig, run, running, until

# The model answers every mail turn by sending the operator a reply.
REPLY = Reply(tool_calls=[ToolCall("mcp__hive__send", {"to": "operator", "body": "on it"})],
              match=Match(last_user_contains="Message #"), times=None)


@pytest.fixture
def daemon() -> Iterator[DaemonProcess]:
    """A daemon of the test's own: these tests restart it."""
    with daemon_process() as d:
        yield d


def daemon_operator(daemon: DaemonProcess) -> Client:
    return Client(daemon.host_socket)


def shown(rig: Rig, body: str) -> bool:
    """Whether any model call carried ``body``: what the fake CLI was actually sent."""
    return any(body in call.all_text() for call in rig.calls())


async def steps_until_settled(rig: Rig, limit: int = 6) -> None:
    """Run the loop until no mail is unread or in flight (at most ``limit`` steps)."""
    for _ in range(limit):
        if rig.counts() == (0, 0):
            return
        await rig.harness.step()


def test_mail_leased_as_the_operator_types_is_shown_in_a_turn(tmp_path: Path,
                                                               daemon: DaemonProcess) -> None:
    rig = make_rig(tmp_path, daemon, "lea", recv_wait=0.5)
    rig.send("arrived with the operator's prompt")

    async def scenario() -> None:
        async with running(rig.harness):
            step = asyncio.ensure_future(rig.harness.step())
            # One loop pass at a time until the daemon has leased the mail to the
            # long-poll (its answer is then in the harness's socket), then the
            # operator types before the loop has read it: both are ready together.
            while rig.counts()[1] == 0:  # noqa: ASYNC110
                await asyncio.sleep(0)
            rig.harness.inputs.put_nowait("hello from the operator")
            await step
            rig.send("later mail")
            await steps_until_settled(rig)

    run(scenario())
    assert shown(rig, "hello from the operator")
    assert shown(rig, "later mail")
    # Acked only after a turn showed it (before the fix: acked with "later mail", never shown).
    assert shown(rig, "arrived with the operator's prompt")
    assert rig.counts() == (0, 0)


def test_the_first_reply_after_a_daemon_restart_is_delivered(tmp_path: Path,
                                                             daemon: DaemonProcess) -> None:
    rig = make_rig(tmp_path, daemon, "max", REPLY, recv_wait=0.5)
    rig.send("before the restart")

    async def scenario() -> None:
        async with running(rig.harness):
            await rig.harness.step()
            assert [m["body"] for m in rig.inbox()] == ["on it"]  # the reply before
            daemon.restart()  # both of the harness's connections are now closed by the daemon
            rig.send("after the restart")
            await steps_until_settled(rig)

    run(scenario())
    assert shown(rig, "after the restart")
    assert [m["body"] for m in rig.inbox()] == ["on it"]  # the second reply came through
    assert rig.counts() == (0, 0)
    events = rig.harness.events
    tool_results = [e for t in events.last_turns(5) for e in events.events(t.id)
                    if e["kind"] == "tool_result"]
    assert tool_results and not any(e["is_error"] for e in tool_results)


def test_a_reply_that_could_not_reach_the_hive_is_not_acked(tmp_path: Path,
                                                            daemon: DaemonProcess) -> None:
    rig = make_rig(tmp_path, daemon, "ned", REPLY)
    rig.send("answer me")

    async def scenario() -> None:
        async with running(rig.harness):
            step = asyncio.ensure_future(rig.harness.step())
            await until(lambda: rig.harness.turn_running)
            # Blocking on purpose: the turn's tool call can only run once the daemon is gone.
            daemon.stop()
            await until(lambda: rig.harness.state is State.OFFLINE or step.done())
            assert not step.done()  # waiting for the hive to take the mail back, not acked
            daemon.restart()
            await step
            await steps_until_settled(rig)

    run(scenario())
    statuses = [t.status for t in reversed(rig.harness.events.last_turns(5))]
    assert statuses == ["hive_unreachable", "ok"]
    prompts = [c.last_user_text for c in rig.calls() if "Message #" in c.last_user_text]
    assert "[redelivered" in prompts[-1] and "answer me" in prompts[-1]
    assert [m["body"] for m in rig.inbox()] == ["on it"]
    assert rig.counts() == (0, 0)


# -- the parts: the hive client and the tools ---------------------------------------


@pytest.mark.parametrize(("cmd", "args", "safe"), [
    ("whoami", {}, True), ("ack_turn", {}, True), ("requeue_inflight", {}, True),
    ("get_open_threads", {}, True), ("recv", {"wait_seconds": 0}, True),
    ("recv", {"wait_seconds": 5}, False),  # it leases: a lost answer is taken back, not re-asked
    ("send", {"to": "operator", "body": "x"}, False),  # it may have been stored
    ("ask", {"question": "?"}, False), ("remind", {"message": "m"}, False),
    ("answer", {}, False), ("cancel_thread", {}, False), ("report_login", {}, False),
])
def test_only_requests_that_can_be_repeated_are_sent_again(cmd: str, args: dict[str, Any],
                                                           safe: bool) -> None:
    assert retry_safe(cmd, args) is safe


def test_a_connection_the_daemon_closed_is_replaced_before_the_next_send(
        daemon: DaemonProcess) -> None:
    rig_name = "oli"
    with daemon_operator(daemon) as op:
        op.call("register", name=rig_name)
    hive = HiveConnection(daemon.agent_socket(rig_name))

    async def scenario() -> None:
        try:
            assert (await hive.call("whoami"))["name"] == rig_name
            daemon.restart()  # blocking: the loop has not seen the old connection end yet
            assert len((await hive.call("send", to="operator", body="still here"))["ids"]) == 1
        finally:
            await hive.close()

    run(scenario())
    assert hive.connects == 2
    with daemon_operator(daemon) as op:
        assert [m["body"] for m in op.call("inbox")["messages"]] == ["still here"]


def test_an_unreachable_hive_is_a_tool_error_the_turn_hears_of(tmp_path: Path,
                                                               daemon: DaemonProcess) -> None:
    with daemon_operator(daemon) as op:
        op.call("register", name="pia")
    failures = ToolFailures()

    async def scenario() -> tuple[dict[str, Any], dict[str, Any]]:
        gone = HiveConnection(tmp_path / "no-daemon.sock")
        here = HiveConnection(daemon.agent_socket("pia"))
        try:
            lost = await call_tool(gone, VERBS["send"], {"to": "operator", "body": "x"},
                                   failures=failures)
            refused = await call_tool(here, VERBS["send"], {"to": "nobody", "body": "x"},
                                      failures=failures)
        finally:
            await here.close()
        return lost, refused

    lost, refused = run(scenario())
    assert lost.get("is_error") and "cannot reach the hive" in json.dumps(lost)
    assert refused.get("is_error") and "no agent named 'nobody'" in json.dumps(refused)
    (failure,) = failures.take()  # the refusal is the model's to read, not a failed delivery
    assert failure.startswith("send: cannot reach the hive")
    assert failures.take() == []
