"""The whole hive runs itself: the operator asks the manager for an agent, and gets one.

Real systemd (the sandbox's), real nspawn containers, the real daemon, the
real harnesses (``hive-m1nd serve`` for the manager, ``hive-ag3nt serve``
for carol), the real claude CLI in each container, the real operator CLI and
real git. The model is the only fake: one scripted Messages API stand-in,
a process on loopback that every container's CLI reaches.

The story: the operator tells the manager to create carol; the manager asks
for her config repo, the operator approves; the manager hears
``config_ready``, writes her ``agent.toml`` (Read, Write), commits it with
git (Bash, under its allow-list) and asks to apply ``HEAD``; the operator
approves; carol's container boots and she answers the operator; the manager
hears every outcome as events.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from hive_dev.fakes.messages_api import ApiProcess
from hive_dev.fakes.script import ApiRequest, Match, Reply, ToolCall, write_script
from hive_dev.harness_support import container_env_file
from hive_dev.sandbox import Sandbox, SandboxHive, in_container
from tests.sandbox.approval_support import applied_dir, git, proposed_dir, sandbox_git

pytestmark = pytest.mark.sandbox

MANAGER = "{python} -m hive_m1nd serve --no-ui"
HARNESS = "{python} -m hive_ag3nt serve --no-ui"
DEADLINE = 180.0  # generous: every step is real (containers, CLIs, git), never timed

ASK = "Please create an agent named carol who takes notes for me."
QUESTION = "carol, what do you do?"
ANSWER = "I take notes for you, operator."
CAROL_TOML = """# carol takes notes for the operator.
model = "haiku"
available_models = ["haiku", "sonnet"]
allowed_recipients = []
allowed_tools = ["Read", "Write", "Edit"]
allowed_bash = []
"""
REPO = "/agents/carol"  # carol's proposed config repo in the manager's container
COMMIT = (f'cd {REPO} && git -c user.name=manager -c user.email=manager@hive '
          'commit -qam "carol takes notes"')
# The highest message number the operator's question to carol could get: the
# scripted model cannot read, so it has an answer ready for each one.
MAX_MESSAGE_ID = 64


def manager_script() -> list[Reply]:
    """What the manager's model does, turn by turn (tool results chain each turn's steps)."""
    manager = "You are manager"
    return [
        # Turn: the operator's request. Ask for carol's config repo.
        Reply(tool_calls=[ToolCall("mcp__hive__request_init_config",
                                   {"name": "carol", "description": "a note taker"},
                                   id="toolu_init")],
              match=Match(system_contains=manager, last_user_contains=ASK,
                          has_tool="mcp__hive__request_init_config")),
        Reply(text="Asked the operator for carol's config repo.",
              match=Match(tool_result_for="toolu_init")),
        # Turn: config_ready. Read the seed, write carol's config, commit, ask to apply.
        Reply(tool_calls=[ToolCall("Read", {"file_path": f"{REPO}/agent.toml"},
                                   id="toolu_read")],
              match=Match(system_contains=manager, last_user_contains='"event": "config_ready"')),
        Reply(tool_calls=[ToolCall("Write", {"file_path": f"{REPO}/agent.toml",
                                             "content": CAROL_TOML}, id="toolu_write")],
              match=Match(tool_result_for="toolu_read")),
        Reply(tool_calls=[ToolCall("Bash", {"command": COMMIT,
                                            "description": "Commit carol's config"},
                                   id="toolu_commit")],
              match=Match(tool_result_for="toolu_write")),
        Reply(tool_calls=[ToolCall("mcp__hive__request_apply_commit",
                                   {"agent": "carol", "sha": "HEAD",
                                    "description": "carol takes notes for the operator"},
                                   id="toolu_apply")],
              match=Match(tool_result_for="toolu_commit")),
        Reply(text="Asked the operator to apply carol's config.",
              match=Match(tool_result_for="toolu_apply")),
        # Every other turn (the outcomes, spawned, ...) gets the fallback "ok".
    ]


def carol_script() -> list[Reply]:
    """carol answers the operator's question, in reply to it, whatever its number."""
    return [
        Reply(tool_calls=[ToolCall("mcp__hive__send",
                                   {"to": "operator", "body": ANSWER, "in_reply_to": number},
                                   id=f"toolu_answer_{number}")],
              match=Match(system_contains="You are carol",
                          last_user_contains=f"Message #{number} from operator:",
                          has_tool="mcp__hive__send"))
        for number in range(1, MAX_MESSAGE_ID + 1)
    ]



