"""The ``events`` verb through a real daemon: one agent's events, by time and by id."""

from __future__ import annotations

import json
import time

import pytest
from click.testing import CliRunner

from hive_c0re.cli import cli
from hive_c0re.client import Client
from hive_c0re.errors import InvalidInput, NotFound
from hive_dev.daemon import DaemonProcess


def test_events_are_one_agents_oldest_first_and_follow_by_id(daemon: DaemonProcess) -> None:
    with Client(daemon.host_socket) as op:
        for name in ("alice", "bob"):
            op.call("register", name=name)
        op.call("set_paused", name="alice", paused=True)
        op.call("set_paused", name="bob", paused=True)
        cut = time.time()
        op.call("set_paused", name="alice", paused=False)
        answer = op.call("events", name="alice")
        kinds = [(e["kind"], e["agent"]) for e in answer["events"]]
        assert kinds[-2:] == [("paused", "alice"), ("resumed", "alice")]
        assert {agent for _, agent in kinds} == {"alice"}
        assert answer["unit"].endswith(".service") and "alice" in answer["unit"]
        since = op.call("events", name="alice", since=cut)["events"]
        assert [e["kind"] for e in since] == ["resumed"]
        last = answer["events"][-1]["id"]
        assert op.call("events", name="alice", after=last)["events"] == []
        assert len(op.call("events", limit=1)["events"]) == 1


def test_events_of_nobody_known_is_a_clear_error(daemon: DaemonProcess) -> None:
    with Client(daemon.host_socket) as op:
        with pytest.raises(NotFound):
            op.call("events", name="carol")
        with pytest.raises(InvalidInput, match="since"):
            op.call("events", name="carol", since=-1)


def test_the_logs_command_tells_the_events_and_refuses_a_stranger(daemon: DaemonProcess) -> None:
    start = time.time()
    with Client(daemon.host_socket) as op:
        op.call("register", name="alice")
        op.call("set_paused", name="alice", paused=True)
        op.call("set_paused", name="alice", paused=False)
    runner = CliRunner()
    base = ["--socket", str(daemon.host_socket)]
    shown = runner.invoke(cli, [*base, "logs", "alice", "--since", str(start)])
    assert shown.exit_code == 0, shown.output
    events = [line for line in shown.output.splitlines() if "  event  " in line]
    assert [line.split("  event  ")[1] for line in events] == ["paused", "resumed"], shown.output
    as_json = runner.invoke(cli, [*base, "--json", "logs", "alice", "--since", str(start)])
    assert as_json.exit_code == 0, as_json.output
    objects = [json.loads(line) for line in as_json.output.splitlines()]
    assert [o["text"] for o in objects if o["source"] == "event"] == ["paused", "resumed"]
    stranger = runner.invoke(cli, [*base, "logs", "carol"])
    assert stranger.exit_code != 0 and "carol" in stranger.output, stranger.output
    bad = runner.invoke(cli, [*base, "logs", "alice", "--since", "soonish"])
    assert bad.exit_code != 0 and "not a time" in bad.output, bad.output


def test_a_purged_agents_events_stay_readable(daemon: DaemonProcess) -> None:
    with Client(daemon.host_socket) as op:
        op.call("register", name="dora")
        op.call("set_paused", name="dora", paused=True)
        op.call("unregister", name="dora")
        assert [e["kind"] for e in op.call("events", name="dora")["events"]][-1:] == ["paused"]
