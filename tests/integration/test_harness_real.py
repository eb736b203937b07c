"""The fidelity tier: the real claude CLI, the real harness, a real daemon.

The CLI is the one bundled in the claude-agent-sdk wheel; it talks to the
scripted stand-in for the Messages API (`hive_dev.fakes.messages_api`), so only
the model's answers are made up. Every tool call below is made by the real
CLI: hive tools through the harness's in-process MCP server to the daemon,
Bash through the CLI's own permission flow and the harness's `can_use_tool`.
Nothing here asserts how long anything took.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

from hive_ag3nt.harness import Harness
from hive_ag3nt.prompt import REDELIVERED
from hive_c0re.client import Client
from hive_dev.daemon import DaemonProcess
from hive_dev.fakes.messages_api import MessagesApi
from hive_dev.fakes.script import ApiRequest, Match, Reply, ToolCall, Usage
from hive_dev.harness_support import (
    HarnessProcess,
    RealRig,
    agent_paths,
    make_real_rig,
    running,
    serve_env,
)

T = TypeVar("T")
BOUND = 90  # seconds any one scenario may take before it counts as hung


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(asyncio.wait_for(coro, BOUND))


async def session(harness: Harness, *steps: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Start the harness, run ``steps`` in order, close it whatever happens."""
    async with running(harness):
        for step in steps:
            await step()


async def steps_until(rig: RealRig, seen: Callable[[list[ApiRequest]], bool]) -> None:
    """Let the harness take turns (each waits for its mail) until the stand-in saw ``seen``."""
    while not seen(rig.calls()):
        await rig.harness.step()


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}")
        time.sleep(0.05)


class Operator:
    """The operator's side of one agent, over host.sock (the agent is registered here)."""

    def __init__(self, daemon: DaemonProcess, name: str) -> None:
        self.host = daemon.host_socket
        self.name = name
        with Client(self.host) as op:
            op.call("register", name=name)

    def send(self, body: str) -> int:
        with Client(self.host) as op:
            (message_id,) = op.call("send", to=self.name, body=body)["ids"]
        return int(message_id)

    def inbox(self) -> list[dict[str, Any]]:
        with Client(self.host) as op:
            return list(op.call("inbox")["messages"])

    def counts(self) -> tuple[int, int]:
        with Client(self.host) as op:
            agent = op.call("agent_status", name=self.name)["agent"]
        return agent["unread"], agent["in_flight"]


def conversation(calls: list[ApiRequest]) -> list[ApiRequest]:
    """The model calls of the conversation itself (no compaction summaries)."""
    return [c for c in calls if c.side is None]


def test_operator_message_is_answered_with_a_real_send(tmp_path: Path, daemon: DaemonProcess,
                                                      api: MessagesApi) -> None:
    rig = make_real_rig(tmp_path, daemon, "ann", api)
    first = rig.send("what is 6*7?")
    send = ToolCall("mcp__hive__send", {"to": "operator", "body": "42", "in_reply_to": first},
                    id="toolu_send")
    rig.script_replies(
        Reply(tool_calls=[send], match=Match(last_user_contains="what is 6*7?",
                                             has_tool="mcp__hive__send")),
        Reply(text="answered", match=Match(tool_result_for="toolu_send")))
    run(session(rig.harness, rig.harness.step))

    (reply,) = rig.inbox()
    assert (reply["from"], reply["to"], reply["body"], reply["in_reply_to"]) == (
        "ann", "operator", "42", first)
    assert rig.counts() == (0, 0)
    asked, answered = conversation(rig.calls())
    assert f"Message #{first} from operator" in asked.last_user_text
    assert "You are ann" in asked.system
    assert asked.model.startswith("claude-haiku")
    result = answered.tool_result("toolu_send")
    assert result is not None and not result.get("is_error")
    assert json.dumps(reply["id"]) in json.dumps(result["content"])  # the daemon's answer
    assert not api.script.unused()
    events = rig.harness.events.events(1)
    kinds = [e["kind"] for e in events]
    assert kinds[:2] == ["turn_start", "prompt"] and kinds[-1] == "turn_end"
    (call,) = [e for e in events if e["kind"] == "tool_call"]
    assert (call["tool"], call["input"]) == ("mcp__hive__send", send.input)
    # The live panel shows what the model read: the daemon's answer as text.
    (shown,) = [e for e in events if e["kind"] == "tool_result"]
    assert json.loads(shown["content"]) == {"ids": [reply["id"]]}
    (turn,) = rig.harness.events.last_turns(1)
    assert turn.status == "ok"


