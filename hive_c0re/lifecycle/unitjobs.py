"""Unit jobs (start, restart, stop, reset-failed) over systemd's private socket.

``systemctl start`` from the daemon cost a fork and exec of systemctl, its
connection and its wait: about 9 ms of the 12-13 a restart job took (measured
under the sandbox's manager), on every spawn, start, restart and stop. Here the
daemon does what systemctl does as root: a peer-to-peer connection to the
manager's private socket, one method call, and the job's ``JobRemoved`` signal
(systemd sends every signal to each private connection). Each job opens its
own connection, so jobs of different agents run in parallel from worker
threads and no idle connection piles up signals.

pystemd is imported on first use: only a hive with containers loads it.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from hive_c0re.lifecycle.backend import Resources, Scope, Systemctl
from hive_c0re.lifecycle.sdbus import MANAGER, SERVICE_IFACE, SYSTEMD, SYSTEMD_PATH, text, unit_path

METHODS = {"start": b"StartUnit", "restart": b"RestartUnit", "stop": b"StopUnit"}
POLL_USEC = 1_000_000  # a wait for the job's signal wakes at least this often


def private_socket(scope: Scope, environ: Mapping[str, str] = os.environ) -> str:
    """The manager's private socket, where systemctl itself connects."""
    if scope is Scope.SYSTEM:
        return "/run/systemd/private"
    runtime = environ.get("XDG_RUNTIME_DIR") or f"/run/user/{os.getuid()}"
    return f"{runtime}/systemd/private"


class JobFailed(Exception):
    """A call or job that did not end ``done``; the text says how, for the operator."""


@dataclass(frozen=True)
class BusSystemctl(Systemctl):
    """:class:`Systemctl` whose unit jobs and limits go over the manager's private socket.

    ``show`` and ``daemon-reload`` still run systemctl: neither is on the way of
    a spawn, start or restart (a reload only when the template unit changed).
    """

    address: str | None = None  # the private socket; None: the scope's own

    def stop(self, unit: str) -> None:
        """Stop ``unit``; one systemd has no file for is as stopped as it gets."""
        try:
            self._run_job("stop", unit)
        except _NoSuchUnit:
            return
        except JobFailed as exc:
            raise self.error("stop", unit, str(exc)) from None

    def reset_failed(self, unit: str) -> None:
        try:
            with self._bus() as bus:
                bus.call_method(SYSTEMD, SYSTEMD_PATH, MANAGER, b"ResetFailedUnit",
                                _signed(b"s", [unit.encode()]))
        except Exception:  # nothing to reset, or no such unit: the next job says what matters
            return

    def set_limits(self, unit: str, resources: Resources) -> None:
        """``SetUnitProperties`` with runtime set, the call ``set-property --runtime``
        makes: the same properties and values, without a systemctl to start."""
        from pystemd.dbusexc import DBusBaseError

        args: list[tuple[int, Any]] = [(ord("s"), unit.encode()), (ord("b"), True),
                                       (ord("a"), b"(sv)")]
        for key, value in resources.bus_values():
            args += [(ord("r"), b"sv"), (ord("s"), key.encode()), (ord("v"), b"t"),
                     (ord("t"), value), _CLOSE, _CLOSE]
        args.append(_CLOSE)
        try:
            with self._bus() as bus:
                bus.call_method(SYSTEMD, SYSTEMD_PATH, MANAGER, b"SetUnitProperties", args)
        except JobFailed as exc:
            raise self.error("setting the limits", unit, str(exc)) from None
        except DBusBaseError as exc:
            raise self.error("setting the limits", unit, _errortext(exc)) from None

    def attempt(self, verb: str, unit: str) -> str | None:
        try:
            self._run_job(verb, unit)
        except JobFailed as exc:
            return str(exc)
        return None

    def _run_job(self, verb: str, unit: str) -> None:
        """Queue ``verb`` of ``unit`` and wait until its job is gone; raise unless ``done``."""
        removed: dict[bytes, str] = {}

        def on_removed(msg: Any, error: Any = None, userdata: Any = None) -> None:
            try:
                msg.process_reply(False)
                _, job, _, result = msg.body
                removed[bytes(job)] = text(result)
            except Exception:  # a callback must never raise into libsystemd
                return

        with self._bus() as bus:
            # Matched before the call, so a job that ends at once is not missed.
            bus.match_signal(SYSTEMD, SYSTEMD_PATH, MANAGER, b"JobRemoved", on_removed)
            job = self._queue(bus, verb, unit)
            deadline = time.monotonic() + self.timeout
            while job not in removed:
                if time.monotonic() > deadline:
                    raise JobFailed(f"its job did not end within {self.timeout:.0f} s")
                if bus.process().is_empty() and job not in removed:
                    bus.wait(POLL_USEC)
            if removed[job] != "done":
                raise JobFailed(f"the job ended '{removed[job]}' ({_result(bus, unit)}); "
                                f"`journalctl{self._user()} -u {unit}` says why")

    def _queue(self, bus: Any, verb: str, unit: str) -> bytes:
        from pystemd.dbusexc import DBusBaseError, DBusNoSuchUnitError

        try:
            reply = bus.call_method(SYSTEMD, SYSTEMD_PATH, MANAGER, METHODS[verb],
                                    _signed(b"ss", [unit.encode(), b"replace"]))
        except DBusNoSuchUnitError as exc:
            raise _NoSuchUnit(_errortext(exc)) from None
        except DBusBaseError as exc:
            raise JobFailed(_errortext(exc)) from None
        body = reply.body
        return bytes(body[0] if isinstance(body, (list, tuple)) else body)

    @contextlib.contextmanager
    def _bus(self) -> Iterator[Any]:
        """A connection of its own, closed after (pystemd's ``with`` would open it twice,
        leaking the first)."""
        from pystemd.dbuslib import DBusAddress

        address = self.address or private_socket(self.scope)
        bus = DBusAddress(f"unix:path={address}".encode(), True)
        try:
            bus.open()
        except Exception as exc:
            raise JobFailed(f"cannot reach systemd at {address}: {exc}") from None
        try:
            yield bus
        finally:
            bus.close()

    def _user(self) -> str:
        return " --user" if self.scope is Scope.USER else ""


class _NoSuchUnit(JobFailed):
    pass


_CLOSE = (-1, None)  # pystemd's "close the container opened last" in a raw argument list


def _signed(signature: bytes, values: list[Any]) -> Any:
    from pystemd.dbuslib import apply_signature

    return apply_signature(signature, values)


def _result(bus: Any, unit: str) -> str:
    """The service's ``Result`` (``exit-code``, ``start-limit-hit``, ...), for the message."""
    try:
        result = bus.get_property(SYSTEMD, unit_path(unit), SERVICE_IFACE, b"Result", b"s")
        return f"the unit's result: {text(result)}"
    except Exception:
        return "the unit's result unknown"


def _errortext(exc: Exception) -> str:
    """systemd's own words (``Unit x.service not found.``), not pystemd's wrapping."""
    message = getattr(exc, "err_message", None)
    return text(message) if message else str(exc)
