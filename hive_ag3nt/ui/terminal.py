"""``GET /terminal``: a websocket to a login shell on a PTY, in the agent's state directory.

Client → server: binary or text frames are keystrokes; a text frame holding
``{"resize": [cols, rows]}`` resizes the terminal. Server → client: binary
frames of output. The shell (and its process group) is killed when the
websocket closes; only a few terminals may be open at once.

A root shell is the most a page could take over, so besides the UI's secret
the handshake must name a local ``Host`` (the UI's own, through the
dashboard on 127.0.0.1) and, from a browser, an ``Origin`` that is that same
host: a page of another site, or a rebinding DNS name, gets 403.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import logging
import os
import signal
import struct
import sys
import termios
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from aiohttp import WSMsgType, web

from hive_ag3nt.harness import Harness
from hive_ag3nt.ui.config import HARNESS, SETTINGS

log = logging.getLogger(__name__)

MAX_FRAME = 64 * 1024
MAX_SIZE = 1000  # columns or rows
READ_CHUNK = 65536
HANGUP_GRACE = 2.0  # seconds the shell gets to leave after SIGHUP before SIGKILL

# The shell is started in its own session (start_new_session); this makes its
# PTY the session's controlling terminal, so job control and ^C work, then
# becomes the shell. Python does it because subprocess cannot (short of an
# unsafe preexec_fn).
_CONTROLLING_TTY = ("import fcntl, os, sys, termios; "
                    "fcntl.ioctl(0, termios.TIOCSCTTY, 0); "
                    "os.execvp(sys.argv[1], sys.argv[1:])")


async def _ready(fd: int, watch: Callable[..., None], unwatch: Callable[[int], object]) -> None:
    future: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def wake() -> None:
        if not future.done():
            future.set_result(None)

    watch(fd, wake)
    try:
        await future
    finally:
        unwatch(fd)


class Terminal:
    """One shell on one PTY."""

    def __init__(self, process: asyncio.subprocess.Process, master: int) -> None:
        self.process = process
        self.master = master

    @classmethod
    async def open(cls, argv: tuple[str, ...], cwd: Path, env: dict[str, str]) -> Terminal:
        master, slave = os.openpty()
        try:
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-I", "-S", "-c", _CONTROLLING_TTY, *argv,
                stdin=slave, stdout=slave, stderr=slave, cwd=cwd, env=env,
                start_new_session=True)
        except BaseException:
            os.close(master)
            raise
        finally:
            os.close(slave)
        os.set_blocking(master, False)
        return cls(process, master)

    @property
    def pid(self) -> int:
        return self.process.pid

    async def read(self) -> bytes:
        """The next output; b"" once the shell has gone and its terminal closed."""
        loop = asyncio.get_running_loop()
        while True:
            await _ready(self.master, loop.add_reader, loop.remove_reader)
            try:
                return os.read(self.master, READ_CHUNK)
            except BlockingIOError:
                continue
            except OSError:  # EIO: no process has the terminal open any more
                return b""

    async def write(self, data: bytes) -> None:
        loop = asyncio.get_running_loop()
        while data:
            try:
                data = data[os.write(self.master, data):]
            except BlockingIOError:  # the shell is not reading: wait, and so hold the client
                await _ready(self.master, loop.add_writer, loop.remove_writer)
            except OSError:  # the shell is gone; the output side closes the socket
                return

    def resize(self, cols: int, rows: int) -> None:
        with contextlib.suppress(OSError):  # the shell is gone: nothing to resize
            fcntl.ioctl(self.master, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

    async def close(self) -> None:
        """Hang up on the shell and its process group; reap it."""
        self._signal(signal.SIGHUP)
        os.close(self.master)  # hangs up on the rest of the session too
        try:
            async with asyncio.timeout(HANGUP_GRACE):
                await self.process.wait()
        except TimeoutError:
            self._signal(signal.SIGKILL)
            await self.process.wait()

    def _signal(self, signum: int) -> None:
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pid, signum)


def control_message(text: str) -> dict[str, Any] | None:
    """The JSON object a text frame holds when it is a control message, else None (keystrokes)."""
    if not text.startswith("{"):
        return None
    try:
        message = json.loads(text)
    except ValueError:
        return None
    return message if isinstance(message, dict) and "resize" in message else None


def window_size(message: dict[str, Any]) -> tuple[int, int] | None:
    """(cols, rows) of a resize message; None when they are not sane."""
    size = message.get("resize")
    if not (isinstance(size, list) and len(size) == 2):
        return None
    if not all(type(n) is int and 1 <= n <= MAX_SIZE for n in size):
        return None
    return size[0], size[1]


class Terminals:
    """The open terminals, at most ``limit`` of them."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.sockets: set[web.WebSocketResponse] = set()

    async def close_all(self) -> None:
        for ws in list(self.sockets):
            await ws.close(code=1001, message=b"the agent UI is stopping")