class Story:
    """The hive and the stand-in, with what the operator does and a report when it breaks."""

    def __init__(self, hive: SandboxHive, api: ApiProcess) -> None:
        self.hive = hive
        self.api = api

    def wait_for(self, what: str, found: Callable[[], Any]) -> Any:
        """``found()``'s first truthy value; a report of the whole hive if none came."""
        deadline = time.monotonic() + DEADLINE
        while not (value := found()):
            if time.monotonic() > deadline:
                raise AssertionError(f"never happened: {what}\n{self.report()}")
            time.sleep(0.2)
        return value

    def operator(self, *args: str) -> str:
        """The operator's CLI; it must succeed."""
        done = self.hive.cli(*args)
        assert done.returncode == 0, f"hive-c0re {' '.join(args)}: {done.stderr}\n{self.report()}"
        return done.stdout

    def pending(self, agent: str, kind: str) -> dict[str, Any] | None:
        found = json.loads(self.operator("--json", "approvals"))["approvals"]
        return next((a for a in found if (a["agent"], a["kind"]) == (agent, kind)), None)

    def approve(self, agent: str, kind: str) -> dict[str, Any]:
        """Wait for the manager's request, approve it as the operator, return the outcome."""
        asked: dict[str, Any] = self.wait_for(f"the manager asks for {kind} of {agent}",
                                              lambda: self.pending(agent, kind))
        done: dict[str, Any] = json.loads(self.operator("--json", "approve", str(asked["id"])))
        assert done["status"] == "deployed", f"{done}\n{self.report()}"
        return done

    def calls(self, agent: str) -> list[ApiRequest]:
        """The model calls of ``agent``'s conversation, oldest first."""
        return [r for r in self.api.requests()
                if r.is_messages and r.side is None and f"You are {agent}," in r.system]

    def events_heard(self, agent: str) -> list[dict[str, Any]]:
        """The hive events (messages from ``system``) ``agent``'s model was shown."""
        seen: list[dict[str, Any]] = []
        for call in self.calls(agent):
            for line in call.all_text().splitlines():
                if line.startswith('{"event": ') and (event := json.loads(line)) not in seen:
                    seen.append(event)
        return seen

    def outcome_heard(self, approval: int) -> list[dict[str, Any]]:
        """The manager's events once they include carol's spawn and ``approval``'s outcome."""
        events = self.events_heard("manager")
        spawned = any(e["event"] == "spawned" and e["agent"] == "carol" for e in events)
        resolved = any(e["event"] == "approval_resolved" and e["id"] == approval
                       for e in events)
        return events if spawned and resolved else []

    def tool_result(self, agent: str, tool_use_id: str) -> dict[str, Any] | None:
        return next((r for c in self.calls(agent) if (r := c.tool_result(tool_use_id))), None)

    def said(self, agent: str) -> list[str]:
        """What ``agent``'s container logged; a line of priority warning or worse (the
        journal reads it from the harness's ``<N>`` prefix) starts with ``warning: ``."""
        lines = self.hive.sandbox.journal(f"SYSLOG_IDENTIFIER=hive-agent-{agent}").splitlines()
        return [("warning: " if int(e.get("PRIORITY", 6)) <= 4 else "") + str(e["MESSAGE"])
                for e in map(json.loads, lines)]

    def report(self) -> str:
        lines = self.hive.sandbox.journal().splitlines()
        journal = [f"{j.get('SYSLOG_IDENTIFIER')}: {j.get('MESSAGE')}"
                   for j in map(json.loads, lines) if j.get("SYSLOG_IDENTIFIER") != "kernel"]
        calls = [(r.seq, r.reply_index, r.system[-60:].splitlines()[-1:], r.last_user_text[:300])
                 for r in self.api.requests() if r.is_messages]
        return "model calls:\n" + "\n".join(map(str, calls)) + "\njournal:\n" + "\n".join(
            journal[-200:])


