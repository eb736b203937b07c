"""Schema migrations, frozen as SQL.

Each step is written once and never edited: the models in ``models.py`` follow
the schema these steps produce (a test checks they agree). The version lives in
``PRAGMA user_version``; a file from a newer hyperhive is refused rather than
touched.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import peewee

from hive_c0re.broker.models import execute
from hive_c0re.errors import StoreError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    statements: Sequence[str]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "agents and messages", (
        """CREATE TABLE agent (
            name TEXT PRIMARY KEY NOT NULL,
            allowed_recipients TEXT NOT NULL DEFAULT '[]',
            registered_at REAL NOT NULL
        )""",
        """CREATE TABLE message (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            sender TEXT NOT NULL,
            recipient TEXT NOT NULL,
            body TEXT NOT NULL,
            in_reply_to INTEGER REFERENCES message (id) ON DELETE SET NULL,
            sent_at REAL NOT NULL,
            leased_at REAL,
            acked_at REAL,
            deliveries INTEGER NOT NULL DEFAULT 0
        )""",
        # The two hot queries: a recipient's unread/leased mail, and retention by age.
        "CREATE INDEX message_inbox ON message (recipient, acked_at, leased_at, id)",
        "CREATE INDEX message_acked ON message (acked_at) WHERE acked_at IS NOT NULL",
        "CREATE INDEX message_reply ON message (in_reply_to) WHERE in_reply_to IS NOT NULL",
    )),
    Migration(2, "approvals, questions, reminders and the hive event log", (
        """CREATE TABLE approval (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            agent TEXT NOT NULL,
            kind TEXT NOT NULL,
            ref TEXT,
            sha TEXT,
            status TEXT NOT NULL,
            note TEXT,
            description TEXT,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL
        )""",
        "CREATE INDEX approval_status ON approval (status, id)",
        """CREATE TABLE question (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            asker TEXT NOT NULL,
            target TEXT NOT NULL,
            question TEXT NOT NULL,
            options TEXT NOT NULL DEFAULT '[]',
            multi INTEGER NOT NULL DEFAULT 0,
            deadline REAL NOT NULL,
            answer TEXT,
            asked_at REAL NOT NULL,
            answered_at REAL
        )""",
        "CREATE INDEX question_open ON question (target, answered_at, deadline)",
        """CREATE TABLE reminder (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            agent TEXT NOT NULL,
            message TEXT NOT NULL,
            file_path TEXT,
            due_at REAL NOT NULL,
            created_at REAL NOT NULL,
            fired_at REAL
        )""",
        "CREATE INDEX reminder_due ON reminder (fired_at, due_at)",
        """CREATE TABLE hive_event (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            at REAL NOT NULL,
            kind TEXT NOT NULL,
            agent TEXT,
            data TEXT NOT NULL DEFAULT '{}'
        )""",
        "CREATE INDEX hive_event_at ON hive_event (at)",
    )),
    Migration(3, "agents get containers: uid range and desired state", (
        # NULL uid_base: a plain registered mailbox with no container.
        "ALTER TABLE agent ADD COLUMN uid_base INTEGER",
        "ALTER TABLE agent ADD COLUMN desired TEXT NOT NULL DEFAULT 'none'",
        "CREATE UNIQUE INDEX agent_uid_base ON agent (uid_base) WHERE uid_base IS NOT NULL",
    )),
    Migration(4, "questions and reminders: outcomes, cancels, the scheduler's indexes", (
        # outcome: NULL while open, then answered, expired or cancelled.
        "ALTER TABLE question ADD COLUMN outcome TEXT",
        "ALTER TABLE question ADD COLUMN answered_by TEXT",
        # The options picked, as a JSON list, when the question had options.
        "ALTER TABLE question ADD COLUMN choices TEXT",
        "ALTER TABLE reminder ADD COLUMN cancelled_at REAL",
        "CREATE INDEX question_deadline ON question (deadline) WHERE answered_at IS NULL",
        "CREATE INDEX question_asker ON question (asker) WHERE answered_at IS NULL",
        "CREATE INDEX reminder_pending ON reminder (due_at)"
        " WHERE fired_at IS NULL AND cancelled_at IS NULL",
        "CREATE INDEX reminder_agent ON reminder (agent)"
        " WHERE fired_at IS NULL AND cancelled_at IS NULL",
    )),
    Migration(5, "the hive's events get their own lane in every inbox", (
        # recv takes unread mail from system first: found without scanning peer mail.
        "CREATE INDEX message_system_unread ON message (recipient, id)"
        " WHERE sender = 'system' AND acked_at IS NULL AND leased_at IS NULL",
    )),
    Migration(6, "agents can be paused; the config commit their container was given", (
        # paused: the operator's mark; recv leases nothing while it is set.
        "ALTER TABLE agent ADD COLUMN paused INTEGER NOT NULL DEFAULT 0",
        # The applied repo's HEAD when the container was last installed (NULL: never).
        "ALTER TABLE agent ADD COLUMN deployed_sha TEXT",
    )),
    Migration(7, "the dashboard's login codes and sessions", (
        # Only sha-256 hashes of codes and tokens are stored: a copy of the file
        # logs nobody in. A code is used once (used_at), within its expiry.
        """CREATE TABLE dashboard_code (
            code_hash TEXT PRIMARY KEY NOT NULL,
            created_at REAL NOT NULL,
            expires_at REAL NOT NULL,
            used_at REAL
        )""",
        """CREATE TABLE dashboard_session (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            token_hash TEXT NOT NULL UNIQUE,
            user_agent TEXT,
            created_at REAL NOT NULL,
            last_seen REAL NOT NULL
        )""",
        "CREATE INDEX dashboard_session_created ON dashboard_session (created_at)",
    )),
)

LATEST = MIGRATIONS[-1].version


def schema_version(db: peewee.SqliteDatabase) -> int:
    return int(execute(db, "PRAGMA user_version").fetchone()[0])


def migrate(db: peewee.SqliteDatabase, *, upto: int | None = None) -> int:
    """Bring ``db`` to version ``upto`` (default: the latest), one transaction per step.

    Return the version reached.

    Raise StoreError if the file is newer than this hyperhive knows.
    """
    current = schema_version(db)
    upto = LATEST if upto is None else upto
    if current > LATEST:
        raise StoreError(
            f"broker file has schema version {current}, newer than this hyperhive ({LATEST})",
            hint="run the hyperhive release that created it, or restore a backup",
        )
    for step in MIGRATIONS:
        if current < step.version <= upto:
            with db.atomic():
                for statement in step.statements:
                    execute(db, statement)
                # user_version cannot take a bound parameter; the value is our own int.
                execute(db, f"PRAGMA user_version = {int(step.version)}")
            log.info("broker schema migrated to %d: %s", step.version, step.description)
            current = step.version
    return current
