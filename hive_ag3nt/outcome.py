"""How a turn went, from what the claude CLI reported: its outcome and its figures."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Outcome(StrEnum):
    OK = "ok"
    RATE_LIMITED = "rate_limited"
    AUTH = "auth"
    TOO_LONG = "too_long"
    INTERRUPTED = "interrupted"
    # The CLI ended well, but a hive tool call could not reach the hive: a reply
    # may not have gone out, so the turn's mail must not be acked.
    HIVE_UNREACHABLE = "hive_unreachable"
    ERROR = "error"


@dataclass
class TurnResult:
    outcome: Outcome
    turn: int
    error: str | None = None
    context_tokens: int = 0
    cost_usd: float | None = None
    session_id: str | None = None
    texts: list[str] = field(default_factory=list)
    duration_ms: int | None = None
    output_tokens: int | None = None
    served_model: str | None = None  # the model the API said answered (the stand-in says so)


def classify(result: Any, assistant_errors: list[str]) -> tuple[Outcome, str | None]:
    """What a ResultMessage (and the turn's assistant errors) says about how the turn went.

    The CLI reports a failed call as an assistant message whose ``error`` names
    the kind, then a result with ``is_error``, ``api_error_status`` and
    ``terminal_reason``; those fields decide, never the prose.
    """
    if not getattr(result, "is_error", False) and not assistant_errors:
        return Outcome.OK, None
    status = getattr(result, "api_error_status", None)
    reason = getattr(result, "terminal_reason", None)
    text = str(getattr(result, "result", "") or "") or None
    if "rate_limit" in assistant_errors or status == 429:
        return Outcome.RATE_LIMITED, text or "rate limited"
    if "authentication_failed" in assistant_errors or status in (401, 403):
        return Outcome.AUTH, text or "authentication failed"
    if reason == "prompt_too_long":
        return Outcome.TOO_LONG, text or "prompt is too long"
    if reason in ("aborted_streaming", "aborted_tools"):
        return Outcome.INTERRUPTED, text or "interrupted"
    errors = " ".join(str(e) for e in (getattr(result, "errors", None) or []))
    return Outcome.ERROR, text or errors or str(getattr(result, "subtype", "error"))


def context_tokens(usage: dict[str, Any] | None) -> int:
    if not usage:
        return 0
    return sum(int(usage.get(k) or 0) for k in (
        "input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens"))
