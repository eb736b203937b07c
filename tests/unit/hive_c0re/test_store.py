"""The broker store against a real sqlite file."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import peewee
import pytest

from hive_c0re.broker import migrations
from hive_c0re.broker.models import ALL_MODELS, execute
from hive_c0re.broker.store import SYSTEM_LANE, TAKE_SQL, UNREAD_SQL, Store
from hive_c0re.errors import InboxFull, InvalidInput, NotFound, PolicyRefused, StoreError
from hive_c0re.settings import Settings
from hive_dev.clock import ManualClock


@pytest.fixture
def store(tmp_path: Path, clock: ManualClock) -> Iterator[Store]:
    s = Store(tmp_path / "broker.sqlite", Settings.load({"inbox_cap": 5, "max_body_bytes": 100},
                                                        environ={}), clock=clock)
    s.register_agent("alice")
    s.register_agent("bob", ["alice"])
    s.register_agent("carol")
    yield s
    s.close()


def test_pragmas_are_set(store: Store) -> None:
    def pragma(name: str) -> object:
        return execute(store.db, f"PRAGMA {name}").fetchone()[0]

    assert pragma("journal_mode") == "wal"
    assert pragma("foreign_keys") == 1
    assert pragma("auto_vacuum") == 2  # incremental
    assert pragma("busy_timeout") == 5000
    assert pragma("user_version") == migrations.LATEST


def test_lease_requeue_redeliver_ack(store: Store) -> None:
    first = list(store.send("operator", "alice", "one"))
    second = list(store.send("bob", "alice", "two"))
    leased = store.lease("alice", 1)
    assert [d.id for d in leased] == first and not leased[0].redelivered
    assert store.counts("alice").in_flight == 1
    assert store.requeue_inflight("alice") == 1
    again = store.lease("alice", 32)
    assert [d.id for d in again] == first + second
    assert [d.redelivered for d in again] == [True, False]
    assert store.ack_turn("alice") == 2
    assert store.lease("alice", 32) == []
    assert store.requeue_inflight("alice") == 0


def test_peek_leaves_mail_unread(store: Store) -> None:
    store.send("operator", "alice", "hi")
    assert len(store.peek("alice", 32)) == 1
    assert store.counts("alice").unread == 1


def test_operator_reads_and_acks_at_once(store: Store) -> None:
    ids = list(store.send("alice", "operator", "report"))
    assert [d.id for d in store.read_and_ack("operator", 32)] == ids
    assert store.read_and_ack("operator", 32) == []
    assert store.counts("operator").in_flight == 0


def test_allow_list_is_enforced_but_manager_and_operator_always_allowed(store: Store) -> None:
    with pytest.raises(PolicyRefused, match="bob may not send to carol"):
        store.send("bob", "carol", "x")
    assert store.counts("carol").unread == 0
    store.send("bob", "alice", "ok")
    store.send("bob", "manager", "ok")
    store.send("bob", "operator", "ok")


def test_broadcast_reaches_everyone_the_sender_may_reach(store: Store) -> None:
    sent = store.send("bob", "*", "hello")
    assert sorted(sent.values()) == ["alice", "manager"]
    sent = store.send("operator", "*", "all hands")
    assert sorted(sent.values()) == ["alice", "bob", "carol", "manager"]


def test_unknown_recipient_and_self_are_refused(store: Store) -> None:
    with pytest.raises(NotFound, match="no agent named 'dave'"):
        store.send("alice", "dave", "x")
    with pytest.raises(InvalidInput, match="itself"):
        store.send("alice", "alice", "x")


def test_full_inbox_refuses_and_stores_nothing(store: Store) -> None:
    for i in range(5):
        store.send("operator", "carol", f"m{i}")
    with pytest.raises(InboxFull, match="carol"):
        store.send("operator", "carol", "one too many")
    # A broadcast is all or nothing: nobody gets it while carol is full.
    with pytest.raises(InboxFull):
        store.send("operator", "*", "everyone")
    assert store.counts("alice").unread == 0
    assert store.counts("carol").unread == 5
    store.lease("carol", 1)  # leased mail no longer counts against the cap
    store.send("operator", "carol", "now fits")


def test_oversized_body_is_refused(store: Store) -> None:
    with pytest.raises(InvalidInput, match="over 100 bytes"):
        store.send("operator", "alice", "é" * 51)


def test_reply_must_be_to_mail_the_sender_has_seen(store: Store) -> None:
    (to_alice,) = store.send("operator", "alice", "question")
    (to_carol,) = store.send("operator", "carol", "secret")
    store.send("alice", "operator", "answer", in_reply_to=to_alice)
    with pytest.raises(NotFound, match="no such message"):
        store.send("alice", "operator", "snoop", in_reply_to=to_carol)
    with pytest.raises(NotFound):
        store.send("alice", "operator", "x", in_reply_to=999_999)


def test_unregister_keeps_mail_for_a_later_register(store: Store) -> None:
    store.send("operator", "carol", "kept")
    store.unregister_agent("carol")
    with pytest.raises(NotFound):
        store.send("operator", "carol", "x")
    with pytest.raises(NotFound):
        store.unregister_agent("carol")
    store.register_agent("carol")
    assert [d.body for d in store.lease("carol", 32)] == ["kept"]


def test_register_is_idempotent_and_updates_policy(store: Store) -> None:
    store.register_agent("bob", ["carol"])
    assert store.agent("bob").allowed_recipients == ("carol",)
    assert [a.name for a in store.agents()] == ["alice", "bob", "carol"]
    with pytest.raises(InvalidInput):
        store.register_agent("bob", ["../etc"])


def test_retention_deletes_only_old_acked_mail(store: Store, clock: ManualClock) -> None:
    store.send("operator", "alice", "old, acked")
    store.lease("alice", 32)
    store.ack_turn("alice")
    store.send("operator", "alice", "old, unread")
    store.send("operator", "bob", "old, in flight")
    store.lease("bob", 32)
    clock.now += 31 * 86400
    store.send("operator", "alice", "new")
    deleted, _free = store.retention_pass()
    assert deleted == 1
    assert [d.body for d in store.peek("alice", 32)] == ["old, unread", "new"]
    assert store.counts("bob").in_flight == 1


def test_retention_vacuums_freed_pages(store: Store, clock: ManualClock) -> None:
    for _ in range(5):
        for _ in range(5):
            store.send("operator", "alice", "x" * 100)
        store.lease("alice", 32)
        store.ack_turn("alice")
    pages_before = execute(store.db, "PRAGMA page_count").fetchone()[0]
    clock.now += 31 * 86400
    assert store.retention_pass()[0] == 25
    assert execute(store.db, "PRAGMA page_count").fetchone()[0] <= pages_before


def test_models_match_the_migrated_schema(store: Store) -> None:
    for model in ALL_MODELS:
        table = model._meta.table_name
        columns = {row[1] for row in execute(store.db, f"PRAGMA table_info({table})")}
        assert columns == set(model._meta.columns), table


def test_migration_from_v1_keeps_data(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    db = peewee.SqliteDatabase(str(path))
    assert migrations.migrate(db, upto=1) == 1
    execute(db, "INSERT INTO agent (name, registered_at) VALUES ('alice', 1)")
    execute(db, "INSERT INTO message (sender, recipient, body, sent_at)"
                   " VALUES ('operator', 'alice', 'from v1', 1)")
    db.close()
    store = Store(path, Settings.load(environ={}))
    try:
        assert migrations.schema_version(store.db) == migrations.LATEST
        assert [d.body for d in store.peek("alice", 32)] == ["from v1"]
        assert store.record_event("test", "alice", detail=1) == 1
    finally:
        store.close()


def test_a_newer_schema_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "future.sqlite"
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {migrations.LATEST + 1}")
    with pytest.raises(StoreError, match="newer than this hyperhive"):
        Store(path, Settings.load(environ={}))
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == migrations.LATEST + 1


def test_a_failed_migration_step_rolls_back(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    known = migrations.LATEST
    broken = migrations.Migration(99, "broken", ("CREATE TABLE fine (x)", "NOT SQL"))
    monkeypatch.setattr(migrations, "MIGRATIONS", (*migrations.MIGRATIONS, broken))
    monkeypatch.setattr(migrations, "LATEST", 99)
    db = peewee.SqliteDatabase(str(tmp_path / "b.sqlite"))
    with pytest.raises(peewee.OperationalError):
        migrations.migrate(db)
    assert migrations.schema_version(db) == known
    assert execute(db, "SELECT name FROM sqlite_master WHERE name = 'fine'").fetchone() is None


def test_garbage_file_is_a_clear_store_error(tmp_path: Path) -> None:
    path = tmp_path / "garbage.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match="cannot open broker file"):
        Store(path, Settings.load(environ={}))


def test_retention_ages_out_the_event_log_and_keeps_at_most_max_events(
        tmp_path: Path, clock: ManualClock) -> None:
    store = Store(tmp_path / "events.sqlite",
                  Settings.load({"max_events": 100, "event_retention_days": 90}, environ={}),
                  clock=clock)
    try:
        store.record_event("spawned", "alice")
        clock.now += 91 * 86400
        for n in range(150):
            store.record_event("needs_login", "alice", n=n)
        store.retention_pass()
        kept = store.events()
        assert len(kept) == 100
        assert [e["data"]["n"] for e in kept] == list(range(50, 150))  # the newest stay
    finally:
        store.close()


def test_the_events_lane_is_found_by_its_own_index(store: Store) -> None:
    # Not a walk over every unread peer message: the partial index of migration 5.
    for sql in (UNREAD_SQL[SYSTEM_LANE], TAKE_SQL[SYSTEM_LANE]):
        plan = execute(store.db, f"EXPLAIN QUERY PLAN {sql}", (0,) * sql.count("?")).fetchall()
        assert any("message_system_unread" in row[-1] for row in plan), plan


def test_events_from_system_pass_a_full_inbox_and_are_received_first(store: Store) -> None:
    for n in range(5):  # inbox_cap is 5
        store.send("bob", "alice", f"peer {n}")
    with pytest.raises(InboxFull):
        store.send("carol", "alice", "one too many")
    store.send("system", "alice", '{"event": "container_crash"}')
    assert [d.sender for d in store.peek("alice", 32)] == ["system"] + ["bob"] * 5
    first = store.lease("alice", 2)
    assert [d.body for d in first] == ['{"event": "container_crash"}', "peer 0"]
    assert [d.body for d in store.lease("alice", 32)] == [f"peer {n}" for n in range(1, 5)]
    assert store.counts("alice").in_flight == 6 and store.counts("alice").unread == 0


def test_mail_history_says_redelivered_only_of_mail_handed_out_again(store: Store) -> None:
    for n in range(3):
        store.send("bob", "alice", f"m{n}")
    assert [d.redelivered for d in store.lease("alice", 1)] == [False]
    store.ack_turn("alice")
    assert [d.redelivered for d in store.lease("alice", 1)] == [False]
    store.requeue_inflight("alice")
    assert [d.redelivered for d in store.peek("alice", 1)] == [True]
    seen = {m["body"]: (m["state"], m["redelivered"]) for m in store.history("alice", 10)}
    assert seen == {"m0": ("acked", False), "m1": ("unread", True), "m2": ("unread", False)}
    assert [d.redelivered for d in store.lease("alice", 1)] == [True]
    assert store.history("alice", 10)[1]["state"] == "leased"
    assert store.history("alice", 10)[1]["redelivered"] is True
