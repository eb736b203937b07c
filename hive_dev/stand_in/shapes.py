"""What crosses the stand-in's wire: a request as seen, an answer, an error, token usage.

The fake claude CLI (:mod:`hive_dev.fakes.fake_cli`) builds the same
:class:`ApiRequest` for each model call it makes, so this module imports
nothing heavy: the fake CLI loads it on every start.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

Block = dict[str, Any]
# How the real CLI (2.1.330) asks for a compaction summary, reactive or /compact.
COMPACTION_MARKER = "create a detailed summary of the conversation"
# Tools the real CLI defers behind ToolSearch are listed in a system-role message
# (MCP tools among them unless ENABLE_TOOL_SEARCH=false).
DEFERRED_TOOLS_MARKER = "deferred tools are now available via ToolSearch"


def estimate_tokens(raw: bytes) -> int:
    """A token per 4 bytes: enough for the CLI's context accounting."""
    return max(1, len(raw) // 4)


def text_of(content: Any) -> str:
    """The text of a message's content: a string, or its text and tool_result blocks."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return ""
    parts: list[str] = []
    for block in content:
        if not isinstance(block, dict):
            continue
        if block.get("type") == "text":
            parts.append(str(block.get("text", "")))
        elif block.get("type") == "tool_result":
            parts.append(text_of(block.get("content", "")))
    return "\n".join(parts)


@dataclass(frozen=True)
class Usage:
    """Token counts for one answer; `input_tokens` is how full the context looks."""

    input_tokens: int = 10
    output_tokens: int = 5
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0

    def to_dict(self) -> dict[str, int]:
        return {
            "input_tokens": self.input_tokens,
            "cache_creation_input_tokens": self.cache_creation_input_tokens,
            "cache_read_input_tokens": self.cache_read_input_tokens,
            "output_tokens": self.output_tokens,
        }


@dataclass(frozen=True)
class ApiError:
    """An error answer in the API's shape: `{"type": "error", "error": {type, message}}`.

    `in_stream` sends it as an SSE `error` event after `message_start` (how the
    API reports overload mid-stream) instead of as the HTTP status.
    """

    status: int
    type: str
    message: str
    retry_after: float | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    in_stream: bool = False

    @classmethod
    def rate_limited(cls, retry_after: float | None = 0) -> ApiError:
        return cls(
            429,
            "rate_limit_error",
            "Number of requests has exceeded your rate limit.",
            retry_after=retry_after,
        )

    @classmethod
    def unauthorized(cls) -> ApiError:
        return cls(401, "authentication_error", "invalid x-api-key")

    @classmethod
    def prompt_too_long(cls, tokens: int = 212_345, limit: int = 200_000) -> ApiError:
        return cls(
            400, "invalid_request_error", f"prompt is too long: {tokens} tokens > {limit} maximum"
        )

    @classmethod
    def overloaded(cls) -> ApiError:
        return cls(529, "overloaded_error", "Overloaded")

    @classmethod
    def subscription_limit(cls, resets_at: int) -> ApiError:
        """A 429 as a Claude subscription says its 5-hour window is spent.

        The real CLI reads these headers only when logged in with an OAuth
        token (`CLAUDE_CODE_OAUTH_TOKEN`), not with an API key.
        """
        headers = {
            "anthropic-ratelimit-unified-status": "rejected",
            "anthropic-ratelimit-unified-reset": str(resets_at),
            "anthropic-ratelimit-unified-representative-claim": "five_hour",
            "anthropic-ratelimit-unified-5h-status": "rejected",
            "anthropic-ratelimit-unified-5h-reset": str(resets_at),
            "anthropic-ratelimit-unified-5h-utilization": "1.0",
        }
        message = "Number of requests has exceeded your rate limit."
        return cls(429, "rate_limit_error", message, headers=headers)

    def body(self, request_id: str) -> dict[str, Any]:
        return {
            "type": "error",
            "error": {"type": self.type, "message": self.message},
            "request_id": request_id,
        }

    def response_headers(self) -> dict[str, str]:
        headers = dict(self.headers)
        if self.retry_after is not None:
            headers.setdefault("retry-after", f"{self.retry_after:g}")
        return headers


@dataclass(frozen=True)
class Answer:
    """What an answerer says to one model call: content blocks, or an error.

    `delay` holds the answer back that many seconds (to interrupt a turn
    mid-call). `reply_index` and `fallback` only go into the record: which
    scripted reply answered, or that none did.
    """

    content: tuple[Block, ...] = ()
    usage: Usage = field(default_factory=Usage)
    error: ApiError | None = None
    delay: float = 0.0
    reply_index: int | None = None
    fallback: bool = False

    @property
    def stop_reason(self) -> str:
        return "tool_use" if any(b["type"] == "tool_use" for b in self.content) else "end_turn"

    @property
    def text(self) -> str:
        return " ".join(str(b["text"]) for b in self.content if b["type"] == "text")


@dataclass(frozen=True)
class ApiRequest:
    """One HTTP request as the stand-in saw it (the fake CLI builds the same shape).

    `reply_index` is the script position that answered it; `fallback` is true
    when nothing in the script matched and the fallback text answered
    (unscripted side requests such as compaction summaries end up here).
    """

    method: str
    path: str
    headers: Mapping[str, str]
    body: Any
    seq: int = 0
    reply_index: int | None = None
    fallback: bool = False

    @property
    def is_messages(self) -> bool:
        return self.method == "POST" and self.path.split("?")[0] == "/v1/messages"

    @property
    def model(self) -> str:
        return str(self._get("model", ""))

    @property
    def session_id(self) -> str | None:
        """The claude CLI's session this request belongs to (its `X-Claude-Code-Session-Id`)."""
        for name, value in self.headers.items():
            if name.lower() == "x-claude-code-session-id":
                return str(value)
        return None

    @property
    def stream(self) -> bool:
        return bool(self._get("stream", False))

    @property
    def system(self) -> str:
        return text_of(self._get("system", ""))

    @property
    def messages(self) -> list[dict[str, Any]]:
        messages = self._get("messages", [])
        return [m for m in messages if isinstance(m, dict)] if isinstance(messages, list) else []

    @property
    def tool_names(self) -> list[str]:
        tools = self._get("tools", [])
        if not isinstance(tools, list):
            return []
        return [str(t["name"]) for t in tools if isinstance(t, dict) and "name" in t]

    @property
    def offered_tools(self) -> list[str]:
        """Tool names the model may call: those in `tools` and those deferred behind ToolSearch."""
        names = self.tool_names
        for message in self.messages:
            text = text_of(message.get("content", ""))
            if DEFERRED_TOOLS_MARKER in text:
                listing = text.split(DEFERRED_TOOLS_MARKER, 1)[1].split("\n\n", 1)[0]
                names += [line.strip() for line in listing.splitlines()[1:] if line.strip()]
        return names

    @property
    def side(self) -> str | None:
        """What kind of side request this is ("compaction"), or None for the conversation itself."""
        return "compaction" if COMPACTION_MARKER in self.last_user_text else None

    @property
    def last_user(self) -> dict[str, Any]:
        """The last `user` message ({} if none): the conversation's last word."""
        users = [m for m in self.messages if m.get("role") == "user"]
        return users[-1] if users else {}

    @property
    def last_user_text(self) -> str:
        """The text of the last `user` message, tool results included."""
        return text_of(self.last_user.get("content", ""))

    @property
    def tool_results(self) -> list[dict[str, Any]]:
        """The `tool_result` blocks of the last `user` message."""
        content = self.last_user.get("content")
        if not isinstance(content, list):
            return []
        return [b for b in content if isinstance(b, dict) and b.get("type") == "tool_result"]

    def tool_result(self, tool_use_id: str) -> dict[str, Any] | None:
        for block in self.tool_results:
            if block.get("tool_use_id") == tool_use_id:
                return block
        return None

    def all_text(self) -> str:
        """Every text in the conversation, for 'was X ever sent' assertions."""
        return "\n".join(text_of(m.get("content", "")) for m in self.messages)

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "path": self.path,
            "headers": dict(self.headers),
            "body": self.body,
            "seq": self.seq,
            "reply_index": self.reply_index,
            "fallback": self.fallback,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ApiRequest:
        return cls(
            method=data["method"],
            path=data["path"],
            headers=data.get("headers", {}),
            body=data.get("body"),
            seq=data.get("seq", 0),
            reply_index=data.get("reply_index"),
            fallback=data.get("fallback", False),
        )

    def _get(self, key: str, default: Any) -> Any:
        return self.body.get(key, default) if isinstance(self.body, dict) else default
