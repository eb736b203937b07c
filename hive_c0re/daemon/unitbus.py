"""systemd's unit signals and unit properties over D-Bus, through pystemd.

The crash watch's two connections: one for the signals, driven from the event
loop, and one for property reads from worker threads. Imported only by a hive
with containers (pystemd's C extension is not cheap to load).
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import Callable
from typing import Any

from hive_c0re.daemon.crashwatch import (
    EXIT_CODES,
    UnitState,
    agent_of,
    unescape_path,
)
from hive_c0re.daemon.pidwatch import MainProcess, has_exited, in_cgroup, open_pidfd
from hive_c0re.errors import HiveError
from hive_c0re.lifecycle.sdbus import (
    MANAGER,
    PROPERTIES,
    SERVICE_IFACE,
    SYSTEMD,
    SYSTEMD_PATH,
    UNIT_IFACE,
    text,
    unit_path,
)

log = logging.getLogger(__name__)



class UnitBus:
    """systemd's unit signals through pystemd, read from an asyncio loop."""

    def __init__(self, user_mode: bool) -> None:
        # Imported here: only a hive with containers pays for pystemd's C extension.
        from pystemd.dbuslib import DBus

        self.bus: Any = DBus(user_mode=user_mode)
        # Property reads go on a connection of their own, from worker threads one at a
        # time: a call on the signal connection queues the signals that arrive meanwhile
        # where the loop's fd no longer shows them, and would block the loop.
        self.reader: Any = DBus(user_mode=user_mode)
        self.reading = threading.Lock()
        self.listening = False
        self.signals_seen = 0
        self.on_change: Callable[[str], None] = lambda unit: None
        self.loop: asyncio.AbstractEventLoop | None = None
        self._callback: Callable[..., None] | None = None

    def start(self, loop: asyncio.AbstractEventLoop, on_change: Callable[[str], None]) -> None:
        self.on_change = on_change
        self.bus.open()
        self.reader.open()
        self.listening = True

        # pystemd hangs its own data on the callback, which a bound method cannot carry.
        def on_signal(msg: Any, error: Any = None, userdata: Any = None) -> None:
            self.signals_seen += 1
            self._signal(msg)

        self._callback = on_signal  # libsystemd holds it by address: keep it alive
        self.bus.match_signal(SYSTEMD, None, PROPERTIES, b"PropertiesChanged", on_signal)
        # Without Subscribe systemd sends no unit signals at all.
        self.bus.call_method(SYSTEMD, SYSTEMD_PATH, MANAGER, b"Subscribe", [])
        self.loop = loop
        loop.add_reader(self.bus.get_fd(), self._readable)

    def stop(self) -> None:
        if self.loop is not None:
            self.loop.remove_reader(self.bus.get_fd())
            self.loop = None
            self.bus.close()
        if self.listening:
            self.listening = False
            with self.reading:
                self.reader.close()

    def state(self, unit: str) -> UnitState | None:
        """The unit's properties on the reading connection: no process forked (blocking:
        call it from a worker thread).

        Each read is its own message, so a start may fall between two of them (seen:
        ``inactive`` beside the new start's InvocationID, which the judge would then
        take for an expected stop and never report). InvocationID is read before and
        after the rest; the reads count only when both agree. One GetAll would be one
        snapshot, and costs pystemd some 20 ms to parse.
        """
        path = unit_path(unit)
        with self.reading:
            if not self.listening:
                return None

            def get(interface: bytes, prop: bytes, kind: bytes) -> Any:
                return self.reader.get_property(SYSTEMD, path, interface, prop, kind)

            def invocation() -> str:
                return bytes(get(UNIT_IFACE, b"InvocationID", b"ay")).hex()

            for _ in range(3):
                before = invocation()
                state = UnitState(
                    unit=unit, active=text(get(UNIT_IFACE, b"ActiveState", b"s")),
                    sub=text(get(UNIT_IFACE, b"SubState", b"s")),
                    result=text(get(SERVICE_IFACE, b"Result", b"s")),
                    exit_status=int(get(SERVICE_IFACE, b"ExecMainStatus", b"i")),
                    exit_code=EXIT_CODES.get(str(get(SERVICE_IFACE, b"ExecMainCode", b"i"))),
                    invocation=before,
                    active_since=_usec(get(UNIT_IFACE, b"ActiveEnterTimestamp", b"t")))
                if invocation() == before:
                    return state
        raise HiveError(f"{unit} kept changing while it was read")

    def main_process(self, unit: str) -> MainProcess | None:
        """A pidfd of the running unit's main process (blocking: from a worker thread);
        None when it is not running, or changed while it was opened.

        The pid is systemd's ``MainPID``, read again after the pidfd is open: systemd
        clears ``MainPID`` before it reaps the process, so the same pid and InvocationID
        both times mean the pidfd holds that very process, not one that took its pid.
        In between, the process must be in the unit's cgroup (a pid means the same
        process to systemd and to us only in one pid namespace), and not dead already:
        that exit is systemd's to tell.
        """
        path = unit_path(unit)
        with self.reading:
            if not self.listening:
                return None

            def get(interface: bytes, prop: bytes, kind: bytes) -> Any:
                return self.reader.get_property(SYSTEMD, path, interface, prop, kind)

            def main() -> tuple[str, int]:
                return (bytes(get(UNIT_IFACE, b"InvocationID", b"ay")).hex(),
                        int(get(SERVICE_IFACE, b"MainPID", b"u")))

            invocation, pid = main()
            if not invocation or pid <= 0:
                return None
            cgroup = text(get(SERVICE_IFACE, b"ControlGroup", b"s"))
            fd = _checked_pidfd(pid, lambda: in_cgroup(pid, cgroup)
                                and main() == (invocation, pid))
        return MainProcess(invocation=invocation, pid=pid, fd=fd) if fd is not None else None

    def _readable(self) -> None:
        """Process until nothing is left. sd_bus_process hands back no message for one
        it gave to our callback, just as when it had nothing to do (pystemd hides its
        return value), so the callback's count tells the two apart: stopping at the first
        signal left the rest in libsystemd's buffer, where the fd no longer shows them."""
        try:
            while True:
                seen = self.signals_seen
                msg = self.bus.process()
                if msg.is_empty() and self.signals_seen == seen:
                    break
        except Exception:
            log.exception("reading systemd's signals failed")

    def _signal(self, msg: Any) -> None:
        try:
            msg.process_reply(True)
            interface = msg.body[0]
            if text(interface) != UNIT_IFACE.decode():
                return
            unit = unescape_path(msg.get_path().decode())
            if agent_of(unit) is not None:
                self.on_change(unit)
        except Exception:  # a callback must never raise into libsystemd
            log.exception("bad unit signal")


def _checked_pidfd(pid: int, still: Callable[[], bool]) -> int | None:
    """A pidfd of ``pid`` if its process lives and ``still()`` holds once it is open."""
    try:
        fd = open_pidfd(pid)
    except ProcessLookupError:
        return None
    try:
        if not has_exited(fd) and still():
            return fd
    except BaseException:
        os.close(fd)
        raise
    os.close(fd)
    return None


def _usec(value: Any) -> float | None:
    """A D-Bus timestamp (microseconds since the epoch; 0 for never) in seconds."""
    return int(value) / 1e6 if int(value) > 0 else None
