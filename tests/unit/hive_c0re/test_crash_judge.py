"""The crash judge and watch: what counts as a crash, told once, restarted within bounds.

The unit states come from a stand-in for ``systemctl show`` and the signals
from a stand-in bus; the agents are real lifecycle agents on the in-memory
backend.
"""

from __future__ import annotations

import asyncio
import subprocess
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from hive_c0re.daemon.crashwatch import CrashJudge, CrashWatch, UnitState
from hive_c0re.daemon.pidwatch import MainProcess
from hive_c0re.lifecycle.agent_config import seed_text
from hive_c0re.lifecycle.gitrepo import ConfigRepo
from hive_c0re.lifecycle.proposed import CONFIG_FILE
from hive_dev.backend import FakeBackend
from hive_dev.clock import ManualClock
from tests.unit.hive_c0re.lifecycle_support import Bench

UNIT = FakeBackend().unit("alice")


def state(active: str = "failed", invocation: str = "i1", unit: str = UNIT,
          result: str = "exit-code") -> UnitState:
    return UnitState(unit=unit, active=active, sub="failed", result=result,
                     exit_status=3, exit_code="exited", invocation=invocation)


@dataclass
class Systemctl:
    """``systemctl show`` answering from ``states``."""

    states: dict[str, UnitState] = field(default_factory=dict)

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        assert args[0] == "show"
        found = self.states[args[1]]
        text = (f"ActiveState={found.active}\nSubState={found.sub}\nResult={found.result}\n"
                f"ExecMainStatus={found.exit_status}\nExecMainCode=1\n"
                f"InvocationID={found.invocation}\n")
        return subprocess.CompletedProcess(list(args), 0, text, "")


@dataclass
class Bus:
    on_change: Callable[[str], None] = lambda unit: None
    started: asyncio.Event = field(default_factory=asyncio.Event)
    stopped: bool = False
    answer: UnitState | None = None  # None: not listening
    read_on: list[int] = field(default_factory=list)  # the threads state() was called on

    def start(self, loop: asyncio.AbstractEventLoop, on_change: Callable[[str], None]) -> None:
        self.on_change = on_change
        self.started.set()

    def stop(self) -> None:
        self.stopped = True

    def state(self, unit: str) -> UnitState | None:
        self.read_on.append(threading.get_ident())
        return self.answer  # None: the watch asks ``systemctl show``

    def main_process(self, unit: str) -> MainProcess | None:
        return None  # no pidfd to follow: systemd's signals alone


class Watched:
    """A crash watch over a bench whose alice is spawned and running."""

    def __init__(self, tmp_path: Path, config: str | None = None) -> None:
        self.bench = Bench(tmp_path)
        self.bench.plain_state("alice")
        if config is not None:  # the applied config alice is spawned on
            self.bench.paths.applied_repo("alice").parent.mkdir(parents=True)
            ConfigRepo(self.bench.paths.applied_repo("alice")).init({CONFIG_FILE: config},
                                                                    "seed")
        self.systemctl = Systemctl({UNIT: state(active="active", invocation="i0")})
        self.bus = Bus()
        self.clock = ManualClock()
        self.watch = CrashWatch(self.bench.lifecycle, self.bench.store, self.bench.mail,
                                bus=self.bus, systemctl=self.systemctl, reconcile_every=3600,
                                reported=set(), journal=lambda unit: [f"{unit} said bye"],
                                clock=self.clock)
        asyncio.run(self.bench.lifecycle.spawn("alice"))
        self.bench.mail.events.clear()
        self.bench.backend.calls.clear()

    def crash(self, invocation: str) -> None:
        self.bench.backend.crash("alice")
        self.systemctl.states[UNIT] = state(invocation=invocation)
        asyncio.run(self.watch.check("alice"))

    def kinds(self) -> list[str]:
        return self.bench.mail.kinds()


@pytest.fixture
def watched(tmp_path: Path) -> Iterator[Watched]:
    w = Watched(tmp_path)
    yield w
    w.bench.close()


def test_the_judge_reports_an_unexpected_down_once() -> None:
    judge = CrashJudge(lambda agent: False, set())
    assert judge.judge("alice", state()) is True
    assert judge.judge("alice", state()) is False
    assert judge.judge("alice", state(invocation="i2")) is True


@pytest.mark.parametrize("unit_state", [state(active="active"), state(active="activating"),
                                        state(invocation=""),
                                        # A stop asked for: Result stays success meanwhile.
                                        state(active="deactivating", result="success")])
def test_the_judge_ignores_what_is_not_down_or_has_no_invocation(unit_state: UnitState) -> None:
    assert CrashJudge(lambda agent: False, set()).judge("alice", unit_state) is False


def test_a_main_process_that_failed_is_a_crash_before_the_unit_is_down() -> None:
    # systemd still ends the container's other processes; the failure is already known.
    judge = CrashJudge(lambda agent: False, set())
    assert judge.judge("alice", state(active="deactivating", result="signal")) is True
    assert judge.judge("alice", state(active="failed", result="signal")) is False  # the same


def test_an_expected_down_is_not_a_crash_and_stays_not_one() -> None:
    expected = {"alice"}
    judge = CrashJudge(lambda agent: agent in expected, set())
    assert judge.judge("alice", state()) is False
    expected.clear()
    assert judge.judge("alice", state()) is False  # the same incident, later


