"""The harness's settings, each declared once (name, type, default, env var, help)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from hive_c0re.errors import InvalidInput

HELP: dict[str, str] = {
    "rate_limit_wait": "seconds to wait before retrying a rate-limited turn",
    "context_window": "tokens in the model's context window (the compaction watermark's base)",
    "notes_limit": "bytes notes.md may grow to before a short session rewrites it",
    "events_max_age": "seconds events stay in the events log",
    "login_recheck": "seconds between checks of `claude auth status` while needing a login",
    "error_backoff_max": "longest pause, in seconds, after turns that keep failing",
    "recv_wait": "seconds each long-poll for mail waits (at most 180)",
    "model_uid": "uid (and gid) the claude CLI and its tools run as; 0 keeps the harness's "
                 "own (a bare process; the hive's containers set 1000)",
}


@dataclass(frozen=True)
class HarnessSettings:
    rate_limit_wait: float = 300.0
    context_window: int = 200_000
    notes_limit: int = 24_000
    events_max_age: float = 14 * 86400.0
    login_recheck: float = 60.0
    error_backoff_max: float = 300.0
    recv_wait: float = 180.0
    model_uid: int = 0

    @classmethod
    def load(cls, environ: Mapping[str, str] | None = None) -> HarnessSettings:
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            var = "HYPERHIVE_" + f.name.upper()
            if var in env:
                kind = int if isinstance(f.default, int) else float
                try:
                    values[f.name] = kind(env[var])
                except ValueError:
                    raise InvalidInput(f"{var} must be a number, got {env[var]!r}") from None
        settings = cls(**values)
        if not 0 < settings.recv_wait <= 180:
            raise InvalidInput("HYPERHIVE_RECV_WAIT must be in (0, 180]")
        if settings.model_uid < 0:
            raise InvalidInput("HYPERHIVE_MODEL_UID must be 0 or a uid")
        return settings
