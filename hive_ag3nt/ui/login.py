"""``POST /login/start`` and ``POST /login/code``: the Claude login, one flow at a time.

Start runs ``claude auth login`` under a PTY and answers with the URL it
prints; the operator opens it, and pastes the code back; ``claude auth
status`` then says whether it worked, and a success wakes turns parked on
needs-login.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import shutil
import signal
from typing import Any

from aiohttp import web

from hive_ag3nt.harness import Harness
from hive_ag3nt.login import LoginFlow
from hive_ag3nt.runner import bundled_cli
from hive_ag3nt.ui.config import HARNESS, SETTINGS, UiSettings
from hive_ag3nt.ui.handlers import BadRequest, answer, json_body, refuse, text_field

log = logging.getLogger(__name__)

MAX_CODE = 4096
OUTPUT_SHOWN = 4000  # characters of the login program's output sent back
ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-_]")


def clean_output(flow: LoginFlow) -> str:
    """What the program printed, without terminal escapes, its last part only."""
    text = ANSI.sub("", "".join(flow.output)).replace("\r", "")
    return text[-OUTPUT_SHOWN:]


def login_argv(harness: Harness, settings: UiSettings) -> list[str]:
    if settings.login_command:
        return list(settings.login_command)
    return [harness.cli_path or bundled_cli(), "auth", "login"]


def login_env(harness: Harness) -> dict[str, str]:
    return {**os.environ, **harness.env, "CLAUDE_CONFIG_DIR": str(harness.paths.claude_config)}


async def discard(flow: LoginFlow) -> None:
    """Stop a flow that has not finished, and reap its program (without blocking the loop)."""
    if flow.pid is None or flow.returncode is not None:
        return  # never started, or finished (and its terminal already closed)
    with contextlib.suppress(ProcessLookupError):
        os.kill(flow.pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        await asyncio.to_thread(os.waitpid, flow.pid, 0)
    flow.returncode = -signal.SIGKILL
    if flow.fd is not None:
        with contextlib.suppress(OSError):
            os.close(flow.fd)


class LoginDesk:
    """The one login flow there may be; a new start replaces one still waiting for its code."""

    def __init__(self, harness: Harness, settings: UiSettings) -> None:
        self.harness = harness
        self.settings = settings
        self.flow: LoginFlow | None = None
        self.busy = asyncio.Lock()

    async def start(self) -> web.Response:
        await self.cancel()
        argv = login_argv(self.harness, self.settings)
        if shutil.which(argv[0]) is None:
            return refuse(500, f"the login program {argv[0]} is missing or not executable")
        flow = self.flow = LoginFlow(argv=argv, env=login_env(self.harness))
        try:
            url = await flow.start(wait=self.settings.login_wait)
        except (TimeoutError, EOFError) as exc:
            await self.cancel()
            reason = "printed no URL in time" if isinstance(exc, TimeoutError) else \
                "ended without printing a URL"
            return refuse(502, f"the login program {reason}", output=clean_output(flow))
        log.info("login started; waiting for the operator's code")
        return answer({"url": url})

    async def submit(self, code: str) -> web.Response:
        flow = self.flow
        if flow is None or flow.returncode is not None:
            return refuse(409, "no login is waiting for a code; start one first")
        try:
            returncode = await flow.submit(code, wait=self.settings.code_wait)
        except TimeoutError:
            await self.cancel()
            return refuse(504, "the login program did not finish", output=clean_output(flow))
        self.flow = None
        return answer(await self._outcome(flow, returncode))

    async def _outcome(self, flow: LoginFlow, returncode: int) -> dict[str, Any]:
        try:
            logged_in = await self.harness.auth_ok()
        except OSError as exc:
            log.warning("cannot ask claude whether the login worked: %s", exc)
            logged_in = False
        if logged_in:
            self.harness.logged_in.set()
        log.info("login finished with %d; logged in: %s", returncode, logged_in)
        result: dict[str, Any] = {"logged_in": logged_in, "returncode": returncode,
                                  "output": clean_output(flow)}
        if returncode != 0:
            result["error"] = f"the login program exited with {returncode}"
        return result

    async def cancel(self) -> None:
        flow, self.flow = self.flow, None
        if flow is not None:
            await discard(flow)


DESK = web.AppKey("login_desk", LoginDesk)


def _code(data: dict[str, Any]) -> str:
    code = text_field(data, "code", MAX_CODE).strip()
    if not code:
        raise BadRequest("code is empty")
    if not code.isprintable():
        raise BadRequest("code must be one line of printable characters")
    return code


async def start(request: web.Request) -> web.Response:
    await json_body(request)  # nothing in it, but no cross-site form can send JSON
    desk = request.app[DESK]
    if desk.busy.locked():
        return refuse(409, "a login step is already running")
    async with desk.busy:
        return await desk.start()


async def submit(request: web.Request) -> web.Response:
    code = _code(await json_body(request))
    desk = request.app[DESK]
    if desk.busy.locked():
        return refuse(409, "a login step is already running")
    async with desk.busy:
        return await desk.submit(code)


async def _cancel(app: web.Application) -> None:
    await app[DESK].cancel()


def setup(app: web.Application) -> None:
    app[DESK] = LoginDesk(app[HARNESS], app[SETTINGS])
    app.router.add_post("/login/start", start)
    app.router.add_post("/login/code", submit)
    app.on_shutdown.append(_cancel)
