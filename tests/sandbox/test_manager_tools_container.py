"""The manager's lifecycle tools on real containers, from hive-m1nd in its own container.

The manager's container runs the real ``hive-m1nd serve`` with the claude
CLI bundled in the SDK, against the scripted Messages API; in one turn the
model drives alice's real nspawn container through its tools (status, stop,
start, restart, update, logs), and each answer the CLI hands back is the
daemon's success. The tier below (tests/integration/test_manager_tools_real.py)
calls every manager tool without containers.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from hive_dev.fakes.messages_api import ApiProcess
from hive_dev.fakes.script import ApiRequest, Match, Reply, ToolCall, write_script
from hive_dev.harness_support import container_env_file
from hive_dev.sandbox import Sandbox, SandboxHive, containers_hive

pytestmark = pytest.mark.sandbox

MANAGER = "{python} -m hive_m1nd serve --no-ui"
UNIT = "hive-agent@alice.service"
CALLS: list[tuple[str, dict[str, Any]]] = [
    ("agent_status", {"name": "alice"}),
    ("stop", {"name": "alice"}),
    ("start", {"name": "alice"}),
    ("restart", {"name": "alice"}),
    ("update", {"name": "alice"}),
    ("get_logs", {"agent": "alice", "lines": 20}),
]


def script() -> list[Reply]:
    replies, after = [], Match(last_user_contains="look after alice",
                               has_tool="mcp__hive__update")
    for number, (tool, args) in enumerate(CALLS):
        replies.append(Reply(tool_calls=[ToolCall(f"mcp__hive__{tool}", args,
                                                  id=f"toolu_{number}")], match=after))
        after = Match(tool_result_for=f"toolu_{number}")
    return [*replies, Reply(text="alice is fine", match=after)]


def answer_to(requests: list[ApiRequest], tool_id: str) -> tuple[bool, dict[str, Any]] | None:
    found = [r for c in requests if (r := c.tool_result(tool_id)) is not None]
    if not found:
        return None
    content = found[0]["content"]
    text = content if isinstance(content, str) else "".join(
        block["text"] for block in content if block.get("type") == "text")
    return bool(found[0].get("is_error")), json.loads(text)


def wait_for_answers(hive: SandboxHive, api: ApiProcess) -> list[tuple[bool, dict[str, Any]]]:
    deadline = time.monotonic() + 180
    while True:
        requests = api.requests()
        answers = [answer_to(requests, f"toolu_{n}") for n in range(len(CALLS))]
        if all(a is not None for a in answers):
            return [a for a in answers if a is not None]
        if time.monotonic() > deadline:
            journal = [f"{j.get('SYSLOG_IDENTIFIER')}: {j.get('MESSAGE')}"
                       for j in map(json.loads, hive.sandbox.journal().splitlines())]
            raise AssertionError(f"answers {answers}\njournal:\n" + "\n".join(journal[-120:]))
        time.sleep(0.2)


def test_the_manager_drives_a_real_container_through_its_tools(sandbox: Sandbox,
                                                               tmp_path: Path) -> None:
    env_file = tmp_path / "agent.env"
    with ApiProcess(write_script(tmp_path / "script.json", script()), tmp_path) as api:
        container_env_file(env_file, api.url)  # before the daemon starts the manager
        hive = containers_hive(sandbox, HYPERHIVE_MANAGER_COMMAND=MANAGER,
                               HYPERHIVE_AGENT_ENV_FILE=str(env_file))
        hive.call("spawn", name="alice")
        hive.wait_active("hive-agent@manager.service")
        hive.wait_active(UNIT)
        started = hive.sandbox.show(UNIT, "InvocationID")
        hive.call("send", to="manager", body="look after alice")
        answers = wait_for_answers(hive, api)

    for (tool, _), (error, answer) in zip(CALLS, answers, strict=True):
        assert not error, (tool, answer)
    status, stopped, started_again, restarted, updated, logs = (a for _, a in answers)
    assert "alice" in json.dumps(status)
    for record in (stopped, started_again, restarted, updated):
        assert record["agent"]["name"] == "alice", record
    assert logs["unit"] == UNIT and isinstance(logs["lines"], list)
    hive.wait_active(UNIT)  # running again after the restart and the update
    assert hive.sandbox.show(UNIT, "InvocationID") != started
