"""Crash watch: container units that die without being asked to, reported at once.

pystemd subscribes to systemd's unit signals on D-Bus (:mod:`unitbus`); the
bus's fd is driven from the daemon's event loop, so a failing container is
noticed the moment systemd says so, and the unit's state is read over D-Bus
too (``systemctl show`` when the watch does not listen). Sooner still, when
the ``crash_pidfd`` setting allows: a pidfd of each running unit's main
process (:mod:`pidwatch`) tells its death by a signal before systemd has
handled it; whatever that cannot tell is left to systemd's signals. A slow reconcile
pass catches what a lost signal or a daemon restart would miss; each incident
(a unit's InvocationID) is reported once, even across daemon restarts,
because reports are remembered in the hive event log.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import signal
import subprocess
import time
from collections.abc import Callable, Coroutine, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

from hive_c0re.broker.models import HiveEvent
from hive_c0re.broker.store import Desired, Store
from hive_c0re.daemon.pidwatch import Exit, Followed, MainProcess, PidWatch
from hive_c0re.lifecycle.agents import Lifecycle
from hive_c0re.lifecycle.ports import Announcer

log = logging.getLogger(__name__)

UNIT_PREFIX = "/org/freedesktop/systemd1/unit/"
# Both backends' unit names; the agent name is the part in the middle.
AGENT_UNIT = re.compile(r"(?:hive-agent@|container@h-)([a-z][a-z0-9-]{0,8})\.service")


def unescape_path(path: str) -> str:
    """The unit name behind a systemd object path (``_2d`` → ``-``, ``_40`` → ``@``)."""
    tail = path.removeprefix(UNIT_PREFIX)
    return re.sub(r"_([0-9a-f]{2})", lambda m: chr(int(m.group(1), 16)), tail)


def agent_of(unit: str) -> str | None:
    found = AGENT_UNIT.fullmatch(unit)
    return found.group(1) if found else None


@dataclass(frozen=True)
class UnitState:
    unit: str
    active: str  # ActiveState
    sub: str  # SubState
    result: str  # Result: success, exit-code, signal, ...
    exit_status: int | None  # ExecMainStatus
    exit_code: str | None  # ExecMainCode as a word: exited, killed, dumped
    invocation: str  # InvocationID: one per start
    # ActiveEnterTimestamp as seconds since the epoch (None if never active or unknown).
    active_since: float | None = None


def is_down(state: UnitState) -> bool:
    """Down, or going down because its main process (nspawn) failed.

    A failed main process makes systemd enter ``deactivating`` with the failure's
    Result and exit status already set, then tear down the container's other
    processes, which takes tens of ms for a harness and its CLI (more on a loaded
    host) before the unit is ``failed``. The crash is certain at the first step, so
    it is reported there. A stop asked for keeps Result ``success`` while it runs.
    """
    if state.active in ("failed", "inactive"):
        return True
    return state.active == "deactivating" and state.result not in ("", "success")


class CrashJudge:
    """Decides whether a unit going down is a crash worth reporting (a loop you can step).

    ``expected(agent)`` says whether the operator or the manager has an
    action in flight (stop, restart, rebuild, destroy) or wants it stopped;
    ``reported`` holds the invocations already reported.
    """

    def __init__(self, expected: Callable[[str], bool], reported: set[str]) -> None:
        self.expected = expected
        self.reported = reported

    def judge(self, agent: str, state: UnitState) -> bool:
        if not is_down(state) or not state.invocation:
            return False
        if state.invocation in self.reported:
            return False
        if self.expected(agent):
            # Remember it all the same: a later reconcile must not call it a crash.
            self.reported.add(state.invocation)
            return False
        self.reported.add(state.invocation)
        return True


class UnitSignals(Protocol):
    """Where the crash watch hears of agent units changing state."""

    def start(self, loop: asyncio.AbstractEventLoop, on_change: Callable[[str], None]) -> None:
        """Call ``on_change(unit)`` from ``loop`` whenever an agent's unit changes."""
        ...

    def stop(self) -> None: ...

    def state(self, unit: str) -> UnitState | None:
        """The unit's state over D-Bus (blocking: from a worker thread); None when the
        watch is not listening (then ``systemctl show`` answers)."""
        ...

    def main_process(self, unit: str) -> MainProcess | None:
        """A pidfd of the running unit's main process, checked against systemd
        (blocking: from a worker thread); None when there is none to follow."""
        ...


class Runner(Protocol):
    """``systemctl`` for the hive's manager (:class:`~hive_c0re.lifecycle.backend.Systemctl`)."""

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]: ...


def recent_journal(unit: str, lines: int = 20) -> list[str]:
    """The unit's last journal lines (either manager's fields, or its syslog identifier)."""
    from systemd import journal

    reader = journal.Reader()
    try:
        reader.add_match(_SYSTEMD_UNIT=unit)
        reader.add_disjunction()
        reader.add_match(_SYSTEMD_USER_UNIT=unit)
        agent = agent_of(unit)
        if agent is not None:
            reader.add_disjunction()
            reader.add_match(SYSLOG_IDENTIFIER=f"hive-agent-{agent}")
        reader.seek_tail()
        found = []
        for _ in range(lines):
            entry = reader.get_previous()
            if not entry:
                break
            found.append(str(entry.get("MESSAGE", "")))
        return list(reversed(found))
    finally:
        reader.close()


