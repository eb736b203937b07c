"""What the scripted model answers: the tests' answerer.

Shared by the Messages API stand-in (`hive_dev.fakes.messages_api`) and the fake
claude CLI (`hive_dev.fakes.fake_cli`): both see each model call as an
`ApiRequest` in the Messages API's shape and answer it with the first unused
`Reply` whose `Match` holds, else with a fallback text. A script's words
(`ApiError`, `ApiRequest`, `Usage`) come from `hive_dev.stand_in.shapes`.

This module imports nothing heavy: the fake CLI loads it on every start.
"""

from __future__ import annotations

import fcntl
import itertools
import json
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hive_dev.stand_in.shapes import Answer, ApiError, ApiRequest, Usage

__all__ = [
    "ApiError",
    "ApiRequest",
    "Match",
    "Reply",
    "Script",
    "SharedScript",
    "ToolCall",
    "Usage",
    "read_script",
    "used_path",
    "write_script",
]

FALLBACK_TEXT = "ok"


@dataclass(frozen=True)
class ToolCall:
    """A `tool_use` block; `id` defaults to a fresh `toolu_fake_<n>`."""

    name: str
    input: Mapping[str, Any] = field(default_factory=dict)
    id: str | None = None


@dataclass(frozen=True)
class Match:
    """When a reply applies; every field that is set must hold.

    `side` says which requests it answers: None the conversation itself,
    "compaction" the CLI's summary requests, "*" any. `has_tool` looks at the
    tools offered, deferred ones included. `predicate` is for in-process use
    only: it does not survive a script file.
    """

    last_user_contains: str | None = None
    system_contains: str | None = None
    has_tool: str | None = None
    tool_result_for: str | None = None
    model_contains: str | None = None
    side: str | None = None
    predicate: Callable[[ApiRequest], bool] | None = None

    def holds(self, request: ApiRequest) -> bool:
        checks = (
            self.last_user_contains is None or self.last_user_contains in request.last_user_text,
            self.system_contains is None or self.system_contains in request.system,
            self.side == "*" or self.side == request.side,
            self.has_tool is None or self.has_tool in request.offered_tools,
            self.tool_result_for is None or request.tool_result(self.tool_result_for) is not None,
            self.model_contains is None or self.model_contains in request.model,
        )
        return all(checks) and (self.predicate is None or self.predicate(request))

    def to_dict(self) -> dict[str, str]:
        if self.predicate is not None:
            raise ValueError("a Match with a predicate cannot be written to a script file")
        fields = {
            "last_user_contains": self.last_user_contains,
            "system_contains": self.system_contains,
            "has_tool": self.has_tool,
            "tool_result_for": self.tool_result_for,
            "model_contains": self.model_contains,
            "side": self.side,
        }
        return {k: v for k, v in fields.items() if v is not None}


@dataclass(frozen=True)
class Reply:
    """One scripted model answer: text and/or tool calls, or an error.

    `times` is how many requests it answers (None: all that match); `delay`
    holds the answer back that many seconds (to interrupt a turn mid-call).
    """

    text: str | None = None
    tool_calls: Sequence[ToolCall] = ()
    usage: Usage = field(default_factory=Usage)
    error: ApiError | None = None
    match: Match | None = None
    times: int | None = 1
    delay: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "tool_calls", tuple(self.tool_calls))  # lists compare unequal

    @property
    def stop_reason(self) -> str:
        return "tool_use" if self.tool_calls else "end_turn"

    def content(self, tool_id: Callable[[], str]) -> list[dict[str, Any]]:
        """The reply's content blocks, with ids for tool calls that have none."""
        blocks: list[dict[str, Any]] = []
        if self.text is not None or not self.tool_calls:
            blocks.append({"type": "text", "text": self.text or ""})
        for call in self.tool_calls:
            blocks.append(
                {
                    "type": "tool_use",
                    "id": call.id or tool_id(),
                    "name": call.name,
                    "input": dict(call.input),
                }
            )
        return blocks

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"usage": self.usage.to_dict(), "times": self.times}
        if self.text is not None:
            data["text"] = self.text
        if self.tool_calls:
            data["tool_calls"] = [
                {"name": c.name, "input": dict(c.input), **({"id": c.id} if c.id else {})}
                for c in self.tool_calls
            ]
        if self.error is not None:
            e = self.error
            data["error"] = {
                "status": e.status,
                "type": e.type,
                "message": e.message,
                "retry_after": e.retry_after,
                "headers": dict(e.headers),
                "in_stream": e.in_stream,
            }
        if self.match is not None:
            data["match"] = self.match.to_dict()
        if self.delay:
            data["delay"] = self.delay
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Reply:
        error = data.get("error")
        return cls(
            text=data.get("text"),
            tool_calls=tuple(
                ToolCall(c["name"], c.get("input", {}), c.get("id"))
                for c in data.get("tool_calls", ())
            ),
            usage=Usage(**data.get("usage", {})),
            error=ApiError(**{**error, "headers": error.get("headers", {})}) if error else None,
            match=Match(**data["match"]) if data.get("match") else None,
            times=data.get("times", 1),
            delay=float(data.get("delay", 0.0)),
        )


