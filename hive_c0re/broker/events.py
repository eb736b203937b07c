"""The hive's event log, and the retention of acked mail and old events.

:class:`~hive_c0re.broker.store.Store` is an :class:`EventLog`; it works on the
store's connection, clock and settings.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import peewee

from hive_c0re.broker.models import HiveEvent, Message, execute
from hive_c0re.settings import Settings

log = logging.getLogger(__name__)


class EventLog:
    """Record and list the hive's events; age out what the settings say to forget."""

    db: peewee.SqliteDatabase
    clock: Callable[[], float]
    settings: Settings
    on_write: Callable[[], None]

    def record_event(self, kind: str, agent: str | None = None, *, at: float | None = None,
                     **data: Any) -> int:
        """Add a row to the hive's event log (``at`` defaults to now); return its id."""
        event_id = int(HiveEvent.insert(at=self.clock() if at is None else at, kind=kind,
                                        agent=agent, data=json.dumps(data)).execute())
        self.on_write()
        return event_id

    def events_after(self, after: int, limit: int | None = None) -> list[dict[str, Any]]:
        """Events with an id above ``after``, oldest first: the newest ``limit`` of them."""
        query = HiveEvent.select().where(HiveEvent.id > after).order_by(HiveEvent.id.desc())
        if limit is not None:
            query = query.limit(limit)
        return [_event(row) for row in reversed(list(query))]

    def last_at(self, kind: str) -> dict[str | None, float]:
        """When each agent last had an event of ``kind`` (in the log's retention)."""
        rows = execute(self.db, "SELECT agent, MAX(at) FROM hive_event WHERE kind = ?"
                       " GROUP BY agent", (kind,)).fetchall()
        return {agent: at for agent, at in rows}

    def newest_event_id(self) -> int:
        """The largest event id ever given (AUTOINCREMENT never hands it out again)."""
        row = execute(self.db, "SELECT seq FROM sqlite_sequence WHERE name = 'hive_event'"
                      ).fetchone()
        return int(row[0]) if row is not None else 0

    def events(self, kind: str | None = None) -> list[dict[str, Any]]:
        """The hive's event log, oldest first: {id, at, kind, agent, data}."""
        query = HiveEvent.select().order_by(HiveEvent.id)
        if kind is not None:
            query = query.where(HiveEvent.kind == kind)
        return [_event(row) for row in query]

    def delete_acked_before(self, cutoff: float) -> int:
        """Delete acked messages acked before ``cutoff``; unacked mail is never touched."""
        with self.db.atomic():
            return int(Message.delete()
                       .where(Message.acked_at.is_null(False) & (Message.acked_at < cutoff))
                       .execute())

    def delete_old_events(self) -> int:
        """Age out the event log past ``event_retention_days``, then keep the newest
        ``max_events``; return how many rows went."""
        cutoff = self.clock() - self.settings.event_retention_days * 86400
        with self.db.atomic():
            deleted = execute(self.db, "DELETE FROM hive_event WHERE at < ?",
                              (cutoff,)).rowcount
            deleted += execute(
                self.db,
                "DELETE FROM hive_event WHERE id <= (SELECT id FROM hive_event"
                " ORDER BY id DESC LIMIT 1 OFFSET ?)",
                (self.settings.max_events,),
            ).rowcount
        return int(deleted)

    def retention_pass(self) -> tuple[int, int]:
        """Age out acked mail and old events, give freed pages back;
        return (messages deleted, freelist pages)."""
        cutoff = self.clock() - self.settings.acked_retention_days * 86400
        deleted = self.delete_acked_before(cutoff)
        events = self.delete_old_events()
        if events:
            log.info("retention: deleted %d event(s) from the hive's event log", events)
        execute(self.db, f"PRAGMA incremental_vacuum({int(self.settings.vacuum_pages)})")
        free = int(execute(self.db, "PRAGMA freelist_count").fetchone()[0])
        return deleted, free


def _event(row: HiveEvent) -> dict[str, Any]:
    return {"id": row.id, "at": row.at, "kind": row.kind, "agent": row.agent,
            "data": json.loads(row.data)}
