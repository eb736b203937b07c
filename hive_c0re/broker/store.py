"""The broker's store: every read and write of ``broker.sqlite`` goes through :class:`Store`.

Messages move through three states: *unread* (stored, ``leased_at`` NULL),
*in flight* (leased to the recipient's current turn) and *acked* (the turn
ended well). A send is committed before it is answered; a requeue puts
in-flight mail back to unread and the next lease says it is a redelivery.
The store is synchronous and single-connection; the daemon calls it from its
event loop, where each call is a short transaction.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import peewee

from hive_c0re.broker import migrations
from hive_c0re.broker.events import EventLog
from hive_c0re.broker.flow import MessageFlow, flow_row
from hive_c0re.broker.models import database, execute
from hive_c0re.broker.records import AgentRecord, Delivery, Desired, MailboxCounts
from hive_c0re.broker.roster import Roster
from hive_c0re.errors import InboxFull, InvalidInput, NotFound, PolicyRefused, StoreError
from hive_c0re.names import BROADCAST, MANAGER, OPERATOR, SYSTEM
from hive_c0re.settings import Settings

__all__ = ["AgentRecord", "Delivery", "Desired", "MailboxCounts", "Outbox", "Store"]

Clock = Callable[[], float]
# Recipients that exist without registration: the operator reads on host.sock,
# the manager on its own socket.
FIXED_MAILBOXES = frozenset({OPERATOR, MANAGER})
# The two lanes of an inbox: the hive's events (from system), then everything else.
# The events lane names its partial index (migration 5): left to itself, sqlite
# picks message_inbox (more equality columns) and walks every unread peer message
# to find an event. The peer lane walks message_inbox in id order, skipping events.
SYSTEM_LANE, PEER_LANE = "system", "peer"
_COLUMNS = "SELECT id, sender, recipient, body, in_reply_to, sent_at, deliveries > 0"
_SYSTEM_TABLE = " message INDEXED BY message_system_unread"
_UNREAD = " WHERE recipient = ? AND acked_at IS NULL AND leased_at IS NULL"
_SET_TAKEN = " SET leased_at = ?, acked_at = ?, deliveries = deliveries + 1"
UNREAD_SQL = {
    SYSTEM_LANE: _COLUMNS + " FROM" + _SYSTEM_TABLE + _UNREAD
    + " AND sender = 'system' ORDER BY id LIMIT ?",
    PEER_LANE: _COLUMNS + " FROM message" + _UNREAD + " AND sender != 'system' ORDER BY id LIMIT ?",
}
# A lane's oldest unread mail up to an id: exactly what UNREAD_SQL just returned.
TAKE_SQL = {
    SYSTEM_LANE: "UPDATE" + _SYSTEM_TABLE + _SET_TAKEN + _UNREAD
    + " AND sender = 'system' AND id <= ?",
    PEER_LANE: "UPDATE message" + _SET_TAKEN + _UNREAD + " AND sender != 'system' AND id <= ?",
}



class Outbox:
    """Event messages from ``system``, stored inside one :meth:`Store.transaction`.

    They commit or roll back with the row change they report, so an event is
    never lost and never sent for a change that did not happen.
    """

    def __init__(self, store: Store) -> None:
        self._store = store
        self.recipients: list[str] = []

    def post(self, recipient: str, event: Mapping[str, Any], at: float) -> int:
        """Store ``event`` as a JSON message to ``recipient``; return its id.

        Registration, allow-lists and the inbox cap are the caller's to check:
        an outcome owed to an agent (an answer, its own reminder) is stored even
        when it has since been unregistered or its inbox is full.
        """
        body = json.dumps(event, ensure_ascii=False)
        message_id = self._store._insert(SYSTEM, recipient, body, None, at)
        self.recipients.append(recipient)
        return message_id


def open_database(path: Path, settings: Settings) -> peewee.SqliteDatabase:
    """Open (creating if needed) the broker file with the hive's pragmas and schema."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    db = peewee.SqliteDatabase(
        str(path),
        pragmas={
            # auto_vacuum only takes effect on an empty file, so it comes first.
            "auto_vacuum": "incremental",
            "journal_mode": "wal",
            "synchronous": settings.sqlite_synchronous,
            "foreign_keys": 1,
            "busy_timeout": settings.busy_timeout_ms,
        },
        timeout=settings.busy_timeout_ms / 1000,
    )
    try:
        db.connect()
        migrations.migrate(db)
    except peewee.DatabaseError as exc:
        db.close()
        raise StoreError(f"cannot open broker file {path}: {exc}") from exc
    return db


