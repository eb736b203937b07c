"""The events log: every event of every turn, in ``/state/hyperhive-events.sqlite``.

Bounded by age (``prune``); per-turn stats (duration, cost, tokens) live on
the turn row so the UI and the benchmarks read them without scanning events.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hive_ag3nt.model import is_stand_in
from hive_c0re import timestamps

log = logging.getLogger(__name__)

# The schema as the harness has always made it (logs it made stay as they are). A turn's
# status: running | ok | error | interrupted | ...; its trigger, what started it: mail,
# operator, compact, notes; served_model, as the API named it.
SCHEMA = (
    'CREATE TABLE IF NOT EXISTS "turn" ("id" INTEGER NOT NULL PRIMARY KEY, '
    '"started_at" REAL NOT NULL, "ended_at" REAL, "status" TEXT NOT NULL, '
    '"model" TEXT NOT NULL, "trigger" TEXT NOT NULL, "duration_ms" INTEGER, '
    '"cost_usd" REAL, "input_tokens" INTEGER, "output_tokens" INTEGER, '
    '"session_id" TEXT, "error" TEXT, "served_model" TEXT)',
    'CREATE TABLE IF NOT EXISTS "event" ("id" INTEGER NOT NULL PRIMARY KEY, '
    '"turn" INTEGER, "at" REAL NOT NULL, "kind" TEXT NOT NULL, "data" TEXT NOT NULL)',
    'CREATE INDEX IF NOT EXISTS "event_turn" ON "event" ("turn")',
    'CREATE INDEX IF NOT EXISTS "event_at" ON "event" ("at")',
)
ADDED_COLUMNS = (("served_model", "TEXT"),)  # after the first: nullable, added to older logs
# A TurnStats per row, its fields in order.
LAST_TURNS = ('SELECT "id", "status", "model", "trigger", "started_at", "duration_ms", '
              '"cost_usd", "input_tokens", "output_tokens", "error", "served_model" '
              'FROM "turn" ORDER BY "id" DESC LIMIT ?')


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
    """One sqlite connection, used under a lock: the SDK's callbacks may record from
    its worker threads. Used after :meth:`close`, it connects again."""

    def __init__(self, path: Path, clock: Callable[[], float] = time.time) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        db = self._connection()
        for statement in SCHEMA:
            db.execute(statement)
        self._add_columns(db)
        self.clock = clock
        self.listeners: list[Listener] = []

    def _connection(self) -> sqlite3.Connection:
        if self._db is None:
            db = sqlite3.connect(str(self.path), timeout=5, isolation_level=None,
                                 check_same_thread=False)
            for pragma in ("journal_mode = wal", "synchronous = normal", "busy_timeout = 5000"):
                db.execute(f"PRAGMA {pragma}")
            self._db = db
        return self._db

    @staticmethod
    def _add_columns(db: sqlite3.Connection) -> None:
        """Columns a newer harness added to a log an older one made (nullable ones only)."""
        have = {row[1] for row in db.execute('PRAGMA table_info("turn")')}
        for name, kind in ADDED_COLUMNS:
            if name not in have:
                db.execute(f'ALTER TABLE "turn" ADD COLUMN "{name}" {kind}')
                log.info("events log: added column %s", name)

    def _write(self, sql: str, params: tuple[Any, ...]) -> sqlite3.Cursor:
        with self._lock:
            return self._connection().execute(sql, params)

    def _read(self, sql: str, params: tuple[Any, ...]) -> list[Any]:
        with self._lock:
            return self._connection().execute(sql, params).fetchall()

    def close(self) -> None:
        with self._lock:
            db, self._db = self._db, None
            if db is not None:
                db.close()

    def start_turn(self, model: str, trigger: str) -> int:
        cursor = self._write('INSERT INTO "turn" ("started_at", "status", "model", "trigger") '
                             "VALUES (?, 'running', ?, ?)", (self.clock(), model, trigger))
        turn = int(cursor.lastrowid or 0)
        self.record(turn, "turn_start", model=model, trigger=trigger)
        return turn

    def record(self, turn: int | None, kind: str, **data: Any) -> None:
        """Store one event and hand it to the live listeners (the UI's panel)."""
        at = self.clock()
        self._write('INSERT INTO "event" ("turn", "at", "kind", "data") VALUES (?, ?, ?, ?)',
                    (turn, at, kind, json.dumps(data, default=str)))
        event = {"turn": turn, "at": at, "kind": kind, **data}
        for listener in list(self.listeners):
            listener(event)

    def end_turn(self, turn: int, status: str, *, duration_ms: int | None = None,
                 cost_usd: float | None = None, input_tokens: int | None = None,
                 output_tokens: int | None = None, session_id: str | None = None,
                 error: str | None = None, served_model: str | None = None) -> None:
        self._write('UPDATE "turn" SET "ended_at" = ?, "status" = ?, "duration_ms" = ?, '
                    '"cost_usd" = ?, "input_tokens" = ?, "output_tokens" = ?, '
                    '"session_id" = ?, "error" = ?, "served_model" = ? WHERE "id" = ?',
                    (self.clock(), status, duration_ms, cost_usd, input_tokens,
                     output_tokens, session_id, error, served_model, turn))
        self.record(turn, "turn_end", status=status, duration_ms=duration_ms,
                    cost_usd=cost_usd, input_tokens=input_tokens, output_tokens=output_tokens,
                    error=error, served_model=served_model,
                    stand_in=is_stand_in(served_model))

    def last_turns(self, limit: int = 10) -> list[TurnStats]:
        return [TurnStats(*row) for row in self._read(LAST_TURNS, (limit,))]

    def events(self, turn: int) -> list[dict[str, Any]]:
        rows = self._read('SELECT "kind", "at", "data" FROM "event" WHERE "turn" = ? '
                          'ORDER BY "id"', (turn,))
        return [{"kind": kind, "at": at, **json.loads(data)} for kind, at, data in rows]

    def prune(self, max_age_seconds: float) -> int:
        """Forget events and turns older than ``max_age_seconds``."""
        cutoff = self.clock() - max_age_seconds
        with self._lock:
            db = self._connection()
            db.execute("BEGIN")
            try:
                removed = db.execute('DELETE FROM "event" WHERE "at" < ?', (cutoff,)).rowcount
                db.execute('DELETE FROM "turn" WHERE "ended_at" IS NOT NULL '
                           'AND "ended_at" < ?', (cutoff,))
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
        return int(removed)
