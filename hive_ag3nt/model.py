"""Which model the agent runs: the policy's default, or the operator's ``/model`` choice."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from hive_ag3nt.policy import Policy
from hive_ag3nt.separation import read_private, write_private
from hive_c0re.errors import InvalidInput

log = logging.getLogger(__name__)


class ModelChoice:
    """The current model, persisted so that it survives harness restarts."""

    def __init__(self, policy: Policy, path: Path) -> None:
        self.policy = policy
        self.path = path
        self.current = self._load()

    def _load(self) -> str:
        chosen = (read_private(self.path) or "").strip()
        if not chosen:
            return self.policy.model
        # A choice the policy no longer offers falls back to the default.
        return chosen if chosen in self.policy.available_models else self.policy.model

    def set(self, name: str) -> str | None:
        """Switch to ``name``; return a warning if the choice could not be persisted."""
        if name not in self.policy.available_models:
            raise InvalidInput(f"model {name!r} is not available",
                               hint="available: " + ", ".join(self.policy.available_models))
        self.current = name
        try:
            write_private(self.path, name + "\n")
        except OSError as exc:
            warning = f"model switched to {name} for now, but not saved: {exc}"
            log.warning(warning)
            return warning
        return None


# The model name hyperhive's stand-in for the Messages API answers with (hive_dev/stand_in):
# the claude CLI passes the served model through, so the harness can tell made-up answers
# from a real model's and show "stand-in" instead of a model name and a price.
STAND_IN_MODEL = "hyperhive-stand-in"
# Environment variables that let the claude CLI reach the model without a Claude login.
NO_LOGIN_KEYS = ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "CLAUDE_CODE_OAUTH_TOKEN")


def is_stand_in(served_model: str | None) -> bool:
    """Whether a turn was answered by the stand-in (``served_model`` as the API named it)."""
    return bool(served_model) and str(served_model).startswith(STAND_IN_MODEL)


def login_needed(env: dict[str, str], stand_in: bool) -> bool:
    """Whether the model is reached through a Claude login: not with a key in the harness's
    environment (or the CLI's, which has the harness's), nor for the stand-in."""
    if stand_in:
        return False
    return not any({**os.environ, **env}.get(key) for key in NO_LOGIN_KEYS)


def honest_cost(served_model: str | None, cost_usd: float | None) -> float | None:
    """The turn's cost as the CLI priced it, or None for the stand-in's answers: the CLI
    prices any answer by the model asked for, so a stand-in's dollars would be invented."""
    return None if is_stand_in(served_model) else cost_usd
