"""Wake-ups for long-polling receivers: no polling loop anywhere."""

from __future__ import annotations

import asyncio
from collections import defaultdict


class MailSignals:
    """Receivers wait on their mailbox; a committed send wakes them at once."""

    def __init__(self) -> None:
        self._waiters: defaultdict[str, set[asyncio.Future[None]]] = defaultdict(set)

    def notify(self, mailbox: str) -> None:
        for waiter in self._waiters.pop(mailbox, ()):
            if not waiter.done():
                waiter.set_result(None)

    async def wait(self, mailbox: str, seconds: float) -> bool:
        """Wait up to ``seconds`` for new mail; True if woken by a send."""
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters[mailbox].add(waiter)
        try:
            async with asyncio.timeout(seconds):
                await waiter
            return True
        except TimeoutError:
            return False
        finally:
            waiters = self._waiters.get(mailbox)
            if waiters is not None:
                waiters.discard(waiter)
                if not waiters:
                    del self._waiters[mailbox]

    def waiting(self) -> int:
        return sum(len(w) for w in self._waiters.values())