def test_the_operator_asks_the_manager_for_an_agent_and_gets_one(
        sandbox: Sandbox, tmp_path: Path) -> None:
    hive = SandboxHive(
        sandbox,
        HYPERHIVE_SYSTEMD_SCOPE="user",
        HYPERHIVE_UNIT_DIR=str(sandbox.unit_dir),
        HYPERHIVE_APPLY_SETTLE_SECONDS="1",
        HYPERHIVE_MANAGER_COMMAND=MANAGER,
        HYPERHIVE_AGENT_COMMAND=HARNESS,
        HYPERHIVE_AGENT_ENV_FILE=str(tmp_path / "agent.env"),
    )
    script = write_script(tmp_path / "script.json", manager_script() + carol_script())
    with ApiProcess(script, tmp_path) as api:
        container_env_file(tmp_path / "agent.env", api.url)
        story = Story(hive, api)
        hive.call("whoami")  # the daemon starts, and with it the manager's container
        story.wait_for("the manager's container runs",
                       lambda: sandbox.show("hive-agent@manager.service", "ActiveState")
                       == "active")

        story.operator("send", "manager", ASK)
        init = story.approve("carol", "init_config")
        apply = story.approve("carol", "apply_commit")
        story.wait_for("carol's container runs",
                       lambda: sandbox.show("hive-agent@carol.service", "ActiveState")
                       == "active")

        (asked,) = json.loads(story.operator("--json", "send", "carol", QUESTION))["ids"]
        assert asked <= MAX_MESSAGE_ID, f"the script has no answer for message #{asked}"
        replies: list[dict[str, Any]] = story.wait_for(
            "carol answers the operator",
            lambda: hive.call("inbox", wait_seconds=5)["messages"])
        heard = story.wait_for(
            "the manager hears that carol was spawned and her config deployed",
            lambda: story.outcome_heard(apply["id"]))
        # The model sees each tool's result in the call after it, which may come a moment later.
        answered = story.wait_for("carol's model reads what her send did",
                                  partial(story.tool_result, "carol", f"toolu_answer_{asked}"))
        steps = {step: story.wait_for(f"the manager's model reads what its {step} did",
                                      partial(story.tool_result, "manager", f"toolu_{step}"))
                 for step in ("init", "read", "write", "commit", "apply")}
        carol_policy = in_container(hive, "carol", "print(open('/etc/hive/policy.json').read())")
        said = {agent: story.said(agent) for agent in ("manager", "carol")}

    # carol, a container the manager's config made, answered the operator's question.
    (reply,) = replies
    assert (reply["from"], reply["to"], reply["body"], reply["in_reply_to"]) == (
        "carol", "operator", ANSWER, asked)
    assert not answered.get("is_error"), answered
    assert json.loads(carol_policy.stdout)["allowed_tools"] == ["Read", "Write", "Edit"]

    # Every step of the manager's turns went through: tools, policy, git, the daemon.
    for step, result in steps.items():
        assert not result.get("is_error"), (step, result)

    # The applied repo: main at the manager's commit, and the apply's whole trail of tags.
    proposed, applied = proposed_dir(hive, "carol"), applied_dir(hive, "carol")
    commit = sandbox_git(hive, proposed, "rev-parse", "HEAD")
    assert sandbox_git(hive, proposed, "log", "-1", "--format=%an %s") == \
        "manager carol takes notes"
    assert sandbox_git(hive, proposed, "show", "HEAD:agent.toml") + "\n" == CAROL_TOML
    assert apply["sha"] == commit
    assert git(applied, "rev-parse", "main") == commit
    trail = {f"{step}/{apply['id']}" for step in ("proposal", "approved", "building", "deployed")}
    tags = git(applied, "for-each-ref", "--format=%(refname:short) %(*objectname)%(objectname)",
               "refs/tags")
    tagged = {name: target[:40] for name, target in (t.split(" ", 1) for t in tags.splitlines())}
    assert trail <= set(tagged), tagged
    assert {tagged[t] for t in trail} == {commit}

    # The manager heard each outcome as a turn: both approvals, config_ready, spawned.
    assert {"event": "approval_resolved", "agent": "carol", "id": init["id"],
            "request": "init_config", "status": "deployed", "sha": None, "tag": None,
            "note": None} in heard
    # config_ready named the repo as the manager sees it: where its model then read and wrote.
    assert {"event": "config_ready", "agent": "carol", "path": REPO} in heard
    assert {"event": "approval_resolved", "agent": "carol", "id": apply["id"],
            "request": "apply_commit", "status": "deployed", "sha": commit,
            "tag": f"deployed/{apply['id']}", "note": None} in heard
    assert any(e["event"] == "spawned" and e["agent"] == "carol" for e in heard), heard

    # Both harnesses came up and ran every turn without a warning.
    for agent, lines in said.items():
        assert any(f"{agent}: harness up" in line for line in lines), (agent, lines)
        assert not [line for line in lines if line.startswith("warning: ")], lines