def test_allowed_bash_runs_and_a_forbidden_command_is_refused(
        tmp_path: Path, daemon: DaemonProcess, api: MessagesApi) -> None:
    made, victim = tmp_path / "made-by-bash", tmp_path / "victim"
    victim.mkdir()
    allowed, refused = f"touch {made}", f"rm -rf {victim}"
    rig = make_real_rig(tmp_path, daemon, "bea", api, policy={"allowed_bash": ["touch *"]})
    rig.send("make a file, then clean up")
    rig.script_replies(
        Reply(tool_calls=[ToolCall("Bash", {"command": allowed}, id="toolu_ok")],
              match=Match(last_user_contains="make a file")),
        Reply(tool_calls=[ToolCall("Bash", {"command": refused}, id="toolu_no")],
              match=Match(tool_result_for="toolu_ok")),
        Reply(text="done", match=Match(tool_result_for="toolu_no")))
    run(session(rig.harness, rig.harness.step))

    assert made.exists() and victim.exists()
    calls = conversation(rig.calls())
    ran = calls[1].tool_result("toolu_ok")
    assert ran is not None and not ran.get("is_error")
    denied = calls[2].tool_result("toolu_no")
    assert denied is not None and denied.get("is_error") is True
    assert f"`{refused}` is not in the allowed Bash patterns: touch *" in json.dumps(denied)
    denials = [e for e in rig.harness.events.events(1) if e["kind"] == "denial"]
    assert [d["input"]["command"] for d in denials] == [refused]
    assert rig.counts() == (0, 0)


def test_model_choice_survives_a_harness_restart(tmp_path: Path, daemon: DaemonProcess,
                                                 api: MessagesApi) -> None:
    rig = make_real_rig(tmp_path, daemon, "hal", api)
    rig.send("remember the word kumquat")
    rig.script_replies(Reply(text="noted: kumquat", match=Match(last_user_contains="kumquat")))

    async def switch() -> None:
        answer = await rig.harness.command("/model sonnet")
        assert answer == {"model": "sonnet", "warning": None}
        rig.send("and now?")  # the live CLI switched too
        await rig.harness.step()

    run(session(rig.harness, rig.harness.step, switch))
    assert (tmp_path / "state" / "hyperhive-model").read_text().strip() == "sonnet"

    again = rig.restarted()
    again.send("which model now?")
    again.script_replies(Reply(text="sonnet here", match=Match(last_user_contains="which model")))
    run(session(again.harness, again.harness.step))
    models = [c.model for c in conversation(again.calls())]
    assert models[0].startswith("claude-haiku"), models
    assert models[1].startswith("claude-sonnet") and models[2].startswith("claude-sonnet"), models
    # The restarted harness resumed the same conversation.
    assert "noted: kumquat" in again.calls()[-1].all_text()
    assert again.counts() == (0, 0)
    assert not api.script.unused()


def test_a_harness_killed_mid_turn_gets_the_message_again_redelivered(
        tmp_path: Path, daemon: DaemonProcess, api: MessagesApi) -> None:
    op = Operator(daemon, "kit")
    paths = agent_paths(tmp_path, daemon.agent_socket("kit"))
    env = serve_env(paths, api.url, recv_wait="5", error_backoff_max="0.05")
    message = op.send("a long job")
    done = ToolCall("mcp__hive__send", {"to": "operator", "body": "done at last",
                                        "in_reply_to": message}, id="toolu_done")
    api.add(
        Reply(text="never heard", delay=600, match=Match(last_user_contains="a long job")),
        Reply(tool_calls=[done], match=Match(last_user_contains=REDELIVERED)),
        Reply(text="finished", match=Match(tool_result_for="toolu_done")))

    first = HarnessProcess(env, tmp_path / "harness-1.log")
    try:
        api.wait_for(lambda calls: len(conversation(calls)) == 1, timeout=60)
        assert op.counts() == (0, 1)  # leased by the turn in flight
        first.kill()
    finally:
        first.close()
    second = HarnessProcess(env, tmp_path / "harness-2.log")
    try:
        # Acked only after the turn that sent the reply: nothing is left once both happened.
        wait_until(lambda: op.counts() == (0, 0), "the redelivered message was acked")
    finally:
        assert second.stop() == 0, second.output()
        second.close()

    first_prompt, again, _ = conversation(api.model_calls)
    assert REDELIVERED not in first_prompt.last_user_text
    assert f"Message #{message} from operator" in again.last_user_text
    assert REDELIVERED in again.last_user_text and "a long job" in again.last_user_text
    (reply,) = op.inbox()
    assert (reply["from"], reply["body"], reply["in_reply_to"]) == ("kit", "done at last", message)
    assert "harness stopped" in second.output()