def crash_report(agent: str, state: UnitState, journal_lines: Iterable[str]) -> dict[str, Any]:
    return {"event": "container_crash", "agent": agent, "unit": state.unit,
            "active_state": state.active, "result": state.result,
            "exit_status": state.exit_status, "exit_code": state.exit_code,
            "invocation": state.invocation, "journal": list(journal_lines)}


EXIT_CODES = {"1": "exited", "2": "killed", "3": "dumped"}
_PROPS = ("ActiveState", "SubState", "Result", "ExecMainStatus", "ExecMainCode", "InvocationID",
          "ActiveEnterTimestamp")


def read_state(systemctl: Runner, unit: str) -> UnitState:
    """The unit's state in one ``systemctl show`` (blocking: call it from a thread)."""
    # --timestamp=unix: "@1767225600", not a local date with a zone name to guess at.
    args = ["show", unit, "--timestamp=unix", *(f"--property={p}" for p in _PROPS)]
    found = dict(line.partition("=")[::2]
                 for line in systemctl.run(*args).stdout.splitlines())
    status = found.get("ExecMainStatus", "")
    return UnitState(unit=unit, active=found.get("ActiveState", ""),
                     sub=found.get("SubState", ""), result=found.get("Result", ""),
                     exit_status=int(status) if status.isdigit() else None,
                     exit_code=EXIT_CODES.get(found.get("ExecMainCode", "")),
                     invocation=found.get("InvocationID", ""),
                     active_since=_unix(found.get("ActiveEnterTimestamp", "")))


def _unix(stamp: str) -> float | None:
    """``@1767225600`` as a number; None for an empty (never entered) or odd value."""
    try:
        return float(stamp[1:]) if stamp.startswith("@") and float(stamp[1:]) > 0 else None
    except ValueError:
        return None


def killed_state(main: Followed, status: Exit) -> UnitState:
    """What systemd will say of a unit whose main process ``status`` killed, said first:
    Result and ExecMainCode as systemd words them, the unit still going down."""
    return UnitState(unit=main.unit, active="deactivating", sub="",
                     result="core-dump" if status.core else "signal",
                     exit_status=status.signal, exit_code="dumped" if status.core else "killed",
                     invocation=main.invocation)


def reported_crashes() -> set[str]:
    """The invocations already reported, from the hive event log (across daemon restarts)."""
    rows = HiveEvent.select(HiveEvent.data).where(HiveEvent.kind == "container_crash")
    return {json.loads(row.data).get("invocation", "") for row in rows} - {""}


Journal = Callable[[str], list[str]]


