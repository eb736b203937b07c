"""The daemon's side of ``Type=notify``: READY, STATUS, STOPPING and the watchdog."""

from __future__ import annotations

import asyncio
import logging
import os

log = logging.getLogger(__name__)


def enabled() -> bool:
    """True when a service manager listens for our notifications."""
    return bool(os.environ.get("NOTIFY_SOCKET"))


def _send(state: str) -> None:
    if not enabled():
        return
    # Imported lazily: the CLI's start-up never pays for systemd's C extension.
    from systemd import daemon

    daemon.notify(state)


def ready(status: str) -> None:
    _send(f"READY=1\nSTATUS={status}")


def status(text: str) -> None:
    _send(f"STATUS={text}")


def stopping() -> None:
    _send("STOPPING=1")


def watchdog_interval() -> float | None:
    """Half the watchdog period systemd asked for, or None when there is no watchdog."""
    usec = os.environ.get("WATCHDOG_USEC")
    pid = os.environ.get("WATCHDOG_PID")
    if not usec or (pid and pid != str(os.getpid())):
        return None
    return int(usec) / 2_000_000


async def pet_watchdog(interval: float) -> None:
    """Pet the watchdog while the event loop turns; a stuck loop stops the petting."""
    while True:
        _send("WATCHDOG=1")
        await asyncio.sleep(interval)
