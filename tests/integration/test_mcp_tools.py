"""Every MCP tool of an agent and of the manager, called through the harness's own server.

The server is the one the harness hands the claude CLI (``build_server``),
spoken to as an MCP client would (list_tools, call_tool over the in-memory
MCP transport, with its schema checks), against a real daemon.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from mcp import ClientSession
from mcp.shared.memory import create_connected_server_and_client_session
from mcp.types import TextContent

from hive_ag3nt.hive import HiveConnection
from hive_ag3nt.tools import ToolFailures, build_server
from hive_c0re import wire
from hive_c0re.client import Client
from hive_c0re.wire import Kind
from hive_c0re.wire_fields import tool_schema
from hive_dev.daemon import DaemonProcess, running_daemon
from hive_m1nd.tools import PREPARE
from tests.integration.tool_calls import Scene, proposed_repos, set_scene


@pytest.fixture
def daemon() -> Iterator[DaemonProcess]:
    with running_daemon() as d:
        yield d


@contextlib.asynccontextmanager
async def mcp_client(socket: Path, kind: Kind, failures: ToolFailures
                     ) -> AsyncIterator[ClientSession]:
    hive = HiveConnection(socket)
    server = build_server(hive, kind, PREPARE if kind is Kind.MANAGER else None, failures)
    try:
        async with create_connected_server_and_client_session(server["instance"]) as client:
            yield client
    finally:
        await hive.close()


async def call_every_tool(scene: Scene, kind: Kind) -> list[str]:
    """Each call's answer checked; what the server listed compared with the wire."""
    failures = ToolFailures()
    async with mcp_client(scene.socket, kind, failures) as client:
        listed = (await client.list_tools()).tools
        verbs = wire.tools(kind)
        assert [t.name for t in listed] == list(verbs)
        for listed_tool in listed:
            verb = verbs[listed_tool.name]
            assert listed_tool.description == verb.tool
            assert listed_tool.inputSchema == tool_schema(verb.fields), verb.name
        calls = scene.calls(recv_wait=1)
        assert sorted(c.tool for c in calls) == sorted(verbs)  # every tool, once
        for call in calls:
            result = await client.call_tool(call.tool, call.args)
            (content,) = result.content
            assert isinstance(content, TextContent)
            answer: dict[str, Any] = json.loads(content.text)
            assert bool(result.isError) is call.error, (call.tool, answer)
            assert call.check(answer), (call.tool, answer)
    with Client(scene.socket) as mine:  # the leased mail, as a turn's end would
        mine.call("ack_turn")
    return failures.take()


def test_every_agent_tool_answers_through_a_real_daemon(daemon: DaemonProcess) -> None:
    scene = set_scene(daemon, "alice")
    assert asyncio.run(call_every_tool(scene, Kind.AGENT)) == []
    with Client(daemon.host_socket) as op:
        (reply,) = op.call("inbox")["messages"]
    assert (reply["from"], reply["body"], reply["in_reply_to"]) == ("alice", "hi", scene.hello)


def test_every_manager_tool_answers_through_a_real_daemon(
        daemon: DaemonProcess, monkeypatch: pytest.MonkeyPatch) -> None:
    scene = set_scene(daemon, "manager")
    monkeypatch.setenv("HYPERHIVE_AGENTS_DIR", str(proposed_repos(daemon)))
    assert asyncio.run(call_every_tool(scene, Kind.MANAGER)) == []
    with Client(daemon.host_socket) as op:
        pending = op.call("pending")["approvals"]
    assert {(a["agent"], a["kind"]) for a in pending} == {
        ("dave", "spawn"), ("erin", "init_config"), ("carol", "apply_commit")}


def test_a_tool_argument_the_wire_does_not_know_is_the_models_to_read(
        daemon: DaemonProcess) -> None:
    scene = set_scene(daemon, "alice")

    async def scenario() -> tuple[bool, str]:
        async with mcp_client(scene.socket, Kind.AGENT, ToolFailures()) as client:
            result = await client.call_tool("answer", {"question_id": scene.question,
                                                       "answer": "x"})
        (content,) = result.content
        assert isinstance(content, TextContent)
        return bool(result.isError), content.text

    error, text = asyncio.run(scenario())
    assert error and "question_id" in text  # refused before the daemon: never "answered"
    with Client(daemon.host_socket) as op:
        (question,) = [q for q in op.call("questions", all=True)["questions"]
                       if q["id"] == scene.question]
    assert question["status"] == "open"


def test_arguments_their_schema_refuses_unknown_tools_and_failures_are_tool_errors(
        daemon: DaemonProcess) -> None:
    scene = set_scene(daemon, "alice")

    def broken(arguments: dict[str, Any]) -> dict[str, Any]:
        raise RuntimeError("the container's side broke")

    async def scenario() -> list[tuple[bool, str]]:
        hive = HiveConnection(scene.socket)
        server = build_server(hive, Kind.AGENT, {"remind": broken}, ToolFailures())
        calls: list[tuple[str, dict[str, Any]]] = [
            ("send", {"to": "operator", "body": 7}),  # not a string
            ("send", {"to": "operator"}),  # no body
            ("no_such_tool", {}),
            ("remind", {"message": "later", "delay_seconds": 60}),
            ("send", {"to": "operator", "body": "still here"})]
        answers = []
        try:
            async with create_connected_server_and_client_session(server["instance"]) as c:
                for tool, args in calls:
                    result = await c.call_tool(tool, args)
                    (content,) = result.content
                    assert isinstance(content, TextContent)
                    answers.append((bool(result.isError), content.text))
        finally:
            await hive.close()
        return answers

    wrong_type, missing, unknown, failed, sent = asyncio.run(scenario())
    assert wrong_type == (True, "Input validation error: 7 is not of type 'string'")
    assert missing == (True, "Input validation error: 'body' is a required property")
    assert unknown == (True, "Tool 'no_such_tool' not found")
    assert failed == (True, "the container's side broke")
    assert sent[0] is False and json.loads(sent[1])["ids"]  # the server goes on
    with Client(daemon.host_socket) as op:  # only the last one reached the daemon
        assert [m["body"] for m in op.call("inbox")["messages"]] == ["still here"]
