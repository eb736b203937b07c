"""The dashboard's login codes and sessions, on a real sqlite file and a clock moved by hand."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hive_c0re.broker.models import execute
from hive_c0re.broker.sessions import (
    BAD_CODE,
    CODE_TTL,
    TOUCH_INTERVAL,
    SessionBook,
    csrf_for,
    digest,
)
from hive_c0re.broker.store import Store
from hive_c0re.errors import InvalidInput, NotFound
from hive_c0re.settings import Settings
from hive_dev.clock import ManualClock


@pytest.fixture
def store(tmp_path: Path, clock: ManualClock) -> Iterator[Store]:
    s = Store(tmp_path / "broker.sqlite", Settings.load({"dashboard_session_days": 2},
                                                        environ={}), clock=clock)
    yield s
    s.close()


@pytest.fixture
def book(store: Store) -> SessionBook:
    return SessionBook(store)


def _refused(book: SessionBook, code: str) -> str:
    with pytest.raises(InvalidInput) as refused:
        book.redeem(code)
    return refused.value.message


def _changes(book: SessionBook) -> int:
    changes: int = book.store.db.connection().total_changes  # type: ignore[no-untyped-call]
    return changes


def test_a_fresh_code_redeems_once(book: SessionBook) -> None:
    code, expires_at = book.issue_code()
    assert expires_at == book.store.clock() + CODE_TTL
    new = book.redeem(code, "Mozilla/5.0 test")
    assert len(new.token) >= 43  # 32 random bytes, urlsafe base64
    assert new.as_wire()["csrf"] == csrf_for(new.token) != new.token
    assert book.session(new.token).id == new.record.id
    assert _refused(book, code) == BAD_CODE


def test_expired_and_forged_codes_are_refused_with_the_same_message(
        book: SessionBook, clock: ManualClock) -> None:
    code, _ = book.issue_code()
    clock.advance(CODE_TTL)
    expired = _refused(book, code)
    forged = _refused(book, "made-up-code")
    assert expired == forged == BAD_CODE
    assert book.sessions() == []


def test_a_code_just_inside_its_minute_works(book: SessionBook, clock: ManualClock) -> None:
    code, _ = book.issue_code()
    clock.advance(CODE_TTL - 1)
    assert book.redeem(code).record.id >= 1


def test_only_hashes_are_stored(book: SessionBook) -> None:
    code, _ = book.issue_code()
    new = book.redeem(code)
    dump = "\n".join(book.store.db.connection().iterdump())  # type: ignore[no-untyped-call]
    assert code not in dump and new.token not in dump and csrf_for(new.token) not in dump
    assert digest(new.token) in dump


def test_a_revoked_session_is_refused_at_once_and_recorded(book: SessionBook) -> None:
    first = book.redeem(book.issue_code()[0])
    second = book.redeem(book.issue_code()[0])
    assert book.revoke(first.record.id) == [first.record.id]
    with pytest.raises(NotFound, match="no such session"):
        book.session(first.token)
    assert book.session(second.token).id == second.record.id
    assert [e["data"]["ids"] for e in book.store.events("dashboard_logout")] == [
        [first.record.id]]


def test_logout_all_ends_every_session(book: SessionBook) -> None:
    tokens = [book.redeem(book.issue_code()[0]).token for _ in range(3)]
    revoked = book.revoke()
    assert len(revoked) == 3
    for token in tokens:
        with pytest.raises(NotFound):
            book.session(token)
    assert book.revoke() == []  # nothing left: no event for nothing
    assert len(book.store.events("dashboard_logout")) == 1


def test_logout_of_an_unknown_session_is_not_found(book: SessionBook) -> None:
    with pytest.raises(NotFound, match="no dashboard session #42"):
        book.revoke(42)


def test_last_seen_is_written_at_most_every_30_seconds(book: SessionBook,
                                                       clock: ManualClock) -> None:
    new = book.redeem(book.issue_code()[0])
    start = new.record.last_seen
    clock.advance(TOUCH_INTERVAL - 1)
    before = _changes(book)
    assert book.session(new.token).last_seen == start
    assert _changes(book) == before  # a read, no write
    clock.advance(1)
    assert book.session(new.token).last_seen == clock.now
    assert [s.last_seen for s in book.sessions()] == [clock.now]


def test_sessions_age_out_after_dashboard_session_days(book: SessionBook,
                                                        clock: ManualClock) -> None:
    new = book.redeem(book.issue_code()[0])
    clock.advance(2 * 86400 - 1)
    assert book.session(new.token).id == new.record.id  # use does not extend it
    clock.advance(1)
    with pytest.raises(NotFound):
        book.session(new.token)
    assert book.sessions() == []
    book.issue_code()  # each new code clears out what can no longer be used
    assert execute(book.store.db, "SELECT COUNT(*) FROM dashboard_session").fetchone()[0] == 0
    assert execute(book.store.db, "SELECT COUNT(*) FROM dashboard_code").fetchone()[0] == 1


def test_login_is_an_event_and_the_user_agent_is_bounded(book: SessionBook) -> None:
    new = book.redeem(book.issue_code()[0], "x" * 5000)
    assert new.record.user_agent == "x" * 400
    (event,) = book.store.events("dashboard_login")
    assert event["data"]["id"] == new.record.id
