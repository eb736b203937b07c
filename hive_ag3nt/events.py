"""The events log: every event of every turn, in ``/state/hyperhive-events.sqlite``.

Bounded by age (``prune``); per-turn stats (duration, cost, tokens) live on
the turn row so the UI and the benchmarks read them without scanning events.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import peewee

from hive_ag3nt.model import is_stand_in
from hive_c0re import timestamps

log = logging.getLogger(__name__)
_db = peewee.DatabaseProxy()


class _Model(peewee.Model):
    class Meta:
        database = _db
        legacy_table_names = False


class Turn(_Model):
    id = peewee.AutoField()
    started_at = peewee.FloatField()
    ended_at = peewee.FloatField(null=True)
    status = peewee.TextField(default="running")  # running | ok | error | interrupted | ...
    model = peewee.TextField()
    trigger = peewee.TextField()  # what started it: mail, operator, compact, notes
    duration_ms = peewee.IntegerField(null=True)
    cost_usd = peewee.FloatField(null=True)
    input_tokens = peewee.IntegerField(null=True)
    output_tokens = peewee.IntegerField(null=True)
    session_id = peewee.TextField(null=True)
    error = peewee.TextField(null=True)
    served_model = peewee.TextField(null=True)  # as the API named it; added after the first


class Event(_Model):
    id = peewee.AutoField()
    turn = peewee.IntegerField(null=True, index=True)
    at = peewee.FloatField(index=True)
    kind = peewee.TextField()
    data = peewee.TextField()


@dataclass(frozen=True)
class TurnStats:
    id: int
    status: str
    model: str
    trigger: str
    started_at: float
    duration_ms: int | None
    cost_usd: float | None
    input_tokens: int | None
    output_tokens: int | None
    error: str | None
    served_model: str | None = None

    @property
    def stand_in(self) -> bool:
        return is_stand_in(self.served_model)

    def as_dict(self) -> dict[str, Any]:
        """As JSON shows it: times in RFC 3339, the stand-in's turns marked."""
        return {**self.__dict__, "started_at": rfc3339(self.started_at),
                "stand_in": self.stand_in}


def rfc3339(epoch: float | None) -> str | None:
    """``2026-12-02T01:47:11.250Z``: a moment as JSON shows it (the page shows local time)."""
    return timestamps.rfc3339(epoch, timespec="milliseconds")


Listener = Callable[[dict[str, Any]], None]


class EventLog:
    def __init__(self, path: Path, clock: Callable[[], float] = time.time) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = peewee.SqliteDatabase(str(path), pragmas={
            "journal_mode": "wal", "synchronous": "normal", "busy_timeout": 5000})
        _db.initialize(self.db)
        self.db.connect()
        self.db.create_tables([Turn, Event])
        self._add_columns()
        self.clock = clock
        self.listeners: list[Listener] = []

    def _add_columns(self) -> None:
        """Columns a newer harness added to a log an older one made (nullable ones only)."""
        have = {column.name for column in self.db.get_columns(Turn._meta.table_name)}
        for name, field in Turn._meta.fields.items():
            if field.column_name not in have:
                sql = (f'ALTER TABLE "{Turn._meta.table_name}" '
                       f'ADD COLUMN "{field.column_name}" {field.field_type}')
                self.db.execute_sql(sql)  # type: ignore[no-untyped-call]
                log.info("events log: added column %s", name)

    def close(self) -> None:
        self.db.close()

    def start_turn(self, model: str, trigger: str) -> int:
        turn = int(Turn.insert(started_at=self.clock(), model=model, trigger=trigger).execute())
        self.record(turn, "turn_start", model=model, trigger=trigger)
        return turn

    def record(self, turn: int | None, kind: str, **data: Any) -> None:
        """Store one event and hand it to the live listeners (the UI's panel)."""
        at = self.clock()
        Event.insert(turn=turn, at=at, kind=kind, data=json.dumps(data, default=str)).execute()
        event = {"turn": turn, "at": at, "kind": kind, **data}
        for listener in list(self.listeners):
            listener(event)

    def end_turn(self, turn: int, status: str, *, duration_ms: int | None = None,
                 cost_usd: float | None = None, input_tokens: int | None = None,
                 output_tokens: int | None = None, session_id: str | None = None,
                 error: str | None = None, served_model: str | None = None) -> None:
        Turn.update(ended_at=self.clock(), status=status, duration_ms=duration_ms,
                    cost_usd=cost_usd, input_tokens=input_tokens, output_tokens=output_tokens,
                    session_id=session_id, error=error,
                    served_model=served_model).where(Turn.id == turn).execute()
        self.record(turn, "turn_end", status=status, duration_ms=duration_ms,
                    cost_usd=cost_usd, input_tokens=input_tokens, output_tokens=output_tokens,
                    error=error, served_model=served_model,
                    stand_in=is_stand_in(served_model))

    def last_turns(self, limit: int = 10) -> list[TurnStats]:
        rows = Turn.select().order_by(Turn.id.desc()).limit(limit)
        return [TurnStats(id=r.id, status=r.status, model=r.model, trigger=r.trigger,
                          started_at=r.started_at, duration_ms=r.duration_ms,
                          cost_usd=r.cost_usd, input_tokens=r.input_tokens,
                          output_tokens=r.output_tokens, error=r.error,
                          served_model=r.served_model) for r in rows]

    def events(self, turn: int) -> list[dict[str, Any]]:
        rows = Event.select().where(Event.turn == turn).order_by(Event.id)
        return [{"kind": r.kind, "at": r.at, **json.loads(r.data)} for r in rows]

    def prune(self, max_age_seconds: float) -> int:
        """Forget events and turns older than ``max_age_seconds``."""
        cutoff = self.clock() - max_age_seconds
        with self.db.atomic():
            removed = int(Event.delete().where(Event.at < cutoff).execute())
            Turn.delete().where((Turn.ended_at.is_null(False)) & (Turn.ended_at < cutoff)).execute()
        return removed
