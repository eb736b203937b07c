"""The daemon's side of the egress: its sockets, and its process kept running.

The daemon binds ``api.sock`` and ``proxy.sock`` itself (daemon-owned
space, bound read-only into every container) and hands them to
``python -m hive_c0re.egress`` (with the daemon's own import path: see
:mod:`hive_c0re.interpreter`), so the HTTP parsing happens in a process of
its own that drops root. The sockets outlive the process: a restart (it
died, or the operator changed the upstream) never changes what the
containers see.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

from hive_c0re.daemon.activation import bind_unix
from hive_c0re.interpreter import module_argv

log = logging.getLogger(__name__)

# Every process of every container may connect; who it is comes from SO_PEERCRED.
SOCKET_MODE = 0o666
RESTART_PAUSE = 1.0
STOP_WAIT = 10.0


class EgressProxy:
    """One egress process for the whole hive, started on the first container's deploy."""

    def __init__(self, directory: Path, first_uid: int) -> None:
        self.directory = directory
        self.first_uid = first_uid
        self.upstream: str | None = None
        self._process: asyncio.subprocess.Process | None = None
        self._watch: asyncio.Task[None] | None = None
        self._sockets: tuple[int, int] | None = None
        self._changing = asyncio.Lock()  # two deploys at once start one process

    def _bind(self) -> tuple[int, int]:
        if self._sockets is None:
            self.directory.mkdir(parents=True, exist_ok=True, mode=0o755)
            self.directory.chmod(0o755)
            api = bind_unix(self.directory / "api.sock", SOCKET_MODE)
            proxy = bind_unix(self.directory / "proxy.sock", SOCKET_MODE)
            self._sockets = (api.detach(), proxy.detach())
        return self._sockets

    async def ensure(self, upstream: str) -> None:
        """Have the egress process running and forwarding the model's API to ``upstream``."""
        async with self._changing:
            if upstream == self.upstream and self._watch is not None and not self._watch.done():
                return
            if self.upstream is not None and upstream != self.upstream:
                log.info("the model's API moves from %s to %s: restarting the egress",
                         self.upstream, upstream)
            await self.stop()
            self.upstream = upstream
            self._bind()
            self._watch = asyncio.get_running_loop().create_task(self._keep_running())

    async def _keep_running(self) -> None:
        while True:
            self._process = await self._start()
            code = await self._process.wait()
            log.error("the egress process exited with %d; restarting it", code)
            await asyncio.sleep(RESTART_PAUSE)

    async def _start(self) -> asyncio.subprocess.Process:
        api, proxy = self._bind()
        assert self.upstream is not None
        return await asyncio.create_subprocess_exec(
            *module_argv("hive_c0re.egress",
                         f"--api-fd={api}", f"--proxy-fd={proxy}",
                         f"--upstream={self.upstream}", f"--first-uid={self.first_uid}"),
            # In "/" whatever directory the daemon was started in: no directory
            # someone else may write is ever the child's working directory.
            pass_fds=(api, proxy), stdin=asyncio.subprocess.DEVNULL, cwd="/")

    async def stop(self) -> None:
        watch, self._watch = self._watch, None
        if watch is not None:
            watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watch
        process, self._process = self._process, None
        if process is not None and process.returncode is None:
            process.terminate()
            try:
                async with asyncio.timeout(STOP_WAIT):
                    await process.wait()
            except TimeoutError:
                process.kill()
                await process.wait()
