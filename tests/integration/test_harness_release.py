"""The claude CLI ended between turns: idle release and the growth bound, on the real CLI.

The harness ends its CLI after ``cli_idle_release`` seconds without a turn, or
past ``cli_max_rss_mib`` between turns; the next turn starts it again with
``--resume``. These scenarios use tiny bounds (0.05 s, 1 MiB) so a release
happens at every chance, and wait on what the log and the stand-in saw, never
on how long anything took.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import threading
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from hive_ag3nt.activity import StateReporter
from hive_ag3nt.harness import Harness, State
from hive_ag3nt.hive import HiveConnection
from hive_ag3nt.prompt import REDELIVERED
from hive_ag3nt.ui.page import render
from hive_c0re.client import Client
from hive_dev.daemon import DaemonProcess
from hive_dev.fakes.messages_api import MessagesApi
from hive_dev.fakes.script import ApiError, ApiRequest, Match, Reply, ToolCall, Usage
from hive_dev.harness_support import (
    HarnessProcess,
    RealRig,
    agent_paths,
    make_real_rig,
    register,
    run,
    running,
    serve_env,
    until,
)

BOUND = 90  # seconds a scenario may take before it counts as hung


class Log:
    """Every event the harness records, in order (those of no turn included)."""

    def __init__(self, harness: Harness) -> None:
        self.seen: list[dict[str, Any]] = []
        harness.events.listeners.append(self.seen.append)

    def kinds(self, *kinds: str) -> list[dict[str, Any]]:
        return [e for e in self.seen if e["kind"] in kinds]


def conversation(calls: list[ApiRequest]) -> list[ApiRequest]:
    return [c for c in calls if c.side is None]


def answer(body: str, tool_id: str) -> tuple[Reply, Reply]:
    """The model's reply to the mail saying ``body``: a send to the operator, then a word."""
    send = ToolCall("mcp__hive__send", {"to": "operator", "body": f"re: {body}"}, id=tool_id)
    return (Reply(tool_calls=[send], match=Match(last_user_contains=body)),
            Reply(text="sent", match=Match(tool_result_for=tool_id)))


async def released(harness: Harness) -> None:
    await until(lambda: harness.released)


@contextlib.asynccontextmanager
async def looping(harness: Harness) -> AsyncIterator[asyncio.Task[None]]:
    """The harness's own loop, for the block: it waits for mail on its long-poll."""
    async with running(harness):
        async def forever() -> None:
            while True:
                await harness.step()

        loop = asyncio.ensure_future(forever())
        try:
            yield loop
        finally:
            loop.cancel()
            await asyncio.gather(loop, return_exceptions=True)


def test_a_released_agent_resumes_the_same_session(tmp_path: Path, daemon: DaemonProcess,
                                                    api: MessagesApi) -> None:
    rig = make_real_rig(tmp_path, daemon, "rae", api, cli_idle_release=0.05)
    log = Log(rig.harness)
    rig.send("remember the word kumquat")
    rig.script_replies(
        Reply(text="noted: kumquat", match=Match(last_user_contains="kumquat")),
        Reply(text="it was kumquat", match=Match(last_user_contains="which word")))
    pids: list[int | None] = []
    shown: list[dict[str, Any]] = []

    async def scenario() -> None:
        async with running(rig.harness) as harness:
            await harness.step()
            assert harness.session is not None
            pids.append(harness.session.cli_pid())
            await released(harness)
            shown.append(harness.status())
            rig.send("which word was it?")
            await harness.step()
            shown.append(harness.status())

    run(scenario(), BOUND)
    first, second = conversation(rig.calls())
    # The second turn ran on a new CLI process that resumed the same session: the
    # stand-in sees the same session id and the earlier turn's words.
    assert first.session_id is not None and second.session_id == first.session_id
    assert "noted: kumquat" in second.all_text() and "remember the word" in second.all_text()
    (pid,) = pids
    assert pid is not None and not Path(f"/proc/{pid}").exists()  # the first CLI is gone
    (release,) = log.kinds("release")
    assert (release["turn"], release["reason"], release["session_id"]) == (
        None, "idle", first.session_id)
    assert release["cli_rss_mib"] > 0
    (resume,) = log.kinds("resume")
    assert (resume["turn"], resume["reason"], resume["session_id"]) == (
        2, "idle", first.session_id)
    assert (shown[0]["state"], shown[0]["released"], shown[0]["session"]) == (
        "idle (released)", True, first.session_id)
    assert (shown[1]["state"], shown[1]["released"]) == ("idle", False)
    assert rig.counts() == (0, 0)
    assert not api.script.unused()


