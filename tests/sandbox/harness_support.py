"""The real harness in sandboxed containers: the hive it runs in, waiting for a turn's
tool result, and what to say when that never comes."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path

from hive_dev.fakes.messages_api import ApiProcess
from hive_dev.fakes.script import ApiRequest, Match, Reply, ToolCall, write_script
from hive_dev.harness_support import container_env_file
from hive_dev.polling import wait_until
from hive_dev.sandbox import Sandbox, SandboxHive, container_process, containers_hive


def harness_hive(sandbox: Sandbox, tmp_path: Path, command: str) -> SandboxHive:
    """A hive whose agents run ``command`` (the real harness) in containers, the model's
    URL in ``tmp_path/agent.env``."""
    return containers_hive(sandbox, HYPERHIVE_AGENT_COMMAND=command,
                           HYPERHIVE_AGENT_ENV_FILE=str(tmp_path / "agent.env"))


@contextlib.contextmanager
def alice_answering(hive: SandboxHive, tmp_path: Path, prompt: str, call: ToolCall,
                    then: str, has_tool: str | None = None) -> Iterator[ApiProcess]:
    """alice spawned against a stand-in model that answers ``prompt`` with ``call`` and,
    once it has the call's result, with the text ``then``."""
    assert call.id is not None, "the second reply waits for this call's result by its id"
    script = write_script(tmp_path / "script.json", [
        Reply(tool_calls=[call], match=Match(last_user_contains=prompt, has_tool=has_tool)),
        Reply(text=then, match=Match(tool_result_for=call.id)),
    ])
    with ApiProcess(script, tmp_path) as api:
        container_env_file(tmp_path / "agent.env", api.url)
        hive.call("spawn", name="alice")
        yield api


def await_tool_result(hive: SandboxHive, api: ApiProcess, tool_id: str, what: str, *,
                      settled: bool = False, more: Callable[[], str] = lambda: "") -> None:
    """Until the model has been sent the result of ``tool_id`` (and, with ``settled``,
    alice's mail is all acked); fail with what went on (``more`` first) if it never is."""
    def done() -> bool:
        sent = any(c.tool_result(tool_id) for c in api.requests())
        return sent and (not settled or idle(hive, "alice"))

    try:
        wait_until(done, what, 90, every=0.1)
    except TimeoutError:
        raise AssertionError(more() + diagnose(hive, "alice", api)) from None


def diagnose(hive: SandboxHive, agent: str, api: ApiProcess) -> str:
    """What went on, for a failure message."""
    lines = hive.sandbox.journal().splitlines()
    journal = [f"{j.get('SYSLOG_IDENTIFIER')}: {j.get('MESSAGE')}" for j in map(json.loads, lines)]
    calls = [(r.path, r.reply_index, r.last_user_text[:200]) for r in api.requests()]
    status = hive.call("agent_status", name=agent)["agent"]
    return f"status {status}\ncalls {calls}\njournal:\n" + "\n".join(journal[-150:])


def idle(hive: SandboxHive, agent: str) -> bool:
    status = hive.call("agent_status", name=agent)["agent"]
    return bool(status["unread"] == 0 and status["in_flight"] == 0)


def cli_processes(hive: SandboxHive, agent: str) -> list[list[str]]:
    """The command lines of the processes the agent's harness started."""
    harness = container_process(hive, agent)
    children = hive.sandbox.run("cat", f"/proc/{harness}/task/{harness}/children").stdout
    found = []
    for child in children.split():
        cmdline = hive.sandbox.run("cat", f"/proc/{child}/cmdline", check=False).stdout
        found.append(cmdline.rstrip("\0").split("\0"))
    return found


def conversation(requests: list[ApiRequest]) -> list[ApiRequest]:
    return [r for r in requests if r.is_messages and r.side is None]
