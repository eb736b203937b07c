"""A fast fake claude CLI speaking the SDK's stream-json control protocol.

`write_fake_cli(dir)` writes the one executable `ClaudeAgentOptions.cli_path`
needs; `fake_cli_env(script, record)` gives its environment:
- `FAKE_CLAUDE_SCRIPT`: a script file (`hive_dev.fakes.script.write_script`),
  shared by every process started on it (`SharedScript`);
- `FAKE_CLAUDE_RECORD`: each model call is appended there as a JSON line in
  the Messages API's shape (`read_records` gives them back as `ApiRequest`s).

A turn looks like the real CLI 2.1.330's: `session_state_changed` running,
`init`, one `assistant` message per content block, a `user` message per tool
result, a `result`, then idle. The control protocol is in
`hive_dev.fakes.stream_json`, tools in `hive_dev.fakes.fake_tools`. A
scripted API error surfaces as the real CLI reports it once its retries are
spent, after one `api_retry` message per retry (none slept through; the
real CLI's retry count is `CLAUDE_CODE_MAX_RETRIES`, default 10). `/compact`
asks the script for a summary (`Match(side="compaction")`). An interrupt
cancels the turn at once. Conversations persist under
`$CLAUDE_CONFIG_DIR/fake-sessions` for `--resume`, `--continue` and
`--fork-session`. The fake never sleeps unless a reply's `delay` says so.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import sys
import uuid
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from hive_dev.fakes.cli_behaviour import ALIASES, VERSION, ApiFailure, CliArgs, Sessions, parse_args
from hive_dev.fakes.fake_tools import Interrupted, Tools
from hive_dev.fakes.script import ApiRequest, Reply, SharedScript
from hive_dev.fakes.stream_json import StreamJson
from hive_dev.fakes.turn import USAGE_KEYS, Turn, result_fields

REPO_ROOT = Path(__file__).resolve().parents[2]
INTERRUPTED = "[Request interrupted by user]"


def write_fake_cli(directory: Path) -> Path:
    """Write an executable running this fake CLI with this interpreter; return its path."""
    path = directory / "claude"
    path.write_text(
        f"#!{sys.executable}\n"
        "import sys\n"
        f"sys.path.insert(0, {str(REPO_ROOT)!r})\n"
        "from hive_dev.fakes.fake_cli import main\n"
        "sys.exit(main())\n"
    )
    path.chmod(0o755)
    return path


def fake_cli_env(script: Path, record: Path | None = None) -> dict[str, str]:
    env = {"FAKE_CLAUDE_SCRIPT": str(script)}
    if record is not None:
        env["FAKE_CLAUDE_RECORD"] = str(record)
    return env


def read_records(record: Path) -> list[ApiRequest]:
    if not record.exists():
        return []
    # The last piece is "" or a record still being written (a test may read while the
    # fake CLI appends): only whole lines are records.
    lines = record.read_text().split("\n")[:-1]
    return [ApiRequest.from_dict(json.loads(line)) for line in lines if line]


def local_output(text: str) -> str:
    return f"<local-command-stdout>{text}</local-command-stdout>"


class FakeCli(StreamJson):
    def __init__(self, args: CliArgs, env: Mapping[str, str]) -> None:
        self.args = args
        self.model = ALIASES.get(args.model, args.model)
        script = env.get("FAKE_CLAUDE_SCRIPT")
        self.script = SharedScript(Path(script) if script else None)
        record = env.get("FAKE_CLAUDE_RECORD")
        self.record = Path(record) if record else None
        self.max_retries = int(env.get("CLAUDE_CODE_MAX_RETRIES", "10"))
        config = env.get("CLAUDE_CONFIG_DIR") or str(Path(env.get("HOME", "/")) / ".claude")
        self.sessions = Sessions(Path(config) / "fake-sessions")
        session_id, self.messages = self.sessions.open(args)
        super().__init__(session_id, env.get("CLAUDE_CODE_SDK_READS_SESSION_STATE") == "1")
        self.tools = Tools(self, args)
        self.ready = asyncio.Event()
        self.turn: asyncio.Task[None] | None = None
        self.tool_ids = itertools.count(1)
        self.last_error = False

    # -- control requests from the SDK -----------------------------------------

    async def answer(self, request_id: str, request: dict[str, Any]) -> None:
        subtype = request.get("subtype")
        if subtype == "initialize":
            await self.tools.connect()
            self.ready.set()
            self.respond(request_id, {"commands": [], "output_style": "default", "models": []})
        elif subtype == "interrupt":
            self.respond(request_id, {"still_queued": []})
            if self.turn is not None and not self.turn.done():
                self.turn.cancel()
        elif subtype == "set_model":
            requested = request.get("model") or self.args.model
            self.model = ALIASES.get(requested, requested)
            said = local_output(f"Set model to `{self.model}`")
            message = {"role": "user", "content": said}
            self.emit(self.frame("user", parent_tool_use_id=None, isReplay=True, message=message))
            self.respond(request_id, {"model": self.model})
        elif subtype == "set_permission_mode":
            self.tools.permission_mode = request.get("mode", "default")
            self.respond(request_id)
        elif subtype == "mcp_status":
            servers = [{"name": name, "status": "connected"} for name in self.args.mcp_servers]
            self.respond(request_id, {"mcpServers": servers})
        else:
            self.refuse(request_id, f"Unsupported control request subtype: {subtype}")

    # -- turns: one at a time, in the order the SDK sent them -----------------

    async def run(self) -> int:
        reader = asyncio.create_task(self.read_stdin())
        if not any(c.get("type") == "sdk" for c in self.args.mcp_servers.values()):
            self.ready.set()  # only in-process MCP servers need `initialize` before a turn
        while (message := await self.inbox.get()) is not None:
            await self.ready.wait()
            self.turn = asyncio.create_task(self.run_turn(message))
            await self.turn
        await reader
        return 1 if self.last_error else 0

    async def run_turn(self, message: dict[str, Any]) -> None:
        turn = Turn()
        self.state("running")
        content = message.get("message", {}).get("content", "")
        if isinstance(content, str) and content.strip() == "/compact":
            result = await self.compact(turn)
        else:
            self.emit(self.init_message())
            blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content
            self.messages.append({"role": "user", "content": blocks})
            try:
                result = await self.converse(turn)
            except (asyncio.CancelledError, Interrupted):
                result = self.interrupted(turn)
        self.sessions.save(self.session_id, self.messages)
        self.last_error = bool(result["is_error"])
        self.emit(result)
        self.state("idle")

    async def converse(self, turn: Turn) -> dict[str, Any]:
        while True:
            reply = await self.call_model(turn)
            if isinstance(reply, ApiFailure):
                return self.api_error(turn, reply)
            blocks = reply.content(lambda: f"toolu_fake_{next(self.tool_ids)}")
            self.say(blocks, reply)
            calls = [b for b in blocks if b["type"] == "tool_use"]
            if not calls:
                return self.result(turn, "success", result=reply.text or "", stop_reason="end_turn")
            outcomes = [await self.tools.use(call) for call in calls]
            turn.denials += [o.denial for o in outcomes if o.denial is not None]
            self.messages.append({"role": "user", "content": [o.block for o in outcomes]})
            for o in outcomes:
                message = {"role": "user", "content": [o.block]}
                user = self.frame("user", parent_tool_use_id=None, message=message)
                self.emit({**user, "tool_use_result": o.tool_use_result})
            if self.args.max_turns and turn.api_calls >= self.args.max_turns:
                errors = [f"Reached maximum number of turns ({self.args.max_turns})"]
                return self.result(
                    turn, "error_max_turns", True, terminal_reason="max_turns", errors=errors
                )

    def say(self, blocks: list[dict[str, Any]], reply: Reply) -> None:
        message_id = f"msg_fake_{uuid.uuid4().hex[:12]}"
        for block in blocks:
            message = {
                "id": message_id,
                "type": "message",
                "role": "assistant",
                "model": self.model,
                "content": [block],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": reply.usage.to_dict(),
            }
            self.emit(self.frame("assistant", parent_tool_use_id=None, message=message))
        self.messages.append({"role": "assistant", "content": blocks})

    async def call_model(self, turn: Turn, side: bool = False) -> Reply | ApiFailure:
        """Ask the script as the real CLI asks the API, retrying as it would."""
        for attempt in itertools.count(1):
            request = self.model_request()
            index, reply = self.script.take(request)
            self.write_record(replace(request, reply_index=index, fallback=index is None))
            if reply.delay:
                await asyncio.sleep(reply.delay)
            if reply.error is None:
                turn.api_calls += 0 if side else 1
                for key, value in reply.usage.to_dict().items():
                    turn.usage[key] += value
                return reply
            failure = ApiFailure(reply.error)
            if not failure.retryable or attempt > self.max_retries:
                return failure
            if reply.error.in_stream:
                continue  # the real CLI retries a stream that failed midway without a word
            retry = self.frame(
                "system",
                subtype="api_retry",
                attempt=attempt,
                max_retries=self.max_retries,
                retry_delay_ms=failure.delay_ms(attempt),
                error_status=failure.status,
                error=failure.kind,
            )
            self.emit(retry)
        raise AssertionError("unreachable")

    def model_request(self) -> ApiRequest:
        body = {
            "model": self.model,
            "system": self.args.system_prompt,
            "messages": self.messages,
            "tools": self.tools.definitions(),
            "max_tokens": 32000,
            "stream": True,
        }
        return ApiRequest("POST", "/v1/messages", {}, json.loads(json.dumps(body)))

    def write_record(self, request: ApiRequest) -> None:
        if self.record is not None:
            line = (json.dumps(request.to_dict()) + "\n").encode()
            # One write to an O_APPEND file: records of concurrent CLIs never interleave.
            fd = os.open(self.record, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, line)
            finally:
                os.close(fd)

    def interrupted(self, turn: Turn) -> dict[str, Any]:
        message = {"role": "user", "content": [{"type": "text", "text": INTERRUPTED}]}
        self.messages.append(message)
        self.emit(self.frame("user", parent_tool_use_id=None, message=message))
        return self.result(
            turn,
            "error_during_execution",
            True,
            terminal_reason="aborted_streaming",
            errors=[INTERRUPTED],
        )

    def api_error(self, turn: Turn, failure: ApiFailure) -> dict[str, Any]:
        text = failure.text()
        info = failure.rate_limit_info()
        if info is not None:
            self.emit(self.frame("rate_limit_event", rate_limit_info=info))
        message = {
            "id": str(uuid.uuid4()),
            "type": "message",
            "role": "assistant",
            "model": "<synthetic>",
            "content": [{"type": "text", "text": text}],
            "stop_reason": "stop_sequence",
            "stop_sequence": "",
            "usage": dict.fromkeys(USAGE_KEYS, 0),
        }
        frame = self.frame("assistant", parent_tool_use_id=None, message=message)
        self.emit(
            {
                **frame,
                "error": failure.kind,
                "is_api_error_message": True,
                "api_error_status": failure.status,
                "api_error_type": failure.error.type,
            }
        )
        return self.result(
            turn,
            "success",
            True,
            result=text,
            stop_reason="stop_sequence",
            terminal_reason=failure.terminal_reason,
            api_error_status=failure.status,
            api_error_type=failure.error.type,
        )

    async def compact(self, turn: Turn) -> dict[str, Any]:
        self.emit(self.frame("system", subtype="status", status="compacting"))
        ask = "Your task is to create a detailed summary of the conversation so far."
        self.messages.append({"role": "user", "content": [{"type": "text", "text": ask}]})
        reply = await self.call_model(turn, side=True)
        self.messages.pop()
        if isinstance(reply, ApiFailure):
            self.emit(self.frame("system", subtype="status", status=None, compact_result="failed"))
            return self.api_error(turn, reply)
        summary = (reply.text or "").split("<summary>")[-1].split("</summary>")[0].strip()
        self.emit(self.frame("system", subtype="status", status=None, compact_result="success"))
        metadata = {"trigger": "manual", "pre_tokens": turn.usage["input_tokens"]}
        self.emit(self.frame("system", subtype="compact_boundary", compact_metadata=metadata))
        text = (
            "This session is being continued from a previous conversation that ran out of "
            "context. The summary below covers the earlier portion of the conversation.\n"
            f"Summary:\n{summary}"
        )
        self.messages[:] = [{"role": "user", "content": [{"type": "text", "text": text}]}]
        message = {"role": "user", "content": text}
        self.emit(self.frame("user", parent_tool_use_id=None, message=message))
        replay = {"role": "user", "content": local_output("Compacted ")}
        self.emit(self.frame("user", parent_tool_use_id=None, isReplay=True, message=replay))
        return self.result(turn, "success", result="")

    def init_message(self) -> dict[str, Any]:
        servers = [
            {"name": name, "status": "connected" if c.get("type") == "sdk" else "failed"}
            for name, c in self.args.mcp_servers.items()
        ]
        return self.frame(
            "system",
            subtype="init",
            cwd=os.getcwd(),
            tools=self.tools.names,
            mcp_servers=servers,
            model=self.model,
            permissionMode=self.tools.permission_mode,
            slash_commands=["compact"],
            apiKeySource="none",
            claude_code_version=VERSION,
            output_style="default",
            fake=True,
        )

    def result(
        self, turn: Turn, subtype: str, is_error: bool = False, **fields: Any
    ) -> dict[str, Any]:
        return self.frame("result", **result_fields(turn, self.model, subtype, is_error, **fields))


def auth_status() -> int:
    """`claude auth status`: logged in once `$CLAUDE_CONFIG_DIR/.credentials.json` exists."""
    config = Path(os.environ.get("CLAUDE_CONFIG_DIR", Path.home() / ".claude"))
    logged_in = (config / ".credentials.json").exists()
    sys.stdout.write(json.dumps({"loggedIn": logged_in, "authMethod": "fake"}) + "\n")
    return 0 if logged_in else 1


def main(argv: list[str] | None = None) -> int:
    words = sys.argv[1:] if argv is None else argv
    if words[:2] == ["auth", "status"]:
        return auth_status()
    args = parse_args(words)
    if args.version:
        sys.stdout.write(f"{VERSION} (Claude Code, fake)\n")
        return 0
    try:
        cli = FakeCli(args, os.environ)
    except LookupError as e:
        sys.stderr.write(f"{e}\n")
        return 1
    return asyncio.run(cli.run())
