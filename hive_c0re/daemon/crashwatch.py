"""Crash watch: container units that die without being asked to, reported at once.

pystemd subscribes to systemd's unit signals on D-Bus; the bus's fd is
driven from the daemon's event loop, so a failing container is noticed the
moment systemd says so. A slow reconcile pass catches what a lost signal or a
daemon restart would miss; each incident (a unit's InvocationID) is reported
once, even across daemon restarts, because reports are remembered in the
hive event log.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

SYSTEMD = b"org.freedesktop.systemd1"
SYSTEMD_PATH = b"/org/freedesktop/systemd1"
MANAGER = b"org.freedesktop.systemd1.Manager"
UNIT_IFACE = "org.freedesktop.systemd1.Unit"
PROPERTIES = b"org.freedesktop.DBus.Properties"
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


def is_down(state: UnitState) -> bool:
    return state.active in ("failed", "inactive")


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


class UnitBus:
    """systemd's unit signals through pystemd, read from an asyncio loop."""

    def __init__(self, user_mode: bool, on_change: Callable[[str], None]) -> None:
        from pystemd.dbuslib import DBus

        self.bus: Any = DBus(user_mode=user_mode)
        self.on_change = on_change
        self.loop: asyncio.AbstractEventLoop | None = None

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self.bus.open()
        self.bus.match_signal(SYSTEMD, None, PROPERTIES, b"PropertiesChanged", self._signal)
        # Without Subscribe systemd sends no unit signals at all.
        self.bus.call_method(SYSTEMD, SYSTEMD_PATH, MANAGER, b"Subscribe", [])
        self.loop = loop
        loop.add_reader(self.bus.get_fd(), self._readable)

    def stop(self) -> None:
        if self.loop is not None:
            self.loop.remove_reader(self.bus.get_fd())
            self.loop = None
            self.bus.close()

    def _readable(self) -> None:
        try:
            while True:
                msg = self.bus.process()
                if msg.is_empty():
                    break
        except Exception:
            log.exception("reading systemd's signals failed")

    def _signal(self, msg: Any, error: Any = None, userdata: Any = None) -> None:
        try:
            msg.process_reply(True)
            interface = msg.body[0]
            if (interface.decode() if isinstance(interface, bytes) else interface) != UNIT_IFACE:
                return
            unit = unescape_path(msg.get_path().decode())
            if agent_of(unit) is not None:
                self.on_change(unit)
        except Exception:  # a callback must never raise into libsystemd
            log.exception("bad unit signal")


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
