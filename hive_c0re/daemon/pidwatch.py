"""The kernel's word that a container's main process exited, before systemd's.

systemd reports a dead ``systemd-nspawn`` only once its own event loop has
reaped it and run the unit's state machine, which on a loaded host takes tens
of ms more than the death itself. A pidfd of the unit's main process becomes
readable the moment the process exits; until its parent (the manager) reaps
it, the zombie's ``/proc/<pid>/stat`` still holds its wait status (field 52,
``exit_code``). That is enough to tell a death by signal from the rest.

The pid always comes from systemd (the unit's ``MainPID``), never from a
container, and the pidfd stays tied to that one process: the status read
counts only if the process was still unreaped after the read
(``pidfd_send_signal(fd, 0)`` succeeds on a zombie, fails once it is reaped),
so a pid reused meanwhile is never read as ours. What cannot be told this way
(reaped already, an exit by code, no permission to read the status) is
``None``: systemd's signals decide then.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import select
import signal
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

PROC = Path("/proc")
CORE_DUMPED = 0x80  # in a wait status: the signal left a core


@dataclass(frozen=True)
class Exit:
    """How a process ended, from its wait status."""

    signal: int | None  # the signal that ended it, else None
    code: int | None  # its exit code when it exited by itself, else None
    core: bool = False  # the signal dumped a core


def exit_of(status: int) -> Exit:
    """A wait status (``WIFSIGNALED``/``WIFEXITED`` layout) as an :class:`Exit`."""
    sig = status & 0x7F
    if sig == 0:
        return Exit(signal=None, code=(status >> 8) & 0xFF)
    return Exit(signal=sig, code=None, core=bool(status & CORE_DUMPED))


@dataclass(frozen=True)
class Stat:
    """What the crash watch needs of ``/proc/<pid>/stat``."""

    state: str  # field 3: R, S, Z (zombie), X (dead), ...
    start_time: int  # field 22, in clock ticks after boot
    exit_code: int  # field 52: the wait status; 0 unless exited (or no permission)


def parse_stat(text: str) -> Stat:
    """``/proc/<pid>/stat``; the command name (field 2) may hold spaces and parentheses,
    so the fields are counted from its last ``)``."""
    fields = text[text.rindex(")") + 1:].split()  # fields[0] is field 3
    return Stat(state=fields[0], start_time=int(fields[22 - 3]),
                exit_code=int(fields[52 - 3]))


def read_stat(pid: int, proc: Path = PROC) -> Stat:
    return parse_stat((proc / str(int(pid)) / "stat").read_text())


def open_pidfd(pid: int) -> int:
    """A pidfd of ``pid`` (raises ``ProcessLookupError`` when there is none)."""
    return os.pidfd_open(int(pid))


def in_cgroup(pid: int, cgroup: str, proc: Path = PROC) -> bool:
    """Whether ``pid`` sits in ``cgroup`` (a unit's ControlGroup) or below it, in
    systemd's own hierarchy (v2, or v1's ``name=systemd``): a pid systemd names for a
    unit must be one of that unit's processes, whatever pid namespace we are in."""
    if not cgroup.startswith("/"):
        return False
    try:
        text = (proc / str(int(pid)) / "cgroup").read_text()
    except OSError:
        return False
    for line in text.splitlines():
        _, controllers, path = line.split(":", 2)
        if controllers in ("", "name=systemd") and (
                path == cgroup or path.startswith(cgroup.rstrip("/") + "/")):
            return True
    return False


def has_exited(fd: int) -> bool:
    """Whether the pidfd's process has exited already (its pidfd polls readable)."""
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(0))


def alive_or_zombie(fd: int) -> bool:
    """Whether the pidfd's process is not yet reaped (a zombie still counts)."""
    try:
        signal.pidfd_send_signal(fd, 0)
    except ProcessLookupError:
        return False
    return True


def exit_through(fd: int, pid: int, proc: Path = PROC) -> Exit | None:
    """How the process behind ``fd`` (whose pid is ``pid``) ended, or None when that
    cannot be told for certain: it is not dead yet, was reaped already (its pid may
    be another process's by now), or its status is hidden from us."""
    try:
        stat = read_stat(pid, proc)
    except (OSError, ValueError, IndexError):
        return None
    if not alive_or_zombie(fd):
        return None  # reaped after (or before) the read: what was read may not be it
    if stat.state not in ("Z", "X"):
        return None
    status = exit_of(stat.exit_code)
    if status.signal is None and status.code == 0:
        return None  # a clean exit, or a status we may not read: not ours to judge
    return status


@dataclass(frozen=True)
class MainProcess:
    """A pidfd of a unit's main process, checked against systemd for one invocation."""

    invocation: str
    pid: int
    fd: int


@dataclass(frozen=True)
class Followed:
    """A unit's main process, as systemd named it for one invocation."""

    agent: str
    unit: str
    invocation: str
    pid: int
    fd: int


OnExit = Callable[[Followed, Exit | None], None]


class PidWatch:
    """The pidfds of running agent units' main processes, driven from an event loop.

    ``follow`` takes a pidfd (opened and checked against systemd by the caller) and
    owns it from then on; ``on_exit`` is called once, from the loop, when its process
    has exited, with how it ended (None: the fast path cannot tell).
    """

    def __init__(self, on_exit: OnExit, proc: Path = PROC) -> None:
        self.on_exit = on_exit
        self.proc = proc
        self.followed: dict[str, Followed] = {}  # by unit
        self.ended: dict[str, str] = {}  # by unit: the invocation whose main process exited
        self.loop: asyncio.AbstractEventLoop | None = None

    def following(self, unit: str) -> str | None:
        """The invocation whose main process is followed for ``unit``, or was until it
        exited (not to be followed again: a new start has a new invocation)."""
        found = self.followed.get(unit)
        return found.invocation if found is not None else self.ended.get(unit)

    def follow(self, loop: asyncio.AbstractEventLoop, main: Followed) -> None:
        self.loop = loop
        self.forget(main.unit)
        self.followed[main.unit] = main
        loop.add_reader(main.fd, self._readable, main)

    def forget(self, unit: str) -> None:
        """Stop following ``unit`` (its state says systemd is taking it down, or it is gone)."""
        found = self.followed.pop(unit, None)
        if found is not None:
            self._close(found)

    def close(self) -> None:
        for unit in list(self.followed):
            self.forget(unit)

    def _close(self, main: Followed) -> None:
        if self.loop is not None:
            self.loop.remove_reader(main.fd)
        with contextlib.suppress(OSError):
            os.close(main.fd)

    def _readable(self, main: Followed) -> None:
        if self.followed.get(main.unit) is not main:
            return
        try:
            status = exit_through(main.fd, main.pid, self.proc)
        finally:
            del self.followed[main.unit]
            self.ended[main.unit] = main.invocation
            self._close(main)
        try:
            self.on_exit(main, status)
        except Exception:
            log.exception("handling the exit of %s failed", main.unit,
                          extra={"HIVE_AGENT": main.agent})
