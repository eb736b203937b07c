"""The stand-ins for the model, proven against the real claude CLI and the SDK.

The real CLI is the one bundled in the claude-agent-sdk wheel (2.1.330 with
SDK 0.2.187), pointed at `hive_dev.fakes.messages_api`. What these tests pin
down about it decides how the harness reads a turn's outcome:

- 429: the CLI retries by itself. Each retry is a `SystemMessage` with
  subtype `api_retry` and data `attempt`, `max_retries` (10 unless
  `CLAUDE_CODE_MAX_RETRIES`), `retry_delay_ms`, `error_status` 429 and
  `error` "rate_limit". The delay follows `retry-after` (plus up to ~25%
  jitter) when that is at most 60 s, else 0.5 s doubling to a 32 s cap: about
  three minutes before the error surfaces with the default 10 retries. A
  `retry-after` above 60 s is not retried at all: the error surfaces at once.
- Once retries are spent (or for an error not retried) the turn ends with an
  `AssistantMessage` whose `model` is "<synthetic>", whose `error` names the
  kind ("rate_limit", "authentication_failed", "invalid_request",
  "server_error") and whose text is the CLI's prose, then a `ResultMessage`
  with subtype "success" (sic), `is_error` True, `api_error_status` (429,
  401, 400, 529), `terminal_reason` "api_error" ("prompt_too_long" for a
  400 "prompt is too long") and the prose in `result`; the raw result also
  carries `api_error_type` (e.g. "authentication_error"). A
  `ClaudeSDKClient` stays usable for the next turn. `query()` instead raises
  `claude_agent_sdk.ResultError` (a `ProcessError`) after yielding that
  result, with the same `subtype`, `api_error_status`, `terminal_reason`,
  `result`, and the raw payload in `data`.
- 401 is retried like 429 (error "authentication_failed"); its text is
  "Invalid API key · Fix external API key".
- Logged in with a subscription token (`CLAUDE_CODE_OAUTH_TOKEN`; requests
  then carry `Authorization: Bearer`), every answer also yields a
  `RateLimitEvent`: status "allowed" normally; a 429 with the
  `anthropic-ratelimit-unified-*` headers of a spent window gives status
  "rejected" with `resets_at` (epoch seconds) and `rate_limit_type`
  ("five_hour"), is not retried, and ends the turn as above with the text
  "You've hit your 5-hour limit · resets <time> (UTC)". A 401 there reads
  "Failed to authenticate. API Error: 401 <message>" (observed, not tested).
- 400 "prompt is too long" is not retried. On a single exchange it ends the
  turn as above; with history to spare the CLI compacts by itself (system
  `status` "compacting", `compact_boundary`, a summary request the stand-in
  sees with `side == "compaction"`) and retries the turn, which then succeeds.
- Usage: each `AssistantMessage.usage` is one API call's `message_start`
  usage (`input_tokens`, `cache_read_input_tokens`,
  `cache_creation_input_tokens`): the context watermark. `ResultMessage.usage`
  sums the turn's calls (`output_tokens` from `message_delta`), and
  `model_usage[model]["contextWindow"]` gives the window (1,000,000 for
  claude-haiku-5-5).
- An interrupt ends the turn with a `UserMessage` "[Request interrupted by
  user]" and a `ResultMessage` subtype "error_during_execution",
  terminal_reason "aborted_streaming".
- Resume: a second client with `resume=<session_id>` keeps the session id,
  and its first request carries the first client's messages.
- The CLI defers MCP tools behind ToolSearch unless `ENABLE_TOOL_SEARCH=false`;
  the model may still call them by name.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import claude_agent_sdk
import pytest
from claude_agent_sdk import (
    AssistantMessage,
    CanUseTool,
    ClaudeAgentOptions,
    ClaudeSDKClient,
    McpSdkServerConfig,
    Message,
    PermissionResultAllow,
    PermissionResultDeny,
    RateLimitEvent,
    ResultError,
    ResultMessage,
    SystemMessage,
    TextBlock,
    ToolPermissionContext,
    UserMessage,
    create_sdk_mcp_server,
    query,
    tool,
)

from hive_dev.fakes.fake_cli import fake_cli_env, read_records, write_fake_cli
from hive_dev.fakes.messages_api import ApiProcess, MessagesApi
from hive_dev.fakes.script import (
    ApiError,
    ApiRequest,
    Match,
    Reply,
    Script,
    ToolCall,
    Usage,
    read_script,
    write_script,
)

T = TypeVar("T")
TURN_TIMEOUT = 30
BUNDLED_CLI = Path(claude_agent_sdk.__file__).parent / "_bundled" / "claude"


def run(coro: Coroutine[Any, Any, T]) -> T:
    async def bounded() -> T:
        async with asyncio.timeout(TURN_TIMEOUT):
            return await coro

    return asyncio.run(bounded())


@pytest.fixture
def claude_cli() -> Path:
    if not BUNDLED_CLI.is_file():
        pytest.fail(
            f"the claude CLI bundled with claude-agent-sdk is missing at {BUNDLED_CLI}: "
            "install the platform wheel (pip install claude-agent-sdk), not the sdist"
        )
    return BUNDLED_CLI


def real_options(
    cli: Path, api: MessagesApi, tmp_path: Path, max_retries: int | None = None, **kw: Any
) -> ClaudeAgentOptions:
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    return ClaudeAgentOptions(
        cli_path=cli,
        env=api.cli_env(tmp_path / "home", max_retries),
        setting_sources=[],
        model="haiku",
        cwd=work,
        system_prompt="You are a test agent.",
        **kw,
    )


async def turn(client: ClaudeSDKClient, prompt: str) -> list[Message]:
    await client.query(prompt)
    return [message async for message in client.receive_response()]


async def one_turn(options: ClaudeAgentOptions, prompt: str) -> list[Message]:
    """Connect, run one turn, disconnect."""
    async with ClaudeSDKClient(options) as client:
        messages = await turn(client, prompt)
    return messages


def result_of(messages: list[Message]) -> ResultMessage:
    results = [m for m in messages if isinstance(m, ResultMessage)]
    assert len(results) == 1, messages
    return results[0]


def texts(messages: list[Message]) -> list[str]:
    return [
        block.text
        for m in messages
        if isinstance(m, AssistantMessage)
        for block in m.content
        if isinstance(block, TextBlock)
    ]


def system(messages: list[Message], subtype: str) -> list[dict[str, Any]]:
    return [m.data for m in messages if isinstance(m, SystemMessage) and m.subtype == subtype]


def hive_server(sent: list[dict[str, Any]]) -> McpSdkServerConfig:
    @tool("send", "Send a message to another agent", {"to": str, "body": str})
    async def send(args: dict[str, Any]) -> dict[str, Any]:
        sent.append(args)
        return {"content": [{"type": "text", "text": f"delivered to {args['to']}"}]}

    return create_sdk_mcp_server("hive", tools=[send])


def bash_gate(allowed: str, asked: list[str]) -> CanUseTool:
    """Allow exactly `allowed`, deny anything else; note every command asked about."""

    async def can_use_tool(
        name: str, tool_input: dict[str, Any], context: ToolPermissionContext
    ) -> PermissionResultAllow | PermissionResultDeny:
        asked.append(str(tool_input.get("command")))
        if name == "Bash" and tool_input.get("command") == allowed:
            return PermissionResultAllow()
        return PermissionResultDeny(message="not on this agent's allow-list")

    return can_use_tool


# -- the real CLI against the stand-in API ------------------------------------


def test_real_cli_plain_text_turn(claude_cli: Path, tmp_path: Path) -> None:
    async def scenario() -> None:
        async with MessagesApi([Reply(text="hello from the stand-in")]) as api:
            options = real_options(claude_cli, api, tmp_path)
            async with ClaudeSDKClient(options) as client:
                messages = await turn(client, "say hello")
        assert texts(messages) == ["hello from the stand-in"]
        result = result_of(messages)
        assert (result.subtype, result.is_error, result.result) == (
            "success",
            False,
            "hello from the stand-in",
        )
        (call,) = api.model_calls
        assert (call.model, call.stream, call.reply_index) == ("claude-haiku-5-5", True, 0)
        assert "You are a test agent." in call.system
        assert call.last_user_text.endswith("say hello")
        assert "Bash" in call.tool_names
        assert not api.script.unused()

    run(scenario())


def test_real_cli_calls_in_process_mcp_tool(claude_cli: Path, tmp_path: Path) -> None:
    sent: list[dict[str, Any]] = []
    send = ToolCall("mcp__hive__send", {"to": "bob", "body": "hi"}, id="toolu_send")
    replies = [
        Reply(tool_calls=[send], match=Match(has_tool="mcp__hive__send")),
        Reply(text="sent", match=Match(tool_result_for="toolu_send")),
    ]

    async def scenario() -> None:
        async with MessagesApi(replies) as api:
            options = real_options(
                claude_cli,
                api,
                tmp_path,
                mcp_servers={"hive": hive_server(sent)},
                allowed_tools=["mcp__hive__send"],
            )
            async with ClaudeSDKClient(options) as client:
                messages = await turn(client, "tell bob hi")
        assert sent == [{"to": "bob", "body": "hi"}]
        assert texts(messages) == ["sent"]
        assert result_of(messages).num_turns == 2
        follow_up = api.model_calls[1]
        result = follow_up.tool_result("toolu_send")
        assert result is not None and "delivered to bob" in json.dumps(result["content"])
        assert not api.script.unused()

    run(scenario())


def test_real_cli_bash_decided_by_can_use_tool(claude_cli: Path, tmp_path: Path) -> None:
    made, victim = tmp_path / "made-by-bash", tmp_path / "victim"
    victim.mkdir()
    allowed, refused = f"touch {made}", f"rm -rf {victim}"
    replies = [
        Reply(tool_calls=[ToolCall("Bash", {"command": allowed}, id="toolu_ok")]),
        Reply(
            tool_calls=[ToolCall("Bash", {"command": refused}, id="toolu_no")],
            match=Match(tool_result_for="toolu_ok"),
        ),
        Reply(text="done", match=Match(tool_result_for="toolu_no")),
    ]
    asked: list[str] = []

    async def scenario() -> None:
        async with MessagesApi(replies) as api:
            options = real_options(
                claude_cli, api, tmp_path, can_use_tool=bash_gate(allowed, asked)
            )
            async with ClaudeSDKClient(options) as client:
                messages = await turn(client, "tidy up")
        assert asked == [allowed, refused]
        assert made.exists() and victim.exists()
        denial = api.model_calls[2].tool_result("toolu_no")
        assert denial is not None
        assert (denial["is_error"], denial["content"]) == (True, "not on this agent's allow-list")
        result = result_of(messages)
        assert [d["tool_use_id"] for d in result.permission_denials or []] == ["toolu_no"]

    run(scenario())


def test_real_cli_retries_429_itself_unless_retry_after_is_long(
    claude_cli: Path, tmp_path: Path
) -> None:
    replies = [
        Reply(error=ApiError.rate_limited(retry_after=0), match=Match(last_user_contains="one")),
        Reply(text="after the 429", match=Match(last_user_contains="one")),
        Reply(
            error=ApiError.rate_limited(retry_after=120),
            match=Match(last_user_contains="two"),
            times=None,
        ),
    ]

    async def scenario() -> None:
        async with MessagesApi(replies) as api:
            options = real_options(claude_cli, api, tmp_path, max_retries=1)
            async with ClaudeSDKClient(options) as client:
                retried = await turn(client, "one")
                refused = await turn(client, "two")
        (retry,) = system(retried, "api_retry")
        assert (retry["attempt"], retry["max_retries"], retry["error_status"]) == (1, 1, 429)
        assert retry["error"] == "rate_limit"
        assert texts(retried) == ["after the 429"] and not result_of(retried).is_error

        assert system(refused, "api_retry") == []
        (said,) = [m for m in refused if isinstance(m, AssistantMessage)]
        assert (said.model, said.error) == ("<synthetic>", "rate_limit")
        result = result_of(refused)
        assert (result.subtype, result.is_error, result.api_error_status) == ("success", True, 429)
        assert result.terminal_reason == "api_error"
        assert result.result is not None and result.result.startswith("API Error: Request rejected")
        assert len(api.model_calls) == 3

    run(scenario())


def test_real_cli_401_is_an_error_result_or_a_result_error(
    claude_cli: Path, tmp_path: Path
) -> None:
    async def scenario() -> None:
        async with MessagesApi([Reply(error=ApiError.unauthorized(), times=None)]) as api:
            options = real_options(claude_cli, api, tmp_path, max_retries=0)
            async with ClaudeSDKClient(options) as client:
                first = await turn(client, "hello")
                second = await turn(client, "hello again")
            with pytest.raises(ResultError) as raised:
                async for _ in query(prompt="one shot", options=options):
                    pass
        (said,) = [m for m in first if isinstance(m, AssistantMessage)]
        assert said.error == "authentication_failed"
        assert texts(first) == ["Invalid API key · Fix external API key"]
        for result in (result_of(first), result_of(second)):
            assert (result.subtype, result.is_error) == ("success", True)
            assert (result.api_error_status, result.terminal_reason) == (401, "api_error")
        error = raised.value
        assert (error.subtype, error.api_error_status, error.terminal_reason) == (
            "success",
            401,
            "api_error",
        )
        assert error.data["api_error_type"] == "authentication_error"
        assert error.exit_code == 1
        assert "Invalid API key" in str(error)

    run(scenario())


def test_real_cli_subscription_limit_is_a_rate_limit_event(
    claude_cli: Path, tmp_path: Path
) -> None:
    resets_at = 1_900_000_000
    replies = [
        Reply(text="fine", match=Match(last_user_contains="one")),
        Reply(error=ApiError.subscription_limit(resets_at), match=Match(last_user_contains="two")),
    ]

    async def scenario() -> None:
        async with MessagesApi(replies) as api:
            env = api.cli_env(tmp_path / "home", max_retries=1, oauth_token="sk-ant-oat01-test")
            options = dataclasses.replace(real_options(claude_cli, api, tmp_path), env=env)
            async with ClaudeSDKClient(options) as client:
                fine = await turn(client, "one")
                spent = await turn(client, "two")
        assert [e.rate_limit_info.status for e in fine if isinstance(e, RateLimitEvent)] == [
            "allowed"
        ]
        (event,) = [e for e in spent if isinstance(e, RateLimitEvent)]
        info = event.rate_limit_info
        assert (info.status, info.resets_at, info.rate_limit_type) == (
            "rejected",
            resets_at,
            "five_hour",
        )
        assert system(spent, "api_retry") == []
        (said,) = [m for m in spent if isinstance(m, AssistantMessage)]
        assert said.error == "rate_limit"
        assert texts(spent)[0].startswith("You've hit your 5-hour limit")
        result = result_of(spent)
        assert (result.is_error, result.api_error_status) == (True, 429)
        assert api.model_calls[0].headers["Authorization"] == "Bearer sk-ant-oat01-test"

    run(scenario())


def test_real_cli_reports_usage_for_a_context_watermark(claude_cli: Path, tmp_path: Path) -> None:
    usage = Usage(
        input_tokens=150_000,
        output_tokens=42,
        cache_read_input_tokens=1_000,
        cache_creation_input_tokens=500,
    )

    async def scenario() -> None:
        async with MessagesApi([Reply(text="big", usage=usage)]) as api:
            messages = await one_turn(real_options(claude_cli, api, tmp_path), "fill the context")
        (said,) = [m for m in messages if isinstance(m, AssistantMessage)]
        assert said.usage is not None
        assert (said.usage["input_tokens"], said.usage["cache_read_input_tokens"]) == (
            150_000,
            1_000,
        )
        result = result_of(messages)
        assert result.usage is not None
        assert {k: result.usage[k] for k in usage.to_dict()} == usage.to_dict()
        assert result.model_usage is not None
        assert result.model_usage["claude-haiku-5-5"]["contextWindow"] > 0

    run(scenario())


def test_real_cli_prompt_too_long_ends_the_turn_or_compacts(
    claude_cli: Path, tmp_path: Path
) -> None:
    replies = [
        Reply(error=ApiError.prompt_too_long(), match=Match(last_user_contains="first")),
        Reply(text="second answer", match=Match(last_user_contains="second")),
        Reply(error=ApiError.prompt_too_long(), match=Match(last_user_contains="third")),
        Reply(text="<summary>SUMMARY-XYZ</summary>", match=Match(side="compaction"), times=None),
        Reply(text="third answer", match=Match(last_user_contains="third")),
    ]

    async def scenario() -> None:
        async with (
            MessagesApi(replies) as api,
            ClaudeSDKClient(real_options(claude_cli, api, tmp_path)) as client,
        ):
            lone = await turn(client, "first")
            await turn(client, "second")
            compacted = await turn(client, "third")
        (said,) = [m for m in lone if isinstance(m, AssistantMessage)]
        assert (said.model, said.error) == ("<synthetic>", "invalid_request")
        result = result_of(lone)
        assert (result.is_error, result.api_error_status) == (True, 400)
        assert result.terminal_reason == "prompt_too_long"
        assert result.result is not None and result.result.startswith("Prompt is too long")

        assert system(compacted, "compact_boundary")
        assert texts(compacted) == ["third answer"] and not result_of(compacted).is_error
        assert [r.side for r in api.model_calls].count("compaction") >= 1
        assert "SUMMARY-XYZ" in api.model_calls[-1].all_text()

    run(scenario())


def test_real_cli_resumes_a_session_in_a_second_client(claude_cli: Path, tmp_path: Path) -> None:
    replies = [
        Reply(text="noted: kumquat", match=Match(last_user_contains="remember")),
        Reply(text="it was kumquat", match=Match(last_user_contains="recall")),
    ]
    with MessagesApi(replies) as api:  # served from a thread, for a sync test
        options = real_options(claude_cli, api, tmp_path)

        session_id = result_of(run(one_turn(options, "remember kumquat"))).session_id
        resumed = dataclasses.replace(options, resume=session_id)
        messages = run(one_turn(resumed, "recall the fruit"))
        calls = api.model_calls
    assert result_of(messages).session_id == session_id
    assert texts(messages) == ["it was kumquat"]
    assert [c.reply_index for c in calls] == [0, 1]
    assert "noted: kumquat" in calls[1].all_text() and "remember kumquat" in calls[1].all_text()
    assert calls[1].headers.get("X-Claude-Code-Session-Id") == session_id


# -- the stand-in on its own ---------------------------------------------------


def test_messages_api_process_answers_json_probes_and_records(tmp_path: Path) -> None:
    script = write_script(
        tmp_path / "script.json",
        [Reply(tool_calls=[ToolCall("mcp__hive__send", {"to": "ann"}, id="toolu_1")])],
    )
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": False}

    def post(url: str, payload: dict[str, Any]) -> tuple[int, Any]:
        data = json.dumps(payload).encode()
        request = urllib.request.Request(url, data, {"content-type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())

    with ApiProcess(script, tmp_path) as api:
        status, message = post(f"{api.url}/v1/messages", body)
        assert status == 200 and message["stop_reason"] == "tool_use"
        assert message["content"] == [
            {"type": "tool_use", "id": "toolu_1", "name": "mcp__hive__send", "input": {"to": "ann"}}
        ]
        status, message = post(f"{api.url}/v1/messages", body)
        assert status == 200 and message["content"] == [{"type": "text", "text": "ok"}]
        assert post(f"{api.url}/v1/messages/count_tokens", body)[0] == 200
        status, error = post(f"{api.url}/v1/unknown", body)
        assert status == 404 and error["error"]["type"] == "not_found_error"
        records = api.requests()
    assert [(r.path, r.reply_index, r.fallback) for r in records] == [
        ("/v1/messages", 0, False),
        ("/v1/messages", None, True),
        ("/v1/messages/count_tokens", None, False),
        ("/v1/unknown", None, False),
    ]


def test_script_round_trips_and_matches(tmp_path: Path) -> None:
    replies = [
        Reply(
            text="t",
            tool_calls=[ToolCall("Bash", {"command": "ls"}, id="toolu_9")],
            usage=Usage(input_tokens=7),
            match=Match(last_user_contains="x", has_tool="Bash"),
            times=None,
            delay=0.5,
        ),
        Reply(error=ApiError.rate_limited(retry_after=3), match=Match(side="compaction")),
    ]
    assert read_script(write_script(tmp_path / "s.json", replies)) == replies

    def request(text: str, tools: list[str]) -> ApiRequest:
        body = {
            "messages": [{"role": "user", "content": [{"type": "text", "text": text}]}],
            "tools": [{"name": name} for name in tools],
        }
        return ApiRequest("POST", "/v1/messages?beta=true", {}, body)

    script = Script(replies)
    assert script.take(request("x", ["Bash"]))[0] == 0
    assert script.take(request("x", []))[0] is None  # has_tool fails: the fallback
    summary = request("Your task is to create a detailed summary of the conversation", [])
    assert summary.side == "compaction" and script.take(summary)[0] == 1
    assert script.unused() == []


# -- the fake CLI, through the SDK ---------------------------------------------


def fake_options(tmp_path: Path, replies: list[Reply], **kw: Any) -> ClaudeAgentOptions:
    script = write_script(tmp_path / "script.json", replies)
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env = {**fake_cli_env(script, tmp_path / "calls.jsonl"), "HOME": str(home)}
    return ClaudeAgentOptions(
        cli_path=write_fake_cli(tmp_path),
        env={**env, **kw.pop("env", {})},
        setting_sources=[],
        model="haiku",
        cwd=tmp_path,
        system_prompt="You are a test agent.",
        **kw,
    )


def test_fake_cli_text_turn(tmp_path: Path) -> None:
    messages = run(one_turn(fake_options(tmp_path, [Reply(text="hi there")]), "hello"))
    (init,) = system(messages, "init")
    assert init["model"] == "claude-haiku-5-5" and init["fake"] is True
    assert texts(messages) == ["hi there"]
    result = result_of(messages)
    assert (result.subtype, result.is_error, result.result, result.num_turns) == (
        "success",
        False,
        "hi there",
        1,
    )
    (call,) = read_records(tmp_path / "calls.jsonl")
    assert (call.model, call.system, call.last_user_text) == (
        "claude-haiku-5-5",
        "You are a test agent.",
        "hello",
    )


def test_fake_cli_calls_in_process_mcp_tool(tmp_path: Path) -> None:
    sent: list[dict[str, Any]] = []
    send = ToolCall("mcp__hive__send", {"to": "bob", "body": "hi"}, id="toolu_send")
    replies = [
        Reply(tool_calls=[send], match=Match(has_tool="mcp__hive__send")),
        Reply(text="sent", match=Match(tool_result_for="toolu_send")),
    ]
    options = fake_options(
        tmp_path, replies, mcp_servers={"hive": hive_server(sent)}, allowed_tools=["mcp__hive"]
    )

    messages = run(one_turn(options, "tell bob hi"))
    assert sent == [{"to": "bob", "body": "hi"}]
    assert texts(messages) == ["sent"]
    (tool_result,) = [m for m in messages if isinstance(m, UserMessage)]
    assert "delivered to bob" in json.dumps(tool_result.tool_use_result)
    calls = read_records(tmp_path / "calls.jsonl")
    assert [c.reply_index for c in calls] == [0, 1]


def test_fake_cli_can_use_tool_denial_reaches_the_model(tmp_path: Path) -> None:
    made = tmp_path / "made"
    allowed, refused = f"touch {made}", "rm -rf /"
    replies = [
        Reply(tool_calls=[ToolCall("Bash", {"command": allowed}, id="toolu_ok")]),
        Reply(
            tool_calls=[ToolCall("Bash", {"command": refused}, id="toolu_no")],
            match=Match(tool_result_for="toolu_ok"),
        ),
        Reply(text="done", match=Match(tool_result_for="toolu_no")),
    ]
    asked: list[str] = []
    options = fake_options(tmp_path, replies, can_use_tool=bash_gate(allowed, asked))

    messages = run(one_turn(options, "tidy up"))
    assert asked == [allowed, refused] and made.exists()
    denial = read_records(tmp_path / "calls.jsonl")[2].tool_result("toolu_no")
    assert denial is not None
    assert (denial["is_error"], denial["content"]) == (True, "not on this agent's allow-list")
    assert [d["tool_use_id"] for d in result_of(messages).permission_denials or []] == ["toolu_no"]


def test_fake_cli_interrupt_mid_turn(tmp_path: Path) -> None:
    replies = [
        Reply(text="too slow", delay=30, match=Match(last_user_contains="slow")),
        Reply(text="quick", match=Match(last_user_contains="quick")),
    ]

    async def scenario() -> tuple[list[Message], list[Message]]:
        async with ClaudeSDKClient(fake_options(tmp_path, replies)) as client:
            await client.query("slow")
            await asyncio.sleep(0.2)
            await client.interrupt()
            interrupted = [m async for m in client.receive_response()]
            after = await turn(client, "quick")
        return interrupted, after

    interrupted, after = run(scenario())
    said = [m.content for m in interrupted if isinstance(m, UserMessage)]
    assert said == [[TextBlock(text="[Request interrupted by user]")]]
    result = result_of(interrupted)
    assert (result.subtype, result.is_error, result.terminal_reason) == (
        "error_during_execution",
        True,
        "aborted_streaming",
    )
    assert texts(after) == ["quick"]


def test_fake_cli_error_results(tmp_path: Path) -> None:
    replies = [
        Reply(error=ApiError.rate_limited(), match=Match(last_user_contains="busy"), times=None),
        Reply(error=ApiError.unauthorized(), match=Match(last_user_contains="key"), times=None),
        Reply(
            error=ApiError.subscription_limit(1_900_000_000),
            match=Match(last_user_contains="spent"),
        ),
    ]
    options = fake_options(tmp_path, replies, env={"CLAUDE_CODE_MAX_RETRIES": "3"})

    async def scenario() -> tuple[list[Message], list[Message], ResultError]:
        async with ClaudeSDKClient(options) as client:
            busy = await turn(client, "busy")
            spent = await turn(client, "spent")
        with pytest.raises(ResultError) as raised:
            async for _ in query(prompt="bad key", options=options):
                pass
        return busy, spent, raised.value

    busy, spent, error = run(scenario())
    assert [r["attempt"] for r in system(busy, "api_retry")] == [1, 2, 3]
    (said,) = [m for m in busy if isinstance(m, AssistantMessage)]
    assert (said.model, said.error) == ("<synthetic>", "rate_limit")
    result = result_of(busy)
    assert (result.subtype, result.is_error, result.api_error_status) == ("success", True, 429)
    (event,) = [e for e in spent if isinstance(e, RateLimitEvent)]
    assert (event.rate_limit_info.status, event.rate_limit_info.resets_at) == (
        "rejected",
        1_900_000_000,
    )
    assert system(spent, "api_retry") == [] and result_of(spent).api_error_status == 429
    assert (error.api_error_status, error.terminal_reason, error.exit_code) == (401, "api_error", 1)
    assert error.data["api_error_type"] == "authentication_error"


def test_fake_cli_resume_shares_the_script_and_the_history(tmp_path: Path) -> None:
    replies = [Reply(text="noted"), Reply(text="recalled")]
    options = fake_options(tmp_path, replies)

    session_id = result_of(run(one_turn(options, "remember kumquat"))).session_id
    resumed = dataclasses.replace(options, resume=session_id)  # the same script, half used
    messages = run(one_turn(resumed, "recall"))
    assert result_of(messages).session_id == session_id
    assert texts(messages) == ["recalled"]
    last = read_records(tmp_path / "calls.jsonl")[-1]
    assert "remember kumquat" in last.all_text() and "noted" in last.all_text()


def test_fake_cli_is_one_executable_on_this_interpreter(tmp_path: Path) -> None:
    cli = write_fake_cli(tmp_path)
    out = subprocess.run([str(cli), "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("2.1.330")
    assert sys.executable in cli.read_text().splitlines()[0]


def test_fake_cli_compacts_on_request(tmp_path: Path) -> None:
    replies = [
        Reply(text="long story"),
        Reply(
            text="<analysis>a</analysis><summary>THE GIST</summary>", match=Match(side="compaction")
        ),
        Reply(text="carry on", match=Match(last_user_contains="next")),
    ]

    async def scenario() -> list[Message]:
        async with ClaudeSDKClient(fake_options(tmp_path, replies)) as client:
            await turn(client, "tell me")
            compacted = await turn(client, "/compact")
            await turn(client, "next")
        return compacted

    compacted = run(scenario())
    assert system(compacted, "compact_boundary") and not result_of(compacted).is_error
    calls = read_records(tmp_path / "calls.jsonl")
    assert [c.side for c in calls] == [None, "compaction", None]
    assert "THE GIST" in calls[2].all_text() and "long story" not in calls[2].all_text()
