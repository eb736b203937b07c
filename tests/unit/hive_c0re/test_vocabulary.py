"""One word per agent state (status rows' ``state``) and one rendering per concept, held to
hive-c0re(1)'s VOCABULARY; the rows come from a real store, only the unit state is given."""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

from hive_c0re import output, vocabulary
from hive_c0re.broker.store import Desired
from hive_c0re.daemon.crashwatch import UnitState, _unix
from hive_c0re.daemon.hive import Hive
from hive_c0re.daemon.status import agent_state, status_row
from tests.unit.hive_c0re.test_status_rows import hive, paths, unit, with_container

__all__ = ["hive", "paths"]  # the fixtures, shared with the status rows' tests

PAGE = Path(__file__).resolve().parents[3] / "man" / "hive-c0re.1"


def row_of(hive: Hive, monkeypatch: pytest.MonkeyPatch, state: UnitState) -> dict[str, Any]:
    with_container(hive, monkeypatch, state)
    return asyncio.run(status_row(hive, "bob"))


@pytest.mark.parametrize(("active", "result", "word"), [
    ("active", "success", "idle"), ("activating", "success", "starting"),
    ("deactivating", "success", "stopping"), ("failed", "signal", "crashed"),
    ("inactive", "signal", "crashed"), ("failed", "exit-code", "failed"),
    ("failed", "start-limit-hit", "failed"),
])
def test_each_unit_state_has_one_word(hive: Hive, monkeypatch: pytest.MonkeyPatch,
                                      active: str, result: str, word: str) -> None:
    assert row_of(hive, monkeypatch, unit(active, result))["state"] == word


def test_a_stopped_agent_is_stopped_and_a_destroyed_one_destroyed(
        hive: Hive, monkeypatch: pytest.MonkeyPatch) -> None:
    with_container(hive, monkeypatch, unit("inactive"))
    hive.store.set_container("bob", desired=Desired.STOPPED, uid_base=65536 * 8)
    assert asyncio.run(status_row(hive, "bob"))["state"] == "stopped"
    hive.store.set_container("bob", desired=Desired.DESTROYED, uid_base=65536 * 8)
    assert asyncio.run(status_row(hive, "bob"))["state"] == "destroyed"
    assert asyncio.run(status_row(hive, "alice"))["state"] == "mailbox"
    assert asyncio.run(status_row(hive, "manager"))["state"] == "mailbox"