def test_nothing_leased_is_lost_across_releases(tmp_path: Path, daemon: DaemonProcess,
                                               api: MessagesApi) -> None:
    # Released after every turn, at once: mail comes while the CLI is being
    # ended, just after, and while it is down, with the long-poll out all along.
    rig = make_real_rig(tmp_path, daemon, "lee", api, cli_idle_release=0.01)
    log = Log(rig.harness)
    sender = Sender(rig, 8, log)

    async def scenario() -> None:
        async with looping(rig.harness):
            sender.start()
            await eventually(lambda: sender.done.is_set() and rig.counts() == (0, 0))

    try:
        run(scenario(), BOUND)
    finally:
        sender.join()
    # Each message was shown in exactly one turn (the stand-in answered "ok"), and acked.
    prompts = [c.last_user_text for c in conversation(rig.calls())]
    for message_id in sender.ids:
        assert sum(f"Message #{message_id} from" in p for p in prompts) == 1, (message_id, prompts)
    assert not any(REDELIVERED in p for p in prompts), prompts  # none taken back and again
    assert [t.status for t in rig.harness.events.last_turns(20)] == ["ok"] * len(
        rig.harness.events.last_turns(20))
    assert len(log.kinds("release")) >= 2
    assert {e["reason"] for e in log.kinds("resume")} == {"idle"}
    assert rig.counts() == (0, 0)


class Sender(threading.Thread):
    """Sends ``count`` messages, each once the log moved on from the last one: by turns,
    once a release was recorded (the CLI is down) or once its turn ended (a release is
    due at any moment)."""

    def __init__(self, rig: RealRig, count: int, log: Log) -> None:
        super().__init__(daemon=True)
        self.rig, self.count, self.log = rig, count, log
        self.ids: list[int] = []
        self.done = threading.Event()

    def run(self) -> None:
        try:
            for n in range(self.count):
                kind = "release" if n % 2 else "turn_end"
                seen = len(self.log.kinds(kind))
                self.ids.append(self.rig.send(f"job {n}"))
                while len(self.log.kinds(kind)) == seen:
                    threading.Event().wait(0.002)
        finally:
            self.done.set()


async def eventually(check: Callable[[], bool]) -> None:
    """Wait until ``check`` (which may block on the daemon) holds; the loop runs meanwhile."""
    while not await asyncio.to_thread(check):  # noqa: ASYNC110 (the daemon has no event)
        await asyncio.sleep(0.02)


def test_a_turn_that_starts_while_a_release_ends_the_cli_is_not_shown_released(
        tmp_path: Path, daemon: DaemonProcess, api: MessagesApi) -> None:
    # The idle release is ending the CLI (held there) when mail starts a turn: the turn
    # waits for it, then starts a CLI of its own, which must not be shown as released.
    rig = make_real_rig(tmp_path, daemon, "rac", api, cli_idle_release=0)
    log = Log(rig.harness)
    rig.script_replies(Reply(text="one", match=Match(last_user_contains="first")),
                       Reply(text="two", match=Match(last_user_contains="second")))
    shown: list[dict[str, Any]] = []
    ended: list[bool] = []
    alive: list[bool] = []

    async def scenario() -> None:
        async with running(rig.harness) as harness:
            rig.send("first")
            await harness.step()
            session = harness.session
            assert session is not None and session.running
            ending, go_on = asyncio.Event(), asyncio.Event()
            client = session._client
            disconnect = client.disconnect

            async def held() -> None:
                ending.set()
                await go_on.wait()
                await disconnect()

            client.disconnect = held
            release = asyncio.ensure_future(harness.upkeep.release("idle"))
            await ending.wait()  # the release holds the CLI's lock, ending it
            rig.send("second")
            second = asyncio.ensure_future(harness.step())
            # The turn has begun (its prompt is logged) and waits for the release.
            await until(lambda: len(log.kinds("prompt")) == 2)
            go_on.set()
            ended.append(await release)
            await second
            shown.append(harness.status())
            alive.append(session.cli_rss_mib() is not None)  # its CLI process is there

    run(scenario(), BOUND)
    assert ended == [True]
    (release,) = log.kinds("release")
    (resume,) = log.kinds("resume")
    assert (release["turn"], release["reason"]) == (None, "idle")
    assert (resume["turn"], resume["reason"]) == (2, "idle")
    assert alive == [True]  # the second turn's CLI runs on after it
    assert (shown[0]["state"], shown[0]["released"]) == ("idle", False)
    assert [t.status for t in rig.harness.events.last_turns(10)] == ["ok", "ok"]
    assert rig.counts() == (0, 0)
    assert not api.script.unused()


