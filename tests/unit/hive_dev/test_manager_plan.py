"""The demo's stand-in manager, asked for a new agent, makes the real manager's calls in turn.

Each request is built the way the claude CLI sends it (the conversation so far,
tool results in the last user message, the CLI's own system messages between),
and answered by :func:`hive_dev.demo.model.polite_answer`, the stand-in's entry.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from hive_ag3nt.prompt import mail_prompt
from hive_dev.demo import manager_plan as plan
from hive_dev.demo.model import polite_answer
from hive_dev.stand_in.shapes import Answer, ApiRequest

MANAGER_TOOLS = ["Bash", "Read", "Write", "Edit", "Glob", "Grep", plan.SEND_TOOL,
                 plan.INIT_TOOL, plan.APPLY_TOOL, "mcp__hive__request_spawn"]
SYSTEM = "You are manager, an agent in a hyperhive."


class Turn:
    """One mail turn of the manager: the prompt, then each answer and its tool results."""

    def __init__(self, mail: list[dict[str, Any]], tools: list[str] = MANAGER_TOOLS) -> None:
        self.tools = tools
        self.messages: list[dict[str, Any]] = [{"role": "user", "content": mail_prompt(mail)}]

    def ask(self) -> Answer:
        body = {"system": SYSTEM, "tools": [{"name": t} for t in self.tools],
                "messages": self.messages}
        reply = polite_answer(ApiRequest("POST", "/v1/messages", {}, body, seq=len(self.messages)))
        self.messages.append({"role": "assistant", "content": list(reply.content)})
        return reply

    def give(self, results: dict[str, tuple[str, bool]]) -> None:
        """The CLI's results for the last answer's calls, by tool name: (text, is_error)."""
        calls = [b for b in self.messages[-1]["content"] if b["type"] == "tool_use"]
        self.messages.append({"role": "system", "content": "<system-reminder>"})
        self.messages.append({"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": c["id"], "is_error": results[c["name"]][1],
             "content": [{"type": "text", "text": results[c["name"]][0]}]} for c in calls]})


def calls(reply: Answer) -> list[tuple[str, dict[str, Any]]]:
    return [(b["name"], b["input"]) for b in reply.content if b["type"] == "tool_use"]


def approval(number: int, kind: str) -> str:
    return json.dumps({"approval": {"id": number, "agent": "carol", "kind": kind,
                                    "status": "pending"}})


def test_the_operators_request_seeds_the_config_and_names_the_approval() -> None:
    turn = Turn([{"id": 5, "from": "operator", "body": "Please create an agent named carol"}])
    assert calls(turn.ask()) == [(plan.INIT_TOOL, {
        "name": "carol", "description": "a new agent, asked by the operator in #5"})]
    turn.give({plan.INIT_TOOL: (approval(1, "init_config"), False)})
    ((tool, sent),) = calls(turn.ask())
    assert (tool, sent["to"]) == (plan.SEND_TOOL, "operator")
    assert "hive-c0re approve 1" in sent["body"]
    turn.give({plan.SEND_TOOL: ('{"ids": [6]}', False)})
    closing = turn.ask()
    assert calls(closing) == [] and closing.stop_reason == "end_turn"


def test_config_ready_edits_commits_and_asks_to_apply() -> None:
    ready = {"event": "config_ready", "agent": "carol", "path": "/agents/carol"}
    resolved = {"event": "approval_resolved", "agent": "carol", "request": "init_config",
                "status": "deployed"}
    turn = Turn([{"id": 8, "from": "system", "body": json.dumps(resolved)},
                 {"id": 9, "from": "system", "body": json.dumps(ready)}])
    path = "/agents/carol/agent.toml"
    assert calls(turn.ask()) == [("Read", {"file_path": path})]
    turn.give({"Read": ("allowed_bash = []", False)})
    assert calls(turn.ask()) == [("Edit", {"file_path": path, "old_string": plan.OLD_LINE,
                                           "new_string": plan.NEW_LINE})]
    turn.give({"Edit": ("The file has been updated.", False)})
    ((tool, bash),) = calls(turn.ask())
    assert tool == "Bash" and bash["command"].startswith("git -C /agents/carol ")
    assert " commit " in bash["command"]
    turn.give({"Bash": ("", False)})
    assert calls(turn.ask()) == [(plan.APPLY_TOOL, {
        "agent": "carol", "sha": "HEAD", "description": "carol's first config: it may list files"})]
    turn.give({plan.APPLY_TOOL: (approval(2, "apply_commit"), False)})
    ((tool, sent),) = calls(turn.ask())
    assert tool == plan.SEND_TOOL and "hive-c0re approve 2" in sent["body"]


def test_a_failed_step_ends_the_plan_with_what_failed() -> None:
    turn = Turn([{"id": 9, "from": "system",
                  "body": json.dumps({"event": "config_ready", "agent": "carol"})}])
    turn.ask()
    turn.give({"Read": ("File does not exist.", True)})
    ((tool, sent),) = calls(turn.ask())
    assert tool == plan.SEND_TOOL and sent["to"] == "operator"
    assert "Read failed" in sent["body"] and "does not exist" in sent["body"]
    turn.give({plan.SEND_TOOL: ('{"ids": [10]}', False)})
    assert calls(turn.ask()) == []


def test_an_agent_seeded_before_gets_its_existing_repo_edited() -> None:
    turn = Turn([{"id": 5, "from": "operator", "body": "create an agent named carol"}])
    turn.ask()
    refusal = json.dumps({"error": "carol already has a proposed config repo", "hint": None})
    turn.give({plan.INIT_TOOL: (refusal, True)})
    assert calls(turn.ask()) == [("Read", {"file_path": "/agents/carol/agent.toml"})]


def test_the_deployed_apply_is_announced_to_the_operator() -> None:
    done = {"event": "approval_resolved", "agent": "carol", "request": "apply_commit",
            "status": "deployed"}
    ((tool, sent),) = calls(Turn([{"id": 11, "from": "system", "body": json.dumps(done)}]).ask())
    assert tool == plan.SEND_TOOL and "carol is up" in sent["body"]


def test_other_mail_still_gets_the_polite_echo_and_agents_never_plan() -> None:
    turn = Turn([{"id": 3, "from": "operator", "body": "hello, manager"},
                 {"id": 4, "from": "operator", "body": "create an agent named dave"}])
    assert [(t, i.get("name") or i.get("to")) for t, i in calls(turn.ask())] == [
        (plan.INIT_TOOL, "dave"), (plan.SEND_TOOL, "operator")]
    alice = Turn([{"id": 3, "from": "operator", "body": "create an agent named dave"}],
                 tools=[plan.SEND_TOOL, "Read"])
    assert [t for t, _ in calls(alice.ask())] == [plan.SEND_TOOL]


@pytest.mark.parametrize(("words", "name"), [
    ("please create an agent named carol", "carol"),
    ("Make a new agent called `dave-2`.", "dave-2"),
    ("spawn agent erin please", "erin"),
    ("create an agent named manager", None),
    ("what agents are there?", None),
    ("hello, manager", None),
])
def test_which_words_ask_for_an_agent(words: str, name: str | None) -> None:
    assert plan.wanted_agent(words) == name
