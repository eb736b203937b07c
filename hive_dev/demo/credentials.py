"""Which model the demo's agents talk to: Claude when credentials are given, else the stand-in.

The choice is made once from the environment (:func:`choose`); every
container gets it as the daemon's agent environment file (:func:`agent_env`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from hive_c0re.errors import InvalidInput

CREDENTIALS = ("ANTHROPIC_API_KEY", "CLAUDE_CODE_OAUTH_TOKEN", "ANTHROPIC_AUTH_TOKEN")
BASE_URL = "ANTHROPIC_BASE_URL"
# HYPERHIVE_DEMO_MODEL=builtin picks the stand-in even when credentials are given.
CHOICE = "HYPERHIVE_DEMO_MODEL"
BUILTIN = "builtin"
# The CLI must not phone home (telemetry, updates): the stand-in answers nothing else.
QUIET = {"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1", "DISABLE_AUTOUPDATER": "1"}
STAND_IN_KEY = "demo-key"


@dataclass(frozen=True)
class Model:
    """Claude through ``given`` (the credential variables that are set), or the stand-in."""

    given: tuple[str, ...]
    base_url: str | None = None

    @property
    def is_stand_in(self) -> bool:
        return not self.given

    @property
    def name(self) -> str:
        return f"the model at {self.base_url}" if self.base_url else "Claude"


def choose(environ: Mapping[str, str]) -> Model:
    if environ.get(CHOICE) == BUILTIN:
        return Model(given=())
    return Model(given=tuple(name for name in CREDENTIALS if environ.get(name)),
                 base_url=environ.get(BASE_URL) or None)


def agent_env(model: Model, environ: Mapping[str, str], port: int | None) -> dict[str, str]:
    """What every container gets in its environment: the stand-in's address on ``port``,
    or the operator's credentials (and base URL) as they are."""
    if port is not None:
        found = {BASE_URL: f"http://127.0.0.1:{port}", "ANTHROPIC_API_KEY": STAND_IN_KEY}
    else:
        found = {name: environ[name] for name in (*CREDENTIALS, BASE_URL) if environ.get(name)}
    for name, value in found.items():
        if "\n" in value:
            raise InvalidInput(f"{name} has a newline")
    return {**found, **QUIET}


def write_agent_env(path: Path, values: Mapping[str, str]) -> None:
    """KEY=VALUE lines, 0600 from the start: the file may hold a key."""
    text = "".join(f"{key}={value}\n" for key, value in values.items())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)