def test_a_cli_that_died_between_turns_has_no_pid_and_no_size(
        tmp_path: Path, daemon: DaemonProcess, api: MessagesApi) -> None:
    # Its pid is free for another process once it exited: never measured, never bounded.
    rig = make_real_rig(tmp_path, daemon, "ded", api, cli_idle_release=0)
    rig.script_replies(Reply(text="one", match=Match(last_user_contains="first")))
    seen: list[tuple[bool, int | None, float | None]] = []

    async def scenario() -> None:
        async with running(rig.harness) as harness:
            rig.send("first")
            await harness.step()
            session = harness.session
            assert session is not None
            pid = session.cli_pid()
            assert pid is not None and session.cli_rss_mib() is not None
            os.kill(pid, signal.SIGKILL)
            await until(lambda: session.cli_pid() is None)
            seen.append((session.running, session.cli_pid(), session.cli_rss_mib()))

    run(scenario(), BOUND)
    # Still connected as far as the session knows (the next turn finds out): no pid, no size.
    assert seen == [(True, None, None)]


def test_the_growth_bound_restarts_the_cli_only_between_turns(
        tmp_path: Path, daemon: DaemonProcess, api: MessagesApi) -> None:
    rig = make_real_rig(tmp_path, daemon, "gro", api, cli_max_rss_mib=1, cli_idle_release=0)
    log = Log(rig.harness)
    bodies = ["first", "second", "third"]
    for n, body in enumerate(bodies):
        rig.script_replies(*answer(body, f"toolu_gro{n}"))

    async def scenario() -> None:
        async with running(rig.harness) as harness:
            for body in bodies:
                rig.send(body)
                await harness.step()

    run(scenario(), BOUND)
    turns = list(reversed(rig.harness.events.last_turns(10)))
    assert [(t.trigger, t.status) for t in turns] == [("mail", "ok")] * 3
    releases = log.kinds("release")
    assert [(r["reason"], r["turn"]) for r in releases] == [("growth", None)] * 3
    assert all(r["cli_rss_mib"] > 1 for r in releases)
    # Never during a turn: each release comes after one turn ended and before the next began.
    open_turn = None
    for event in log.seen:
        if event["kind"] == "turn_start":
            open_turn = event["turn"]
        elif event["kind"] == "turn_end":
            open_turn = None
        elif event["kind"] == "release":
            assert open_turn is None, log.seen
    resumes = log.kinds("resume")
    assert [(r["turn"], r["reason"]) for r in resumes] == [(2, "growth"), (3, "growth")]
    sessions = {c.session_id for c in conversation(rig.calls())}
    assert len(sessions) == 1 and None not in sessions  # one conversation throughout
    assert sorted(m["body"] for m in rig.inbox()) == sorted(f"re: {b}" for b in bodies)
    assert rig.counts() == (0, 0)


def test_the_chosen_model_and_the_status_survive_a_release(
        tmp_path: Path, daemon: DaemonProcess, api: MessagesApi) -> None:
    rig = make_real_rig(tmp_path, daemon, "mod", api, cli_idle_release=0.05)
    log = Log(rig.harness)
    rig.send("hello")
    rig.script_replies(Reply(text="hi", match=Match(last_user_contains="hello")),
                       Reply(text="sonnet here", match=Match(last_user_contains="which model")))
    rows: list[dict[str, Any]] = []

    def reported(released: bool) -> bool:
        with rig.operator() as op:
            rows.append(op.call("agent_status", name="mod")["agent"])
        return bool(rows[-1]["released"] is released and rows[-1]["activity"] == "idle")

    async def scenario() -> None:
        reporter = StateReporter(rig.harness, HiveConnection(rig.harness.paths.socket))
        try:
            async with running(rig.harness) as harness:
                await harness.step()
                assert (await harness.command("/model sonnet"))["model"] == "sonnet"
                await released(harness)
                status = harness.status()
                assert (status["state"], status["released"], status["model"]) == (
                    "idle (released)", True, "sonnet")
                assert '<span id="state" class="badge state-idle released">idle (released)' \
                    in render(harness, 10)  # the agent's web page
                await eventually(lambda: reported(True))  # the daemon's row says so too
                rig.send("which model now?")
                await harness.step()
                await eventually(lambda: reported(False))
        finally:
            await reporter.close()

    run(scenario(), BOUND)
    models = [c.model for c in conversation(rig.calls())]
    assert models[0].startswith("claude-haiku") and models[1].startswith("claude-sonnet"), models
    (resume,) = log.kinds("resume")
    assert (resume["turn"], resume["reason"]) == (2, "idle")
    (second,) = [e for e in log.kinds("turn_start") if e["turn"] == 2]
    assert second["model"] == "sonnet"
    assert rig.counts() == (0, 0)
    assert not api.script.unused()