def test_context_watermark_checkpoints_notes_then_compacts(
        tmp_path: Path, daemon: DaemonProcess, api: MessagesApi) -> None:
    rig = make_real_rig(tmp_path, daemon, "ivy", api, context_window=10_000)
    rig.send("read this big file")
    rig.script_replies(
        Reply(text="read it all", usage=Usage(input_tokens=9_000),
              match=Match(last_user_contains="big file")),
        Reply(text="notes updated", match=Match(last_user_contains="nearly full")),
        Reply(text="<analysis>a</analysis><summary>SUMMARY-OF-IVY</summary>",
              match=Match(side="compaction")),
        Reply(text="carrying on", match=Match(last_user_contains="after compaction")))

    async def next_mail() -> None:
        rig.send("after compaction: carry on")
        await rig.harness.step()

    run(session(rig.harness, rig.harness.step, next_mail))
    turns = list(reversed(rig.harness.events.last_turns(10)))
    assert [(t.trigger, t.status) for t in turns] == [
        ("mail", "ok"), ("checkpoint", "ok"), ("compact", "ok"), ("mail", "ok")]
    sides = [c.side or c.last_user_text for c in rig.calls()]
    checkpoint = next(i for i, s in enumerate(sides) if "nearly full" in s)
    summary = sides.index("compaction")
    assert checkpoint < summary, sides
    assert "/state/notes.md" in sides[checkpoint]
    marks = [e for e in rig.harness.events.events(turns[0].id) if e["kind"] == "watermark"]
    assert [(m["tokens"], m["window"]) for m in marks] == [(9_000, 10_000)]
    # The conversation goes on from the summary, not the full history.
    last = rig.calls()[-1]
    assert "SUMMARY-OF-IVY" in last.all_text() and "read this big file" not in last.all_text()
    assert not api.script.unused()
    assert rig.counts() == (0, 0)


def test_a_reminder_wakes_the_agent_as_a_new_turn(tmp_path: Path, daemon: DaemonProcess,
                                                  api: MessagesApi) -> None:
    rig = make_real_rig(tmp_path, daemon, "rex", api)
    rig.send("remind yourself to water the plants")
    remind = ToolCall("mcp__hive__remind", {"message": "water the plants", "delay_seconds": 1},
                      id="toolu_remind")
    rig.script_replies(
        Reply(tool_calls=[remind], match=Match(last_user_contains="remind yourself")),
        Reply(text="reminder set", match=Match(tool_result_for="toolu_remind")),
        Reply(text="watering now", match=Match(last_user_contains='"event": "reminder"')))

    def woken(calls: list[ApiRequest]) -> bool:
        return any('"event": "reminder"' in c.last_user_text for c in calls)

    async def wait_for_the_reminder() -> None:
        await steps_until(rig, woken)

    run(session(rig.harness, rig.harness.step, wait_for_the_reminder))
    calls = conversation(rig.calls())
    result = calls[1].tool_result("toolu_remind")
    assert result is not None and not result.get("is_error")
    reminder = json.loads(result["content"][0]["text"])["reminder"]
    wake = calls[-1].last_user_text
    assert "Message #" in wake and "from system" in wake
    event = json.loads(wake.split(":\n", 1)[1])
    assert event == {"event": "reminder", "id": reminder["id"], "message": "water the plants",
                     "file_path": None}
    (mail,) = [m for m in rig.harness.recent_mail if m["from"] == "system"]
    assert mail["sent_at"] >= reminder["due_at"]
    turns = list(reversed(rig.harness.events.last_turns(10)))
    assert [(t.trigger, t.status) for t in turns] == [("mail", "ok"), ("mail", "ok")]
    assert not api.script.unused()
    assert rig.counts() == (0, 0)


