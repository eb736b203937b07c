"""What the demo's stand-in manager does when the operator asks for a new agent.

The real manager's way (hive_m1nd.tools.PROMPT), as tool calls one request at a time:

1. The operator's mail asks for one ("please create an agent named carol"):
   ``request_init_config`` for carol, then a note to the operator naming the
   approval to give.
2. The ``config_ready`` event (the operator approved the seed): ``Read`` then
   ``Edit`` /agents/carol/agent.toml, ``Bash`` ``git commit``, then
   ``request_apply_commit`` of ``HEAD``, then a note to the operator naming the
   second approval (approving it spawns carol).
3. The ``approval_resolved`` event of that apply, deployed: a note that carol
   is up.

Each request's next call follows from the last call the conversation holds and
its result, so the stand-in stays stateless; a failed step ends the plan with a
note to the operator saying what failed (a config repo seeded before is edited
instead).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hive_dev.stand_in.shapes import Block, text_of

INIT_TOOL = "mcp__hive__request_init_config"
APPLY_TOOL = "mcp__hive__request_apply_commit"
SEND_TOOL = "mcp__hive__send"
REPOS = "/agents"
OPERATOR = "operator"
# "create an agent named carol", "make a new agent called carol", "spawn agent carol".
CREATE_REQUEST = re.compile(
    r"\b(?:create|make|spawn|add|start)\b(?:\s+(?:a|an|the|new|another))*\s+agents?\b"
    r"(?:\s+(?:named|called))?\s+[\"'`]?(?P<name>[a-z][a-z0-9-]{0,30})\b", re.IGNORECASE)
# The one line the stand-in changes in the seed agent.toml: the new agent may list files.
OLD_LINE = "allowed_bash = []"
NEW_LINE = 'allowed_bash = ["ls", "ls *"]'
ALREADY_SEEDED = "already has a proposed config repo"  # request_init_config's refusal
RESERVED = frozenset({"manager", "operator", "system", "agent"})


@dataclass(frozen=True)
class Call:
    """A tool call the assistant made, with the CLI's result for it (None: none yet)."""

    id: str
    name: str
    input: Mapping[str, Any]
    result: str | None = None
    is_error: bool = False


def wanted_agent(body: str) -> str | None:
    """The agent an operator's words ask to create, if they ask for one."""
    found = CREATE_REQUEST.search(body)
    if found is None:
        return None
    name = found.group("name").lower()
    return None if name in RESERVED else name


def event_of(body: str) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def last_calls(messages: Sequence[Mapping[str, Any]]) -> list[Call]:
    """The tool calls of the last assistant message, each with its result from the
    message after it (the CLI's ``tool_result`` blocks)."""
    for index in range(len(messages) - 1, -1, -1):
        message = messages[index]
        content = message.get("content")
        if message.get("role") != "assistant" or not isinstance(content, list):
            continue
        # The CLI puts messages of its own (role system) between a call and its result.
        after = next((m.get("content") for m in messages[index + 1:]
                      if m.get("role") == "user"), None)
        results = {str(b.get("tool_use_id")): b for b in after or []
                   if isinstance(after, list) and isinstance(b, dict)
                   and b.get("type") == "tool_result"}
        calls = []
        for block in (b for b in content if isinstance(b, dict) and b.get("type") == "tool_use"):
            got = results.get(str(block.get("id")))
            tool_input = block.get("input")
            calls.append(Call(str(block.get("id")), str(block.get("name")),
                              tool_input if isinstance(tool_input, dict) else {},
                              text_of(got.get("content", "")) if got else None,
                              bool(got.get("is_error")) if got else False))
        return calls
    return []


def approval_id(result: str | None) -> int | None:
    """The id of the approval a request tool's result names."""
    approval = event_of(result or "").get("approval")
    found = approval.get("id") if isinstance(approval, dict) else None
    return found if isinstance(found, int) else None


# -- the steps -------------------------------------------------------------------