def test_a_release_while_rate_limited_keeps_the_state(tmp_path: Path, daemon: DaemonProcess,
                                                      api: MessagesApi) -> None:
    rig = make_real_rig(tmp_path, daemon, "rat", api, max_retries=0, rate_limit_wait=1.0,
                        cli_idle_release=0.05)
    log = Log(rig.harness)
    rig.script_replies(
        Reply(text="warm", match=Match(last_user_contains="warm up")),
        Reply(error=ApiError.rate_limited(retry_after=0), match=Match(last_user_contains="busy")),
        Reply(text="through", match=Match(last_user_contains="busy")))
    shown: list[dict[str, Any]] = []
    rig.harness.state_listeners.append(lambda state: shown.append(rig.harness.status()))

    async def scenario() -> None:
        async with running(rig.harness) as harness:
            rig.send("warm up")
            await harness.step()
            rig.send("busy day")
            await harness.step()  # limited, waits (released meanwhile), then goes through

    run(scenario(), BOUND)
    turns = [t.status for t in reversed(rig.harness.events.last_turns(10))]
    assert turns == ["ok", "rate_limited", "ok"]
    assert ("rate-limited", True) in [(s["state"], s["released"]) for s in shown]
    resumes = [(e["turn"], e["reason"]) for e in log.kinds("resume")]
    assert resumes[-1] == (3, "idle")
    assert rig.counts() == (0, 0)
    assert not api.script.unused()


def test_a_release_while_needing_a_login_keeps_the_state(
        tmp_path: Path, daemon: DaemonProcess, api: MessagesApi) -> None:
    rig = make_real_rig(tmp_path, daemon, "lin", api, max_retries=0, login_recheck=30,
                        cli_idle_release=0.05)
    log = Log(rig.harness)
    rig.script_replies(
        Reply(text="warm", match=Match(last_user_contains="warm up")),
        Reply(error=ApiError.unauthorized(), match=Match(last_user_contains="who are")),
        Reply(text="back", match=Match(last_user_contains=REDELIVERED)))
    shown: list[dict[str, Any]] = []

    async def scenario() -> None:
        async with running(rig.harness) as harness:
            rig.send("warm up")
            await harness.step()
            rig.send("who are you?")
            parked = asyncio.ensure_future(harness.step())
            await until(lambda: harness.state is State.NEEDS_LOGIN and harness.released)
            shown.append(harness.status())
            harness.logged_in.set()  # as the UI's login does
            await parked
            shown.append(harness.status())
            await harness.step()  # the requeued mail, redelivered

    run(scenario(), BOUND)
    assert (shown[0]["state"], shown[0]["released"], shown[0]["login_needed"]) == (
        "needs-login", True, True)
    assert (shown[1]["state"], shown[1]["released"]) == ("idle (released)", True)
    turns = [t.status for t in reversed(rig.harness.events.last_turns(10))]
    assert turns == ["ok", "auth", "ok"]
    assert [(e["turn"], e["reason"]) for e in log.kinds("resume")][-1] == (3, "idle")
    assert rig.counts() == (0, 0)
    assert not api.script.unused()


