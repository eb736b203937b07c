"""The turn loop's edge cases: real daemon, real SDK, the fast fake CLI as the model."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from hive_ag3nt.harness import State
from hive_dev.daemon import DaemonProcess
from hive_dev.fakes.script import ApiError, Match, Reply, ToolCall
from hive_dev.harness_support import Rig, make_rig, restarted, run, running, until


async def one_step(rig: Rig) -> None:
    async with running(rig.harness):
        await rig.harness.step()


def test_mail_turn_replies_through_the_hive_and_acks(tmp_path: Path,
                                                     daemon: DaemonProcess) -> None:
    rig = make_rig(tmp_path, daemon, "ann")
    first = rig.send("what is 6*7?")
    send = ToolCall("mcp__hive__send", {"to": "operator", "body": "42",
                                        "in_reply_to": first}, id="toolu_1")
    rig.script_replies(Reply(tool_calls=[send]),
                       Reply(text="answered", match=Match(tool_result_for="toolu_1")))
    run(one_step(rig))
    (reply,) = rig.inbox()
    assert (reply["from"], reply["body"], reply["in_reply_to"]) == ("ann", "42", first)
    assert rig.counts() == (0, 0)
    prompt = rig.calls()[0].last_user_text
    assert f"Message #{first} from operator" in prompt and "what is 6*7?" in prompt
    assert "You are ann" in rig.calls()[0].system
    kinds = [e["kind"] for e in rig.harness.events.events(1)]
    assert kinds[:2] == ["turn_start", "prompt"] and kinds[-1] == "turn_end"
    assert "tool_call" in kinds and "tool_result" in kinds


def test_a_refused_tool_call_reaches_the_model_as_an_error(tmp_path: Path,
                                                           daemon: DaemonProcess) -> None:
    rig = make_rig(tmp_path, daemon, "bea")
    rig.send("tell nobody")
    send = ToolCall("mcp__hive__send", {"to": "nobody", "body": "x"}, id="toolu_2")
    rig.script_replies(Reply(tool_calls=[send]),
                       Reply(text="could not", match=Match(tool_result_for="toolu_2")))
    run(one_step(rig))
    result = rig.calls()[1].tool_result("toolu_2")
    assert result is not None and result.get("is_error") is True
    assert "no agent named 'nobody'" in json.dumps(result)
    assert rig.counts() == (0, 0)  # the turn itself ended well


def test_bash_outside_the_allow_list_is_denied_with_the_reason(tmp_path: Path,
                                                                daemon: DaemonProcess) -> None:
    made = tmp_path / "made"
    rig = make_rig(tmp_path, daemon, "cat", policy={"allowed_bash": [f"touch {made}"]})
    rig.send("make a file, then clean up")
    rig.script_replies(
        Reply(tool_calls=[ToolCall("Bash", {"command": f"touch {made}"}, id="toolu_ok")]),
        Reply(tool_calls=[ToolCall("Bash", {"command": "rm -rf /state"}, id="toolu_no")],
              match=Match(tool_result_for="toolu_ok")),
        Reply(text="done", match=Match(tool_result_for="toolu_no")))
    run(one_step(rig))
    assert made.exists()
    denied = rig.calls()[2].tool_result("toolu_no")
    assert denied is not None and "`rm -rf /state` is not in the allowed Bash patterns" in \
        json.dumps(denied)


def test_an_error_result_requeues_and_the_mail_comes_back_redelivered(
        tmp_path: Path, daemon: DaemonProcess) -> None:
    rig = make_rig(tmp_path, daemon, "dot")
    rig.send("try this")
    # Once, and once for each of the CLI's own retries (CLAUDE_CODE_MAX_RETRIES=2).
    rig.script_replies(Reply(error=ApiError(500, "api_error", "internal"), times=3),
                       Reply(text="second time lucky"))

    async def two_steps() -> None:
        async with running(rig.harness):
            await rig.harness.step()
            assert rig.counts() == (1, 0)  # requeued, not acked, not lost
            await rig.harness.step()

    run(two_steps())
    prompts = [c.last_user_text for c in rig.calls() if not c.fallback]
    assert "[redelivered" in prompts[-1] and "try this" in prompts[-1]
    assert rig.counts() == (0, 0)


def test_cancel_interrupts_a_turn_and_keeps_the_mail(tmp_path: Path,
                                                     daemon: DaemonProcess) -> None:
    rig = make_rig(tmp_path, daemon, "eve")
    rig.send("a long job")
    rig.script_replies(Reply(text="too slow", delay=30))

    async def cancel_midway() -> None:
        async with running(rig.harness):
            step = asyncio.ensure_future(rig.harness.step())
            # The CLI is in the turn once it asked the model (an earlier interrupt is moot).
            await until(lambda: bool(rig.calls()))
            assert (await rig.harness.command("/cancel")) == {"cancelled": True}
            await step

    run(cancel_midway())
    (turn,) = rig.harness.events.last_turns(1)
    assert turn.status == "interrupted"
    assert rig.counts() == (1, 0)  # not acked: it comes again, redelivered


def test_rate_limit_waits_then_runs_the_same_mail_again(tmp_path: Path,
                                                        daemon: DaemonProcess) -> None:
    rig = make_rig(tmp_path, daemon, "fay")
    rig.send("busy day")
    rig.script_replies(Reply(error=ApiError.rate_limited(retry_after=0), times=3),
                       Reply(text="through"))
    states: list[State] = []
    rig.harness.state_listeners.append(states.append)
    run(one_step(rig))
    assert State.RATE_LIMITED in states
    assert rig.counts() == (0, 0)
    assert [c.last_user_text for c in rig.calls() if not c.fallback][-1].count("busy day") == 1


def test_auth_failure_parks_turns_until_login(tmp_path: Path, daemon: DaemonProcess) -> None:
    rig = make_rig(tmp_path, daemon, "gus")
    rig.send("are you there?")
    rig.script_replies(Reply(error=ApiError.unauthorized(), times=3),
                       Reply(text="logged in now"))
    states: list[State] = []
    rig.harness.state_listeners.append(states.append)

    async def login_later() -> None:
        async with running(rig.harness):
            step = asyncio.ensure_future(rig.harness.step())
            await until(lambda: rig.harness.state is State.NEEDS_LOGIN)
            assert rig.counts() == (1, 0)  # requeued while parked
            credentials = tmp_path / "claude-config" / ".credentials.json"
            credentials.parent.mkdir(exist_ok=True)
            credentials.write_text("{}")
            rig.harness.logged_in.set()
            await step
            await rig.harness.step()

    run(login_later())
    assert states.count(State.NEEDS_LOGIN) == 1
    assert rig.counts() == (0, 0)


def test_model_choice_survives_a_harness_restart(tmp_path: Path, daemon: DaemonProcess) -> None:
    rig = make_rig(tmp_path, daemon, "hal", Reply(text="ok", times=None))

    async def switch() -> None:
        async with running(rig.harness):
            answer = await rig.harness.command("/model sonnet")
            assert answer["model"] == "sonnet" and answer["warning"] is None

    run(switch())
    assert (tmp_path / "state" / "hyperhive-model").read_text().strip() == "sonnet"
    again = restarted(rig)
    again.send("which model?")
    run(one_step(again))
    assert again.calls()[-1].model.startswith("claude-sonnet")


def test_watermark_checkpoints_notes_then_compacts(tmp_path: Path,
                                                   daemon: DaemonProcess) -> None:
    rig = make_rig(tmp_path, daemon, "ivy", context_window=1000)
    rig.send("big context")
    from hive_dev.fakes.script import Usage

    rig.script_replies(
        Reply(text="noted", usage=Usage(input_tokens=900)),
        Reply(text="notes updated", match=Match(last_user_contains="nearly full")),
        Reply(text="summary", match=Match(side="compaction")))
    run(one_step(rig))
    assert [t.trigger for t in reversed(rig.harness.events.last_turns(5))] == [
        "mail", "checkpoint", "compact"]
    triggers = [c.side or c.last_user_text[:40] for c in rig.calls()]
    assert any("nearly full" in t for t in triggers), triggers
    assert "compaction" in triggers, triggers


def test_new_session_starts_the_conversation_over(tmp_path: Path, daemon: DaemonProcess) -> None:
    rig = make_rig(tmp_path, daemon, "jon", Reply(text="ok", times=None))
    rig.send("remember the number 7")

    async def forget() -> None:
        async with running(rig.harness):
            await rig.harness.step()
            assert rig.harness.paths.session_file.exists()
            assert (await rig.harness.command("/new-session")) == {"queued": True}
            await rig.harness.step()
            assert not rig.harness.paths.session_file.exists()
            rig.send("what was the number?")
            await rig.harness.step()

    run(forget())
    last = [c for c in rig.calls() if not c.fallback][-1]
    assert "what was the number?" in last.all_text()
    assert "remember the number 7" not in last.all_text()


def test_a_prompt_too_long_compacts_and_retries(tmp_path: Path, daemon: DaemonProcess) -> None:
    rig = make_rig(tmp_path, daemon, "kim")
    rig.send("a huge paste")
    rig.script_replies(
        Reply(error=ApiError.prompt_too_long(), match=Match(last_user_contains="huge paste")),
        Reply(text="<summary>short</summary>", match=Match(side="compaction")),
        Reply(text="fits now", match=Match(last_user_contains="huge paste")))
    run(one_step(rig))
    assert [t.trigger for t in reversed(rig.harness.events.last_turns(5))] == [
        "mail", "compact", "mail"]
    assert rig.counts() == (0, 0)
