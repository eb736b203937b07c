"""The daemon: start its parts, run the periodic passes, stop on SIGTERM or SIGINT."""

from __future__ import annotations

import asyncio
import logging
import shutil
import signal
import socket
import time
from collections.abc import Awaitable, Callable

from hive_c0re.broker.store import Store
from hive_c0re.daemon import notify
from hive_c0re.daemon.activation import activated_sockets, bind_unix
from hive_c0re.daemon.hive import Hive
from hive_c0re.daemon.wiring import build_hive, open_sockets
from hive_c0re.errors import HiveError
from hive_c0re.names import MANAGER
from hive_c0re.paths import Paths
from hive_c0re.settings import Settings

log = logging.getLogger(__name__)

HOST_SOCKET_MODE = 0o600  # the operator is root
STATUS_EVERY = 10.0


def host_socket(paths: Paths) -> socket.socket:
    """The operator's socket: systemd's (socket activation), else bound here."""
    activated = activated_sockets()
    host_sock = activated.pop("host", None) or activated.pop("unknown", None)
    for name, extra in activated.items():
        log.warning("ignoring an activated socket named %r", name)
        extra.close()
    return host_sock or bind_unix(paths.host_socket, HOST_SOCKET_MODE)


async def _mount_proposed_disk(hive: Hive) -> None:
    try:
        await asyncio.to_thread(hive.containers.lifecycle.manager.ensure_proposed_disk)
    except HiveError as exc:
        log.error("the proposed config repos are not on their own disk: %s", exc)


async def _bring_up_manager(hive: Hive) -> None:
    try:
        await hive.containers.lifecycle.manager.ensure()
    except HiveError as exc:
        log.error("the manager's container could not start: %s", exc,
                  extra={"HIVE_AGENT": MANAGER})
    except Exception:
        log.exception("the manager's container could not start", extra={"HIVE_AGENT": MANAGER})


async def _watch_and_bring_up(hive: Hive) -> None:
    """Report what died while the daemon was away, then bring up what should run."""
    await hive.containers.crash_watch.reconcile()
    await hive.containers.lifecycle.bring_up()
    hive.containers.watch()


async def _check_git() -> None:
    """Say at start, not first at a spawn, that git is too old for the hive."""
    # Imported here: a hive of plain mailboxes never loads the container code.
    from hive_c0re.lifecycle.gitrepo import git_binary, require_git

    try:
        await asyncio.to_thread(require_git, git_binary())
    except HiveError as exc:
        log.error("%s; spawns and approvals are refused until it is fixed", exc)


async def _every(interval: float, step: Callable[[], Awaitable[None] | None]) -> None:
    """Run ``step`` (a function or a coroutine function) every ``interval`` seconds."""
    while True:
        await asyncio.sleep(interval)
        try:
            result = step()
            if result is not None:
                await result
        except Exception:
            log.exception("periodic step %s failed; retrying next time", step.__name__)


def retention_of(store: Store) -> Callable[[], None]:
    def retention() -> None:
        deleted, free = store.retention_pass()
        if deleted:
            log.info("retention: deleted %d acked message(s); %d free page(s) left", deleted, free)

    return retention


async def start(hive: Hive) -> None:
    """Everything before the first request is served, then the sockets."""
    hive.paths.runtime.mkdir(parents=True, exist_ok=True, mode=0o755)
    host_sock = host_socket(hive.paths)
    if hive.settings.manager_command:
        # Before any request: a repo made before the mount would vanish under it.
        await _mount_proposed_disk(hive)
    # What a crash left half-built in the daemon's own space (no container sees it).
    shutil.rmtree(hive.paths.scratch, ignore_errors=True)
    await open_sockets(hive, host_sock)


def periodic(hive: Hive, retention: Callable[[], None]) -> list[asyncio.Task[None]]:
    """The passes that run for as long as the daemon does."""
    loop = asyncio.get_running_loop()
    tasks = [
        loop.create_task(_every(hive.settings.retention_interval, retention)),
        loop.create_task(hive.scheduler.run()),
        loop.create_task(_every(STATUS_EVERY, hive.report_status)),
        loop.create_task(_every(hive.settings.socket_retry_interval, hive.sockets.retry)),
        loop.create_task(_check_git()),
    ]
    interval = notify.watchdog_interval()
    if interval:
        tasks.append(loop.create_task(notify.pet_watchdog(interval)))
    return tasks


def bring_up(hive: Hive) -> list[asyncio.Task[None]]:
    """After READY: bringing containers up may take longer than a start timeout."""
    loop = asyncio.get_running_loop()
    tasks = []
    if hive.settings.manager_command:
        tasks.append(loop.create_task(_bring_up_manager(hive)))
    if any(agent.uid_base is not None for agent in hive.store.agents()):
        tasks.append(loop.create_task(_watch_and_bring_up(hive)))
    return tasks


def stop_on_signals() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    return stop


async def serve(paths: Paths, settings: Settings) -> None:
    """Run the daemon until SIGTERM or SIGINT."""
    started = time.monotonic()
    store = Store(paths.broker, settings)
    hive = build_hive(store, paths, settings)
    await start(hive)
    stop = stop_on_signals()
    retention = retention_of(store)
    tasks = periodic(hive, retention)
    retention()
    notify.ready(hive.mail.status_line())
    tasks += bring_up(hive)
    log.info("hive-c0re ready in %.0f ms: %s", (time.monotonic() - started) * 1000,
             hive.mail.status_line())
    await stop.wait()

    notify.stopping()
    log.info("hive-c0re stopping")
    for task in tasks:
        task.cancel()
    await hive.close()
    store.close()
