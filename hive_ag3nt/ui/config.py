"""What the UI can be tuned with, and the keys its parts keep in the aiohttp app."""

from __future__ import annotations

import os
import shlex
import shutil
from collections.abc import Mapping
from dataclasses import dataclass

from aiohttp import web

from hive_ag3nt.harness import Harness
from hive_c0re.errors import InvalidInput

LOGIN_COMMAND_VAR = "HYPERHIVE_LOGIN_COMMAND"


@dataclass(frozen=True)
class UiSettings:
    login_command: tuple[str, ...] | None = None  # None: `<claude> auth login`
    terminal_shell: tuple[str, ...] = ("/bin/bash", "-l")  # from_env: $SHELL -l
    max_terminals: int = 4
    sse_queue: int = 1000  # events a slow live-panel client may lag behind before it is dropped
    heartbeat: float = 15.0  # seconds between SSE keep-alive comments
    inbox_shown: int = 20
    login_wait: float = 30.0  # seconds the login program has to print its URL
    code_wait: float = 60.0  # seconds it has to finish once the code is typed

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> UiSettings:
        """``$HYPERHIVE_LOGIN_COMMAND`` (a shell-quoted command) and ``$SHELL`` (else bash)."""
        env = os.environ if environ is None else environ
        login = env.get(LOGIN_COMMAND_VAR, "").strip()
        try:
            command = tuple(shlex.split(login)) if login else None
        except ValueError as exc:
            raise InvalidInput(f"{LOGIN_COMMAND_VAR} is not a valid command: {exc}") from None
        shell = env.get("SHELL") or shutil.which("bash") or "/bin/sh"
        return cls(login_command=command, terminal_shell=(shell, "-l"))


HARNESS = web.AppKey("harness", Harness)
SETTINGS = web.AppKey("settings", UiSettings)
