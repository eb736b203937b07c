"""peewee models over the tables ``migrations.py`` creates (never ``create_tables``)."""

from __future__ import annotations

import sqlite3
from typing import Any

import peewee

database = peewee.DatabaseProxy()


class BaseModel(peewee.Model):
    class Meta:
        database = database
        legacy_table_names = False


class Agent(BaseModel):
    name = peewee.TextField(primary_key=True)
    allowed_recipients = peewee.TextField(default="[]")  # JSON list of names
    registered_at = peewee.FloatField()
    uid_base = peewee.IntegerField(null=True)
    desired = peewee.TextField(default="none")
    paused = peewee.BooleanField(default=False)
    deployed_sha = peewee.TextField(null=True)


class Message(BaseModel):
    id = peewee.AutoField()
    sender = peewee.TextField()
    recipient = peewee.TextField()
    body = peewee.TextField()
    in_reply_to = peewee.IntegerField(null=True)
    sent_at = peewee.FloatField()
    leased_at = peewee.FloatField(null=True)
    acked_at = peewee.FloatField(null=True)
    deliveries = peewee.IntegerField(default=0)


class Approval(BaseModel):
    id = peewee.AutoField()
    agent = peewee.TextField()
    kind = peewee.TextField()
    ref = peewee.TextField(null=True)
    sha = peewee.TextField(null=True)
    status = peewee.TextField()
    note = peewee.TextField(null=True)
    description = peewee.TextField(null=True)
    created_at = peewee.FloatField()
    updated_at = peewee.FloatField()


class Question(BaseModel):
    id = peewee.AutoField()
    asker = peewee.TextField()
    target = peewee.TextField()
    question = peewee.TextField()
    options = peewee.TextField(default="[]")
    multi = peewee.BooleanField(default=False)
    deadline = peewee.FloatField()
    answer = peewee.TextField(null=True)
    asked_at = peewee.FloatField()
    answered_at = peewee.FloatField(null=True)
    outcome = peewee.TextField(null=True)  # answered, expired, cancelled; NULL while open
    answered_by = peewee.TextField(null=True)
    choices = peewee.TextField(null=True)  # JSON list of the options picked


class Reminder(BaseModel):
    id = peewee.AutoField()
    agent = peewee.TextField()
    message = peewee.TextField()
    file_path = peewee.TextField(null=True)
    due_at = peewee.FloatField()
    created_at = peewee.FloatField()
    fired_at = peewee.FloatField(null=True)
    cancelled_at = peewee.FloatField(null=True)


class HiveEvent(BaseModel):
    id = peewee.AutoField()
    at = peewee.FloatField()
    kind = peewee.TextField()
    agent = peewee.TextField(null=True)
    data = peewee.TextField(default="{}")


class DashboardCode(BaseModel):
    code_hash = peewee.TextField(primary_key=True)  # sha-256 of the code, hex
    created_at = peewee.FloatField()
    expires_at = peewee.FloatField()
    used_at = peewee.FloatField(null=True)


class DashboardSession(BaseModel):
    id = peewee.AutoField()
    token_hash = peewee.TextField(unique=True)  # sha-256 of the cookie's token, hex
    user_agent = peewee.TextField(null=True)
    created_at = peewee.FloatField()
    last_seen = peewee.FloatField()


ALL_MODELS: tuple[type[BaseModel], ...] = (Agent, Message, Approval, Question, Reminder, HiveEvent,
                                           DashboardCode, DashboardSession)


def execute(db: peewee.SqliteDatabase, sql: str, params: tuple[Any, ...] = ()) -> sqlite3.Cursor:
    """Raw SQL for the hot paths; peewee leaves ``execute_sql`` untyped."""
    cursor: sqlite3.Cursor = db.execute_sql(sql, params)  # type: ignore[no-untyped-call]
    return cursor
