"""The agent's policy, as the daemon hands it over read-only (``/etc/hive/policy.json``).

The type is the host's own (:mod:`hive_c0re.policy`): the daemon writes what
the harness reads, declared once. The harness refuses a file it cannot
understand rather than run with a guess.
"""

from __future__ import annotations

import json
from pathlib import Path

from hive_c0re.errors import InvalidInput
from hive_c0re.policy import DEFAULT_TOOLS, McpServer, Policy

__all__ = ["DEFAULT_TOOLS", "McpServer", "Policy", "load_policy"]


def load_policy(path: Path) -> Policy:
    """The policy at ``path``; the defaults when the daemon wrote none (a bare process)."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return Policy()
    try:
        data = json.loads(text)
    except ValueError:
        raise InvalidInput(f"{path} is not JSON") from None
    if not isinstance(data, dict):
        raise InvalidInput(f"{path} must hold a JSON object")
    return Policy.from_json(data)
