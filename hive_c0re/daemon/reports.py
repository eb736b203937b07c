"""What an agent's own reports may make the host write: rate-limited and coalesced.

``report_login`` is the harness saying whether it has working credentials. A
report that repeats the state last announced writes nothing; a change is
announced (one event row, one message to the manager) while the agent's token
bucket has room, and past it only the latest state is announced once the
bucket refills. However fast an agent reports, the host writes at most
``agent_event_burst`` events at once and ``agent_event_rate`` a minute after.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)

Announce = Callable[[str, bool], None]


@dataclass
class _Lane:
    """One agent's bucket and the states reported and announced."""

    tokens: float
    refilled_at: float
    announced: bool | None = None
    latest: bool | None = None
    due: asyncio.TimerHandle | None = None


class LoginReports:
    def __init__(self, announce: Announce, rate_per_minute: float, burst: int) -> None:
        self._announce = announce
        self._per_second = rate_per_minute / 60
        self._burst = float(burst)
        self._lanes: dict[str, _Lane] = {}

    def report(self, agent: str, logged_in: bool) -> None:
        """Note ``agent``'s latest state; announce it now, later, or not at all (unchanged)."""
        now = asyncio.get_running_loop().time()
        lane = self._lanes.setdefault(agent, _Lane(tokens=self._burst, refilled_at=now))
        lane.latest = logged_in
        self._flush(agent, lane)

    def forget(self, agent: str) -> None:
        lane = self._lanes.pop(agent, None)
        if lane is not None and lane.due is not None:
            lane.due.cancel()

    def _flush(self, agent: str, lane: _Lane) -> None:
        if lane.latest is None or lane.latest == lane.announced:
            return  # nothing new to say: coalesced
        loop = asyncio.get_running_loop()
        now = loop.time()
        lane.tokens = min(self._burst, lane.tokens + (now - lane.refilled_at) * self._per_second)
        lane.refilled_at = now
        if lane.tokens >= 1:
            lane.tokens -= 1
            lane.announced = lane.latest
            self._announce(agent, lane.latest)
        elif lane.due is None:
            log.info("%s reports its login faster than agent_event_rate; coalescing",
                     agent, extra={"HIVE_AGENT": agent})
            wait = (1 - lane.tokens) / self._per_second
            lane.due = loop.call_later(wait, self._when_due, agent)

    def _when_due(self, agent: str) -> None:
        lane = self._lanes.get(agent)
        if lane is None:
            return
        lane.due = None
        try:
            self._flush(agent, lane)
        except Exception:
            log.exception("announcing %s's login state failed", agent,
                          extra={"HIVE_AGENT": agent})