def test_a_question_to_the_operator_comes_back_answered(tmp_path: Path, daemon: DaemonProcess,
                                                        api: MessagesApi) -> None:
    rig = make_real_rig(tmp_path, daemon, "qed", api)
    rig.send("ask whether to merge")
    ask = ToolCall("mcp__hive__ask", {"question": "Merge now?", "options": ["yes", "no"]},
                   id="toolu_ask")
    rig.script_replies(
        Reply(tool_calls=[ask], match=Match(last_user_contains="ask whether")),
        Reply(text="asked; waiting", match=Match(tool_result_for="toolu_ask")),
        Reply(text="merging", match=Match(last_user_contains='"event": "question_answered"')))

    async def operator_answers() -> None:
        def answer() -> int:
            with rig.operator() as op:
                (question,) = op.call("questions")["questions"]
                assert (question["asker"], question["target"], question["question"]) == (
                    "qed", "operator", "Merge now?")
                op.call("answer", question_id=question["id"], answer="yes")
                return int(question["id"])

        asked.append(await asyncio.to_thread(answer))
        await rig.harness.step()

    asked: list[int] = []
    run(session(rig.harness, rig.harness.step, operator_answers))
    calls = conversation(rig.calls())
    assert len(calls) == 3, [c.last_user_text for c in calls]
    prompt = calls[2].last_user_text
    assert "from system" in prompt
    event = json.loads(prompt.split(":\n", 1)[1])
    assert (event["event"], event["id"], event["question"], event["answer"], event["by"]) == (
        "question_answered", asked[0], "Merge now?", "yes", "operator")
    assert not api.script.unused()
    assert rig.counts() == (0, 0)


def test_notes_past_their_limit_are_rewritten_by_a_side_session(
        tmp_path: Path, daemon: DaemonProcess, api: MessagesApi) -> None:
    rig = make_real_rig(tmp_path, daemon, "nia", api, notes_limit=200)
    notes = rig.harness.paths.notes
    notes.write_text("- met bob\n" * 40)  # 400 bytes: past the limit
    rig.send("anything new?")
    rewrite = ToolCall("Write", {"file_path": str(notes), "content": "- met bob (often)\n"},
                       id="toolu_notes")
    rig.script_replies(
        Reply(text="nothing new", match=Match(last_user_contains="anything new")),
        Reply(tool_calls=[rewrite], match=Match(last_user_contains="past its limit")),
        Reply(text="rewritten", match=Match(tool_result_for="toolu_notes")))

    run(session(rig.harness, rig.harness.step))
    assert notes.read_text() == "- met bob (often)\n"
    assert notes.with_name("notes.md.prev").read_text() == "- met bob\n" * 40
    turns = [(t.trigger, t.status) for t in reversed(rig.harness.events.last_turns(5))]
    assert turns == [("mail", "ok"), ("notes", "ok")]
    side = next(c for c in rig.calls() if "past its limit" in c.last_user_text)
    assert set(side.offered_tools) >= {"Read", "Write"} and "Bash" not in side.offered_tools
    assert rig.counts() == (0, 0)


def test_the_first_reply_after_a_daemon_restart_reaches_the_operator(
        tmp_path: Path, api: MessagesApi) -> None:
    own = DaemonProcess(manager_command="")  # this test restarts it
    try:
        rig = make_real_rig(tmp_path, own, "rex", api, recv_wait=0.5)

        def send(body: str, tool_id: str) -> ToolCall:
            return ToolCall("mcp__hive__send", {"to": "operator", "body": body}, id=tool_id)

        rig.script_replies(
            Reply(tool_calls=[send("one", "toolu_1")], match=Match(last_user_contains="before")),
            Reply(text="sent", match=Match(tool_result_for="toolu_1")),
            Reply(tool_calls=[send("two", "toolu_2")], match=Match(last_user_contains="after")),
            Reply(text="sent", match=Match(tool_result_for="toolu_2")))
        rig.send("before the restart")

        async def restart_between_turns() -> None:
            await rig.harness.step()
            own.restart()  # the harness's connections to the old daemon are closed
            rig.send("after the restart")
            await steps_until(rig, lambda calls: any(c.tool_result("toolu_2") for c in calls))

        run(session(rig.harness, restart_between_turns))
        result = next(r for c in rig.calls() if (r := c.tool_result("toolu_2")) is not None)
        assert not result.get("is_error"), result  # before the fix: "Connection lost"
        assert [m["body"] for m in rig.inbox()] == ["one", "two"]
        assert rig.counts() == (0, 0)
    finally:
        own.stop()
        shutil.rmtree(own.root, ignore_errors=True)
