"""The harness tells the hive what it is doing, so the operator's views show it.

The daemon sees containers and leases; only the harness knows it is
compacting, waiting out a rate limit, or what its last turn cost. Each state
change is reported on a connection of its own (the mail connection holds a
long poll), coalesced: while one report is on the wire, later changes
collapse into the next one, which carries the state as it is then.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from hive_ag3nt.harness import Harness, State
from hive_ag3nt.hive import HiveConnection
from hive_c0re.errors import HiveError

log = logging.getLogger(__name__)


class StateReporter:
    def __init__(self, harness: Harness, hive: HiveConnection) -> None:
        self.harness = harness
        self.hive = hive
        self._dirty = False
        self._task: asyncio.Task[None] | None = None
        harness.state_listeners.append(self._changed)

    def _changed(self, state: State) -> None:
        if state is State.OFFLINE:
            return  # the hive is away: nobody to tell, and it asks again when back
        self._dirty = True
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._send())

    async def _send(self) -> None:
        while self._dirty:
            self._dirty = False
            try:
                await self.hive.call("report_state", **self.report())
            except HiveError as exc:  # the next change says it again
                log.debug("could not report the state: %s", exc)

    def report(self) -> dict[str, Any]:
        """The state, the model and, once there is one, how the last turn went."""
        harness = self.harness
        args: dict[str, Any] = {"state": harness.state.value, "model": harness.model.current,
                                "released": harness.released}
        last = harness.events.last_turns(1)
        took = last[0].duration_ms if last else None
        if took is not None:
            turn = last[0]
            args.update(turn_ended_at=turn.started_at + took / 1000, turn_ms=took,
                        turn_tokens=(turn.input_tokens or 0) + (turn.output_tokens or 0),
                        turn_cost_usd=turn.cost_usd)
        return args

    async def close(self) -> None:
        self.harness.state_listeners.remove(self._changed)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.hive.close()
