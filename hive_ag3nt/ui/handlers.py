"""The JSON endpoints: status, turns, a turn's events, the inbox, and the prompt box."""

from __future__ import annotations

import functools
import json
from typing import Any

from aiohttp import web

from hive_ag3nt.ui import words
from hive_ag3nt.ui.config import HARNESS, SETTINGS
from hive_c0re.errors import HiveError

MAX_PROMPT = 100_000  # characters in one prompt
MAX_TURNS = 200
MAX_INBOX = 50  # what the harness keeps (RECENT_MAIL)

_dumps = functools.partial(json.dumps, default=str)


def answer(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=_dumps)


def refuse(status: int, error: str, **extra: Any) -> web.Response:
    return answer({"error": error, **extra}, status=status)


class BadRequest(Exception):
    """Input that breaks a rule; the handler answers 400 with the message."""


def int_query(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"{name} must be a whole number") from None
    if not low <= value <= high:
        raise BadRequest(f"{name} must be between {low} and {high}")
    return value


async def json_body(request: web.Request) -> dict[str, Any]:
    """The request's JSON object; raise BadRequest for anything else."""
    if request.content_type != "application/json":
        raise BadRequest("send application/json")
    try:
        data = await request.json()
    except ValueError:
        raise BadRequest("the body is not JSON") from None
    if not isinstance(data, dict):
        raise BadRequest("the body must be a JSON object")
    return data


def text_field(data: dict[str, Any], name: str, limit: int) -> str:
    value = data.get(name)
    if not isinstance(value, str):
        raise BadRequest(f"{name} must be a string")
    if len(value) > limit:
        raise BadRequest(f"{name} is longer than {limit} characters")
    return value


async def status(request: web.Request) -> web.Response:
    return answer(request.app[HARNESS].status())


async def turns(request: web.Request) -> web.Response:
    limit = int_query(request, "limit", 20, 1, MAX_TURNS)
    log = request.app[HARNESS].events
    found = log.last_turns(limit)
    return answer({"turns": [{**t.as_dict(), "replies": words.replies(log.events(t.id))}
                             for t in found]})


async def turn_events(request: web.Request) -> web.Response:
    turn = int(request.match_info["id"])  # the route allows 1-18 digits only
    events = request.app[HARNESS].events.events(turn)
    if not events:
        return refuse(404, f"no events for turn {turn}")
    return answer({"turn": turn, "events": [{"turn": turn, **e} for e in events]})


async def inbox(request: web.Request) -> web.Response:
    default = request.app[SETTINGS].inbox_shown
    limit = int_query(request, "limit", default, 1, MAX_INBOX)
    mail = list(request.app[HARNESS].recent_mail)[-limit:]
    return answer({"messages": [words.inbox_message(m) for m in mail[::-1]]})


async def prompt(request: web.Request) -> web.Response:
    """A plain prompt or a slash command; the harness answers at once (turns queue up)."""
    text = text_field(await json_body(request), "text", MAX_PROMPT)
    try:
        result = await request.app[HARNESS].command(text)
    except HiveError as exc:
        return refuse(400, str(exc))
    return answer(result)


def setup(app: web.Application) -> None:
    app.router.add_get("/status", status)
    app.router.add_get("/turns", turns)
    app.router.add_get(r"/turns/{id:\d{1,18}}/events", turn_events)
    app.router.add_get("/inbox", inbox)
    app.router.add_post("/prompt", prompt)