def test_the_judge_remembers_what_was_reported_before() -> None:
    assert CrashJudge(lambda agent: False, {"i1"}).judge("alice", state()) is False


def test_a_crash_is_told_with_the_units_state_and_journal(watched: Watched) -> None:
    watched.crash("i1")
    assert watched.bench.mail.events == [("container_crash", "alice", {
        "unit": UNIT, "active_state": "failed", "result": "exit-code", "exit_status": 3,
        "exit_code": "exited", "invocation": "i1", "journal": [f"{UNIT} said bye"]})]
    assert watched.bench.backend.calls == []  # the default policy only reports


def test_the_bus_is_read_in_a_worker_thread_never_on_the_loop(watched: Watched) -> None:
    # A D-Bus read blocks: on the loop it would hold up every socket the daemon serves.
    watched.bench.backend.crash("alice")
    watched.bus.answer = state(invocation="i1")
    loop: list[int] = []

    async def check() -> None:
        loop.append(threading.get_ident())
        await watched.watch.check("alice")

    asyncio.run(check())
    assert watched.kinds() == ["container_crash"]  # what the bus said (systemctl: active)
    assert watched.bus.read_on and loop[0] not in watched.bus.read_on


def test_a_burst_of_signals_costs_one_read_and_one_more_if_it_changed_during_it(
        watched: Watched) -> None:
    watched.bus.answer = state(active="active", invocation="i0")
    during: list[int] = []

    async def burst(count: int) -> None:
        for _ in range(count):
            watched.bus.on_change(UNIT)
        while watched.watch._tasks:
            await asyncio.gather(*watched.watch._tasks)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        watched.bus.start(loop, watched.watch._changed)
        await burst(5)  # all before the check began: its one read covers them
        assert len(watched.bus.read_on) == 1
        read = watched.bus.state

        def changing(unit: str) -> UnitState | None:
            if not during:  # a signal while the first read runs
                during.append(1)
                loop.call_soon_threadsafe(watched.bus.on_change, UNIT)
            return read(unit)

        watched.bus.state = changing  # type: ignore[method-assign]
        await burst(1)
        assert len(watched.bus.read_on) == 3

    asyncio.run(main())


def test_one_report_per_invocation(watched: Watched) -> None:
    watched.crash("i1")
    asyncio.run(watched.watch.check("alice"))
    asyncio.run(watched.watch.reconcile())
    watched.crash("i2")
    assert watched.kinds() == ["container_crash", "container_crash"]


def test_a_crash_is_told_while_the_unit_goes_down_and_not_again_once_down(
        watched: Watched) -> None:
    watched.bench.backend.crash("alice")
    for active in ("deactivating", "failed"):  # the signals of one kill, in order
        watched.systemctl.states[UNIT] = state(active=active, result="signal")
        asyncio.run(watched.watch.check("alice"))
    ((kind, agent, data),) = watched.bench.mail.events
    assert (kind, agent, data["active_state"], data["result"]) == (
        "container_crash", "alice", "deactivating", "signal")


def test_a_stopped_agent_going_down_is_no_crash(watched: Watched) -> None:
    asyncio.run(watched.bench.lifecycle.stop("alice"))
    watched.crash("i1")
    assert watched.kinds() == ["stopped"]


def test_a_unit_going_down_during_an_action_is_no_crash(watched: Watched) -> None:
    async def during_an_action() -> None:
        async with watched.bench.lifecycle.lock("alice"):
            await watched.watch.check("alice")

    watched.systemctl.states[UNIT] = state()
    asyncio.run(during_an_action())
    assert watched.kinds() == []


def test_restarts_stop_at_the_burst_and_resume_after_the_interval(tmp_path: Path) -> None:
    policy = 'policy = "restart"\nburst = 2\ninterval_seconds = 600'
    config = seed_text().replace('policy = "report"\nburst = 3\ninterval_seconds = 600', policy)
    assert policy in config
    w = Watched(tmp_path, config)
    try:
        for invocation in ("i1", "i2", "i3"):
            w.crash(invocation)
        assert w.kinds() == ["container_crash", "started", "container_crash", "started",
                             "container_crash", "restart_limit"]
        assert not w.bench.backend.is_active("alice")
        w.clock.advance(601)
        w.crash("i4")
        assert w.kinds()[-2:] == ["container_crash", "started"]
        assert w.bench.backend.is_active("alice")
    finally:
        w.bench.close()


def test_the_watch_hears_the_bus_and_checks_the_agent_at_once(watched: Watched) -> None:
    async def scenario() -> None:
        running = asyncio.get_running_loop().create_task(watched.watch.run())
        await watched.bus.started.wait()
        watched.systemctl.states[UNIT] = state()
        watched.bus.on_change("hive-agent@alice.service")
        watched.bus.on_change("hive-agent@nobody.service")  # no such agent: ignored
        for _ in range(1000):
            if watched.kinds():
                break
            await asyncio.sleep(0.01)
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)

    asyncio.run(scenario())
    assert watched.kinds() == ["container_crash"]
    assert watched.bus.stopped
