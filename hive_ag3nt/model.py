"""Which model the agent runs: the policy's default, or the operator's ``/model`` choice."""

from __future__ import annotations

import logging
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
