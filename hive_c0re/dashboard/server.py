"""The dashboard's process: its listeners, the app on them, systemd's notifications.

systemd normally hands it its sockets (``hive-c0re-dashboard.socket``: a
unix socket named ``unix`` always, a TCP one named ``tcp`` when configured);
started by hand it binds ``--unix`` (0600) and, if asked, ``--listen``.
SIGTERM ends it cleanly: listeners closed, open streams cut, the hive's
connections closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import signal
import socket
import stat
from collections.abc import Iterator
from pathlib import Path

from aiohttp import web

from hive_c0re.activation import activated_sockets
from hive_c0re.dashboard.app import make_app
from hive_c0re.dashboard.config import DashboardConfig
from hive_c0re.dashboard.hive import HiveClient
from hive_c0re.errors import HiveError, InvalidInput
from hive_c0re.paths import Paths, host_socket_from_env
from hive_c0re.settings import Settings

log = logging.getLogger(__name__)

# A DNS name or an IPv4 address, or an IPv6 address in brackets, as a Host header has it.
HOST_NAME = re.compile(r"^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}"
                       r"[a-z0-9])?)*|\[[0-9a-f:.]+\])$")
# Open SSE streams get this long to end after SIGTERM before they are cut.
SHUTDOWN_GRACE = 1.0


def allowed_hosts(value: str) -> tuple[str, ...]:
    """The ``dashboard_allowed_hosts`` setting as host names; InvalidInput for a bad one."""
    hosts = tuple(part.strip().lower() for part in value.split(",") if part.strip())
    for host in hosts:
        if not HOST_NAME.match(host):
            raise InvalidInput(f"dashboard_allowed_hosts: {host!r} is not a host name "
                               "(give names like hive.example or [fd00::1], without a port)")
    return hosts


def load_config(settings: Settings) -> DashboardConfig:
    return DashboardConfig(allowed_hosts=allowed_hosts(settings.dashboard_allowed_hosts),
                           public_url=settings.dashboard_url or DashboardConfig.public_url,
                           secure_cookies=settings.dashboard_secure_cookies == "always")


def bind_unix(path: Path) -> socket.socket:
    """A listening socket at ``path``, 0600 from its first moment (the umask at bind)."""
    try:
        with contextlib.suppress(FileNotFoundError):
            if not stat.S_ISSOCK(path.lstat().st_mode):
                raise HiveError(f"{path} exists and is not a socket; refusing to replace it")
            path.unlink()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.umask(0o177)
        try:
            sock.bind(str(path))
        finally:
            os.umask(old)
        sock.listen(128)
    except OSError as exc:
        raise HiveError(f"cannot listen on {path}: {exc.strerror or exc}") from None
    return sock


def bind_tcp(spec: str) -> socket.socket:
    """A listening socket on ``HOST:PORT`` (``[::1]:PORT`` for IPv6)."""
    host, sep, port = spec.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise InvalidInput(f"--listen {spec!r}: give HOST:PORT, like 127.0.0.1:7000")
    host = host.removeprefix("[").removesuffix("]")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, int(port)))
        sock.listen(128)
    except OSError as exc:
        raise HiveError(f"cannot listen on {spec}: {exc.strerror or exc}") from None
    return sock


def listeners(unix: Path | None, listen: str | None) -> list[socket.socket]:
    """systemd's sockets when it passed some, else the ones asked for (the unix one
    at its default place unless named)."""
    passed = activated_sockets()
    if passed:
        return list(passed.values())
    found = [bind_unix(unix or Paths.from_env().dashboard_socket)]
    if listen:
        found.append(bind_tcp(listen))
    return found


def notify(state: str) -> None:
    if not os.environ.get("NOTIFY_SOCKET"):
        return
    # Imported lazily, as the daemon does: nothing to pay for off systemd.
    from systemd import daemon

    try:
        daemon.notify(state)
    except OSError as exc:
        # The manager that asked went away: nobody to tell, nothing to stop for.
        log.debug("sd_notify %s: %s", state.split("=", 1)[0], exc)


def addresses(sockets: list[socket.socket]) -> Iterator[str]:
    for sock in sockets:
        name = sock.getsockname()
        yield name if isinstance(name, str) else f"{name[0]}:{name[1]}"


async def run(app: web.Application, sockets: list[socket.socket]) -> None:
    """Serve ``app`` on ``sockets`` until SIGTERM or SIGINT."""
    # Cancelled when the browser goes: a proxied request waiting on an agent's UI that
    # never answers would hold the daemon's pipe otherwise.
    runner = web.AppRunner(app, access_log=None, handle_signals=False,
                           shutdown_timeout=SHUTDOWN_GRACE, handler_cancellation=True)
    await runner.setup()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        for sock in sockets:
            await web.SockSite(runner, sock).start()
        where = ", ".join(addresses(sockets))
        log.info("dashboard listening on %s", where)
        notify(f"READY=1\nSTATUS=listening on {where}")
        await stop.wait()
        notify("STOPPING=1")
        log.info("dashboard stopping")
    finally:
        await runner.cleanup()


def serve(hive_socket: Path | None = None, *, unix: Path | None = None,
          listen: str | None = None, settings: Settings | None = None) -> None:
    """Run the dashboard until SIGTERM: the hive on ``hive_socket`` (host.sock by
    default), listening where systemd says, else on ``unix`` and ``listen``."""
    config = load_config(settings or Settings.load())
    sockets = listeners(unix, listen)
    hive = HiveClient(hive_socket or host_socket_from_env())
    asyncio.run(run(make_app(hive, config), sockets))
