"""The status rows (the original's keys and types, then ours) and the pause marks, on a real
store and real git repos; only the container unit's state is given by the test."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hive_c0re.broker.reports import Activity
from hive_c0re.broker.store import Desired, Store
from hive_c0re.daemon.crashwatch import UnitState
from hive_c0re.daemon.hive import Hive
from hive_c0re.daemon.pause import Pauses
from hive_c0re.daemon.status import ORIGINAL_KEYS, status_row, status_rows
from hive_c0re.daemon.wiring import build_hive
from hive_c0re.lifecycle.gitrepo import ConfigRepo
from hive_c0re.names import MANAGER
from hive_c0re.paths import Paths
from hive_c0re.settings import Settings
from hive_c0re.timestamps import rfc3339

BOOLEANS = ("running", "failed", "needs_update", "needs_login", "paused")
NULLABLE_TEXT = ("deployed_sha", "active_model", "status_text", "status_set_at", "url")
RFC3339 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


@pytest.fixture
def paths(tmp_path: Path) -> Paths:
    return Paths(state=tmp_path / "state", runtime=tmp_path / "run")


@pytest.fixture
def hive(paths: Paths) -> Iterator[Hive]:
    settings = Settings.load({"manager_command": ""}, environ={})
    paths.state.mkdir(parents=True)
    store = Store(paths.state / "broker.sqlite", settings)
    store.register_agent("alice")
    yield build_hive(store, paths, settings)
    store.close()


def unit(active: str, result: str = "success") -> UnitState:
    return UnitState(unit="hive-agent@bob.service", active=active, sub="", result=result,
                     exit_status=None, exit_code=None, invocation="x")


def with_container(hive: Hive, monkeypatch: pytest.MonkeyPatch, state: UnitState) -> str:
    """bob: a container agent whose unit is in ``state``, deployed at its applied HEAD."""
    hive.store.register_agent("bob")
    hive.store.set_container("bob", desired=Desired.RUNNING, uid_base=65536 * 8)
    head = ConfigRepo(hive.paths.applied_repo("bob")).init({"agent.toml": ""}, "seed")
    hive.store.set_deployed("bob", head)
    policy = hive.paths.agent_policy("bob")
    policy.mkdir(parents=True)
    (policy / "policy.json").write_text('{"model": "sonnet"}')

    async def unit_state(name: str) -> UnitState:
        return state

    monkeypatch.setattr(hive.containers, "unit_state", unit_state)
    return head


def check_original_shape(row: dict[str, Any]) -> None:
    assert set(ORIGINAL_KEYS) <= set(row)
    assert isinstance(row["name"], str)
    for key in BOOLEANS:
        assert type(row[key]) is bool, key
    assert row["parent"] is None
    for key in NULLABLE_TEXT:
        assert row[key] is None or isinstance(row[key], str), key
    if row["deployed_sha"] is not None:
        assert re.fullmatch(r"[0-9a-f]{12}", row["deployed_sha"])
    if row["status_set_at"] is not None:
        assert RFC3339.fullmatch(row["status_set_at"])


def test_every_agent_and_the_manager_have_a_row_of_the_original_shape(hive: Hive) -> None:
    rows = asyncio.run(status_rows(hive))
    assert [r["name"] for r in rows] == [MANAGER, "alice"]
    for row in rows:
        check_original_shape(row)
    alice = rows[1]
    assert {k: alice[k] for k in BOOLEANS} == dict.fromkeys(BOOLEANS, False)
    assert (alice["deployed_sha"], alice["url"], alice["status_text"]) == (None, None, None)
    assert (alice["unread"], alice["in_flight"], alice["turn"], alice["desired"]) == (
        0, 0, "idle", "none")


def test_a_running_container_at_its_applied_head(hive: Hive,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    head = with_container(hive, monkeypatch, unit("active"))
    row = asyncio.run(status_row(hive, "bob"))
    check_original_shape(row)
    assert (row["running"], row["failed"], row["needs_update"]) == (True, False, False)
    assert row["deployed_sha"] == head[:12] and row["full_deployed_sha"] == head
    assert row["active_model"] == "sonnet" and row["unit_state"] == "active"


def test_applied_config_ahead_of_the_deployed_one_needs_an_update(
        hive: Hive, monkeypatch: pytest.MonkeyPatch) -> None:
    with_container(hive, monkeypatch, unit("active"))
    hive.store.set_deployed("bob", "0" * 40)
    row = asyncio.run(status_row(hive, "bob"))
    assert row["needs_update"] is True and row["deployed_sha"] == "0" * 12


@pytest.mark.parametrize(("state", "failed"), [
    (unit("failed", "exit-code"), True),
    (unit("inactive", "signal"), True),
    (unit("inactive"), False),
])
def test_a_unit_that_went_down_on_its_own_is_failed(
        hive: Hive, monkeypatch: pytest.MonkeyPatch, state: UnitState, failed: bool) -> None:
    with_container(hive, monkeypatch, state)
    row = asyncio.run(status_row(hive, "bob"))
    assert (row["running"], row["failed"]) == (False, failed)


@pytest.mark.parametrize(("result", "running", "failed", "word"), [
    ("signal", False, True, "crashed"),  # killed from outside, its processes still ending
    ("success", True, False, "stopping"),  # a stop asked for
    ("timeout", True, False, "stopping"),  # a stop asked for, escalated to SIGKILL
])
def test_a_unit_going_down_is_crashed_only_when_killed(
        hive: Hive, monkeypatch: pytest.MonkeyPatch, result: str, running: bool, failed: bool,
        word: str) -> None:
    with_container(hive, monkeypatch, unit("deactivating", result))
    row = asyncio.run(status_row(hive, "bob"))
    assert (row["running"], row["failed"], row["state"]) == (running, failed, word)


def test_needs_login_follows_the_harness_report(hive: Hive) -> None:
    async def scenario() -> list[bool]:
        seen = []
        for logged_in in (False, True):
            hive.mail.reports.login("alice", logged_in)
            seen.append((await status_row(hive, "alice"))["needs_login"])
        return seen

    assert asyncio.run(scenario()) == [True, False]


@pytest.mark.parametrize(("activity", "released", "in_flight", "state"), [
    ("compacting", False, 1, "compacting"),
    ("rate-limited", False, 1, "rate-limited"),
    ("rate-limited", True, 1, "rate-limited"),
    ("thinking", False, 0, "thinking"),
    ("idle", False, 0, "idle"),
    ("idle", True, 0, "idle (released)"),
    ("idle", True, 1, "thinking"),  # mail leased: a turn is starting the CLI again
    ("needs-login", True, 0, "idle (released)"),  # the login state comes from report_login
])
def test_a_running_agents_state_word_takes_its_harness_report(
        hive: Hive, monkeypatch: pytest.MonkeyPatch, activity: str, released: bool,
        in_flight: int, state: str) -> None:
    with_container(hive, monkeypatch, unit("active"))
    hive.mail.reports.activities["bob"] = Activity(activity, "sonnet", None, released)
    if in_flight:
        hive.store.send("operator", "bob", "hi")
        hive.store.lease("bob", 1)
    row = asyncio.run(status_row(hive, "bob"))
    assert (row["state"], row["activity"], row["released"]) == (state, activity, released)


def test_a_stopped_agents_last_report_does_not_make_it_look_busy(
        hive: Hive, monkeypatch: pytest.MonkeyPatch) -> None:
    with_container(hive, monkeypatch, unit("inactive"))
    hive.mail.reports.activities["bob"] = Activity("thinking", "sonnet", None)
    assert asyncio.run(status_row(hive, "bob"))["state"] == "stopped"


def test_an_unknown_name_has_no_row(hive: Hive) -> None:
    from hive_c0re.errors import NotFound

    with pytest.raises(NotFound, match="no agent named 'zed'"):
        asyncio.run(status_row(hive, "zed"))


def test_times_are_rfc3339_utc() -> None:
    assert rfc3339(0) == "1970-01-01T00:00:00Z"
    assert rfc3339(None) is None


# -- the pause marks ---------------------------------------------------------------------


def test_an_agents_pause_mark_is_kept_in_the_store(hive: Hive, paths: Paths) -> None:
    pauses = hive.containers.pauses
    assert pauses.set_paused("alice", True) is True
    assert pauses.set_paused("alice", True) is False  # idempotent
    assert asyncio.run(status_row(hive, "alice"))["paused"] is True
    reopened = Store(paths.state / "broker.sqlite", hive.settings)
    try:
        assert reopened.agent("alice").paused is True
        assert reopened.set_paused("alice", False).paused is False
    finally:
        reopened.close()


def test_the_managers_mark_is_a_file_beside_its_desired_state(hive: Hive, paths: Paths) -> None:
    pauses = hive.containers.pauses
    assert pauses.set_paused(MANAGER, True) is True
    assert (paths.manager_state / "paused").exists()
    assert Pauses(hive.store, paths, hive.mail.signals).paused(MANAGER) is True
    assert asyncio.run(status_row(hive, MANAGER))["paused"] is True
    assert pauses.set_paused(MANAGER, False) is True
    assert Pauses(hive.store, paths, hive.mail.signals).paused(MANAGER) is False


def test_a_hold_leases_nothing_without_touching_the_mark(hive: Hive) -> None:
    pauses = hive.containers.pauses
    with pauses.hold("alice"):
        assert pauses.leases_nothing("alice") and not pauses.paused("alice")
    assert not pauses.leases_nothing("alice")


def test_drained_waits_for_the_turn_to_end(hive: Hive) -> None:
    store, pauses = hive.store, hive.containers.pauses
    store.send("operator", "alice", "hi", None)
    store.lease("alice", 8)

    async def scenario() -> tuple[bool, bool]:
        timed_out = await pauses.drained("alice", 0.05)
        waiting = asyncio.get_running_loop().create_task(pauses.drained("alice", 60))
        await asyncio.sleep(0)
        store.ack_turn("alice")
        pauses.turn_ended("alice")
        return timed_out, await waiting

    assert asyncio.run(scenario()) == (False, True)


class StopRecorder:
    """The lifecycle's stop, as graceful_stop calls it: what was leasable at that moment.
    It stands in for the hive's lifecycle; the container's unit is in ``state``."""

    def __init__(self, hive: Hive, state: UnitState | None = None) -> None:
        self.hive = hive
        self.stopped: list[tuple[str, bool]] = []
        hive.containers.__dict__["lifecycle"] = self  # the cached lifecycle, stood in for
        up = state or unit("active")

        async def unit_state(name: str) -> UnitState:
            return up

        hive.containers.__dict__["unit_state"] = unit_state

    async def stop(self, name: str) -> Any:
        self.stopped.append((name, self.hive.containers.pauses.leases_nothing(name)))
        return self.hive.store.agent(name)


def test_a_graceful_stop_holds_new_leases_and_stops_once_the_turn_ends(hive: Hive) -> None:
    recorder = StopRecorder(hive)
    store, pauses = hive.store, hive.containers.pauses
    store.send("operator", "alice", "hi", None)
    store.lease("alice", 8)

    async def scenario() -> None:
        stopping = asyncio.get_running_loop().create_task(hive.containers.graceful_stop("alice"))
        await asyncio.sleep(0.05)
        assert recorder.stopped == [] and pauses.held("alice") and not pauses.paused("alice")
        store.ack_turn("alice")
        pauses.turn_ended("alice")
        await stopping

    asyncio.run(scenario())
    assert recorder.stopped == [("alice", True)]  # still held while it stopped
    assert not pauses.leases_nothing("alice")  # and released after


def test_a_graceful_stop_gives_up_waiting_after_its_timeout(paths: Paths) -> None:
    settings = Settings.load({"manager_command": "", "graceful_stop_timeout": 0.05}, environ={})
    paths.state.mkdir(parents=True)
    store = Store(paths.state / "broker.sqlite", settings)
    try:
        store.register_agent("alice")
        hive = build_hive(store, paths, settings)
        recorder = StopRecorder(hive)
        store.send("operator", "alice", "hi", None)
        store.lease("alice", 8)
        asyncio.run(hive.containers.graceful_stop("alice"))
        assert recorder.stopped == [("alice", True)]
        assert store.counts("alice").in_flight == 1  # the stop's harness requeues it later
    finally:
        store.close()


def test_hyperhive_7_names_every_key_of_a_row(hive: Hive,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    with_container(hive, monkeypatch, unit("active"))
    page = (Path(__file__).resolve().parents[3] / "man" / "hyperhive.7").read_text()
    section = page.split(".SH PAUSING AND STATUS", 1)[1].split("\n.SH ", 1)[0]
    named = set(re.findall(r"[a-z_]+", section.replace("\\-", "-")))
    keys = set(asyncio.run(status_row(hive, "bob")))
    assert keys - named == set()


def test_a_graceful_stop_of_a_container_that_is_down_does_not_wait(hive: Hive) -> None:
    recorder = StopRecorder(hive, unit("failed", "signal"))
    hive.store.send("operator", "alice", "hi", None)
    hive.store.lease("alice", 8)  # left in flight by a harness that died
    # The default timeout is 300 s: a wait would end this test's bound first.
    asyncio.run(asyncio.wait_for(hive.containers.graceful_stop("alice"), 30))
    assert recorder.stopped == [("alice", True)]
