"""The fake claude CLI's tools: permission rules, `can_use_tool`, in-process MCP, Bash.

Permission, as the real CLI decides it for the cases the hive uses: a
`--disallowedTools` rule denies; `bypassPermissions` or an `--allowedTools`
rule (`Bash`, `mcp__hive`, `mcp__hive__*`, `mcp__hive__send`, `Bash(git:*)`,
`Bash(git *)`) allows; otherwise `can_use_tool` decides when the SDK set
`--permission-prompt-tool stdio`, else the call is denied. Unlike the real
CLI the fake neither splits compound commands nor auto-allows read-only ones
such as `echo`.
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from hive_dev.fakes.cli_behaviour import VERSION, CliArgs


class Control(Protocol):
    """What the tools need from the CLI: control requests to the SDK and state reports."""

    async def request(self, subtype: str, **fields: Any) -> dict[str, Any]: ...

    def state(self, state: str) -> None: ...


class ControlError(Exception):
    """The SDK answered a control request with an error, or stdin closed first."""


class Interrupted(Exception):
    """`can_use_tool` denied with `interrupt: true`: the turn ends as if interrupted."""


@dataclass(frozen=True)
class McpTool:
    server: str
    name: str
    description: str
    schema: Mapping[str, Any]


@dataclass(frozen=True)
class ToolOutcome:
    """A `tool_result` block, the CLI's `tool_use_result`, and the denial if there was one."""

    block: dict[str, Any]
    tool_use_result: Any
    denial: dict[str, Any] | None = None


