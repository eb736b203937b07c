"""One turn of the fake claude CLI: its tally, and the `result` message that closes it."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

USAGE_KEYS = (
    "input_tokens",
    "cache_creation_input_tokens",
    "cache_read_input_tokens",
    "output_tokens",
)


@dataclass
class Turn:
    started: float = field(default_factory=time.monotonic)
    api_calls: int = 0
    usage: dict[str, int] = field(default_factory=lambda: dict.fromkeys(USAGE_KEYS, 0))
    denials: list[dict[str, Any]] = field(default_factory=list)


def result_fields(
    turn: Turn, model: str, subtype: str, is_error: bool = False, **fields: Any
) -> dict[str, Any]:
    """What a `result` message says of `turn`, as the real CLI 2.1.330 says it."""
    elapsed = int((time.monotonic() - turn.started) * 1000)
    usage = turn.usage
    model_usage = {
        model: {
            "inputTokens": usage["input_tokens"],
            "outputTokens": usage["output_tokens"],
            "cacheReadInputTokens": usage["cache_read_input_tokens"],
            "cacheCreationInputTokens": usage["cache_creation_input_tokens"],
            "costUSD": 0.0,
            "contextWindow": 200_000,
        }
    }
    return {
        "subtype": subtype,
        "is_error": is_error,
        "duration_ms": elapsed,
        "duration_api_ms": elapsed,
        "num_turns": turn.api_calls,
        "total_cost_usd": 0.0,
        "usage": dict(usage),
        "modelUsage": model_usage if turn.api_calls else {},
        "permission_denials": turn.denials,
    } | {"api_error_status": None, "stop_reason": None, "terminal_reason": "completed"} | fields
