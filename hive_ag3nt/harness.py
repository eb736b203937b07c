"""The turn loop: wait for mail, run one Claude turn, ack only when it ended well.

States the operator sees: idle, thinking, compacting, rate-limited, needs-login,
offline. Nothing is acked unless its turn succeeded: a failed or cancelled turn
requeues its mail, which comes back marked redelivered. Leased mail is always
shown in a turn or taken back: the long-poll is never abandoned (operator input
served meanwhile leaves it running; its answer is the next mail turn), and a turn
in which a hive tool call could not reach the hive is not acked. Between turns the
CLI may be ended (:mod:`hive_ag3nt.upkeep`), ``released`` says so; the next resumes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from hive_ag3nt import prompt
from hive_ag3nt.events import EventLog
from hive_ag3nt.hive import HiveConnection
from hive_ag3nt.model import ModelChoice, login_needed
from hive_ag3nt.notes import rewrite_notes
from hive_ag3nt.outcome import Outcome, TurnResult
from hive_ag3nt.paths import AgentPaths
from hive_ag3nt.policy import load_policy
from hive_ag3nt.runner import ClaudeSession, SessionConfig
from hive_ag3nt.settings import HarnessSettings
from hive_ag3nt.states import State, state_word
from hive_ag3nt.tools import build_server
from hive_ag3nt.upkeep import CliUpkeep
from hive_c0re.errors import HiveError, InvalidInput, Unreachable
from hive_c0re.wire import Kind

log = logging.getLogger(__name__)


__all__ = ["Harness", "State"]
QUEUED_COMMANDS = ("/compact", "/new-session")
RECENT_MAIL = 50  # messages the UI's inbox panel shows


class Harness:
    def __init__(self, paths: AgentPaths, settings: HarnessSettings,
                 cli_path: str | None = None, env: dict[str, str] | None = None, *,
                 prepare: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] | None = None,
                 extra_prompt: str = "") -> None:
        """``prepare`` and ``extra_prompt`` are the manager's; its tools come with its socket."""
        self.paths = paths
        self.policy = load_policy(paths.policy)
        self.settings = settings.for_agent(self.policy)
        self.model = ModelChoice(self.policy, paths.model_file)
        self.events = EventLog(paths.events)
        self.mail = HiveConnection(paths.socket)
        self.tools = HiveConnection(paths.socket)
        self.cli_path = cli_path
        self.env = env or {}
        self.prepare = prepare or {}
        self.extra_prompt = extra_prompt
        self.name = "?"
        self.kind = Kind.AGENT  # which socket this is, as whoami says: it decides the tools
        self.session: ClaudeSession | None = None
        self.state = State.OFFLINE
        self.state_listeners: list[Callable[[State], None]] = []
        self.before_turn: list[Callable[[], None]] = []  # e.g. hand new files to the model
        self.inputs: asyncio.Queue[str] = asyncio.Queue()
        self.logged_in = asyncio.Event()
        self.turn_running = False
        self.recent_mail: deque[dict[str, Any]] = deque(maxlen=RECENT_MAIL)
        self._failures = 0
        self._recv: asyncio.Future[dict[str, Any]] | None = None  # the long-poll for mail
        self.upkeep = CliUpkeep(self.settings, self._announce)  # ends the CLI between turns

    # -- state ------------------------------------------------------------------

    def set_state(self, state: State) -> None:
        if state is not self.state:
            self.state = state
            self.events.record(None, "state", state=state.value)
            self._announce()

    def _announce(self) -> None:
        """Tell the listeners the state, or again: something they show beside it changed."""
        for listener in list(self.state_listeners):
            listener(self.state)

    @property
    def released(self) -> bool:
        """Whether the CLI was ended between turns (the next turn resumes its session)."""
        return not self.turn_running and self.upkeep.released

    def status(self) -> dict[str, Any]:
        """What the UI shows. ``stand_in``: the last turn was answered by the stand-in, not a
        model (its figures are not a model's); ``login_needed``: show the login card;
        ``released``: the CLI is ended until the next turn, which resumes the session."""
        last = self.events.last_turns(1)
        stand_in = bool(last) and last[0].stand_in
        return {"name": self.name, "state": state_word(self.state, self.released),
                "released": self.released,
                "model": self.model.current,
                "available_models": list(self.policy.available_models),
                "stand_in": stand_in, "turn_running": self.turn_running,
                "login_needed": self.state is State.NEEDS_LOGIN
                or login_needed(self.env, stand_in),
                "session": self.session.session_id if self.session else None,
                "last_turn": last[0].as_dict() if last else None}

    # -- start ------------------------------------------------------------------

    async def start(self) -> None:
        """Learn who we are and take back mail a previous run left in flight."""
        requeued = await self._reach_hive()
        log.info("%s: harness up, %d message(s) requeued", self.name, requeued,
                 extra={"HIVE_AGENT": self.name})
        if self.session is None:
            # The hive server is built before the first turn (_session): the SDK it
            # comes from is the harness's heaviest import, and an idle agent needs none.
            config = SessionConfig(
                name=self.name, policy=self.policy, paths=self.paths,
                system_prompt=prompt.system_prompt(self.name, self.policy,
                                                   str(self.paths.notes)) + self.extra_prompt,
                mcp_server=None, cli_path=self.cli_path,
                env=self.env, tool_kind=self.kind)
            self.session = ClaudeSession(config, self.events, lambda: self.model.current)
            self.session.on_retry = self._cli_retrying
            self.upkeep.session = self.session
        self.set_state(State.IDLE)

    async def _reach_hive(self) -> int:
        """Wait for the hive; take back what was in flight (a lease whose answer never came).

        Called when no turn holds mail, so everything in flight is from an
        earlier run or a lost answer. Returns how many messages came back.
        """
        me = await self._hive_call("whoami")
        self.name, self.kind = me["name"], Kind(me["socket"])
        return int((await self._hive_call("requeue_inflight"))["requeued"])

    async def _hive_call(self, cmd: str) -> dict[str, Any]:
        """``cmd`` on the hive, waiting offline for as long as the hive is away.

        For the loop's own bookkeeping verbs, which are safe to repeat.
        """
        pause = 0.1
        while True:
            try:
                answer = await self.mail.call(cmd)
            except Unreachable as exc:
                self.set_state(State.OFFLINE)
                log.warning("hive unreachable (%s); retrying", exc)
                await asyncio.sleep(pause)
                pause = min(pause * 2, 5.0)
                continue
            if self.state is State.OFFLINE:
                self.set_state(State.IDLE)
            return answer

    def _session(self) -> ClaudeSession:
        """The session, its hive server built: what a turn needs and waiting for mail does not."""
        assert self.session is not None
        config = self.session.config
        if config.mcp_server is None:  # the server notes its failures, the session reads them
            config.mcp_server = build_server(self.tools, config.tool_kind, self.prepare,
                                             config.tool_failures)
        return self.session

    def _cli_retrying(self, error: str) -> None:
        if error == "rate_limit":
            self.set_state(State.RATE_LIMITED)

    async def run(self) -> None:
        await self.start()
        while True:
            await self.step()

    async def close(self) -> None:
        await self.upkeep.close()
        recv, self._recv = self._recv, None
        if recv is not None:
            # Whatever it leased goes back: the daemon takes back an answer it could
            # not write, and the next start requeues what is still in flight.
            recv.cancel()
            await asyncio.gather(recv, return_exceptions=True)
        if self.session is not None:
            await self.session.close()
        await self.mail.close()
        await self.tools.close()
        self.events.close()

    # -- one iteration ------------------------------------------------------------

    async def step(self) -> None:
        """Wait for mail or the operator, then run what came."""
        item = await self._next_input()
        if isinstance(item, str):
            await self._operator(item)
        elif item:
            await self._mail_turn(item)
        await self.upkeep.bound_growth()
        self._housekeeping()

    async def _next_input(self) -> list[dict[str, Any]] | str:
        """The operator's next input, or the mail the long-poll brought.

        The long-poll outlives operator input: cancelling it could drop an
        answer already on its way (leased mail no turn would show), so it
        keeps going while the operator is served and its answer is taken next.
        """
        if self._recv is not None and self._recv.done():
            return await self._take_mail(self._recv)
        if not self.inputs.empty():
            return self.inputs.get_nowait()
        if self._recv is None:
            self._recv = asyncio.ensure_future(
                self.mail.call("recv", wait_seconds=self.settings.recv_wait))
        recv = self._recv
        typed = asyncio.ensure_future(self.inputs.get())
        waiting: set[asyncio.Future[Any]] = {recv, typed}
        try:
            done, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not typed.done():
                typed.cancel()  # the queue keeps its item: get() takes it only when it wins
                await asyncio.gather(typed, return_exceptions=True)
        if typed in done:
            return typed.result()
        return await self._take_mail(recv)

    async def _take_mail(self, recv: asyncio.Future[dict[str, Any]]) -> list[dict[str, Any]]:
        self._recv = None
        try:
            return list(recv.result()["messages"])
        except Unreachable as exc:
            self.set_state(State.OFFLINE)
            log.warning("hive unreachable (%s); retrying", exc)
            await asyncio.sleep(1.0)
            await self.start()  # a lease whose answer was lost comes back
            return []

    async def _mail_turn(self, messages: list[dict[str, Any]]) -> None:
        self.recent_mail.extend(messages)
        for m in messages:  # which mail the next turn answers: id, sender, first words
            log.info("%s: mail in #%d from %s: %s", self.name, m["id"], m["from"],
                     " ".join(str(m["body"]).split())[:60], extra={"HIVE_AGENT": self.name})
        text = prompt.mail_prompt(messages)
        while True:
            result = await self._turn(text, "mail")
            if await self._settle(result):
                return

    async def _settle(self, result: TurnResult) -> bool:
        """Act on a turn's outcome; True when its mail is done with (acked or requeued)."""
        log.info("%s: turn %d %s in %.1f s, %d tokens in, %s out%s", self.name, result.turn,
                 result.outcome.value, (result.duration_ms or 0) / 1000, result.context_tokens,
                 "?" if result.output_tokens is None else result.output_tokens,
                 f" ({result.error})" if result.error else "",
                 extra={"HIVE_AGENT": self.name, "HIVE_TURN": result.turn})
        if result.outcome is Outcome.OK:
            await self._hive_call("ack_turn")
            self._failures = 0
            await self._watermark(result)
            await self.compact_notes()
            return True
        if result.outcome is Outcome.RATE_LIMITED:
            self.set_state(State.RATE_LIMITED)
            await asyncio.sleep(self._rate_limit_pause())
            return False  # same mail, still leased: try the turn again
        if result.outcome is Outcome.TOO_LONG:
            await self.compact()
            return False
        # HIVE_UNREACHABLE lands here too: a reply may be missing, the mail comes again.
        await self._hive_call("requeue_inflight")
        if result.outcome is Outcome.AUTH:
            await self._wait_for_login()
        elif result.outcome in (Outcome.ERROR, Outcome.HIVE_UNREACHABLE):
            self._failures += 1
            await asyncio.sleep(min(2.0 ** self._failures, self.settings.error_backoff_max))
        return True

    def _rate_limit_pause(self) -> float:
        """Until the rejected window reopens, when the CLI said; else the configured wait."""
        assert self.session is not None
        if self.session.resets_at:
            return max(1.0, min(self.session.resets_at - time.time(), 6 * 3600.0))
        return self.settings.rate_limit_wait

    async def _turn(self, text: str, trigger: str) -> TurnResult:
        session = self._session()
        self.upkeep.turn_starts()
        self.turn_running = True  # before the state: its listeners read the status
        self.set_state(State.COMPACTING if trigger == "compact" else State.THINKING)
        try:
            for prepare in self.before_turn:
                prepare()
            result = await session.turn(text, trigger)
        finally:
            self.turn_running = False
            if self.state in (State.THINKING, State.COMPACTING):
                self.set_state(State.IDLE)
        self.upkeep.turn_ended()
        return result

    # -- compaction ---------------------------------------------------------------

    async def _watermark(self, result: TurnResult) -> None:
        if not self.policy.auto_compact:
            return
        if result.context_tokens < self.policy.compact_at * self.settings.context_window:
            return
        self.events.record(result.turn, "watermark", tokens=result.context_tokens,
                           window=self.settings.context_window)
        await self._turn(prompt.CHECKPOINT.format(notes=self.paths.notes), "checkpoint")
        await self.compact()

    async def compact(self) -> None:
        await self._turn("/compact", "compact")

    def _housekeeping(self) -> None:
        self.events.prune(self.settings.events_max_age)

    async def compact_notes(self) -> bool:
        """Rewrite notes.md in a short separate session when it passed its limit."""
        if self.session is None:
            return False
        return await rewrite_notes(self._session(), self.settings, lambda: self.model.current,
                                   self.set_state)

    # -- login --------------------------------------------------------------------

    async def _wait_for_login(self) -> None:
        self.set_state(State.NEEDS_LOGIN)
        log.warning("%s needs a Claude login; turns are parked", self.name,
                    extra={"HIVE_AGENT": self.name})
        self.logged_in.clear()
        await self._report_login(False)
        while not self.logged_in.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.settings.login_recheck):
                    await self.logged_in.wait()
            if await self.auth_ok():
                break
        assert self.session is not None
        await self.session.close("login")  # new credentials: a fresh CLI process
        await self._report_login(True)
        self.set_state(State.IDLE)

    async def _report_login(self, logged_in: bool) -> None:
        """Tell the hive (the manager hears it as an event); never let that stop the loop."""
        try:
            await self.mail.call("report_login", logged_in=logged_in)
        except HiveError as exc:
            log.warning("could not report the login state: %s", exc)

    async def auth_ok(self) -> bool:
        from hive_ag3nt.login import auth_status

        return await auth_status(self.cli_path, self.paths, self.env)

    # -- the operator -------------------------------------------------------------

    async def command(self, text: str) -> dict[str, Any]:
        """A prompt or slash command from the operator; answers at once, turns queue up."""
        text = text.strip()
        if not text:
            raise InvalidInput("empty prompt")
        word, _, rest = text.partition(" ")
        if word == "/status":
            return self.status()
        if word == "/model":
            if not rest.strip():
                return {"model": self.model.current,
                        "available": list(self.policy.available_models)}
            warning = self.model.set(rest.strip())
            if self.session is not None:
                await self.session.set_model(self.model.current)
            return {"model": self.model.current, "warning": warning}
        if word == "/cancel":
            if self.session is not None and self.turn_running:
                await self.session.interrupt()
                return {"cancelled": True}
            return {"cancelled": False}
        if word.startswith("/") and word not in QUEUED_COMMANDS:
            raise InvalidInput(f"unknown command {word}",
                               hint="/model, /compact, /new-session, /cancel, /status")
        self.inputs.put_nowait(text)
        return {"queued": True}

    async def _operator(self, text: str) -> None:
        if text == "/compact":
            await self.compact()
        elif text == "/new-session":
            assert self.session is not None
            await self.session.new_session()
            self.events.record(None, "new_session")
        else:
            await self._turn(text, "operator")
