"""A real harness with its web UI, for tests: a hive daemon process, a registered agent, a
client on the UI's unix socket. Only the language model is missing: ``running_ui`` runs no
turn; ``running_real_ui`` runs them on the real claude CLI against the stand-in Messages API.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import itertools
import json
import os
import re
import shutil
import tempfile
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
from aiohttp import web

from hive_ag3nt.harness import Harness
from hive_ag3nt.paths import AgentPaths
from hive_ag3nt.settings import HarnessSettings
from hive_ag3nt.ui.app import start_ui
from hive_ag3nt.ui.config import UiSettings
from hive_c0re.client import Client
from hive_c0re.wire import UI_SECRET_HEADER as HEADER
from hive_dev.daemon import DaemonProcess
from hive_dev.fakes.messages_api import MessagesApi
from hive_dev.harness_support import UI_SECRET, RealRig, make_real_rig

T = TypeVar("T")
MODELS = ["haiku", "sonnet"]
SECRET = "a-test-secret-for-the-agent-ui"
_names = itertools.count(1)


def run(coro: Coroutine[Any, Any, T], timeout: float = 60.0) -> T:
    async def bounded() -> T:
        async with asyncio.timeout(timeout):
            return await coro

    return asyncio.run(bounded())


def short_dir() -> Path:
    """A fresh directory with a short path: unix socket paths are limited to 107 bytes."""
    return Path(tempfile.mkdtemp(prefix="hui", dir="/tmp"))


def agent_paths(root: Path) -> AgentPaths:
    (root / "state").mkdir(parents=True, exist_ok=True)
    policy = root / "policy.json"
    policy.write_text(json.dumps({"model": "haiku", "available_models": MODELS}))
    (root / "ui-secret").write_text(SECRET + "\n")  # where the daemon puts it: beside the policy
    return AgentPaths(state=root / "state", run=root / "run", policy=policy,
                      model_file=root / "state" / "hyperhive-model",
                      claude_config=root / "claude")


def make_harness(daemon: DaemonProcess, name: str, root: Path, cli_path: str | None) -> Harness:
    """A harness for a freshly registered agent ``name``, talking to ``daemon``."""
    with Client(daemon.host_socket) as host:
        host.call("register", name=name)
    previous = os.environ.get("HYPERHIVE_SOCKET")
    os.environ["HYPERHIVE_SOCKET"] = str(daemon.agent_socket(name))
    try:  # the harness reads the socket's path once, here
        return Harness(agent_paths(root), HarnessSettings.load({"recv_wait": 1.0}, environ={}),
                       cli_path=cli_path)
    finally:
        if previous is None:
            del os.environ["HYPERHIVE_SOCKET"]
        else:
            os.environ["HYPERHIVE_SOCKET"] = previous


@dataclass
class Agent:
    harness: Harness
    http: aiohttp.ClientSession
    runner: web.AppRunner
    root: Path

    @property
    def socket(self) -> Path:
        return self.harness.paths.ui_socket

    async def get_json(self, path: str, status: int = 200) -> Any:
        async with self.http.get(path) as response:
            assert response.status == status, await response.text()
            return await response.json()

    async def post_json(self, path: str, body: Any, status: int = 200) -> Any:
        async with self.http.post(path, json=body) as response:
            assert response.status == status, await response.text()
            return await response.json()


@asynccontextmanager
async def running_ui(daemon: DaemonProcess, *, settings: UiSettings | None = None,
                     cli_path: str | None = None) -> AsyncIterator[Agent]:
    """A started harness (no turn loop) serving its UI; torn down and removed afterwards."""
    root = short_dir()
    harness = make_harness(daemon, f"ui{next(_names)}", root, cli_path)
    try:
        await harness.start()
        runner = await start_ui(harness, harness.paths.ui_socket, settings or UiSettings())
        try:
            connector = aiohttp.UnixConnector(path=str(harness.paths.ui_socket))
            async with aiohttp.ClientSession(connector=connector, base_url="http://localhost",
                                             headers={HEADER: SECRET}) as http:
                yield Agent(harness, http, runner, root)
        finally:
            await runner.cleanup()
    finally:
        await harness.close()
        shutil.rmtree(root, ignore_errors=True)


async def next_sse(stream: aiohttp.StreamReader) -> tuple[str, Any] | None:
    """The next ``(event name, data)`` of a server-sent event stream; None at its end.

    Comments (heartbeats) and ``retry:`` lines are skipped.
    """
    name, data = "message", ""
    while True:
        line = (await stream.readline()).decode()
        if not line:
            return None
        line = line.rstrip("\n")
        if line.startswith("event: "):
            name = line.removeprefix("event: ")
        elif line.startswith("data: "):
            data += line.removeprefix("data: ")
        elif not line and data:
            return name, json.loads(data)


TERMINAL_WAIT = 15.0  # seconds a shell gets to print what a test waits for


class Screen:
    """A terminal websocket's output, read further as a test expects more of it."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.text = ""
        self.pos = 0  # where the next expectation starts looking
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    async def expect(self, pattern: str) -> re.Match[str]:
        """The first match of ``pattern`` after the last one; fail with the output if none."""
        regex = re.compile(pattern)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(TERMINAL_WAIT):
                while not regex.search(self.text, self.pos):
                    message = await self.ws.receive()
                    if message.type is not aiohttp.WSMsgType.BINARY:
                        break
                    self.text += self._decoder.decode(message.data)
        found = regex.search(self.text, self.pos)
        assert found, f"{pattern!r} not in terminal output: {self.text[self.pos:]!r}"
        self.pos = found.end()
        return found

    async def expect_text(self, needle: str) -> None:
        await self.expect(re.escape(needle))


async def eventually(condition: Callable[[], bool], within: float = 10.0) -> None:
    """Wait until ``condition()`` holds; fail after ``within`` seconds."""
    for _ in range(int(within / 0.02)):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"still not true after {within} s")


@asynccontextmanager
async def running_real_ui(daemon: DaemonProcess, api: MessagesApi,
                          name: str | None = None) -> AsyncIterator[tuple[Agent, RealRig]]:
    """A started harness on the real claude CLI (talking to the stand-in ``api``) serving its
    UI; turns run when the test calls ``harness.step()``."""
    root = short_dir()
    rig = make_real_rig(root, daemon, name or f"ui{next(_names)}", api)
    harness = rig.harness
    try:
        await harness.start()
        runner = await start_ui(harness, harness.paths.ui_socket, UiSettings())
        try:
            connector = aiohttp.UnixConnector(path=str(harness.paths.ui_socket))
            async with aiohttp.ClientSession(connector=connector, base_url="http://localhost",
                                             headers={HEADER: UI_SECRET}) as http:
                yield Agent(harness, http, runner, root), rig
        finally:
            await runner.cleanup()
    finally:
        await harness.close()
        shutil.rmtree(root, ignore_errors=True)
