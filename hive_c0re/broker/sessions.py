"""The dashboard's logins: one-time codes swapped for server-side sessions.

``hive-c0re dashboard login`` (root, on host.sock) asks for a code; the
browser brings it to the dashboard, which redeems it for a session whose
token becomes its cookie. Only sha-256 hashes of codes and tokens are
stored, so the broker file logs nobody in. A code works once, within
:data:`CODE_TTL` seconds of its making; a session lasts
``dashboard_session_days`` from its login, or until it is revoked (the row
goes, and a ``dashboard_logout`` event names it so that open streams end).
The CSRF token is derived from the session's token, so nothing stored
yields it either.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

from hive_c0re.broker.models import DashboardCode, DashboardSession, execute
from hive_c0re.broker.store import Store
from hive_c0re.errors import InvalidInput, NotFound
from hive_c0re.timestamps import rfc3339

CODE_TTL = 60.0
# A session's last_seen is written at most this often: a busy tab costs no write per request.
TOUCH_INTERVAL = 30.0
TOKEN_BYTES = 32
CODE_BYTES = 18
MAX_USER_AGENT = 400
# One message for a used, an expired and a made-up code: the caller learns nothing of which.
BAD_CODE = "this login code is not valid: a code works once, within 60 s of its making"
NEW_CODE_HINT = "run `hive-c0re dashboard login` as root for a new one"
LOG_IN_AGAIN = "log in again: `hive-c0re dashboard login` as root prints a login URL"
LOGIN_EVENT, LOGOUT_EVENT = "dashboard_login", "dashboard_logout"
_CSRF_PURPOSE = b"hyperhive dashboard csrf\0"


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def csrf_for(token: str) -> str:
    """The session's CSRF token, a function of its cookie's token (never stored)."""
    raw = hashlib.sha256(_CSRF_PURPOSE + token.encode()).digest()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@dataclass(frozen=True)
class SessionRecord:
    id: int
    created_at: float
    last_seen: float
    user_agent: str | None

    def as_wire(self) -> dict[str, Any]:
        """As ``dashboard_sessions`` lists it."""
        return {"id": self.id, "created_at": rfc3339(self.created_at),
                "last_seen": rfc3339(self.last_seen), "user_agent": self.user_agent}

    def as_cookie_check(self, token: str) -> dict[str, Any]:
        """As ``dashboard_session`` answers the dashboard holding ``token``."""
        return {"id": self.id, "csrf": csrf_for(token), "created_at": rfc3339(self.created_at),
                "last_seen": rfc3339(self.last_seen)}


@dataclass(frozen=True)
class NewSession:
    record: SessionRecord
    token: str  # shown once, to the dashboard that redeemed the code

    def as_wire(self) -> dict[str, Any]:
        return {"id": self.record.id, "token": self.token, "csrf": csrf_for(self.token),
                "created_at": rfc3339(self.record.created_at)}


def _record(row: DashboardSession) -> SessionRecord:
    return SessionRecord(id=row.id, created_at=row.created_at, last_seen=row.last_seen,
                         user_agent=row.user_agent)


class SessionBook:
    """Codes and sessions on the daemon's store; it keeps no state of its own."""

    def __init__(self, store: Store) -> None:
        self.store = store

    @property
    def lifetime(self) -> float:
        return self.store.settings.dashboard_session_days * 86400

    def issue_code(self) -> tuple[str, float]:
        """A fresh code and when it expires; codes past use are cleared out first."""
        now = self.store.clock()
        code = secrets.token_urlsafe(CODE_BYTES)
        with self.store.db.atomic():
            self._sweep(now)
            DashboardCode.insert(code_hash=digest(code), created_at=now,
                                 expires_at=now + CODE_TTL).execute()
        return code, now + CODE_TTL

    def redeem(self, code: str, user_agent: str | None = None) -> NewSession:
        """Swap a code for a new session; raise InvalidInput (one message) unless the code
        was made here, is unused and has not expired."""
        now = self.store.clock()
        token = secrets.token_urlsafe(TOKEN_BYTES)
        agent = None if user_agent is None else user_agent[:MAX_USER_AGENT]
        with self.store.db.atomic():
            # The one statement that uses the code: two redeems of it cannot both win.
            used = execute(self.store.db,
                           "UPDATE dashboard_code SET used_at = ? WHERE code_hash = ?"
                           " AND used_at IS NULL AND expires_at > ?",
                           (now, digest(code), now)).rowcount
            if used != 1:
                raise InvalidInput(BAD_CODE, hint=NEW_CODE_HINT)
            session_id = int(DashboardSession.insert(
                token_hash=digest(token), user_agent=agent, created_at=now,
                last_seen=now).execute())
            self.store.record_event(LOGIN_EVENT, at=now, id=session_id, user_agent=agent)
        return NewSession(SessionRecord(session_id, now, now, agent), token)

    def session(self, token: str) -> SessionRecord:
        """The live session whose cookie holds ``token``; raise NotFound if none.

        ``last_seen`` moves on only when it is :data:`TOUCH_INTERVAL` old.
        """
        now = self.store.clock()
        row = DashboardSession.get_or_none(
            (DashboardSession.token_hash == digest(token))
            & (DashboardSession.created_at > now - self.lifetime))
        if row is None:
            raise NotFound("no such session: it was logged out or has expired",
                           hint=LOG_IN_AGAIN)
        if now - row.last_seen >= TOUCH_INTERVAL:
            DashboardSession.update(last_seen=now).where(DashboardSession.id == row.id).execute()
            row.last_seen = now
        return _record(row)

    def sessions(self) -> list[SessionRecord]:
        """The live sessions, oldest first."""
        cutoff = self.store.clock() - self.lifetime
        rows = (DashboardSession.select().where(DashboardSession.created_at > cutoff)
                .order_by(DashboardSession.id))
        return [_record(row) for row in rows]

    def revoke(self, session_id: int | None = None) -> list[int]:
        """End one session (``session_id``) or, without it, every one; return the ids ended.

        Raise NotFound for an id that is no live session.
        """
        live = [s.id for s in self.sessions()]
        if session_id is not None and session_id not in live:
            raise NotFound(f"no dashboard session #{session_id}",
                           hint="`hive-c0re dashboard sessions` lists them")
        ids = live if session_id is None else [session_id]
        now = self.store.clock()
        with self.store.db.atomic():
            self._sweep(now)
            if ids:
                DashboardSession.delete().where(DashboardSession.id.in_(ids)).execute()
                self.store.record_event(LOGOUT_EVENT, at=now, ids=ids)
        return ids

    def _sweep(self, now: float) -> None:
        """Forget codes no longer usable and sessions past their lifetime."""
        DashboardCode.delete().where(
            DashboardCode.used_at.is_null(False) | (DashboardCode.expires_at <= now)).execute()
        DashboardSession.delete().where(
            DashboardSession.created_at <= now - self.lifetime).execute()
