"""The fidelity tier in a real container: `hive-ag3nt serve` and the real claude CLI in nspawn.

The daemon runs under the sandboxed systemd and starts alice's container
with the real harness; the claude CLI bundled in the SDK's wheel runs in
there (the harness's Python is bound read-only into the container) and
reaches the scripted Messages API stand-in, a process outside the sandbox
on the host's 127.0.0.1, the way it would reach Anthropic's API: the
container's own network has nothing but a loopback, so the CLI talks to
the harness's loopback forwarder, which carries it to the host's egress
process, which forwards to the upstream the agent environment file names.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hive_ag3nt.runner import bundled_cli
from hive_dev.fakes.script import ToolCall
from hive_dev.sandbox import Sandbox
from tests.sandbox.harness_support import (
    alice_answering,
    await_tool_result,
    cli_processes,
    conversation,
    harness_hive,
)

pytestmark = pytest.mark.sandbox

HARNESS = "{python} -m hive_ag3nt serve --no-ui"


def test_a_containerised_agent_answers_the_operator_through_the_real_cli(
        sandbox: Sandbox, tmp_path: Path) -> None:
    hive = harness_hive(sandbox, tmp_path, HARNESS)
    # alice's mailbox exists before her container: the message waits for her, and
    # its id goes into the script the stand-in reads when it starts.
    hive.call("register", name="alice")
    (asked,) = hive.call("send", to="alice", body="ping from the operator")["ids"]
    pong = ToolCall("mcp__hive__send", {"to": "operator", "body": "pong from the container",
                                        "in_reply_to": asked}, id="toolu_pong")
    with alice_answering(hive, tmp_path, "ping from the operator", pong, "answered",
                         has_tool="mcp__hive__send") as api:
        await_tool_result(hive, api, "toolu_pong",
                          "alice's reply to go out and her mail to be acked", settled=True)
        inbox = hive.call("inbox")["messages"]
        clis = cli_processes(hive, "alice")
        calls = conversation(api.requests())

    (reply,) = inbox
    assert (reply["from"], reply["to"], reply["body"], reply["in_reply_to"]) == (
        "alice", "operator", "pong from the container", asked)
    # The harness in the container runs the bundled CLI (it lives on across turns).
    assert [argv[0] for argv in clis] == [bundled_cli()], clis
    # The turn the operator's message started: asked with the tool offered, then its result.
    prompt = next(c for c in calls if "ping from the operator" in c.last_user_text)
    assert f"Message #{asked} from operator" in prompt.last_user_text
    assert "You are alice" in prompt.system
    follow_up = next(c for c in calls if c.tool_result("toolu_pong") is not None)
    result = follow_up.tool_result("toolu_pong")
    assert result is not None and not result.get("is_error")
    assert json.dumps(reply["id"]) in json.dumps(result["content"])
    lines = hive.sandbox.journal("SYSLOG_IDENTIFIER=hive-agent-alice").splitlines()
    entries = [json.loads(line) for line in lines]
    said = [e["MESSAGE"] for e in entries]
    assert any("alice: harness up" in m for m in said), said
    # The harness's lines carry their priority (journald reads the <N> prefix), no time.
    assert not [e["MESSAGE"] for e in entries if int(e.get("PRIORITY", 6)) <= 4], said
    # Every call of the model went through the host's egress, as alice's uid range.
    base = hive.call("agent_status", name="alice")["agent"]["uid_base"]
    egress = [json.loads(line)["MESSAGE"] for line in
              hive.sandbox.journal("SYSLOG_IDENTIFIER=hive-egress").splitlines()]
    forwarded = [m for m in egress if m.startswith(f"uid base {base}: POST /v1/messages")]
    assert len(forwarded) >= len(calls) and all(m.endswith("-> 200") for m in forwarded), egress

