"""Who leases no mail now: the operator's pause marks, and the agents a graceful stop holds.

Pausing is enforced on the host: ``recv`` from a paused agent leases nothing
(it waits as if the inbox were empty), while ``ack_turn`` and
``requeue_inflight`` keep working, so the turn that is running finishes and
acks and the next one never starts. Mail keeps arriving and waits. An
agent's mark is its store row's; the manager's, which has no row, is a file
beside its desired state. A graceful stop holds an agent the same way for a
while without touching the operator's mark.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter, defaultdict
from collections.abc import Iterator

from hive_c0re.broker.mailroom import MailSignals
from hive_c0re.broker.store import Store
from hive_c0re.names import MANAGER
from hive_c0re.paths import Paths

log = logging.getLogger(__name__)


class Pauses:
    """The pause marks, the holds, and the wake-ups when an agent's turn ends."""

    def __init__(self, store: Store, paths: Paths, signals: MailSignals) -> None:
        self.store = store
        self.paths = paths
        self.signals = signals
        self._held: Counter[str] = Counter()  # graceful stops in progress, per agent
        self._manager: bool | None = None  # the manager's mark, read once from its file
        self._turn_ended: defaultdict[str, set[asyncio.Event]] = defaultdict(set)

    def paused(self, name: str) -> bool:
        """The operator's mark (an unknown name is simply not paused)."""
        if name == MANAGER:
            if self._manager is None:
                # Imported here: a hive of plain mailboxes never loads the lifecycle.
                from hive_c0re.lifecycle.manager import manager_paused

                self._manager = manager_paused(self.paths)
            return self._manager
        record = self.store.agent_or_none(name)
        return record is not None and record.paused

    def held(self, name: str) -> bool:
        """Whether a graceful stop of ``name`` is waiting for its turn to end."""
        return self._held[name] > 0

    def leases_nothing(self, name: str) -> bool:
        return self.paused(name) or self.held(name)

    def set_paused(self, name: str, paused: bool) -> bool:
        """Set or clear the operator's mark; return whether it changed. Clearing it wakes
        the agent's waiting ``recv`` at once, so its mail is leased without delay."""
        changed = self.paused(name) != paused
        if name == MANAGER:
            from hive_c0re.lifecycle.manager import mark_manager_paused  # see paused()

            mark_manager_paused(self.paths, paused)
            self._manager = paused
        else:
            self.store.set_paused(name, paused)
        if not self.leases_nothing(name):
            self.signals.notify(name)
        return changed

    @contextlib.contextmanager
    def hold(self, name: str) -> Iterator[None]:
        """Lease ``name`` nothing new while the block runs (a graceful stop's wait)."""
        self._held[name] += 1
        try:
            yield
        finally:
            self._held[name] -= 1
            if self._held[name] <= 0:
                del self._held[name]
                if not self.paused(name):
                    self.signals.notify(name)

    def turn_ended(self, name: str) -> None:
        """``name`` acked or requeued its turn: whoever waits for it to drain looks again."""
        for event in self._turn_ended.pop(name, ()):
            event.set()

    async def drained(self, name: str, seconds: float) -> bool:
        """Wait up to ``seconds`` until ``name`` has nothing in flight."""
        deadline = asyncio.get_running_loop().time() + seconds
        while self.store.counts(name).in_flight:
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                return False
            event = asyncio.Event()
            self._turn_ended[name].add(event)
            try:
                async with asyncio.timeout(remaining):
                    await event.wait()
            except TimeoutError:
                return False
            finally:
                self._turn_ended[name].discard(event)
                if not self._turn_ended[name]:
                    del self._turn_ended[name]
        return True
