"""The hive's tools, as an in-process MCP server named ``hive``.

Each tool is a thin call to the agent's socket: questions, reminders,
threads and delivery all live in the daemon. Which verbs are tools, their
descriptions and their schemas come from :data:`hive_c0re.wire.VERBS`
(:func:`hive_c0re.wire.tools`): an agent's socket gets the agent's tools,
the manager's socket the manager's, and a field's ``alias`` is the name the
model uses. A refusal from the daemon comes back to the model as a tool
error it can read and act on. A call that never
reached the hive (or lost its answer) is a tool error too, and it is also
noted in :class:`ToolFailures`, so the turn's outcome says so and its mail is
not acked as if the reply had gone out.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from hive_ag3nt.hive import HiveConnection
from hive_c0re import wire
from hive_c0re.errors import HiveError, Unreachable
from hive_c0re.wire import Kind, Verb
from hive_c0re.wire_fields import from_tool, tool_schema

Result = dict[str, Any]
SERVER = "hive"

log = logging.getLogger(__name__)


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


async def call_tool(hive: HiveConnection, verb: Verb, args: dict[str, Any],
                    prepare: Prepare | None = None,
                    failures: ToolFailures | None = None) -> Result:
    """Run one hive tool (its daemon verb has the same name): the answer, or the refusal.

    ``prepare`` may rewrite the arguments in the container first (the manager
    resolves ``HEAD`` to a full sha); its HiveError is the model's to read.
    An unreachable hive is also noted in ``failures``.
    """
    try:
        arguments = from_tool(verb.name, verb.fields, args)
        arguments = prepare(arguments) if prepare is not None else arguments
    except HiveError as exc:
        return _text({"error": exc.message, "hint": exc.hint}, error=True)
    # Models write unix seconds as text; the wire takes them as a number.
    if verb.name == "remind" and isinstance(arguments.get("at"), str) and \
            arguments["at"].strip().isdigit():
        arguments["at"] = int(arguments["at"])
    try:
        answer = await hive.call(verb.name, **arguments)
    except Unreachable as exc:
        if failures is not None:
            failures.note(verb.name, exc.message)
        return _text({"error": exc.message, "hint": UNREACHABLE_HINT}, error=True)
    except HiveError as exc:
        return _text({"error": exc.message, "hint": exc.hint}, error=True)
    answer.pop("version", None)
    answer.pop("ok", None)
    if verb.name == "send":
        log.info("mail sent to %s: %s", arguments.get("to"),
                 ", ".join(f"#{i}" for i in answer.get("ids", ())))
    return _text(answer)


def build_server(hive: HiveConnection, kind: Kind = Kind.AGENT,
                 prepare: dict[str, Prepare] | None = None,
                 failures: ToolFailures | None = None) -> Any:
    """The ``hive`` MCP server for ``ClaudeAgentOptions.mcp_servers``: the tools of ``kind``.

    Our own ``mcp`` server, as the SDK allows, not ``create_sdk_mcp_server``: that one
    checks each call with ``jsonschema.validate``, which validates the tool's schema
    against the metaschema every time (2.2 ms of the harness's ~7 ms per ping turn).
    Here each tool's validator is made once; what the model reads is the same: an
    unknown tool, arguments its schema refuses and a handler's exception are tool
    errors.
    """
    tools = _HiveTools(hive, wire.tools(kind), prepare or {}, failures)
    return {"type": "sdk", "name": SERVER, "instance": tools.server()}


class _HiveTools:
    """One kind's tools: their listing, their argument checks and their calls."""

    def __init__(self, hive: HiveConnection, verbs: dict[str, Verb],
                 prepare: dict[str, Prepare], failures: ToolFailures | None) -> None:
        self.hive = hive
        self.verbs = verbs
        self.prepare = prepare
        self.failures = failures
        self.schemas = {name: tool_schema(verb.fields) for name, verb in verbs.items()}
        self.validators: dict[str, Any] = {}  # made at each tool's first call

    def server(self) -> Any:
        import anyio.lowlevel
        from mcp.server.lowlevel import Server
        from mcp.types import CallToolResult, Tool

        listed = [Tool(name=name, description=verb.tool, inputSchema=self.schemas[name])
                  for name, verb in self.verbs.items()]

        async def list_tools() -> list[Tool]:
            return listed

        async def call(name: str, arguments: dict[str, Any] | None) -> CallToolResult:
            result = await self.run(name, arguments or {})
            # A call the client cancelled must not answer: mcp answers the cancellation
            # itself, and a second response for one request stops the whole server.
            await anyio.lowlevel.checkpoint_if_cancelled()
            return CallToolResult.model_validate(
                {"content": result["content"], "isError": result.get("is_error", False)})

        server: Server[Any, Any] = Server(SERVER)
        registry: Any = server  # mcp's registering methods are not annotated
        registry.list_tools()(list_tools)
        # validate_input=False: run() checks the call, against a validator made once.
        registry.call_tool(validate_input=False)(call)
        return server

    async def run(self, name: str, arguments: dict[str, Any]) -> Result:
        verb = self.verbs.get(name)
        if verb is None:
            return _error(f"Tool '{name}' not found")
        refused = self.refused(name, arguments)
        if refused is not None:
            return _error(f"Input validation error: {refused}")
        try:
            return await call_tool(self.hive, verb, arguments, self.prepare.get(name),
                                   self.failures)
        except Exception as exc:  # the model's to read, never the protocol's
            return _error(str(exc))

    def refused(self, name: str, arguments: dict[str, Any]) -> str | None:
        """Why ``arguments`` do not fit the tool's schema (as jsonschema says it), or None."""
        import jsonschema

        validator = self.validators.get(name)
        if validator is None:
            schema = self.schemas[name]
            validator = self.validators[name] = jsonschema.validators.validator_for(schema)(
                schema)
        error = jsonschema.exceptions.best_match(validator.iter_errors(arguments))
        return None if error is None else str(error.message)


def _error(text: str) -> Result:
    return {"content": [{"type": "text", "text": text}], "is_error": True}


def allowed(kind: Kind = Kind.AGENT) -> list[str]:
    """Every hive tool's full name, for ``allowed_tools``."""
    return [f"mcp__{SERVER}__{name}" for name in wire.tools(kind)]
