"""When the harness ends its claude CLI between turns: idle too long, or grown too big.

The CLI stays up across turns because starting it is the slow part of a
turn; a waiting agent does not need it, and a long-lived one grows with
every turn. After ``cli_idle_release`` seconds without a turn it is ended by
a timer beside the turn loop, so whatever the loop waits for (mail on its
long-poll, a rate limit, a login) goes on untouched; past ``cli_max_rss_mib``
it is ended after the step that grew it. Either way the session stays and the
next turn resumes it (:meth:`ClaudeSession.release` keeps a turn's CLI alive).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from hive_ag3nt.runner import ClaudeSession
from hive_ag3nt.settings import HarnessSettings

log = logging.getLogger(__name__)


class CliUpkeep:
    """Ends one session's CLI between turns; ``announce`` tells the listeners it did."""

    def __init__(self, settings: HarnessSettings, announce: Callable[[], None]) -> None:
        self.settings = settings
        self.announce = announce
        self.session: ClaudeSession | None = None  # the harness's, once it started
        self._timer: asyncio.TimerHandle | None = None
        self._releasing: asyncio.Task[bool] | None = None

    @property
    def released(self) -> bool:
        """Whether the CLI was ended between turns (the next turn resumes its session)."""
        return self.session is not None and self.session.released is not None

    def turn_starts(self) -> None:
        self._disarm()

    def turn_ended(self) -> None:
        """Count idle time from now: past cli_idle_release without a turn, the CLI ends."""
        self._disarm()
        idle = self.settings.cli_idle_release
        if idle > 0 and self.session is not None and self.session.running:
            self._timer = asyncio.get_running_loop().call_later(idle, self._idle_passed)

    async def bound_growth(self) -> None:
        """Between turns: a CLI grown past cli_max_rss_mib is ended; the next turn resumes."""
        bound = self.settings.cli_max_rss_mib
        if not bound or self.session is None:
            return
        rss = self.session.cli_rss_mib()
        if rss is not None and rss > bound:
            await self.release("growth")

    async def release(self, reason: str) -> bool:
        """End the CLI now, unless a turn holds it; True if it was ended.

        Never raises: a failed release leaves the CLI to the next turn, which
        starts it afresh if it must.
        """
        if self.session is None:
            return False
        try:
            ended = await self.session.release(reason)
        except Exception:
            log.exception("%s: the claude CLI could not be released", self.session.config.name,
                          extra={"HIVE_AGENT": self.session.config.name})
            return False
        if ended:
            self.announce()
        return ended

    async def close(self) -> None:
        """Stop counting; a release under way finishes (it is ending a process)."""
        self._disarm()
        if self._releasing is not None:
            await asyncio.gather(self._releasing, return_exceptions=True)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _idle_passed(self) -> None:
        self._timer = None
        if self._releasing is None or self._releasing.done():
            self._releasing = asyncio.get_running_loop().create_task(self.release("idle"))
