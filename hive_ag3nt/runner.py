"""One Claude session through ``claude-agent-sdk``, one turn at a time.

The CLI process lives across turns (start-up is the expensive part) and its
session id is kept in ``/state`` so a restarted harness resumes the same
conversation. Between turns the harness may end the CLI (:meth:`ClaudeSession.release`:
idle for long, or grown too big); the next turn starts it again, resuming, and
its log says so. Every message of a turn becomes an event in the log.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hive_ag3nt.cli_memory import cli_pid, tree_rss_mib
from hive_ag3nt.events import EventLog
from hive_ag3nt.model import honest_cost
from hive_ag3nt.outcome import Outcome, TurnResult, classify, context_tokens
from hive_ag3nt.paths import AgentPaths
from hive_ag3nt.permissions import decide
from hive_ag3nt.policy import Policy
from hive_ag3nt.separation import read_private, write_private
from hive_ag3nt.tools import ToolFailures
from hive_ag3nt.tools import allowed as allowed_tools
from hive_c0re.wire import Kind

log = logging.getLogger(__name__)

TOOL_RESULT_KEEP = 4000  # characters of a tool result kept in the events log
CLI_DEFAULTS = {
    # The hive's tools must be in plain sight, not behind the CLI's tool search.
    "ENABLE_TOOL_SEARCH": "false",
    # The CLI retries 401/429 itself for minutes; the harness waits smarter (and shows it).
    "CLAUDE_CODE_MAX_RETRIES": "2",
    "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    # A waiting CLI ran Bun's garbage collector every second (its heap keeps changing
    # while it polls its files): 17 ms of CPU a second each, 0.85 cores for 50 waiting
    # agents. Without the timer it is 1-3 ms a second, for 20-40 MiB more while alive
    # (bench/turn_cpu.py); allocation still starts collections, and a release ends it all.
    "BUN_GC_TIMER_DISABLE": "1",
    # Its config file watched through inotify, not stat()ed every second.
    "CLAUDE_CODE_CONFIG_WATCH_EVENTS": "1",
}


@dataclass
class SessionConfig:
    """Everything a session needs that is not the prompt."""

    name: str
    policy: Policy
    paths: AgentPaths
    system_prompt: str
    mcp_server: Any  # the in-process hive server
    cli_path: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    tool_kind: Kind = Kind.AGENT  # whose hive tools: an agent's or the manager's
    # What mcp_server notes of unreachable calls: the same one build_server was given.
    tool_failures: ToolFailures = field(default_factory=ToolFailures)


class ClaudeSession:
    """A live connection to the claude CLI; reconnects (resuming) when it has to."""

    def __init__(self, config: SessionConfig, events: EventLog, model: Callable[[], str], *,
                 persist: bool = True, tools: tuple[str, ...] | None = None) -> None:
        """``persist=False`` (with its own ``tools``) is a side session: notes compaction."""
        self.config = config
        self.events = events
        self.model = model
        self.persist = persist
        self.tools = tools
        self.resets_at: float | None = None  # when a rejected rate-limit window reopens
        self.on_retry: Callable[[str], None] | None = None
        self._client: Any = None
        self._turn: int | None = None
        self._denials: list[str] = []
        # Starting and ending the CLI take turns: a release never ends a CLI a turn
        # is starting or using, and a turn never talks to one being ended.
        self._lock = asyncio.Lock()
        self._resume_reason = "start"  # why the next start resumes: the log says so
        self.released: str | None = None  # why the CLI was ended, until one is started again

    @property
    def session_id(self) -> str | None:
        if not self.persist:
            return None
        return (read_private(self.config.paths.session_file) or "").strip() or None

    def _save_session(self, session_id: str | None) -> None:
        if self.persist and session_id and session_id != self.session_id:
            try:
                write_private(self.config.paths.session_file, session_id + "\n")
            except OSError as exc:
                log.warning("cannot remember session %s: %s", session_id, exc)

    def options(self, *, resume: str | None) -> Any:
        from claude_agent_sdk import ClaudeAgentOptions

        policy = self.config.policy
        servers: dict[str, Any] = {"hive": self.config.mcp_server}
        for key, server in policy.mcp_servers.items():
            servers[key] = {"type": "stdio", "command": server.command,
                            "args": list(server.args), "env": dict(server.env)}
        builtins = list(self.tools if self.tools is not None else policy.allowed_tools)
        # Whole-tool allows would shadow can_use_tool; Bash is decided there.
        allowed = [t for t in builtins if t != "Bash"] + allowed_tools(self.config.tool_kind)
        return ClaudeAgentOptions(
            tools=builtins,
            allowed_tools=allowed,
            system_prompt={"type": "preset", "preset": "claude_code",
                           "append": self.config.system_prompt},
            mcp_servers=servers,
            model=self.model(),
            cwd=str(self.config.paths.state),
            cli_path=self.config.cli_path,
            setting_sources=[],
            can_use_tool=self._can_use_tool,
            stderr=self._stderr,
            resume=resume,
            env={**CLI_DEFAULTS, **self.config.env,
                 "CLAUDE_CONFIG_DIR": str(self.config.paths.claude_config)},
        )

    async def _can_use_tool(self, tool: str, tool_input: dict[str, Any], context: Any) -> Any:
        from claude_agent_sdk import PermissionResultAllow, PermissionResultDeny

        decision = decide(tool, tool_input, self.config.policy)
        if decision.allowed:
            return PermissionResultAllow(updated_input=tool_input)
        self._denials.append(decision.reason)
        self.events.record(self._turn, "denial", tool=tool, input=tool_input,
                           reason=decision.reason)
        return PermissionResultDeny(message=decision.reason)

    def _stderr(self, line: str) -> None:
        self.events.record(self._turn, "stderr", line=line.rstrip())

    @property
    def running(self) -> bool:
        """Whether a CLI process is up (between turns it may have been released)."""
        return self._client is not None

    def cli_pid(self) -> int | None:
        """The CLI's process id while one runs (and the SDK tells)."""
        return cli_pid(self._client) if self._client is not None else None

    def cli_rss_mib(self) -> float | None:
        """Resident MiB of the CLI and its children now; None when none runs."""
        pid = self.cli_pid()
        return None if pid is None else tree_rss_mib(pid)

    async def connect(self) -> None:
        from claude_agent_sdk import CanUseToolShadowedWarning, ClaudeSDKClient

        async with self._lock:
            if self._client is not None:
                return
            resume = self.session_id
            with warnings.catch_warnings():
                # Whole-tool allows for Read, Write, ... and the hive's tools are on
                # purpose: only Bash goes through can_use_tool.
                warnings.simplefilter("ignore", CanUseToolShadowedWarning)
                client = ClaudeSDKClient(self.options(resume=resume))
                await client.connect()
            self._client = client
            # Here, under the lock, not when the turn begins: a release that was ending
            # the old CLI then (the turn waited for it) has set it since.
            self.released = None
            if resume is not None:
                self.events.record(self._turn, "resume", session_id=resume,
                                   reason=self._resume_reason)

    async def release(self, reason: str) -> bool:
        """End the CLI between turns, keeping the session for the next turn to resume.

        ``reason`` ("idle", "growth") goes into the log. False when there is
        nothing to end, or a turn is starting or running: it keeps its CLI.
        """
        async with self._lock:
            if self._client is None or self._turn is not None:
                return False
            rss = self.cli_rss_mib()
            await self._disconnect()
            self._resume_reason = self.released = reason
            self.events.record(None, "release", reason=reason, session_id=self.session_id,
                               cli_rss_mib=None if rss is None else round(rss, 1))
        log.info("%s: claude CLI ended (%s, %s MiB); the next turn resumes", self.config.name,
                 reason, "?" if rss is None else f"{rss:.0f}",
                 extra={"HIVE_AGENT": self.config.name})
        return True

    async def close(self, reason: str = "restart") -> None:
        """End the CLI; ``reason`` is what the next start's ``resume`` says (a CLI already
        released keeps the release's)."""
        async with self._lock:
            if self._client is not None:
                await self._disconnect()
                self._resume_reason = reason

    async def _disconnect(self) -> None:
        client = self._client
        if client is None:
            return
        try:
            await client.disconnect()
        except Exception as exc:  # a dead CLI must not stop a shutdown
            log.warning("claude CLI did not disconnect cleanly: %s", exc)
        # Forgotten only once ended: a cancelled disconnect leaves it to the next close.
        self._client = None

    async def new_session(self) -> None:
        await self.close()
        self.released = None
        with contextlib.suppress(FileNotFoundError):
            self.config.paths.session_file.unlink()

    async def set_model(self, name: str) -> None:
        async with self._lock:  # not on a CLI being ended; a released one starts with it
            if self._client is not None:
                await self._client.set_model(name)

    async def interrupt(self) -> None:
        if self._client is not None and self._turn is not None:
            await self._client.interrupt()

    async def turn(self, prompt: str, trigger: str) -> TurnResult:
        """Run one turn to its result; never raises for what the CLI reports."""
        turn = self.events.start_turn(self.model(), trigger)
        log.info("%s: turn %d start (%s, model %s)", self.config.name, turn, trigger,
                 self.model(), extra={"HIVE_AGENT": self.config.name, "HIVE_TURN": turn})
        self._turn, self._denials = turn, []
        self.events.record(turn, "prompt", text=prompt)
        self.config.tool_failures.take()  # a new turn: nothing of an earlier one counts here
        try:
            await self.connect()
            result = self._unreachable(await self._run(turn, prompt))
        except Exception as exc:
            log.warning("turn %d failed: %s", turn, exc)
            await self.close("error")  # a broken CLI process is started afresh next turn
            result = TurnResult(Outcome.ERROR, turn, error=str(exc) or type(exc).__name__)
        finally:
            self._turn = None
        self.events.end_turn(turn, result.outcome.value, duration_ms=result.duration_ms,
                             cost_usd=result.cost_usd,
                             input_tokens=result.context_tokens,
                             output_tokens=result.output_tokens, session_id=result.session_id,
                             error=result.error, served_model=result.served_model)
        return result

    def _unreachable(self, result: TurnResult) -> TurnResult:
        """A turn the CLI ended well is not well ended if a hive call never got through."""
        failures = self.config.tool_failures.take()
        if failures and result.outcome is Outcome.OK:
            result.outcome = Outcome.HIVE_UNREACHABLE
            result.error = "hive tool call failed: " + "; ".join(failures)
            self.events.record(result.turn, "hive_unreachable", failures=failures)
            log.warning("turn %d: %s", result.turn, result.error)
        return result

    async def _run(self, turn: int, prompt: str) -> TurnResult:
        from claude_agent_sdk import AssistantMessage, ResultMessage

        await self._client.query(prompt)
        texts: list[str] = []
        assistant_errors: list[str] = []
        last_usage: dict[str, Any] | None = None
        served: str | None = None
        self.resets_at = None
        async for message in self._client.receive_response():
            self._record(turn, message, texts)
            self._watch_limits(message)
            if isinstance(message, AssistantMessage):
                if message.error:
                    assistant_errors.append(str(message.error))
                last_usage = message.usage or last_usage
                served = getattr(message, "model", None) or served
            if isinstance(message, ResultMessage):
                return self._finish(turn, message, texts, assistant_errors, last_usage, served)
        return TurnResult(Outcome.ERROR, turn, error="the CLI ended the turn without a result")

    def _watch_limits(self, message: Any) -> None:
        """Note rate-limit windows and the CLI's own retries as they happen."""
        from claude_agent_sdk import RateLimitEvent, SystemMessage

        if isinstance(message, RateLimitEvent):
            info = message.rate_limit_info
            if str(getattr(info, "status", "")) == "rejected":
                self.resets_at = getattr(info, "resets_at", None)
        elif isinstance(message, SystemMessage) and message.subtype == "api_retry":
            error = str(message.data.get("error", ""))
            self.events.record(self._turn, "api_retry", error=error,
                               attempt=message.data.get("attempt"),
                               delay_ms=message.data.get("retry_delay_ms"))
            if self.on_retry is not None:
                self.on_retry(error)

    def _finish(self, turn: int, message: Any, texts: list[str], assistant_errors: list[str],
                last_usage: dict[str, Any] | None, served: str | None) -> TurnResult:
        outcome, error = classify(message, assistant_errors)
        self._save_session(message.session_id)
        cost = honest_cost(served, message.total_cost_usd)
        self.events.record(turn, "result", subtype=message.subtype, is_error=message.is_error,
                           duration_ms=message.duration_ms, cost_usd=cost,
                           usage=message.usage, denials=self._denials, served_model=served)
        return TurnResult(outcome, turn, error=error,
                          context_tokens=context_tokens(last_usage or message.usage),
                          cost_usd=cost, session_id=message.session_id,
                          texts=texts, duration_ms=message.duration_ms,
                          output_tokens=(message.usage or {}).get("output_tokens"),
                          served_model=served)

    def _record(self, turn: int, message: Any, texts: list[str]) -> None:
        from claude_agent_sdk import (
            AssistantMessage,
            SystemMessage,
            TextBlock,
            ToolResultBlock,
            ToolUseBlock,
            UserMessage,
        )

        if isinstance(message, AssistantMessage):
            for block in message.content:
                if isinstance(block, TextBlock):
                    texts.append(block.text)
                    self.events.record(turn, "assistant_text", text=block.text)
                elif isinstance(block, ToolUseBlock):
                    log.info("%s: turn %d tool %s %s", self.config.name, turn, block.name,
                             json.dumps(block.input, ensure_ascii=False)[:120],
                             extra={"HIVE_AGENT": self.config.name, "HIVE_TURN": turn})
                    self.events.record(turn, "tool_call", id=block.id, tool=block.name,
                                       input=block.input)
        elif isinstance(message, UserMessage) and isinstance(message.content, list):
            for block in message.content:
                if isinstance(block, ToolResultBlock):
                    self.events.record(turn, "tool_result", id=block.tool_use_id,
                                       is_error=bool(block.is_error),
                                       content=result_text(block.content)[:TOOL_RESULT_KEEP])
        elif isinstance(message, SystemMessage):
            self.events.record(turn, "system", subtype=message.subtype)


def result_text(content: Any) -> str:
    """A tool result's text as the model read it (the CLI gives a list of blocks, or a string)."""
    if isinstance(content, list):
        return "\n".join(str(b.get("text", "")) if isinstance(b, dict) and b.get("type") == "text"
                         else json.dumps(b, default=str) for b in content)
    return "" if content is None else str(content)


def claude_cli_path() -> str | None:
    """``$HYPERHIVE_CLAUDE`` when set, else the SDK's own CLI."""
    return os.environ.get("HYPERHIVE_CLAUDE") or None


def bundled_cli() -> str:
    """The claude CLI that ships inside the SDK's wheel."""
    import claude_agent_sdk

    return str(Path(claude_agent_sdk.__file__).parent / "_bundled" / "claude")
