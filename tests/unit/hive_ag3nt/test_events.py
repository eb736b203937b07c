"""The events log on sqlite3: its schema, its threads, and its use after close."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from hive_ag3nt.events import EventLog


def test_events_recorded_from_another_thread_and_read_after_close(tmp_path: Path) -> None:
    log = EventLog(tmp_path / "events.sqlite")
    turn = log.start_turn("haiku", "mail")
    worker = threading.Thread(target=log.record, args=(turn, "stderr"), kwargs={"line": "x"})
    worker.start()
    worker.join()
    log.end_turn(turn, "ok", duration_ms=5)
    assert log.prune(3600.0) == 0
    log.close()
    # As the harness's readers do once it stopped: the log opens again.
    assert [e["kind"] for e in log.events(turn)] == ["turn_start", "stderr", "turn_end"]
    (stats,) = log.last_turns()
    assert (stats.id, stats.status, stats.trigger, stats.duration_ms) == (turn, "ok", "mail", 5)
    log.close()


def test_the_schema_is_the_one_older_harnesses_made(tmp_path: Path) -> None:
    path = tmp_path / "events.sqlite"
    EventLog(path).close()
    with sqlite3.connect(path) as db:
        tables = dict(db.execute("SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL"))
        mode = db.execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"
    assert set(tables) == {"turn", "event", "event_turn", "event_at"}
    assert tables["event"] == ('CREATE TABLE "event" ("id" INTEGER NOT NULL PRIMARY KEY, '
                               '"turn" INTEGER, "at" REAL NOT NULL, "kind" TEXT NOT NULL, '
                               '"data" TEXT NOT NULL)')
    assert '"status" TEXT NOT NULL' in tables["turn"] and '"served_model" TEXT' in tables["turn"]
