"""The hive's MCP tools are the wire's verbs: names, schemas and aliases come from VERBS."""

from __future__ import annotations

import pytest

from hive_ag3nt.tools import allowed
from hive_c0re import wire
from hive_c0re.errors import InvalidInput
from hive_c0re.wire import VERBS, Kind
from hive_c0re.wire_fields import from_tool, tool_schema

AGENT_TOOLS = {"whoami", "send", "recv", "ask", "answer", "remind", "get_open_threads",
               "cancel_thread"}
MANAGER_TOOLS = AGENT_TOOLS | {"agent_status", "start", "stop", "restart", "update",
                               "get_logs", "request_spawn", "request_init_config",
                               "request_apply_commit"}


def test_each_socket_gets_the_tools_its_verbs_allow() -> None:
    assert set(wire.tools(Kind.AGENT)) >= AGENT_TOOLS
    assert set(wire.tools(Kind.MANAGER)) >= MANAGER_TOOLS
    for kind in (Kind.AGENT, Kind.MANAGER):
        assert all(kind in verb.sockets and verb.tool for verb in wire.tools(kind).values())
    assert allowed(Kind.MANAGER) == [f"mcp__hive__{name}" for name in wire.tools(Kind.MANAGER)]


def test_the_harness_bookkeeping_verbs_are_no_tools() -> None:
    for verb in ("ack_turn", "requeue_inflight", "report_login"):
        assert not VERBS[verb].tool


@pytest.mark.parametrize("kind", [Kind.AGENT, Kind.MANAGER])
def test_every_tool_schema_is_the_wires_for_its_verb(kind: Kind) -> None:
    requests = wire.json_schema()["requests"]
    for name, verb in wire.tools(kind).items():
        request = requests[name]
        renamed = {f.name: f.tool_name for f in verb.fields}
        # The frame's own keys (cmd, the request's id) are no tool arguments.
        expected = {renamed[key]: value for key, value in request["properties"].items()
                    if key in renamed}
        schema = tool_schema(verb.fields)
        assert schema["type"] == "object" and schema["additionalProperties"] is False
        assert schema["properties"] == expected, name
        assert sorted(schema["required"]) == sorted(
            renamed[key] for key in request["required"] if key in renamed), name


def test_aliases_are_on_the_fields_and_undone_for_the_wire() -> None:
    assert "id" in tool_schema(VERBS["answer"].fields)["properties"]
    answer, cancel = VERBS["answer"].fields, VERBS["cancel_thread"].fields
    assert from_tool("answer", answer, {"id": 3, "answer": "yes"}) == {
        "question_id": 3, "answer": "yes"}
    assert from_tool("cancel_thread", cancel, {"kind": "reminder", "id": 9}) == {
        "kind": "reminder", "thread_id": 9}


@pytest.mark.parametrize("argument", ["cmd", "question_id", "nonsense"])
def test_an_argument_the_tool_does_not_declare_is_refused(argument: str) -> None:
    with pytest.raises(InvalidInput, match=f"answer takes no argument '{argument}'"):
        from_tool("answer", VERBS["answer"].fields, {"id": 1, "answer": "x", argument: 2})


def test_every_hive_tool_a_prompt_names_is_offered_there() -> None:
    import re

    from hive_ag3nt.policy import Policy
    from hive_ag3nt.prompt import system_prompt
    from hive_m1nd.tools import PREPARE, PROMPT

    agent = system_prompt("alice", Policy(), "/state/notes.md")
    for text, kind in ((agent, Kind.AGENT), (agent + PROMPT, Kind.MANAGER)):
        named = set(re.findall(r"mcp__hive__(\w+)", text))
        assert named and named <= set(wire.tools(kind)), named - set(wire.tools(kind))
    # The manager's argument rewrites are for tools it has.
    assert set(PREPARE) <= set(wire.tools(Kind.MANAGER))
