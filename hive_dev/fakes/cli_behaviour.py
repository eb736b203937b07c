"""What the fake claude CLI copies from the real one (2.1.330, observed offline).

Its command line, its model aliases, where sessions live for `--resume`, and
how it reports an API error once its own retries are spent.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hive_dev.fakes.script import ApiError

VERSION = "2.1.330"
ALIASES = {"haiku": "claude-haiku-5-5", "sonnet": "claude-sonnet-5-5", "opus": "claude-opus-5-5"}
# Flags the SDK passes without a value; every other `--flag` takes one.
SWITCHES = frozenset(
    {
        "verbose",
        "fork-session",
        "continue",
        "include-partial-messages",
        "include-hook-events",
        "strict-mcp-config",
        "session-mirror",
        "version",
        "v",
    }
)
# The real CLI gives up at once when the server asks for a longer wait.
LONGEST_RETRY_AFTER = 60


@dataclass(frozen=True)
class CliArgs:
    model: str = "claude-haiku-5-5"
    system_prompt: str = ""
    allowed_tools: list[str] = field(default_factory=list)
    disallowed_tools: list[str] = field(default_factory=list)
    permission_prompt_tool: str | None = None
    permission_mode: str = "default"
    mcp_servers: dict[str, dict[str, Any]] = field(default_factory=dict)
    resume: str | None = None
    session_id: str | None = None
    fork_session: bool = False
    continue_session: bool = False
    max_turns: int = 0
    version: bool = False


def parse_args(argv: list[str]) -> CliArgs:
    """Read the options the SDK passes (`--flag value` or `--flag=value`); ignore the rest."""
    values: dict[str, str] = {}
    i = 0
    while i < len(argv):
        token = argv[i].lstrip("-")
        if "=" in token:
            key, value = token.split("=", 1)
            values[key] = value
        elif token in SWITCHES:
            values[token] = "true"
        elif i + 1 < len(argv):
            values[token] = argv[i + 1]
            i += 1
        i += 1
    system = values.get("system-prompt", "")
    if values.get("append-system-prompt"):
        system = f"{system}\n{values['append-system-prompt']}".strip()
    mcp = json.loads(values["mcp-config"]).get("mcpServers", {}) if values.get("mcp-config") else {}
    return CliArgs(
        model=values.get("model", "claude-haiku-5-5"),
        system_prompt=system,
        allowed_tools=_tool_list(values.get("allowedTools", "")),
        disallowed_tools=_tool_list(values.get("disallowedTools", "")),
        permission_prompt_tool=values.get("permission-prompt-tool"),
        permission_mode=values.get("permission-mode", "default"),
        mcp_servers=mcp,
        resume=values.get("resume"),
        session_id=values.get("session-id"),
        fork_session="fork-session" in values,
        continue_session="continue" in values,
        max_turns=int(values.get("max-turns", "0")),
        version="version" in values or "v" in values,
    )


def _tool_list(joined: str) -> list[str]:
    """Split on commas outside parentheses: `Bash(git add:*),Read`."""
    tools, depth, current = [], 0, ""
    for char in joined:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            tools.append(current.strip())
            current = ""
        else:
            current += char
    return [t for t in [*tools, current.strip()] if t]


class Sessions:
    """Conversations as JSON files, one per session id."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def open(self, args: CliArgs) -> tuple[str, list[dict[str, Any]]]:
        """The session id and history to start with; LookupError for an unknown `--resume`."""
        if args.resume:
            path = self.directory / f"{args.resume}.json"
            if not path.exists():
                raise LookupError(f"No conversation found with session ID: {args.resume}")
            messages = json.loads(path.read_text())
            return (str(uuid.uuid4()) if args.fork_session else args.resume), messages
        if args.continue_session:
            latest = max(
                self.directory.glob("*.json"), key=lambda p: p.stat().st_mtime, default=None
            )
            if latest is not None:
                return latest.stem, json.loads(latest.read_text())
        return args.session_id or str(uuid.uuid4()), []

    def save(self, session_id: str, messages: list[dict[str, Any]]) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        (self.directory / f"{session_id}.json").write_text(json.dumps(messages))


@dataclass(frozen=True)
class ApiFailure:
    """A scripted API error as the real CLI reports it."""

    error: ApiError

    @property
    def status(self) -> int:
        return self.error.status

    @property
    def kind(self) -> str:
        """`AssistantMessage.error` for this failure."""
        kinds = {400: "invalid_request", 401: "authentication_failed", 429: "rate_limit"}
        return kinds.get(self.status, "server_error" if self.status >= 500 else "unknown")

    @property
    def window_reset(self) -> int | None:
        """When a spent subscription window resets (epoch seconds), if this is that."""
        headers = self.error.headers
        if headers.get("anthropic-ratelimit-unified-status") != "rejected":
            return None
        return int(headers.get("anthropic-ratelimit-unified-reset", "0"))

    def rate_limit_info(self) -> dict[str, Any] | None:
        """The `rate_limit_info` of the `rate_limit_event` the real CLI sends first."""
        resets_at = self.window_reset
        if resets_at is None:
            return None
        claim = self.error.headers.get("anthropic-ratelimit-unified-representative-claim")
        return {"status": "rejected", "resetsAt": resets_at, "rateLimitType": claim}

    @property
    def retryable(self) -> bool:
        if self.window_reset is not None:
            return False
        retry_after = self.error.retry_after
        if retry_after is not None and retry_after > LONGEST_RETRY_AFTER:
            return False
        return self.status in (401, 408, 409, 429) or self.status >= 500

    @property
    def too_long(self) -> bool:
        return self.status == 400 and "prompt is too long" in self.error.message.lower()

    @property
    def terminal_reason(self) -> str:
        return "prompt_too_long" if self.too_long else "api_error"

    def delay_ms(self, attempt: int) -> int:
        if self.error.retry_after:
            return int(self.error.retry_after * 1000)
        return int(min(500 * 2 ** (attempt - 1), 32_000))

    def text(self) -> str:
        if self.status == 401:
            return "Invalid API key · Fix external API key"
        if self.too_long:
            return "Prompt is too long"
        if self.window_reset is not None:
            reset = time.strftime("%-I:%M%p", time.gmtime(self.window_reset)).lower()
            return f"You've hit your 5-hour limit · resets {reset} (UTC)"
        if self.status == 429:
            return f"API Error: Request rejected (429) · {self.error.message}"
        return f"API Error: {self.status} {self.error.message}"
