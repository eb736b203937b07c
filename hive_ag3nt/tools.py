"""The hive's tools, as an in-process MCP server named ``hive``.

Each tool is a thin call to the agent's socket: questions, reminders,
threads and delivery all live in the daemon. A refusal from the daemon comes
back to the model as a tool error it can read and act on. A call that never
reached the hive (or lost its answer) is a tool error too, and it is also
noted in :class:`ToolFailures`, so the turn's outcome says so and its mail is
not acked as if the reply had gone out.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from hive_ag3nt.hive import HiveConnection
from hive_c0re.errors import HiveError, Unreachable

Result = dict[str, Any]
SERVER = "hive"

_TO = {"type": "string", "description": "an agent's name, 'operator', 'manager' or '*'"}
SCHEMAS: dict[str, tuple[str, dict[str, Any]]] = {
    "recv": ("Read your mail. wait_seconds > 0 takes the messages into this turn (waiting up "
             "to that long for new ones); 0 only peeks, and they come again as a later turn.", {
                 "type": "object",
                 "properties": {"wait_seconds": {"type": "number", "minimum": 0,
                                                 "maximum": 180},
                                "max": {"type": "integer", "minimum": 1, "maximum": 32}},
             }),
    "send": ("Send a message. Pass in_reply_to with the id of the message you answer.", {
        "type": "object",
        "properties": {"to": _TO, "body": {"type": "string"},
                       "in_reply_to": {"type": "integer"}},
        "required": ["to", "body"],
    }),
    "ask": ("Ask the operator (default) or a peer a question, optionally with options; the "
            "answer arrives later as a question_answered event.", {
                "type": "object",
                "properties": {"question": {"type": "string"},
                               "options": {"type": "array", "items": {"type": "string"}},
                               "multi": {"type": "boolean"},
                               "ttl_seconds": {"type": "integer", "minimum": 1,
                                               "maximum": 21600},
                               "to": {"type": "string"}},
                "required": ["question"],
            }),
    "answer": ("Answer a question that was asked of you.", {
        "type": "object",
        "properties": {"id": {"type": "integer"}, "answer": {"type": "string"}},
        "required": ["id", "answer"],
    }),
    "remind": ("Have the hive wake you later with a message: after delay_seconds, or at a "
               "time (ISO-8601 with a timezone, or unix seconds).", {
                   "type": "object",
                   "properties": {"message": {"type": "string"},
                                  "delay_seconds": {"type": "integer", "minimum": 1},
                                  "at": {"type": "string"},
                                  "file_path": {"type": "string"}},
                   "required": ["message"],
               }),
    "get_open_threads": ("Your open questions (asked and to answer) and pending reminders.",
                         {"type": "object", "properties": {}}),
    "cancel_thread": ("Cancel one of your open questions or pending reminders.", {
        "type": "object",
        "properties": {"kind": {"type": "string", "enum": ["question", "reminder"]},
                       "id": {"type": "integer"}},
        "required": ["kind", "id"],
    }),
    "whoami": ("Your name in the hive.", {"type": "object", "properties": {}}),
}


RENAMED_ID = {"answer": "question_id", "cancel_thread": "thread_id"}


def _text(payload: Any, *, error: bool = False) -> Result:
    result: Result = {"content": [{"type": "text", "text": json.dumps(payload)}]}
    if error:
        result["is_error"] = True
    return result


Prepare = Callable[[dict[str, Any]], dict[str, Any]]
UNREACHABLE_HINT = ("the hive could not be reached; this turn will not count as done and "
                    "its mail comes again, marked redelivered")


class ToolFailures:
    """Hive tool calls of the current turn that could not reach the hive."""

    def __init__(self) -> None:
        self._failures: list[str] = []

    def note(self, tool: str, error: str) -> None:
        self._failures.append(f"{tool}: {error}")

    def take(self) -> list[str]:
        """The failures noted since the last take (a turn starts by taking)."""
        failures, self._failures = self._failures, []
        return failures


async def call_tool(hive: HiveConnection, name: str, args: dict[str, Any],
                    prepare: Prepare | None = None,
                    failures: ToolFailures | None = None) -> Result:
    """Run one hive tool (its daemon verb has the same name): the answer, or the refusal.

    ``prepare`` may rewrite the arguments in the container first (the manager
    resolves ``HEAD`` to a full sha); its HiveError is the model's to read.
    An unreachable hive is also noted in ``failures``.
    """
    try:
        arguments = prepare(dict(args)) if prepare is not None else dict(args)
    except HiveError as exc:
        return _text({"error": exc.message, "hint": exc.hint}, error=True)
    # The tools say "id"; on the wire "id" is the request id, so the verbs name theirs.
    if name in RENAMED_ID and "id" in arguments:
        arguments[RENAMED_ID[name]] = arguments.pop("id")
    if name == "remind" and isinstance(arguments.get("at"), str) and \
            arguments["at"].strip().isdigit():
        arguments["at"] = int(arguments["at"])
    try:
        answer = await hive.call(name, **arguments)
    except Unreachable as exc:
        if failures is not None:
            failures.note(name, exc.message)
        return _text({"error": exc.message, "hint": UNREACHABLE_HINT}, error=True)
    except HiveError as exc:
        return _text({"error": exc.message, "hint": exc.hint}, error=True)
    answer.pop("version", None)
    answer.pop("ok", None)
    return _text(answer)


def build_server(hive: HiveConnection, extra: dict[str, tuple[str, dict[str, Any]]] | None = None,
                 prepare: dict[str, Prepare] | None = None,
                 failures: ToolFailures | None = None) -> Any:
    """The ``hive`` MCP server for ``ClaudeAgentOptions.mcp_servers`` (plus ``extra`` tools)."""
    from claude_agent_sdk import create_sdk_mcp_server, tool

    schemas = {**SCHEMAS, **(extra or {})}

    def make(name: str) -> Any:
        description, schema = schemas[name]

        async def handler(args: dict[str, Any]) -> Result:
            return await call_tool(hive, name, args, (prepare or {}).get(name), failures)

        decorated: Callable[[Callable[[Any], Awaitable[Result]]], Any] = tool(
            name, description, schema)
        return decorated(handler)

    return create_sdk_mcp_server(SERVER, tools=[make(name) for name in schemas])


def allowed(extra: dict[str, Any] | None = None) -> list[str]:
    """Every hive tool's full name, for ``allowed_tools``."""
    return [f"mcp__{SERVER}__{name}" for name in {**SCHEMAS, **(extra or {})}]