class CrashWatch:
    """Reports container crashes to the manager; restarts only where the policy says so."""

    def __init__(self, lifecycle: Lifecycle, store: Store, announcer: Announcer, *,
                 bus: UnitSignals, systemctl: Runner, reconcile_every: float,
                 reported: set[str], journal: Journal = recent_journal,
                 clock: Callable[[], float] = time.monotonic,
                 follow_pids: bool = False,
                 on_status: Callable[[str], None] = lambda agent: None) -> None:
        self.lifecycle = lifecycle
        self.store = store
        self.announcer = announcer
        self.bus = bus
        self.systemctl = systemctl
        self.reconcile_every = reconcile_every
        self.judge = CrashJudge(self._expected, reported)
        self.journal = journal
        self.clock = clock
        self.restarts: dict[str, list[float]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._checking: set[str] = set()  # agents a check runs for
        self._again: set[str] = set()  # ... which changed again since it began
        # The journal lines a report carries, read on a thread of their own: never queued
        # behind the D-Bus reads that occupy the shared workers while a unit goes down.
        self._journal_thread = ThreadPoolExecutor(1, thread_name_prefix="crash-journal")
        self.pids = PidWatch(self._exited) if follow_pids else None
        self.on_status = on_status  # an agent's status row may have changed
        # Crashes told by a pidfd before systemd knew: a status row built for the event
        # still saw the unit active, so systemd's word on it is a status change too.
        self._told_early: set[str] = set()

    def _expected(self, agent: str) -> bool:
        record = self.store.agent_or_none(agent)
        if record is None or record.desired is not Desired.RUNNING:
            return True  # stopped or destroyed on purpose
        return bool(self.lifecycle.lock(agent).locked())  # an action is in flight

    async def run(self) -> None:
        """Listen on the bus; every ``reconcile_every`` seconds, look at every agent."""
        loop = asyncio.get_running_loop()
        try:
            self.bus.start(loop, self._changed)
        except Exception as exc:
            log.error("crash watch cannot listen on D-Bus (%s); reconcile passes only", exc)
        try:
            while True:
                await self.reconcile()
                await asyncio.sleep(self.reconcile_every)
        finally:
            if self.pids is not None:
                self.pids.close()
            self.bus.stop()
            self._journal_thread.shutdown(wait=False)

    async def reconcile(self) -> None:
        for agent in self.store.agents():
            if agent.desired is Desired.RUNNING and agent.uid_base is not None:
                await self.check(agent.name)

    def _changed(self, unit: str) -> None:
        agent = agent_of(unit)
        if agent is None or self.store.agent_or_none(agent) is None:
            return
        self._recheck(agent)

    def _recheck(self, agent: str) -> None:
        """Check ``agent`` soon: one check at a time per agent, and one more after it when
        anything changed meanwhile. A burst of signals (a unit going down sends several)
        costs two reads, not one each, so the worker threads stay free for the rest."""
        if agent in self._checking:
            self._again.add(agent)
            return
        self._checking.add(agent)
        self._spawn(self._checks(agent))

    async def _checks(self, agent: str) -> None:
        try:
            while True:
                self._again.discard(agent)
                await self.check(agent)
                if agent not in self._again:
                    return
        finally:
            self._checking.discard(agent)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def check(self, agent: str) -> None:
        unit = self.lifecycle.backend.unit(agent)
        state = await self.read(unit)
        if state is None:
            return
        await self._follow(agent, state)
        if is_down(state) and state.invocation in self._told_early:
            self._told_early.discard(state.invocation)
            self.on_status(agent)
        if self.judge.judge(agent, state):
            await self.report(agent, state)

    async def _follow(self, agent: str, state: UnitState) -> None:
        """Hold a pidfd of the running unit's main process; let go of it as soon as
        systemd says the unit is anything but active (a stop it runs is then systemd's
        to tell, even one that ends in SIGKILL)."""
        if self.pids is None:
            return
        if state.active != "active":
            self.pids.forget(state.unit)
            return
        if self.pids.following(state.unit) == state.invocation:
            return
        try:
            main = await asyncio.to_thread(self.bus.main_process, state.unit)
        except Exception as exc:
            log.info("cannot follow %s's main process (%s)", state.unit, exc,
                     extra={"HIVE_AGENT": agent})
            return
        if main is None:
            return
        if main.invocation != state.invocation or self.pids.following(state.unit) == \
                main.invocation:
            os.close(main.fd)  # a newer read got there first, or this start is over
            return
        self.pids.follow(asyncio.get_running_loop(),
                         Followed(agent=agent, unit=state.unit, invocation=main.invocation,
                                  pid=main.pid, fd=main.fd))

    def _exited(self, main: Followed, status: Exit | None) -> None:
        """The kernel says ``main`` exited: a crash when a signal other than SIGTERM ended
        it and the daemon asked for nothing. Anything else is systemd's to tell, and the
        unit is read at once: reaped already, systemd has judged the exit by then, before
        its signal saying so comes."""
        if status is None or status.signal is None or status.signal == signal.SIGTERM:
            self._recheck(main.agent)
            return
        state = killed_state(main, status)
        if not self.judge.judge(main.agent, state):
            return
        self._told_early.add(main.invocation)
        self._spawn(self.report(main.agent, state, told_by="its pidfd"))

    async def read(self, unit: str) -> UnitState | None:
        """The unit's state over D-Bus, else from ``systemctl show`` in a worker thread;
        None (and a warning) if neither can read it."""
        agent = {"HIVE_AGENT": agent_of(unit) or ""}
        try:
            state = await asyncio.to_thread(self.bus.state, unit)
            if state is not None:
                return state
        except Exception as exc:
            log.info("cannot read %s over D-Bus (%s); asking systemctl", unit, exc, extra=agent)
        try:
            return await asyncio.to_thread(read_state, self.systemctl, unit)
        except Exception as exc:
            log.warning("cannot read %s: %s", unit, exc, extra=agent)
            return None

    async def report(self, agent: str, state: UnitState, told_by: str = "systemd") -> None:
        lines = await asyncio.get_running_loop().run_in_executor(
            self._journal_thread, self.journal, state.unit)
        log.warning("container of %s crashed: %s (status %s), told by %s", agent, state.result,
                    state.exit_status, told_by, extra={"HIVE_AGENT": agent})
        data = crash_report(agent, state, lines)
        data.pop("event")
        data.pop("agent")
        self.announcer.announce("container_crash", agent, **data)
        await self._maybe_restart(agent)

    async def _maybe_restart(self, agent: str) -> None:
        """Restart only when the agent's policy asks, and never faster than its burst allows."""
        try:
            config = await asyncio.to_thread(self.lifecycle.seeding.applied_config, agent)
        except Exception as exc:
            log.warning("no restart policy for %s: %s", agent, exc, extra={"HIVE_AGENT": agent})
            return
        policy = config.restart
        if policy.policy != "restart":
            return
        now = self.clock()
        recent = [t for t in self.restarts.get(agent, []) if now - t < policy.interval_seconds]
        if len(recent) >= policy.burst:
            self.announcer.announce("restart_limit", agent, burst=policy.burst,
                                    interval_seconds=policy.interval_seconds)
            return
        self.restarts[agent] = [*recent, now]
        await self.lifecycle.start(agent)
