"""The harness reports what it is doing; the operator's status rows carry it.

Real daemon, real SDK and harness, the fast fake CLI as the model: the
reports go over the agent's own socket, and the status feed delivers them.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from hive_ag3nt.activity import StateReporter
from hive_ag3nt.hive import HiveConnection
from hive_c0re.client import Client
from hive_dev.daemon import DaemonProcess
from hive_dev.fakes.script import ApiError, Reply
from hive_dev.harness_support import Rig, make_rig, run, running


def watch_rows(daemon: DaemonProcess, name: str, seen: list[dict[str, Any]],
               started: threading.Event) -> Client:
    """Collect ``name``'s rows off the status feed on a thread; close the client to end it."""
    client = Client(daemon.host_socket, timeout=60)

    def follow() -> None:
        try:
            for answer in client.follow("subscribe_agent_status"):
                rows = [r for r in answer.get("agent_statuses", ()) if r["name"] == name]
                seen.extend(rows)
                if rows:
                    started.set()
        except Exception:  # closed under it: the test is over
            pass

    threading.Thread(target=follow, daemon=True).start()
    return client


async def one_reported_step(rig: Rig) -> None:
    reporter = StateReporter(rig.harness, HiveConnection(rig.harness.paths.socket))
    try:
        async with running(rig.harness):
            await rig.harness.step()
    finally:
        await reporter.close()


def test_a_turn_and_a_rate_limit_reach_the_status_rows(tmp_path: Path,
                                                        daemon: DaemonProcess) -> None:
    rig = make_rig(tmp_path, daemon, "ida", rate_limit_wait=0.3)
    rig.send("busy day")
    rig.script_replies(Reply(error=ApiError.rate_limited(retry_after=0), times=3),
                       Reply(text="through"))
    seen: list[dict[str, Any]] = []
    started = threading.Event()
    feed = watch_rows(daemon, "ida", seen, started)
    try:
        with Client(daemon.agent_socket("ida")) as agent:  # a change, until the feed shows one
            for _ in range(100):
                agent.call("report_state", state="idle")
                if started.wait(0.1):
                    break
        assert started.is_set()
        run(one_reported_step(rig))
    finally:
        feed.close()
    with rig.operator() as op:
        (row,) = op.call("agent_status", name="ida")["agent_statuses"]
    assert "rate-limited" in [r["activity"] for r in seen]
    assert row["activity"] == "idle"
    turn = row["last_turn"]
    (stats,) = rig.harness.events.last_turns(1)
    assert stats.duration_ms is not None and turn["duration_ms"] == stats.duration_ms
    # a scripted turn can take under 1 ms, so its end may equal its start
    assert turn["ended_at"] == pytest.approx(stats.started_at + stats.duration_ms / 1000)


def test_a_report_with_a_state_the_hive_does_not_know_is_refused(tmp_path: Path,
                                                                  daemon: DaemonProcess) -> None:
    make_rig(tmp_path, daemon, "jon")
    with Client(daemon.agent_socket("jon")) as agent:
        try:
            agent.call("report_state", state="<b>owned</b>")
        except Exception as exc:
            refusal = str(exc)
        else:
            raise AssertionError("an unknown state was taken")
        agent.call("report_state", state="compacting", model="haiku")
    assert "must be one of" in refusal and "compacting" in refusal
    with Client(daemon.host_socket) as op:
        (row,) = op.call("agent_status", name="jon")["agent_statuses"]
    assert (row["activity"], row["last_turn"]) == ("compacting", None)
