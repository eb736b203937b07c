"""The demo's built-in model: its rules, its wire format, and the real claude CLI against it.

The CLI is the one bundled in the claude-agent-sdk wheel, talking to
`hive_dev.demo.model` with an in-process `hive` MCP server standing in for
the harness's, so the tool calls below are made by the real CLI.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
import urllib.request
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import pytest
from claude_agent_sdk import (
    AssistantMessage,
    ClaudeAgentOptions,
    ClaudeSDKClient,
    McpSdkServerConfig,
    Message,
    ResultMessage,
    TextBlock,
    ToolUseBlock,
    create_sdk_mcp_server,
    tool,
)

from hive_ag3nt.model import STAND_IN_MODEL
from hive_ag3nt.prompt import REDELIVERED, mail_prompt
from hive_ag3nt.runner import CLI_DEFAULTS, bundled_cli
from hive_dev.demo.model import DemoModel
from hive_dev.demo.replies import (
    SEND_TOOL,
    Conversation,
    Mail,
    ToolOutcome,
    agent_name,
    answer,
    parse_mail,
    read_request,
)
from hive_dev.stand_in.shapes import ApiRequest
from hive_dev.stand_in.sse import sse_events

T = TypeVar("T")
TURN_TIMEOUT = 60
SEND_SCHEMA = {
    "type": "object",
    "properties": {"to": {"type": "string"}, "body": {"type": "string"},
                   "in_reply_to": {"type": "integer"}},
    "required": ["to", "body"],
}


def run(coro: Coroutine[Any, Any, T]) -> T:
    async def bounded() -> T:
        async with asyncio.timeout(TURN_TIMEOUT):
            return await coro

    return asyncio.run(bounded())


def ids(n: int) -> str:
    return f"toolu_{n}"


def conversation(text: str, name: str = "alice", tools: frozenset[str] = frozenset({SEND_TOOL})
                 ) -> Conversation:
    return Conversation(name=name, tools=tools, last_user_text=text)


# -- reading the prompt ---------------------------------------------------------


def test_parse_mail_reads_the_harness_prompt() -> None:
    prompt = mail_prompt([
        {"id": 12, "from": "operator", "body": "hello\n\nsecond paragraph"},
        {"id": 13, "from": "bob", "body": "thanks", "in_reply_to": 7, "redelivered": True},
        {"id": 14, "from": "system", "body": '{"event": "lifecycle"}'},
    ])
    assert parse_mail(prompt) == [
        Mail(12, "operator", "hello\n\nsecond paragraph"),
        Mail(13, "bob", "thanks", in_reply_to=7),
        Mail(14, "system", '{"event": "lifecycle"}'),
    ]
    assert REDELIVERED not in parse_mail(prompt)[1].body


def test_parse_mail_finds_nothing_in_other_prompts() -> None:
    assert parse_mail("say hello") == []
    assert parse_mail("/compact") == []


def test_agent_name_comes_from_the_appended_system_prompt() -> None:
    system = [
        {"type": "text", "text": "You are Claude Code, Anthropic's official CLI for Claude."},
        {"type": "text", "text": "You are an agent working with the user...\n\n"
                                 "You are bob, an agent in a hyperhive: a small team."},
    ]
    assert agent_name(system) == "bob"
    assert agent_name("You are manager, an agent in a hyperhive") == "manager"
    assert agent_name("You are Claude Code.") == "agent"


def test_read_request_skips_the_clis_system_messages_and_pairs_tool_results() -> None:
    body = {
        "system": "You are alice, an agent in a hyperhive.",
        "tools": [{"name": SEND_TOOL}, {"name": "Read"}],
        "messages": [
            {"role": "user", "content": "Message #3 from operator:\nhi"},
            {"role": "system", "content": "# Environment"},
            {"role": "assistant", "content": [
                {"type": "tool_use", "id": "t1", "name": SEND_TOOL,
                 "input": {"to": "operator", "body": "x", "in_reply_to": 3}}]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "t1",
                 "content": [{"type": "text", "text": '{"ids": [4]}'}]}]},
            {"role": "system", "content": [{"type": "text", "text": "<total_tokens>"}]},
        ],
    }
    found = read_request(ApiRequest("POST", "/v1/messages", {}, body))
    assert (found.name, found.tools) == ("alice", frozenset({SEND_TOOL, "Read"}))
    assert found.tool_results == (ToolOutcome("t1", False, '{"ids": [4]}', "operator"),)


# -- answering ------------------------------------------------------------------


def test_new_mail_is_answered_with_a_send_to_its_sender() -> None:
    reply = answer(conversation("Message #12 from operator:\nhello there"), ids)
    assert reply.stop_reason == "tool_use"
    (call,) = [b for b in reply.content if b["type"] == "tool_use"]
    assert call == {"type": "tool_use", "id": "toolu_0", "name": SEND_TOOL,
                    "input": {"to": "operator", "in_reply_to": 12,
                              "body": "alice here: I got your message: hello there"}}


def test_each_message_gets_its_own_send_and_events_only_a_note() -> None:
    text = mail_prompt([
        {"id": 3, "from": "operator", "body": "one"},
        {"id": 4, "from": "system", "body": '{"event": "lifecycle", "action": "spawn"}'},
        {"id": 5, "from": "bob", "body": "two"},
    ])
    reply = answer(conversation(text), ids)
    calls = [b for b in reply.content if b["type"] == "tool_use"]
    assert [(c["id"], c["input"]["to"], c["input"]["in_reply_to"]) for c in calls] == [
        ("toolu_0", "operator", 3), ("toolu_1", "bob", 5)]
    assert "Noted #4: the lifecycle event (action spawn)." in reply.text


def test_the_quote_is_the_first_200_characters() -> None:
    reply = answer(conversation("Message #1 from operator:\n" + "x" * 500), ids)
    (call,) = [b for b in reply.content if b["type"] == "tool_use"]
    assert call["input"]["body"] == "alice here: I got your message: " + "x" * 200


def test_replies_from_agents_and_events_end_the_turn_in_text() -> None:
    for text in ("Message #9 from bob (reply to #8):\nthanks",
                 'Message #2 from system:\n{"event": "spawned", "agent": "bob"}'):
        reply = answer(conversation(text), ids)
        assert reply.stop_reason == "end_turn"
        assert [b["type"] for b in reply.content] == ["text"]
    operator_reply = answer(conversation("Message #9 from operator (reply to #8):\nok"), ids)
    assert operator_reply.stop_reason == "tool_use"


def test_no_send_tool_offered_means_no_tool_call() -> None:
    reply = answer(conversation("Message #1 from operator:\nhi", tools=frozenset()), ids)
    assert reply.stop_reason == "end_turn"
    assert f"no {SEND_TOOL} tool" in reply.text


def test_after_the_tool_results_the_turn_ends_with_text() -> None:
    done = Conversation("alice", frozenset({SEND_TOOL}), "", (
        ToolOutcome("t1", False, "{}", "operator"), ToolOutcome("t2", True, "refused", "carol"),
        ToolOutcome("t3", False, "{}", "operator")))
    reply = answer(done, ids)
    assert reply.stop_reason == "end_turn"
    assert reply.text == "Replied to operator. My reply to carol failed: refused"


def test_side_requests_get_plain_text() -> None:
    summary = answer(conversation("Please create a detailed summary of the conversation"), ids)
    assert summary.text.startswith("<summary>") and summary.stop_reason == "end_turn"
    prompt = answer(conversation("what are you?", name="bob"), ids)
    assert prompt.text.startswith("bob here.") and "stand-in" in prompt.text


def test_answers_are_deterministic() -> None:
    text = "Message #1 from operator:\nhi\n\nMessage #2 from bob:\nyo"
    assert answer(conversation(text), ids) == answer(conversation(text), ids)


def test_stream_events_follow_the_apis_order() -> None:
    reply = answer(conversation("Message #1 from operator:\nhi"), ids)
    message = {"id": "m", "type": "message", "role": "assistant", "model": "x",
               "content": list(reply.content), "stop_reason": reply.stop_reason,
               "stop_sequence": None, "usage": {"input_tokens": 9, "output_tokens": 4}}
    events = list(sse_events(message))
    names = [name for name, _ in events]
    assert names[:2] == ["message_start", "ping"]
    assert names[-2:] == ["message_delta", "message_stop"]
    assert names.count("content_block_start") == names.count("content_block_stop") == 2
    assert events[0][1]["message"]["content"] == []
    partial = "".join(data["delta"]["partial_json"] for name, data in events
                      if name == "content_block_delta" and data["index"] == 1)
    assert json.loads(partial) == reply.content[1]["input"]
    assert events[-2][1]["delta"]["stop_reason"] == "tool_use"


# -- over HTTP ------------------------------------------------------------------


MAIL_REQUEST = {
    "model": "claude-haiku-5-5", "max_tokens": 100,
    "system": [{"type": "text", "text": "You are bob, an agent in a hyperhive."}],
    "tools": [{"name": SEND_TOOL, "input_schema": SEND_SCHEMA}],
    "messages": [{"role": "user", "content": "Message #5 from alice:\nping"}],
}


def test_http_answers_as_the_messages_api() -> None:
    async def scenario() -> None:
        async with DemoModel() as model, aiohttp.ClientSession(model.url) as http:
            async with http.post("/v1/messages?beta=true", json=MAIL_REQUEST) as plain:
                assert plain.status == 200
                message = await plain.json()
            async with http.post("/v1/messages", json={**MAIL_REQUEST, "stream": True}) as sse:
                assert sse.headers["Content-Type"].startswith("text/event-stream")
                assert sse.headers["X-Hyperhive-Stand-In"] == "1"
                stream = await sse.text()
            async with http.post("/v1/messages/count_tokens", json=MAIL_REQUEST) as counted:
                tokens = await counted.json()
            async with http.head("/") as head, http.get("/") as root:
                assert (head.status, root.status) == (200, 200)
            async with http.get("/v1/models") as missing:
                error = await missing.json()
                assert missing.status == 404
            async with http.post("/v1/messages", data=b"not json") as bad:
                assert bad.status == 400

        # It says it is a stand-in: the harness shows "stand-in" and no cost for its turns.
        assert (message["type"], message["model"], message["stop_reason"]) == (
            "message", STAND_IN_MODEL, "tool_use")
        assert message["content"][1]["input"] == {
            "to": "alice", "in_reply_to": 5, "body": "bob here: I got your message: ping"}
        assert message["usage"]["input_tokens"] > 0
        events = [line.removeprefix("event: ") for line in stream.splitlines()
                  if line.startswith("event: ")]
        assert events[0] == "message_start" and events[-1] == "message_stop"
        assert "input_json_delta" in stream and "text_delta" in stream
        assert tokens["input_tokens"] > 0
        assert error["type"] == "error" and error["error"]["type"] == "not_found_error"

    run(scenario())


def test_runs_as_a_program_and_writes_its_port(tmp_path: Path) -> None:
    port_file = tmp_path / "port"
    process = subprocess.Popen(
        [sys.executable, "-m", "hive_dev.demo.model", "--port-file", str(port_file)],
        stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 20
        while not port_file.exists():
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            assert time.monotonic() < deadline, "no port file"
            time.sleep(0.05)
        port = int(port_file.read_text())
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as root:
            assert root.status == 200
    finally:
        process.terminate()
        assert process.wait(timeout=10) == 0
        if process.stderr is not None:
            process.stderr.close()


# -- the real claude CLI against it ---------------------------------------------


@pytest.fixture
def claude_cli() -> str:
    cli = bundled_cli()
    if not Path(cli).is_file():
        pytest.fail(f"the claude CLI bundled with claude-agent-sdk is missing at {cli}")
    return cli


def hive_server(sent: list[dict[str, Any]]) -> McpSdkServerConfig:
    @tool("send", "Send a message", SEND_SCHEMA)
    async def send(args: dict[str, Any]) -> dict[str, Any]:
        sent.append(args)
        return {"content": [{"type": "text", "text": json.dumps({"ids": [100 + len(sent)]})}]}

    return create_sdk_mcp_server("hive", tools=[send])


def options(cli: str, model: DemoModel, tmp_path: Path, name: str,
            sent: list[dict[str, Any]], **extra: Any) -> ClaudeAgentOptions:
    """Much as the harness sets the CLI up (its preset prompt, its hive server)."""
    work, config = tmp_path / "work", tmp_path / "home" / ".claude"
    work.mkdir(exist_ok=True)
    config.mkdir(parents=True, exist_ok=True)
    env = {**CLI_DEFAULTS, "ANTHROPIC_BASE_URL": model.url, "ANTHROPIC_API_KEY": "demo-key",
           "DISABLE_AUTOUPDATER": "1", "HOME": str(tmp_path / "home"),
           "CLAUDE_CONFIG_DIR": str(config)}
    settings: dict[str, Any] = {
        "mcp_servers": {"hive": hive_server(sent)}, "allowed_tools": [SEND_TOOL],
        "tools": ["Read"], **extra}
    return ClaudeAgentOptions(
        cli_path=cli, env=env, setting_sources=[], model="haiku", cwd=str(work),
        system_prompt={"type": "preset", "preset": "claude_code",
                       "append": f"You are {name}, an agent in a hyperhive."},
        **settings)


async def turn(client: ClaudeSDKClient, prompt: str) -> list[Message]:
    await client.query(prompt)
    return [message async for message in client.receive_response()]


def tool_calls(messages: list[Message]) -> list[ToolUseBlock]:
    return [b for m in messages if isinstance(m, AssistantMessage)
            for b in m.content if isinstance(b, ToolUseBlock)]


def final_text(messages: list[Message]) -> str:
    said = [m for m in messages if isinstance(m, AssistantMessage)]
    return " ".join(b.text for b in said[-1].content if isinstance(b, TextBlock))


def result_of(messages: list[Message]) -> ResultMessage:
    (result,) = [m for m in messages if isinstance(m, ResultMessage)]
    return result


def test_real_cli_answers_mail_through_the_hive_send_tool(claude_cli: str,
                                                         tmp_path: Path) -> None:
    sent: list[dict[str, Any]] = []

    async def scenario() -> tuple[list[Message], list[Message]]:
        async with DemoModel() as model, ClaudeSDKClient(
                options(claude_cli, model, tmp_path, "alice", sent)) as client:
            mail = await turn(client, mail_prompt([
                {"id": 12, "from": "operator", "body": "hello from the operator"}]))
            event = await turn(client, mail_prompt([
                {"id": 13, "from": "system", "body": '{"event": "lifecycle"}'}]))
        return mail, event

    mail, event = run(scenario())
    assert sent == [{"to": "operator", "in_reply_to": 12,
                     "body": "alice here: I got your message: hello from the operator"}]
    (call,) = tool_calls(mail)
    assert call.name == SEND_TOOL
    assert final_text(mail) == "Replied to operator."
    result = result_of(mail)
    assert (result.is_error, result.num_turns, result.stop_reason) == (False, 2, "end_turn")

    assert tool_calls(event) == []
    assert final_text(event) == "Noted #13: the lifecycle event."
    assert not result_of(event).is_error


def test_real_cli_without_the_send_tool_only_answers_in_text(claude_cli: str,
                                                            tmp_path: Path) -> None:
    sent: list[dict[str, Any]] = []

    async def scenario() -> list[Message]:
        async with DemoModel() as model:
            setup = options(claude_cli, model, tmp_path, "bob", sent, mcp_servers={},
                            allowed_tools=[])
            async with ClaudeSDKClient(setup) as client:
                messages = await turn(client, "Message #4 from operator:\nhi bob")
        return messages

    messages = run(scenario())
    assert sent == [] and tool_calls(messages) == []
    assert f"no {SEND_TOOL} tool" in final_text(messages)
    assert not result_of(messages).is_error