def used_path(script: Path) -> Path:
    """Where processes sharing `script` (the fake CLI, restarted) count the replies used."""
    return script.with_name(script.name + ".used")


def write_script(path: Path, replies: Iterable[Reply]) -> Path:
    """Write `replies` as a script file, every reply unused again."""
    path.write_text(json.dumps([r.to_dict() for r in replies], indent=1))
    used_path(path).unlink(missing_ok=True)
    return path


def read_script(path: Path) -> list[Reply]:
    return [Reply.from_dict(d) for d in json.loads(path.read_text())]


class Script:
    """The replies still to give, in order; safe to extend from another thread."""

    def __init__(self, replies: Iterable[Reply] = (), fallback_text: str = FALLBACK_TEXT) -> None:
        self._replies: list[Reply] = list(replies)
        self._used: list[int] = [0] * len(self._replies)
        self._lock = threading.Lock()
        self._tool_ids = itertools.count(1)
        self.fallback = Reply(text=fallback_text, times=None)

    def __call__(self, request: ApiRequest) -> Answer:
        """As the stand-in's answerer: the reply `take` claims, ids given to its tool calls."""
        index, reply = self.take(request)
        content = reply.content(lambda: f"toolu_fake_{next(self._tool_ids)}")
        return Answer(tuple(content), reply.usage, reply.error, reply.delay,
                      reply_index=index, fallback=index is None)

    def add(self, *replies: Reply) -> None:
        with self._lock:
            self._replies.extend(replies)
            self._used.extend([0] * len(replies))

    def take(self, request: ApiRequest) -> tuple[int | None, Reply]:
        """Claim the first unused reply whose match holds; (None, fallback) if none does."""
        with self._lock:
            index = choose(self._replies, self._used, request)
            if index is None:
                return None, self.fallback
            self._used[index] += 1
            return index, self._replies[index]

    def unused(self) -> list[Reply]:
        """Replies that still owe an answer (unlimited ones never do)."""
        with self._lock:
            return [
                r
                for r, used in zip(self._replies, self._used, strict=True)
                if r.times is not None and used < r.times
            ]

    def replies(self) -> list[Reply]:
        with self._lock:
            return list(self._replies)


def choose(replies: Sequence[Reply], used: Sequence[int], request: ApiRequest) -> int | None:
    """The index of the first reply with answers left whose match holds (no match: `Match()`)."""
    for index, reply in enumerate(replies):
        if reply.times is not None and used[index] >= reply.times:
            continue
        if (reply.match or Match()).holds(request):
            return index
    return None


class SharedScript:
    """A script file whose use counts live beside it (`used_path`), shared under a lock
    by every process that reads it: a restarted fake CLI goes on where the last one stopped."""

    def __init__(self, path: Path | None, fallback_text: str = FALLBACK_TEXT) -> None:
        self.path = path
        self.replies = read_script(path) if path is not None else []
        self.fallback = Reply(text=fallback_text, times=None)

    def take(self, request: ApiRequest) -> tuple[int | None, Reply]:
        if self.path is None:
            return None, self.fallback
        counts = used_path(self.path)
        with Path(f"{counts}.lock").open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            used = json.loads(counts.read_text()) if counts.exists() else []
            used += [0] * (len(self.replies) - len(used))
            index = choose(self.replies, used, request)
            if index is None:
                return None, self.fallback
            used[index] += 1
            counts.write_text(json.dumps(used))
        return index, self.replies[index]
