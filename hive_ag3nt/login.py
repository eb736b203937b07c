"""Claude credentials: the health check and the browser login flow under a PTY.

``claude auth login`` is line-oriented: it prints a URL, then waits for the
code the operator pastes back. The web UI shows the URL and writes the code
to the PTY; ``claude auth status`` confirms.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import pty
import re
from dataclasses import dataclass, field

from hive_ag3nt.paths import AgentPaths
from hive_ag3nt.runner import bundled_cli

URL = re.compile(r"https://\S+")


def _env(paths: AgentPaths, extra: dict[str, str]) -> dict[str, str]:
    return {**os.environ, **extra, "CLAUDE_CONFIG_DIR": str(paths.claude_config)}


async def auth_status(cli: str | None, paths: AgentPaths, extra: dict[str, str]) -> bool:
    """True when ``claude auth status`` says we are logged in."""
    proc = await asyncio.create_subprocess_exec(
        cli or bundled_cli(), "auth", "status", env=_env(paths, extra),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
    out, _ = await proc.communicate()
    if proc.returncode != 0:
        return False
    try:
        return bool(json.loads(out).get("loggedIn"))
    except ValueError:
        return False


@dataclass
class LoginFlow:
    """One run of ``claude auth login`` under a PTY."""

    argv: list[str]
    env: dict[str, str]
    output: list[str] = field(default_factory=list)
    url: str | None = None
    pid: int | None = None
    fd: int | None = None
    returncode: int | None = None

    async def start(self, wait: float = 30.0) -> str:
        """Start the program and return the URL it prints (raise TimeoutError if none)."""
        pid, fd = pty.fork()
        if pid == 0:  # the child: become the login program, or die; never run on as us
            try:
                os.execvpe(self.argv[0], self.argv, self.env)  # noqa: S606 (argv is ours)
            finally:
                os._exit(127)
        self.pid, self.fd = pid, fd
        os.set_blocking(fd, False)
        async with asyncio.timeout(wait):
            while self.url is None:
                await self._read()
        return self.url

    async def _read(self) -> None:
        assert self.fd is not None
        loop = asyncio.get_running_loop()
        ready: asyncio.Future[None] = loop.create_future()
        loop.add_reader(self.fd, ready.set_result, None)
        try:
            await ready
        finally:
            loop.remove_reader(self.fd)
        try:
            chunk = os.read(self.fd, 65536).decode(errors="replace")
        except OSError:  # the program closed its terminal
            chunk = ""
        if not chunk:
            raise EOFError("the login program ended")
        self.output.append(chunk)
        found = URL.search("".join(self.output))
        if found and self.url is None:
            self.url = found.group(0)

    async def submit(self, code: str, wait: float = 60.0) -> int:
        """Type the pasted code into the program and wait for it to finish."""
        assert self.fd is not None and self.pid is not None
        os.write(self.fd, code.strip().encode() + b"\r")
        async with asyncio.timeout(wait):
            with contextlib.suppress(EOFError):
                while True:
                    await self._read()
        _, status = await asyncio.to_thread(os.waitpid, self.pid, 0)
        self.returncode = os.waitstatus_to_exitcode(status)
        os.close(self.fd)
        return self.returncode

    def cancel(self) -> None:
        if self.pid is not None and self.returncode is None:
            with contextlib.suppress(ChildProcessError, ProcessLookupError):
                os.kill(self.pid, 9)
                os.waitpid(self.pid, 0)
        if self.fd is not None and self.returncode is None:
            with contextlib.suppress(OSError):
                os.close(self.fd)
        self.fd = None
