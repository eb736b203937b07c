"""The message flow as the operator reads it: every message, newest first, and the live feed's
reads; marking the operator's own mail read.

:class:`~hive_c0re.broker.store.Store` is a :class:`MessageFlow`; nothing here leases
mail or touches another recipient's unread state.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import peewee

from hive_c0re.broker.models import execute
from hive_c0re.names import OPERATOR

# A message as the flow shows it: what its recipient was sent, and where it stands.
_FLOW_COLUMNS = ("SELECT id, sender, recipient, body, in_reply_to, sent_at,"
                 " deliveries > (leased_at IS NOT NULL), leased_at, acked_at FROM message")


def flow_row(row: Sequence[Any]) -> dict[str, Any]:
    """One message of ``_FLOW_COLUMNS`` with its state: unread, leased or acked."""
    state = "acked" if row[8] is not None else "leased" if row[7] is not None else "unread"
    return {"id": row[0], "from": row[1], "to": row[2], "body": row[3], "in_reply_to": row[4],
            "sent_at": row[5], "redelivered": bool(row[6]), "state": state,
            "acked_at": row[8]}


class MessageFlow:
    """Read every recipient's mail without taking it; mark the operator's read."""

    db: peewee.SqliteDatabase
    clock: Callable[[], float]
    _moved: Callable[..., None]

    def messages(self, limit: int, before: int | None = None,
                 name: str | None = None) -> list[dict[str, Any]]:
        """The newest ``limit`` messages (below id ``before``), to or from ``name`` if given."""
        where = ["id < ?"]
        params: list[object] = [before if before is not None else 2**63 - 1]
        if name is not None:
            where.append("(recipient = ? OR sender = ?)")
            params += [name, name]
        cursor = execute(self.db, _FLOW_COLUMNS + " WHERE " + " AND ".join(where)
                         + " ORDER BY id DESC LIMIT ?", (*params, limit))
        return [flow_row(row) for row in cursor.fetchall()]

    def mail_after(self, after: int) -> list[dict[str, Any]]:
        """Every message stored with an id above ``after``, oldest first, without its body."""
        cursor = execute(self.db, "SELECT id, sender, recipient, in_reply_to, sent_at"
                         " FROM message WHERE id > ? ORDER BY id", (after,))
        return [{"id": row[0], "from": row[1], "to": row[2], "in_reply_to": row[3],
                 "sent_at": row[4]} for row in cursor.fetchall()]

    def newest_message_id(self) -> int:
        """The largest message id ever given (AUTOINCREMENT never hands it out again)."""
        row = execute(self.db, "SELECT seq FROM sqlite_sequence WHERE name = 'message'").fetchone()
        return int(row[0]) if row is not None else 0

    def mark_read(self, ids: Sequence[int]) -> int:
        """Mark those of ``ids`` that are the operator's unread mail read; return how many.

        An id that is someone else's, already read or unknown is passed over: the
        operator reads only its own inbox this way, and a repeat is harmless.
        """
        now = self.clock()
        count = 0
        with self.db.atomic():
            for message_id in dict.fromkeys(ids):
                count += execute(
                    self.db,
                    "UPDATE message SET leased_at = ?, acked_at = ?, deliveries = deliveries + 1"
                    " WHERE id = ? AND recipient = ? AND leased_at IS NULL AND acked_at IS NULL",
                    (now, now, message_id, OPERATOR)).rowcount
        self._moved(OPERATOR, unread=-count)
        return count