class Tools:
    def __init__(self, control: Control, args: CliArgs) -> None:
        self.control = control
        self.args = args
        self.permission_mode = args.permission_mode
        self.mcp: dict[str, McpTool] = {}
        self._ids = itertools.count()

    @property
    def names(self) -> list[str]:
        return ["Bash", *self.mcp]

    def definitions(self) -> list[dict[str, Any]]:
        """The `tools` of a Messages API request."""
        bash_schema = {"type": "object", "properties": {"command": {"type": "string"}}}
        tools = [
            {"name": "Bash", "description": "Run a shell command", "input_schema": bash_schema}
        ]
        for name, tool in self.mcp.items():
            tools.append(
                {"name": name, "description": tool.description, "input_schema": dict(tool.schema)}
            )
        return tools

    async def connect(self) -> None:
        """Open an MCP session with each in-process server and list its tools."""
        for server, config in self.args.mcp_servers.items():
            if config.get("type") != "sdk":
                continue
            client = {"name": "claude-code", "version": VERSION}
            params = {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": client}
            await self._mcp(
                server, {"id": next(self._ids), "method": "initialize", "params": params}
            )
            await self._mcp(server, {"method": "notifications/initialized"})
            listing = await self._mcp(server, {"id": next(self._ids), "method": "tools/list"})
            for tool in listing.get("result", {}).get("tools", []):
                self.mcp[f"mcp__{server}__{tool['name']}"] = McpTool(
                    server, tool["name"], tool.get("description", ""), tool.get("inputSchema", {})
                )

    async def use(self, call: Mapping[str, Any]) -> ToolOutcome:
        name, tool_use_id, tool_input = call["name"], call["id"], call["input"]
        allowed, tool_input, message = await self._permission(name, tool_input, tool_use_id)
        if not allowed:
            denial = {"tool_name": name, "tool_use_id": tool_use_id, "tool_input": call["input"]}
            return ToolOutcome(_result(tool_use_id, message, True), f"Error: {message}", denial)
        if name.startswith("mcp__"):
            content, is_error = await self._call_mcp(name, tool_input, tool_use_id)
            return ToolOutcome(_result(tool_use_id, content, is_error), content)
        if name == "Bash":
            text, is_error, output = await run_bash(tool_input)
            return ToolOutcome(_result(tool_use_id, text, is_error), output)
        message = f"No such tool available: {name}"
        block = _result(tool_use_id, f"<tool_use_error>Error: {message}</tool_use_error>", True)
        return ToolOutcome(block, f"Error: {message}")

    async def _permission(
        self, name: str, tool_input: dict[str, Any], tool_use_id: str
    ) -> tuple[bool, dict[str, Any], str]:
        """(allowed, the input to run with, the denial message)."""
        if rule_matches(self.args.disallowed_tools, name, tool_input):
            return False, tool_input, f"Permission to use {name} has been denied."
        if self.permission_mode == "bypassPermissions" or rule_matches(
            self.args.allowed_tools, name, tool_input
        ):
            return True, tool_input, ""
        if self.args.permission_prompt_tool != "stdio":
            message = f"Claude requested permissions to use {name}, but you haven't granted it yet."
            return False, tool_input, message
        self.control.state("requires_action")
        try:
            answer = await self.control.request(
                "can_use_tool",
                tool_name=name,
                display_name=name,
                input=tool_input,
                tool_use_id=tool_use_id,
                permission_suggestions=[],
                description=tool_input.get("description"),
            )
        except ControlError as e:
            return False, tool_input, str(e)
        finally:
            self.control.state("running")
        if answer.get("behavior") == "allow":
            return True, answer.get("updatedInput") or tool_input, ""
        if answer.get("interrupt"):
            raise Interrupted
        return False, tool_input, str(answer.get("message", ""))

    async def _mcp(self, server: str, message: dict[str, Any]) -> dict[str, Any]:
        response = await self.control.request(
            "mcp_message", server_name=server, message={"jsonrpc": "2.0", **message}
        )
        result = response.get("mcp_response", {})
        return result if isinstance(result, dict) else {}

    async def _call_mcp(
        self, name: str, arguments: dict[str, Any], tool_use_id: str
    ) -> tuple[Any, bool]:
        tool = self.mcp.get(name)
        if tool is None:
            return f"<tool_use_error>Error: No such tool available: {name}</tool_use_error>", True
        meta = {"claudecode/toolUseId": tool_use_id}
        params = {"name": tool.name, "arguments": arguments, "_meta": meta}
        reply = await self._mcp(
            tool.server, {"id": next(self._ids), "method": "tools/call", "params": params}
        )
        if "error" in reply:
            return f"MCP error {reply['error'].get('code')}: {reply['error'].get('message')}", True
        result = reply.get("result", {})
        return result.get("content", []), bool(result.get("isError"))


def _result(tool_use_id: str, content: Any, is_error: bool) -> dict[str, Any]:
    return {
        "type": "tool_result",
        "tool_use_id": tool_use_id,
        "content": content,
        "is_error": is_error,
    }


def rule_matches(rules: list[str], name: str, tool_input: Mapping[str, Any]) -> bool:
    """Whether a rule covers this call: `Bash`, `mcp__hive`, `mcp__hive__*`, `Bash(git:*)`."""
    return any(_rule_matches(rule, name, tool_input) for rule in rules)


def _rule_matches(rule: str, name: str, tool_input: Mapping[str, Any]) -> bool:
    if rule == name:
        return True
    if rule.startswith("mcp__"):
        return name.startswith(rule[:-1]) if rule.endswith("*") else name.startswith(rule + "__")
    if name != "Bash" or not (rule.startswith("Bash(") and rule.endswith(")")):
        return False
    pattern, command = rule[5:-1], str(tool_input.get("command", ""))
    if pattern.endswith(":*"):
        return command == pattern[:-2] or command.startswith(pattern[:-2] + " ")
    return fnmatch.fnmatchcase(command, pattern)


async def run_bash(tool_input: Mapping[str, Any]) -> tuple[str, bool, dict[str, Any]]:
    """Run the command for real: (result text, is_error, the CLI's `tool_use_result`)."""
    process = await asyncio.create_subprocess_exec(
        "bash",
        "-c",
        str(tool_input.get("command", "")),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    timeout = float(tool_input.get("timeout", 120_000)) / 1000
    try:
        out, err = await asyncio.wait_for(process.communicate(), timeout)
    except TimeoutError:
        await _kill(process)
        return f"Command timed out after {timeout:g}s", True, {"interrupted": True}
    except asyncio.CancelledError:
        await _kill(process)
        raise
    stdout, stderr = out.decode(errors="replace").rstrip(), err.decode(errors="replace").rstrip()
    text = "\n".join(s for s in (stdout, stderr) if s)
    failed = process.returncode != 0
    if failed:
        text = f"Exit code {process.returncode}\n{text}".rstrip()
    return text, failed, {"stdout": stdout, "stderr": stderr, "interrupted": False}


async def _kill(process: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError):
        process.kill()
    await process.wait()
