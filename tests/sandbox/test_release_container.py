"""An idle agent in a real container ends its claude CLI, and the hive's status says so."""

from __future__ import annotations

from pathlib import Path

import pytest

from hive_dev.fakes.messages_api import ApiProcess
from hive_dev.fakes.script import Match, Reply, ToolCall, write_script
from hive_dev.harness_support import container_env_file
from hive_dev.polling import wait_until
from hive_dev.sandbox import Sandbox
from tests.sandbox.harness_support import await_tool_result, cli_processes, harness_hive

pytestmark = pytest.mark.sandbox

HARNESS = "{python} -m hive_ag3nt serve --no-ui"


def test_an_idle_containerised_agent_is_idle_released_and_answers_again(
        sandbox: Sandbox, tmp_path: Path) -> None:
    hive = harness_hive(sandbox, tmp_path, HARNESS)
    hive.call("register", name="alice")
    hive.call("send", to="alice", body="first ping")

    def pong(word: str) -> list[Reply]:
        send = ToolCall("mcp__hive__send", {"to": "operator", "body": f"pong {word}"},
                        id=f"toolu_{word}")
        return [Reply(tool_calls=[send], match=Match(last_user_contains=f"{word} ping")),
                Reply(text="answered", match=Match(tool_result_for=f"toolu_{word}"))]

    script = write_script(tmp_path / "script.json", [*pong("first"), *pong("second")])
    with ApiProcess(script, tmp_path) as api:
        env = container_env_file(tmp_path / "agent.env", api.url)
        env.write_text(env.read_text() + "HYPERHIVE_CLI_IDLE_RELEASE=0.5\n")
        hive.call("spawn", name="alice")
        await_tool_result(hive, api, "toolu_first", "alice's first reply", settled=True)

        def state() -> str:
            return str(hive.call("agent_status", name="alice")["agent"]["state"])

        wait_until(lambda: state() == "idle (released)", "alice's CLI to be released", 60)
        assert cli_processes(hive, "alice") == []  # no claude CLI in her container now
        row = hive.call("agent_status", name="alice")["agent"]
        assert (row["released"], row["activity"]) == (True, "idle")

        hive.call("send", to="alice", body="second ping")
        await_tool_result(hive, api, "toolu_second", "alice's second reply", settled=True)
        requests = [r for r in api.requests() if r.is_messages and r.side is None]

    first = next(r for r in requests if "first ping" in r.last_user_text)
    second = next(r for r in requests if "second ping" in r.last_user_text)
    assert second.session_id == first.session_id and "first ping" in second.all_text()
    replies = sorted(m["body"] for m in hive.call("inbox")["messages"])
    assert replies == ["pong first", "pong second"]
