"""The mailroom: the store's mail plus the wake-ups, and the hive's events as mail.

Every message goes through here so that a committed send wakes its waiting
receivers at once (no polling loop anywhere), and every hive event reaches
the manager as a message from ``system``, within the budget of the agent
whose request caused it.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from hive_c0re.broker.reports import AgentReports
from hive_c0re.broker.store import Store
from hive_c0re.errors import HiveError
from hive_c0re.names import MANAGER, OPERATOR, SYSTEM
from hive_c0re.settings import Settings
from hive_c0re.story import event_words, first_words

log = logging.getLogger(__name__)


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


class Mailroom:
    """Sends, hive events and agents' reports: the store written, the receivers woken."""

    def __init__(self, store: Store, settings: Settings,
                 on_event: Callable[[str, str | None], None] = lambda kind, agent: None) -> None:
        self.store = store
        self.on_event = on_event  # told (kind, agent) of every hive event, once it is logged
        self.signals = MailSignals()
        self.reports = AgentReports(self._announce_login, settings.agent_event_rate,
                                    settings.agent_event_burst)

    def send(self, sender: str, to: str, body: str, in_reply_to: int | None) -> list[int]:
        """Store, then wake every recipient that is waiting."""
        stored = self.store.send(sender, to, body, in_reply_to)
        for recipient in stored.values():
            self.signals.notify(recipient)
        for message_id, recipient in stored.items():
            # In the sender's story and the recipient's (journalctl HIVE_AGENT=either).
            log.info("mail #%d %s → %s: %s", message_id, sender, recipient, first_words(body),
                     extra={"HIVE_AGENT": [n for n in (sender, recipient)
                                           if n not in (OPERATOR, SYSTEM)],
                            "HIVE_FROM": sender, "HIVE_TO": recipient,
                            "HIVE_MESSAGE": message_id})
        return list(stored)

    def announce(self, kind: str, agent: str | None, *, tell_agent: bool = False,
                 **data: Any) -> None:
        """A hive event: into the event log, and as a message from ``system`` to the manager
        (and to the agent concerned when ``tell_agent``). A refused delivery (a full inbox)
        is logged loudly; the event log keeps the event either way."""
        self.store.record_event(kind, agent, **data)
        if agent is not None:  # in the journal too: journalctl HIVE_AGENT=alice tells it all
            log.info("%s: %s", agent, event_words(kind, data),
                     extra={"HIVE_AGENT": agent, "HIVE_EVENT": kind})
        self.on_event(kind, agent)
        self.tell(kind, agent, [MANAGER, agent] if tell_agent and agent else [MANAGER], **data)

    def _announce_login(self, agent: str, logged_in: bool) -> None:
        self.announce("logged_in" if logged_in else "needs_login", agent)

    def tell_manager_for(self, caller: str, kind: str, agent: str | None, **data: Any) -> None:
        """Tell the manager of an event ``caller``'s request caused: an agent's within its
        budget (the operator's always), so no agent can crowd the hive's own events out."""
        held_back = 0 if caller == OPERATOR else self.reports.notice(caller)
        if held_back is None:
            return  # in the event log still; the next notice says how many were held
        if held_back:
            data["held_back"] = held_back
        self.tell(kind, agent, [MANAGER], **data)

    def tell(self, kind: str, agent: str | None, recipients: list[str], **data: Any) -> None:
        """Deliver an event already in the event log as messages from ``system``."""
        body = json.dumps({"event": kind, "agent": agent, **data}, default=str)
        for recipient in recipients:
            try:
                self.send(SYSTEM, recipient, body, None)
            except HiveError as exc:
                log.error("event %s for %s not delivered to %s: %s", kind, agent, recipient,
                          exc.message, extra={"HIVE_AGENT": agent or recipient})

    def take_back(self, mailbox: str, ids: list[int], *, acked: bool) -> None:
        """Mail handed out in an answer its caller never received goes back to unread."""
        count = self.store.unlease(mailbox, ids, acked=acked)
        if count:
            log.info("%s hung up before its mail reached it; %d message(s) kept unread",
                     mailbox, count, extra={"HIVE_AGENT": mailbox})
            self.signals.notify(mailbox)

    def status_line(self) -> str:
        agents = self.store.agents()
        unread = sum(self.store.counts(a.name).unread for a in agents)
        return (f"{len(agents)} agent(s); {unread} unread; "
                f"{self.signals.waiting()} waiting on mail")