class Store(Roster, EventLog, MessageFlow):
    """The broker's narrow interface. One open store per process (models bind globally).

    The agent table (:class:`Roster`), the event log with retention
    (:class:`EventLog`) and the operator's reads of the flow (:class:`MessageFlow`)
    live in their own modules; the mail is here.
    """

    def __init__(self, path: Path, settings: Settings, clock: Clock = time.time) -> None:
        self.settings = settings
        self.clock = clock
        # Told of every message and event-log row inserted (the live feed reads them
        # once committed); nothing by default, for the CLI's reads and the tests.
        self.on_write: Callable[[], None] = lambda: None
        self.db = open_database(path, settings)
        database.initialize(self.db)
        self._load_roster()
        self._load_counts()

    def close(self) -> None:
        self.db.close()

    def counts(self, recipient: str) -> MailboxCounts:
        """Unread and in-flight mail of one recipient."""
        return MailboxCounts(unread=self._unread_count[recipient],
                             in_flight=self._in_flight_count[recipient])

    def _load_counts(self) -> None:
        # Like the agent table, only this store writes messages: counts kept in
        # memory stay exact and make the inbox cap and status lines O(1).
        self._unread_count: Counter[str] = Counter()
        self._in_flight_count: Counter[str] = Counter()
        rows = execute(
            self.db,
            "SELECT recipient, SUM(leased_at IS NULL), SUM(leased_at IS NOT NULL)"
            " FROM message WHERE acked_at IS NULL GROUP BY recipient",
        ).fetchall()
        for recipient, unread, in_flight in rows:
            self._unread_count[recipient] = int(unread)
            self._in_flight_count[recipient] = int(in_flight)

    def _moved(self, recipient: str, unread: int = 0, in_flight: int = 0) -> None:
        self._unread_count[recipient] += unread
        self._in_flight_count[recipient] += in_flight

    # -- sending ----------------------------------------------------------------

    def resolve_recipients(self, sender: str, to: str) -> list[str]:
        """Expand ``to`` into concrete mailboxes ``sender`` may reach; raise if it may not."""
        if to == BROADCAST:
            everyone = [a.name for a in self.agents() if a.desired is not Desired.DESTROYED]
            everyone.append(MANAGER)
            allowed = self._allowed_for(sender)
            return [n for n in everyone if n != sender and (allowed is None or n in allowed)]
        if to not in FIXED_MAILBOXES and self.agent(to).desired is Desired.DESTROYED:
            raise NotFound(f"agent {to} is destroyed; its mail is kept",
                           hint=f"`hive-c0re spawn {to}` revives it")
        if to == sender:
            raise InvalidInput(f"{sender} cannot send to itself")
        allowed = self._allowed_for(sender)
        if allowed is not None and to not in allowed:
            raise PolicyRefused(
                f"{sender} may not send to {to}: not in its allowed recipients",
                hint="allowed: " + ", ".join(sorted(allowed)),
            )
        return [to]

    def send(
        self, sender: str, to: str, body: str, in_reply_to: int | None = None
    ) -> dict[int, str]:
        """Store one message per recipient of ``to`` in one transaction.

        Return each stored message's id with its recipient.

        Nothing is stored unless every recipient has room: a full inbox refuses
        the whole send with InboxFull, so an ``ok`` always means delivered.
        """
        if len(body.encode()) > self.settings.max_body_bytes:
            raise InvalidInput(f"message body is over {self.settings.max_body_bytes} bytes")
        recipients = self.resolve_recipients(sender, to)
        if not recipients:
            raise InvalidInput(f"{to!r} reaches nobody {sender} may send to")
        now = self.clock()
        with self.db.atomic():
            if in_reply_to is not None:
                self._check_reply(sender, in_reply_to)
            full = [r for r in recipients if self._inbox_at_cap(r, sender)]
            if full:
                raise InboxFull(
                    f"inbox of {', '.join(full)} is full ({self.settings.inbox_cap} unread);"
                    " nothing was sent",
                    hint="the recipient must read its mail first, or raise inbox_cap",
                )
            stored = {self._insert(sender, r, body, in_reply_to, now): r for r in recipients}
        for recipient in recipients:
            self._moved(recipient, unread=1)
        return stored

    def _insert(self, sender: str, recipient: str, body: str, in_reply_to: int | None,
                now: float) -> int:
        cursor = execute(
            self.db,
            "INSERT INTO message (sender, recipient, body, in_reply_to, sent_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (sender, recipient, body, in_reply_to, now),
        )
        assert cursor.lastrowid is not None
        self.on_write()
        return cursor.lastrowid

    def _inbox_at_cap(self, recipient: str, sender: str | None = None) -> bool:
        """Whether ``recipient`` has no room for one more message from ``sender``.

        The hive's own events (sent as ``system``) have room reserved above the
        cap, so a flood of peer mail never makes the hive drop one.
        """
        cap = self.settings.inbox_cap
        if sender == SYSTEM:
            cap += self.settings.system_inbox_reserve
        return self._unread_count[recipient] >= cap

    def inbox_full(self, recipient: str) -> InboxFull | None:
        """The error a send to ``recipient`` would meet now, or None if it has room."""
        if not self._inbox_at_cap(recipient):
            return None
        return InboxFull(
            f"inbox of {recipient} is full ({self.settings.inbox_cap} unread); nothing was sent",
            hint="the recipient must read its mail first, or raise inbox_cap",
        )

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Outbox]:
        """One write transaction; the event messages posted in it count once it commits."""
        outbox = Outbox(self)
        with self.db.atomic():
            yield outbox
        for recipient in outbox.recipients:
            self._moved(recipient, unread=1)
    def _check_reply(self, sender: str, message_id: int) -> None:
        original = execute(self.db, "SELECT sender, recipient FROM message WHERE id = ?",
                           (message_id,)).fetchone()
        if original is None or sender not in original:
            # One message for both cases: a sender learns nothing about others' mail.
            raise NotFound(f"in_reply_to {message_id}: no such message in {sender}'s mail")

    # -- receiving --------------------------------------------------------------

    def peek(self, recipient: str, limit: int) -> list[Delivery]:
        """Unread mail, the hive's events first, then oldest first; left unread."""
        system, peers = self._next_unread(recipient, limit)
        return system + peers

    def lease(self, recipient: str, limit: int) -> list[Delivery]:
        """Lease up to ``limit`` unread messages to the recipient's current turn."""
        return self._take(recipient, limit, ack=False)

    def read_and_ack(self, recipient: str, limit: int) -> list[Delivery]:
        """Lease and ack at once: for the operator, who has no turns to end."""
        return self._take(recipient, limit, ack=True)

    def _take(self, recipient: str, limit: int, *, ack: bool) -> list[Delivery]:
        now = self.clock()
        with self.db.atomic():
            system, peers = self._next_unread(recipient, limit)
            for lane, found in ((SYSTEM_LANE, system), (PEER_LANE, peers)):
                if found:
                    # ``found`` is its lane's oldest unread mail, so "unread in the lane up
                    # to its last id" is exactly that set (same transaction, connection).
                    execute(self.db, TAKE_SQL[lane],
                            (now, now if ack else None, recipient, found[-1].id))
        taken = system + peers
        self._moved(recipient, unread=-len(taken), in_flight=0 if ack else len(taken))
        return taken

    def _next_unread(self, recipient: str, limit: int) -> tuple[list[Delivery], list[Delivery]]:
        """The next ``limit`` unread messages: the hive's events first, then peers' mail.

        Events have their own lane so that 10,000 unread peer messages never
        stand between a recipient (the manager) and a crash report.
        """
        system = self._unread(recipient, limit, SYSTEM_LANE)
        room = limit - len(system)
        return system, self._unread(recipient, room, PEER_LANE) if room else []

    def ack_turn(self, recipient: str) -> int:
        """Ack every message leased to the recipient; return how many."""
        count = execute(
            self.db,
            "UPDATE message SET acked_at = ?"
            " WHERE recipient = ? AND acked_at IS NULL AND leased_at IS NOT NULL",
            (self.clock(), recipient),
        ).rowcount
        self._moved(recipient, in_flight=-count)
        return count

    def requeue_inflight(self, recipient: str) -> int:
        """Put leased, unacked mail back to unread; the next lease marks it redelivered."""
        count = execute(
            self.db,
            "UPDATE message SET leased_at = NULL"
            " WHERE recipient = ? AND acked_at IS NULL AND leased_at IS NOT NULL",
            (recipient,),
        ).rowcount
        self._moved(recipient, unread=count, in_flight=-count)
        return count

    def unlease(self, recipient: str, ids: Sequence[int], *, acked: bool = False) -> int:
        """Take back mail whose answer never reached the recipient (it hung up).

        The messages return to unread as if never leased (``acked``: as if
        never read, for the operator's inbox), so they do not say redelivered:
        nobody saw them.
        """
        count = 0
        with self.db.atomic():
            for message_id in ids:
                count += execute(
                    self.db,
                    "UPDATE message SET leased_at = NULL, acked_at = NULL,"
                    " deliveries = deliveries - 1"
                    " WHERE id = ? AND recipient = ? AND leased_at IS NOT NULL"
                    " AND (acked_at IS NOT NULL) = ?",
                    (message_id, recipient, acked),
                ).rowcount
        self._moved(recipient, unread=count, in_flight=0 if acked else -count)
        return count

    def _unread(self, recipient: str, limit: int, lane: str) -> list[Delivery]:
        cursor = execute(self.db, UNREAD_SQL[lane], (recipient, limit))
        return [_delivery(row) for row in cursor.fetchall()]
    def history(self, recipient: str, limit: int) -> list[dict[str, Any]]:
        """The newest ``limit`` messages addressed to ``recipient``, newest first, with where
        each stands (unread, leased, acked); nothing is leased or marked read.

        ``redelivered`` is as the recipient was last shown it: mail leased (or read)
        once is not redelivered, only mail handed out again after a take-back.
        """
        cursor = execute(
            self.db,
            "SELECT id, sender, recipient, body, in_reply_to, sent_at,"
            " deliveries > (leased_at IS NOT NULL), leased_at, acked_at FROM message"
            " WHERE recipient = ? ORDER BY id DESC LIMIT ?",
            (recipient, limit),
        )
        return [flow_row(row) for row in cursor.fetchall()]


def _delivery(row: Sequence[Any]) -> Delivery:
    """A Delivery from a row that starts with the columns of ``_COLUMNS``."""
    return Delivery(id=row[0], sender=row[1], recipient=row[2], body=row[3], in_reply_to=row[4],
                    sent_at=row[5], redelivered=bool(row[6]))