def test_a_compacted_conversation_stays_compacted_across_a_release(
        tmp_path: Path, daemon: DaemonProcess, api: MessagesApi) -> None:
    rig = make_real_rig(tmp_path, daemon, "cam", api, context_window=10_000,
                        cli_idle_release=0.05)
    log = Log(rig.harness)
    rig.send("read this big file")
    rig.script_replies(
        Reply(text="read it all", usage=Usage(input_tokens=9_000),
              match=Match(last_user_contains="big file")),
        Reply(text="notes updated", match=Match(last_user_contains="nearly full")),
        Reply(text="<analysis>a</analysis><summary>SUMMARY-OF-CAM</summary>",
              match=Match(side="compaction")),
        Reply(text="carrying on", match=Match(last_user_contains="after the release")))

    async def scenario() -> None:
        async with running(rig.harness) as harness:
            await harness.step()  # the turn, its checkpoint and the compaction
            await released(harness)
            rig.send("after the release: carry on")
            await harness.step()

    run(scenario(), BOUND)
    turns = [(t.trigger, t.status) for t in reversed(rig.harness.events.last_turns(10))]
    assert turns == [("mail", "ok"), ("checkpoint", "ok"), ("compact", "ok"), ("mail", "ok")]
    (release,) = log.kinds("release")
    (resume,) = log.kinds("resume")
    assert (resume["turn"], resume["reason"]) == (turns_ids(rig)[-1], "idle")
    assert release["session_id"] == resume["session_id"]
    # The resumed conversation goes on from the summary, not the full history.
    last = rig.calls()[-1]
    assert "SUMMARY-OF-CAM" in last.all_text() and "read this big file" not in last.all_text()
    assert not api.script.unused()
    assert rig.counts() == (0, 0)


def turns_ids(rig: RealRig) -> list[int]:
    return [t.id for t in reversed(rig.harness.events.last_turns(10))]


def test_a_served_harness_ends_its_cli_when_idle_and_starts_it_for_the_next_mail(
        tmp_path: Path, daemon: DaemonProcess, api: MessagesApi) -> None:
    register(daemon, "sev")
    paths = agent_paths(tmp_path, daemon.agent_socket("sev"))
    env = serve_env(paths, api.url, recv_wait="5", cli_idle_release="0.2")
    with Client(daemon.host_socket) as op:
        first = op.call("send", to="sev", body="first job")["ids"][0]
    api.add(Reply(text="first done", match=Match(last_user_contains="first job")),
            Reply(text="second done", match=Match(last_user_contains="second job")))
    harness = HarnessProcess(env, tmp_path / "harness.log")
    try:
        wait_until(lambda: bool(conversation(api.model_calls)), "the first turn ran")
        wait_until(lambda: not harness.descendants(), "the idle CLI was ended")
        with Client(daemon.host_socket) as op:
            second = op.call("send", to="sev", body="second job")["ids"][0]
        wait_until(lambda: len(conversation(api.model_calls)) == 2, "the second turn ran")
        wait_until(lambda: counts(daemon, "sev") == (0, 0), "both were acked")
    finally:
        assert harness.stop() == 0, harness.output()
        harness.close()
    one, two = conversation(api.model_calls)
    assert f"Message #{first} from" in one.last_user_text
    assert f"Message #{second} from" in two.last_user_text
    assert two.session_id == one.session_id and "first done" in two.all_text()
    assert "claude CLI ended (idle" in harness.output()


def counts(daemon: DaemonProcess, name: str) -> tuple[int, int]:
    with Client(daemon.host_socket) as op:
        agent = op.call("agent_status", name=name)["agent"]
    return agent["unread"], agent["in_flight"]


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}")
        time.sleep(0.05)


def test_the_cli_runs_without_the_gc_timer_and_watches_its_config_by_inotify(
        tmp_path: Path, daemon: DaemonProcess, api: MessagesApi) -> None:
    # Bun's 1 s garbage-collection timer and the 1 s stat of .claude.json were most of
    # what a waiting CLI cost (bench/turn_cpu.py: 17 ms of CPU a second, 1 without):
    # the CLI process the harness starts has both off in its environment.
    rig = make_real_rig(tmp_path, daemon, "gci", api, cli_idle_release=0)
    rig.script_replies(Reply(text="one", match=Match(last_user_contains="first")))
    environ: list[dict[str, str]] = []

    async def scenario() -> None:
        async with running(rig.harness) as harness:
            rig.send("first")
            await harness.step()
            assert harness.session is not None
            pid = harness.session.cli_pid()
            assert pid is not None
            raw = (await asyncio.to_thread(Path(f"/proc/{pid}/environ").read_bytes)).split(b"\0")
            environ.append(dict(item.decode().partition("=")[::2] for item in raw if item))

    run(scenario(), BOUND)
    assert environ[0]["BUN_GC_TIMER_DISABLE"] == "1"
    assert environ[0]["CLAUDE_CODE_CONFIG_WATCH_EVENTS"] == "1"