TERMINALS = web.AppKey("terminals", Terminals)
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


def _host_port(authority: str) -> tuple[str | None, int | None]:
    """(host, port) of ``host[:port]``; (None, None) when it does not parse."""
    try:
        parts = urlsplit("//" + authority)
        return parts.hostname, parts.port
    except ValueError:
        return None, None


def foreign(request: web.Request) -> str | None:
    """Why this handshake is not from the UI's own origin; None when it is."""
    host = request.headers.get("Host", "")
    name, port = _host_port(host)
    if name not in LOCAL_HOSTS or "@" in host:
        return f"Host {host!r} is not this UI's"
    origin = request.headers.get("Origin")
    if origin is None:
        return None  # not a browser, so no page can have sent it; the secret still holds
    try:
        parts = urlsplit(origin)
        same = (parts.scheme in ("http", "https") and parts.hostname == name
                and parts.port == port and not parts.username and parts.path in ("", "/"))
    except ValueError:
        same = False
    return None if same else f"Origin {origin!r} is not this UI's"


def shell_env(harness: Harness) -> dict[str, str]:
    return {**os.environ, **harness.env, "TERM": "xterm-256color",
            "CLAUDE_CONFIG_DIR": str(harness.paths.claude_config)}


def shell_cwd(harness: Harness) -> Path:
    state = harness.paths.state
    return state if state.is_dir() else Path("/")


async def terminal(request: web.Request) -> web.StreamResponse:
    reason = foreign(request)
    if reason is not None:
        log.warning("terminal refused: %s", reason)
        return web.json_response({"error": reason}, status=403)
    terminals = request.app[TERMINALS]
    if len(terminals.sockets) >= terminals.limit:
        return web.json_response(
            {"error": f"{terminals.limit} terminals are open already; close one"}, status=503)
    ws = web.WebSocketResponse(max_msg_size=MAX_FRAME, heartbeat=30.0, timeout=3.0)
    terminals.sockets.add(ws)  # before the first await: the limit holds
    try:
        await ws.prepare(request)
        await _serve(request, ws)
    finally:
        terminals.sockets.discard(ws)
    return ws


async def _serve(request: web.Request, ws: web.WebSocketResponse) -> None:
    harness = request.app[HARNESS]
    try:
        shell = await Terminal.open(request.app[SETTINGS].terminal_shell, shell_cwd(harness),
                                    shell_env(harness))
    except OSError as exc:
        log.warning("cannot start a terminal: %s", exc)
        await ws.close(code=1011, message=f"cannot start the shell: {exc}"[:100].encode())
        return
    log.info("terminal opened (shell pid %d)", shell.pid)
    output = asyncio.create_task(_output(shell, ws))
    try:
        await _input(shell, ws)
    finally:
        await _stop(output)
        await shell.close()
        await ws.close()
        log.info("terminal closed (shell pid %d)", shell.pid)


async def _stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    await asyncio.wait([task])  # neither raises its error nor swallows our own cancellation
    if not task.cancelled() and task.exception() is not None:
        log.warning("terminal output failed: %s", task.exception())


async def _output(shell: Terminal, ws: web.WebSocketResponse) -> None:
    with contextlib.suppress(ConnectionError):
        while data := await shell.read():
            await ws.send_bytes(data)
    await ws.close()  # the shell ended: so does the session


async def _input(shell: Terminal, ws: web.WebSocketResponse) -> None:
    async for message in ws:
        if message.type is WSMsgType.BINARY:
            await shell.write(message.data)
        elif message.type is WSMsgType.TEXT:
            control = control_message(message.data)
            if control is None:
                await shell.write(message.data.encode())
            elif size := window_size(control):  # a bad size is ignored, not typed
                shell.resize(*size)


async def _close_all(app: web.Application) -> None:
    await app[TERMINALS].close_all()


def setup(app: web.Application) -> None:
    app[TERMINALS] = Terminals(app[SETTINGS].max_terminals)
    app.router.add_get("/terminal", terminal)
    app.on_shutdown.append(_close_all)
