"""The manager's tools: every one round-trips, in the real harness against the scripted model.

hive-m1nd's harness (its prompt and argument rewrites) on the manager's
socket of a real daemon, the real claude CLI bundled with the SDK, and the
scripted Messages API calling each of the manager's tools in turn within one
turn. Which tools the model is offered comes from the socket (whoami), and
every answer the CLI passed back is checked. Nothing asserts a timing.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hive_ag3nt.harness import Harness
from hive_ag3nt.runner import bundled_cli
from hive_ag3nt.settings import HarnessSettings
from hive_c0re import wire
from hive_c0re.client import Client
from hive_c0re.wire import Kind
from hive_dev.daemon import DaemonProcess, running_daemon
from hive_dev.fakes.messages_api import MessagesApi
from hive_dev.fakes.script import ApiRequest, Match, Reply, ToolCall
from hive_dev.harness_support import agent_paths
from hive_m1nd.tools import PREPARE, PROMPT
from tests.integration.tool_calls import Call, proposed_repos, set_scene

BOUND = 120  # seconds the one turn may take before it counts as hung


@pytest.fixture
def daemon() -> Iterator[DaemonProcess]:
    with running_daemon() as d:
        yield d


def manager_harness(tmp_path: Path, socket: Path, api: MessagesApi) -> Harness:
    settings = HarnessSettings.load({"recv_wait": 5.0, "rate_limit_wait": 0.05,
                                     "error_backoff_max": 0.05, "login_recheck": 0.2},
                                    environ={})
    return Harness(agent_paths(tmp_path, socket), settings, cli_path=bundled_cli(),
                   env=api.cli_env(tmp_path / "home"), prepare=PREPARE, extra_prompt=PROMPT)


def script(calls: list[Call]) -> list[Reply]:
    """One tool call per model reply, each after the last one's result; then the end."""
    replies, after = [], Match(last_user_contains="hello", has_tool="mcp__hive__update")
    for number, call in enumerate(calls):
        tool_id = f"toolu_{number:02d}"
        replies.append(Reply(tool_calls=[ToolCall(f"mcp__hive__{call.tool}", call.args,
                                                  id=tool_id)], match=after))
        after = Match(tool_result_for=tool_id)
    return [*replies, Reply(text="all done", match=after)]


def answer_to(calls: list[ApiRequest], tool_id: str) -> tuple[bool, dict[str, Any]]:
    """What the CLI handed the model for ``tool_id``: (is_error, the hive's answer)."""
    (result,) = [r for c in calls if (r := c.tool_result(tool_id)) is not None]
    content = result["content"]
    text = content if isinstance(content, str) else "".join(
        block["text"] for block in content if block.get("type") == "text")
    return bool(result.get("is_error")), json.loads(text)


def test_every_manager_tool_round_trips_in_the_real_harness(
        tmp_path: Path, daemon: DaemonProcess, api: MessagesApi,
        monkeypatch: pytest.MonkeyPatch) -> None:
    scene = set_scene(daemon, "manager")
    monkeypatch.setenv("HYPERHIVE_AGENTS_DIR", str(proposed_repos(daemon)))
    calls = scene.calls(recv_wait=0)  # the turn already holds its mail: recv only peeks
    assert sorted(c.tool for c in calls) == sorted(wire.tools(Kind.MANAGER))
    api.add(*script(calls))
    harness = manager_harness(tmp_path, scene.socket, api)

    async def turn() -> None:
        await harness.start()
        try:
            await harness.step()
        finally:
            await harness.close()

    asyncio.run(asyncio.wait_for(turn(), BOUND))
    assert harness.kind is Kind.MANAGER
    seen = api.model_calls
    assert "You are the hive's manager" in seen[0].system
    for number, call in enumerate(calls):
        error, answer = answer_to(seen, f"toolu_{number:02d}")
        assert error is call.error, (call.tool, answer)
        assert call.check(answer), (call.tool, answer)
    assert not api.script.unused()
    (turn_record,) = harness.events.last_turns(1)
    assert turn_record.status == "ok"
    with Client(daemon.host_socket) as op:
        assert [m["body"] for m in op.call("inbox")["messages"]] == ["hi"]
        kinds = {a["kind"] for a in op.call("pending")["approvals"]}
    assert kinds == {"spawn", "init_config", "apply_commit"}