def test_a_running_agent_thinks_pauses_and_needs_login(hive: Hive,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    row = row_of(hive, monkeypatch, unit("active"))
    assert agent_state({**row, "turn": "in_turn"}) == "thinking"
    assert agent_state({**row, "paused": True, "turn": "in_turn"}) == "paused"
    assert agent_state({**row, "needs_login": True, "paused": True}) == "needs-login"
    assert agent_state({**row, "stopping": True}) == "stopping"
    assert agent_state({**row, "unit_state": None}) == "unknown"


def test_started_at_is_the_units_active_enter_time_while_it_runs(
        hive: Hive, monkeypatch: pytest.MonkeyPatch) -> None:
    up = dataclasses.replace(unit("active"), active_since=1767225600.0)
    assert row_of(hive, monkeypatch, up)["started_at"] == "2026-01-01T00:00:00Z"
    down = dataclasses.replace(unit("inactive"), active_since=1767225600.0)
    assert asyncio.run(status_row(hive, "alice"))["started_at"] is None

    async def unit_state(name: str) -> UnitState:
        return down

    monkeypatch.setattr(hive.containers, "unit_state", unit_state)
    assert asyncio.run(status_row(hive, "bob"))["started_at"] is None
    assert (_unix("@1767225600"), _unix(""), _unix("@0"), _unix("n/a")) == (
        1767225600.0, None, None, None)


def test_every_state_and_concept_is_in_the_man_page() -> None:
    page = re.sub(r"\\f[BIR]", "", PAGE.read_text().replace("\\-", "-"))
    section = page.split(".SH VOCABULARY", 1)[1].split("\n.SH ", 1)[0]
    for word, meaning in vocabulary.STATES.items():
        assert f".TP\n{word}\n{meaning}" in section, word
    for concept, rendering in vocabulary.CONCEPTS:
        assert concept in section and rendering in section, concept


def test_values_render_one_way() -> None:
    assert [vocabulary.value(v) for v in (True, False, None, "", [], ["a", "b"], 3)] == [
        "yes", "no", "-", "-", "anyone", "a, b", "3"]
    assert vocabulary.label("in_flight") == "in flight"
    assert [vocabulary.duration(s) for s in (5, 190, 7500, 273600)] == [
        "5s", "3m 10s", "2h 05m", "3d 04h"]
    assert vocabulary.uptime("2026-01-01T00:00:00Z", now=1767225600.0 + 61) == "1m 01s"
    assert vocabulary.uptime(None) == "-"


def shown(show: Callable[[], None]) -> str:
    @click.command()
    def run() -> None:
        show()

    result = CliRunner().invoke(run, [], terminal_width=200)
    assert result.exit_code == 0, result.output
    return result.output


def test_send_says_queued_with_the_recipients_state() -> None:
    delivered = [{"id": 7, "to": "alice", "state": "idle"},
                 {"id": 8, "to": "carol", "state": "stopped"},
                 {"id": 9, "to": "dora", "state": "needs-login"},
                 {"id": 10, "to": "manager", "state": "mailbox"}]
    assert shown(lambda: output.sent({"delivered": delivered})).splitlines() == [
        "alice: sent #7", "carol: queued #8; carol is stopped",
        "dora: queued #9; dora needs a login", "manager: sent #10"]


def test_lifecycle_results_share_the_one_shape() -> None:
    lines = [shown(functools.partial(output.lifecycle_done, {"desired": "running"},
                                     name="carol", verb=verb)).strip()
             for verb in ("spawn", "start", "stop", "restart", "rebuild")]
    assert lines == ["carol: spawned", "carol: started", "carol: stopped", "carol: restarted",
                     "carol: rebuilt"]
    assert shown(lambda: output.lifecycle_done({"desired": "stopped"}, name="carol",
                                               verb="rebuild")) == (
        "carol: rebuilt; it stays stopped\n")
    assert shown(lambda: output.destroyed({"destroyed": "carol", "purged": False})) == (
        "carol: destroyed; its state is kept\n")
    approval = {"id": 4, "kind": "apply", "agent": "carol", "status": "deployed", "note": None}
    assert shown(lambda: output.approval_outcome(approval)) == (
        "#4: deployed; apply for carol\n")
    denied = {**approval, "status": "denied", "note": "not now"}
    assert shown(lambda: output.approval_outcome(denied)) == (
        "#4: denied; apply for carol: not now\n")


def test_a_crashed_agent_shows_what_it_should_be() -> None:
    row = {"name": "carol", "state": "crashed", "desired": "running", "unread": 0,
           "in_flight": 0, "allowed_recipients": [], "started_at": None}
    table = shown(lambda: output.agents_table([row, {**row, "name": "dora", "state": "idle",
                                                      "started_at": "2026-01-01T00:00:00Z"}]))
    assert re.search(r"carol\s+│\s+crashed\s+│\s+-\s+│\s+running\s+│", table), table
    assert re.search(r"dora\s+│\s+idle\s+│\s+\d+d \d\dh\s+│\s+│", table), table


def test_a_released_agent_is_running_and_takes_mail_at_once() -> None:
    row = {"name": "rae", "state": "idle (released)", "desired": "running"}
    assert output.desired_if_differs(row) == ""
    assert output.state_cell(row) == "idle (released)"
    delivered = [{"id": 3, "to": "rae", "state": "idle (released)"}]
    assert shown(lambda: output.sent({"delivered": delivered})) == "rae: sent #3\n"


@pytest.mark.parametrize("state", ["compacting", "rate-limited", "thinking", "paused"])
def test_a_running_agent_busy_or_waiting_agrees_with_desired_running(state: str) -> None:
    assert output.desired_if_differs({"state": state, "desired": "running"}) == ""
    assert output.desired_if_differs({"state": state, "desired": "stopped"}) == "stopped"
