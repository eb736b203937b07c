"""The UI's socket, listening from the harness's start; its app is started at the first knock.

The app is aiohttp's, the biggest import of a harness: most agents' UIs are
never opened between two restarts. So ``serve`` binds ``ui.sock`` (mode
0600, as :mod:`hive_ag3nt.ui.app` says) as it starts and imports and starts
the app only when a first connection waits on it: that connection is the
app's first, accepted from the same socket. Nothing here imports aiohttp.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import stat
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hive_c0re.errors import HiveError

if TYPE_CHECKING:
    from hive_ag3nt.harness import Harness

log = logging.getLogger(__name__)


def load_secret(path: Path) -> str:
    """The UI's secret, as the daemon wrote it; raise HiveError when there is none."""
    try:
        secret = path.read_text().strip()
    except OSError as exc:
        raise HiveError(f"cannot read the UI's secret {path}: {exc.strerror or exc}",
                        hint="the daemon writes it on every deploy: `hive-c0re rebuild`") from None
    if not secret:
        raise HiveError(f"the UI's secret {path} is empty")
    return secret


def bind_socket(path: Path) -> socket.socket:
    """A listening unix socket at ``path``, mode 0600, replacing only a stale socket file.

    Nobody can connect between bind and chmod: the socket listens only after.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        if not stat.S_ISSOCK(path.lstat().st_mode):
            raise HiveError(f"{path} exists and is not a socket; not replacing it")
        path.unlink()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(str(path))
        path.chmod(0o600)
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


def remove_if_ours(path: Path, inode: int) -> None:
    with contextlib.suppress(FileNotFoundError):
        if path.lstat().st_ino == inode:  # not a socket a newer harness bound since
            path.unlink()


class UiDoor:
    """``harness``'s UI socket; :meth:`open` inside the running loop, :meth:`close` at stop.

    ``start`` starts the app on the socket (``hive_ag3nt.ui.app.start_ui``) and
    returns its runner.
    """

    def __init__(self, harness: Harness,
                 start: Callable[[socket.socket], Awaitable[Any]]) -> None:
        self.harness = harness
        self.start = start
        self.path = harness.paths.ui_socket
        self.runner: Any = None  # the app's, once started
        self._sock: socket.socket | None = None
        self._inode = 0
        self._starting: asyncio.Task[None] | None = None

    def open(self) -> None:
        """Listen; raise HiveError (no UI) without the daemon's secret, as the app would."""
        load_secret(self.harness.paths.ui_secret)
        self._sock = bind_socket(self.path)
        self._inode = self.path.stat().st_ino
        asyncio.get_running_loop().add_reader(self._sock.fileno(), self._knocked)
        log.info("agent UI on %s", self.path)

    def _knocked(self) -> None:
        assert self._sock is not None
        loop = asyncio.get_running_loop()
        loop.remove_reader(self._sock.fileno())
        self._starting = loop.create_task(self._start(self._sock))

    async def _start(self, sock: socket.socket) -> None:
        try:
            self.runner = await self.start(sock)
        except Exception as exc:  # the turns go on; only the operator's door stays shut
            log.error("the web UI is not served: %s", exc)
            self._shut(sock)
            return
        self._sock = None  # the app's now: its cleanup closes and removes it

    def _shut(self, sock: socket.socket) -> None:
        sock.close()
        remove_if_ours(self.path, self._inode)
        self._sock = None

    async def close(self) -> None:
        if self._starting is not None:
            await asyncio.gather(self._starting, return_exceptions=True)
        if self.runner is not None:
            await self.runner.cleanup()
        elif self._sock is not None:
            asyncio.get_running_loop().remove_reader(self._sock.fileno())
            self._shut(self._sock)
