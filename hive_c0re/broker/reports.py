"""What an agent's own requests may make the host write: rate-limited and coalesced.

Some verbs make the host write on an agent's behalf beyond the agent's own
mail: ``report_login`` (an event row and a message to the manager) and
``ask``/``answer`` (a notice to the manager). Each agent has one token
bucket for these: ``agent_event_burst`` at once, then ``agent_event_rate`` a
minute. A login report that repeats the state last announced writes nothing;
past the bucket only the latest state is announced, once it refills. A
notice past the bucket is counted and the next one that goes out says how
many were held back. However fast an agent asks, the host writes a bounded
amount, and the manager's room for the hive's own events stays free.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)

Announce = Callable[[str, bool], None]
# What a harness may say it is doing (report_state); the daemon keeps the latest, in memory.
ACTIVITIES = frozenset({"idle", "thinking", "compacting", "rate-limited", "needs-login"})


@dataclass(frozen=True)
class Activity:
    """An agent's latest report: its state word, model and last turn (or None), and whether
    its claude CLI is ended between turns (released)."""

    state: str
    model: str | None
    last_turn: dict[str, float | int | None] | None
    released: bool = False


class AgentBuckets:
    """One token bucket per agent, on the event loop's clock."""

    def __init__(self, rate_per_minute: float, burst: int) -> None:
        self._per_second = rate_per_minute / 60
        self._burst = float(burst)
        self._tokens: dict[str, tuple[float, float]] = {}  # agent -> (tokens, as of)

    def take(self, agent: str) -> bool:
        """Spend one of ``agent``'s tokens if it has one."""
        tokens = self._refilled(agent)
        if tokens < 1:
            return False
        self._tokens[agent] = (tokens - 1, asyncio.get_running_loop().time())
        return True

    def wait(self, agent: str) -> float:
        """Seconds until ``agent`` has a token again."""
        return max(0.0, (1 - self._refilled(agent)) / self._per_second)

    def forget(self, agent: str) -> None:
        self._tokens.pop(agent, None)

    def _refilled(self, agent: str) -> float:
        now = asyncio.get_running_loop().time()
        tokens, since = self._tokens.get(agent, (self._burst, now))
        tokens = min(self._burst, tokens + (now - since) * self._per_second)
        self._tokens[agent] = (tokens, now)
        return tokens


@dataclass
class _Login:
    announced: bool | None = None
    latest: bool | None = None
    due: asyncio.TimerHandle | None = None


class AgentReports:
    """The bounded path from an agent's reports to the host's event log and the manager."""

    def __init__(self, announce_login: Announce, rate_per_minute: float, burst: int) -> None:
        self._announce_login = announce_login
        self.buckets = AgentBuckets(rate_per_minute, burst)
        self._logins: dict[str, _Login] = {}
        self._held_back: dict[str, int] = {}
        # One entry per agent, replaced by each report: an agent reporting in a loop
        # costs the host nothing it keeps.
        self.activities: dict[str, Activity] = {}

    def login(self, agent: str, logged_in: bool) -> None:
        """Note ``agent``'s latest login state; announce it now, later, or not (unchanged)."""
        state = self._logins.setdefault(agent, _Login())
        state.latest = logged_in
        self._flush_login(agent, state)

    def logged_in(self, agent: str) -> bool | None:
        """What ``agent``'s harness last reported (None: it has not said since start)."""
        state = self._logins.get(agent)
        return None if state is None else state.latest

    def notice(self, agent: str) -> int | None:
        """Whether a notice caused by ``agent`` may go out: None if it is held back,
        else how many were held back before it (to say so in it)."""
        if not self.buckets.take(agent):
            self._held_back[agent] = self._held_back.get(agent, 0) + 1
            if self._held_back[agent] == 1:
                log.info("%s causes notices faster than agent_event_rate; holding back",
                         agent, extra={"HIVE_AGENT": agent})
            return None
        return self._held_back.pop(agent, 0)

    def forget(self, agent: str) -> None:
        self.activities.pop(agent, None)
        state = self._logins.pop(agent, None)
        if state is not None and state.due is not None:
            state.due.cancel()
        self._held_back.pop(agent, None)
        self.buckets.forget(agent)

    def _flush_login(self, agent: str, state: _Login) -> None:
        if state.latest is None or state.latest == state.announced:
            return  # nothing new to say: coalesced
        if self.buckets.take(agent):
            state.announced = state.latest
            self._announce_login(agent, state.latest)
        elif state.due is None:
            log.info("%s reports its login faster than agent_event_rate; coalescing",
                     agent, extra={"HIVE_AGENT": agent})
            state.due = asyncio.get_running_loop().call_later(
                self.buckets.wait(agent), self._login_due, agent)

    def _login_due(self, agent: str) -> None:
        state = self._logins.get(agent)
        if state is None:
            return
        state.due = None
        try:
            self._flush_login(agent, state)
        except Exception:
            log.exception("announcing %s's login state failed", agent,
                          extra={"HIVE_AGENT": agent})