def start_for_mail(sender: str, message_id: int, body: str) -> Block | None:
    """The first call for one message: a create request from the operator, or an event
    that moves a creation on; None when the message is not part of one."""
    if sender == OPERATOR:
        name = wanted_agent(body)
        if name is None:
            return None
        return _call(INIT_TOOL, {"name": name,
                                 "description": f"a new agent, asked by the operator in "
                                                f"#{message_id}"})
    event = event_of(body)
    agent = str(event.get("agent") or "")
    if event.get("event") == "config_ready" and agent:
        return _call("Read", {"file_path": config_path(agent)})
    if (event.get("event") == "approval_resolved" and event.get("request") == "apply_commit"
            and event.get("status") == "deployed" and agent):
        return _tell(f"{agent} is up with its approved config: try "
                     f"`hive-c0re send {agent} \"hi {agent}\"`.")
    return None


def follow(call: Call) -> Block | None:
    """What comes after one finished call of a plan: the next call (after a failed
    step, a note to the operator saying what failed), or None when the call was no
    step of a plan."""
    if call.is_error and call.name in STEPS:
        return _failed(call)
    step = STEPS.get(call.name)
    return step(call) if step is not None else None


def _failed(call: Call) -> Block:
    """A seed that exists already is no failure: the manager edits that repo instead."""
    name = str(call.input.get("name", ""))
    if call.name == INIT_TOOL and ALREADY_SEEDED in (call.result or "") and name:
        return _call("Read", {"file_path": config_path(name)})
    return _tell(f"I stopped: {call.name} failed: {(call.result or '')[:300]}")


def _after_init(call: Call) -> Block:
    name = str(call.input.get("name"))
    return _tell(f"I asked to seed {name}'s config repo (approval #{approval_id(call.result)}). "
                 f"Approve it with `hive-c0re approve {approval_id(call.result)}`; then I "
                 "edit its agent.toml, commit, and ask you to apply it.")


def _after_read(call: Call) -> Block | None:
    agent = agent_of_path(str(call.input.get("file_path", "")))
    if agent is None:
        return None
    return _call("Edit", {"file_path": config_path(agent), "old_string": OLD_LINE,
                          "new_string": NEW_LINE})


def _after_edit(call: Call) -> Block | None:
    agent = agent_of_path(str(call.input.get("file_path", "")))
    if agent is None:
        return None
    command = (f"git -C {REPOS}/{agent} -c user.name=manager -c user.email=manager@hive "
               f"commit -q -a -m '{agent}: a new agent that may list files'")
    return _call("Bash", {"command": command, "description": f"commit {agent}'s config"})


def _after_commit(call: Call) -> Block | None:
    found = re.search(rf"-C {REPOS}/(?P<agent>[a-z][a-z0-9-]*) ", str(call.input.get("command")))
    if found is None:
        return None
    agent = found.group("agent")
    return _call(APPLY_TOOL, {"agent": agent, "sha": "HEAD",
                              "description": f"{agent}'s first config: it may list files"})


def _after_apply(call: Call) -> Block:
    agent = str(call.input.get("agent"))
    number = approval_id(call.result)
    return _tell(f"{agent}'s config is committed; approving #{number} "
                 f"(`hive-c0re approve {number}`) creates {agent} and starts it.")


STEPS: dict[str, Callable[[Call], Block | None]] = {
    INIT_TOOL: _after_init, "Read": _after_read, "Edit": _after_edit, "Bash": _after_commit,
    APPLY_TOOL: _after_apply,
}


def config_path(agent: str) -> str:
    return f"{REPOS}/{agent}/agent.toml"


def agent_of_path(path: str) -> str | None:
    found = re.fullmatch(rf"{REPOS}/(?P<agent>[a-z][a-z0-9-]*)/agent\.toml", path)
    return found.group("agent") if found else None


def _tell(body: str) -> Block:
    return _call(SEND_TOOL, {"to": OPERATOR, "body": body})


def _call(name: str, tool_input: dict[str, Any]) -> Block:
    """A tool call without its id yet (:func:`numbered` gives it one)."""
    return {"type": "tool_use", "id": "", "name": name, "input": tool_input}


def numbered(blocks: Sequence[Block], tool_id: Callable[[int], str]) -> list[Block]:
    return [{**b, "id": tool_id(n)} if b.get("type") == "tool_use" else b
            for n, b in enumerate(blocks)]
