"""``/events``: the hive's event log, newest first, filtered by agent and kind.

The filters are a plain GET form; each is checked before it reaches the
daemon (an agent name by the hive's own rule), and a bad one is a refusal that
says which and why. The list is live: ``/fragments/events`` with the same
query renders it again when the ``events`` topic fires.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from hive_c0re.dashboard.views.common import hive, refused
from hive_c0re.errors import HiveError, InvalidInput
from hive_c0re.names import validate_container_name
from hive_c0re.timestamps import rfc3339

KIND = re.compile(r"[a-z][a-z0-9_]{0,39}")
DEFAULT_LIMIT = 200
MAX_LIMIT = 1000
# With a kind, this many of the newest events are read and filtered here (the
# daemon filters by agent only).
KIND_WINDOW = 5000


@dataclass(frozen=True)
class Filters:
    agent: str | None
    kind: str | None
    limit: int

    def query(self) -> str:
        """The filters as a query string for the fragment's URL (already checked)."""
        parts = [f"{key}={value}" for key, value in (("agent", self.agent),
                                                     ("kind", self.kind)) if value]
        if self.limit != DEFAULT_LIMIT:
            parts.append(f"limit={self.limit}")
        return "&".join(parts)


def filters(query: Any) -> Filters:
    """The checked filters of ``query``; raise InvalidInput naming the bad one."""
    agent = query.get("agent", "").strip() or None
    if agent is not None:
        validate_container_name(agent)
    kind = query.get("kind", "").strip() or None
    if kind is not None and not KIND.fullmatch(kind):
        raise InvalidInput(f"kind {kind[:40]!r} is not an event kind",
                           hint="a kind is lowercase letters, digits and '_', like approval")
    raw = query.get("limit", "").strip() or str(DEFAULT_LIMIT)
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        raise InvalidInput(f"limit must be a whole number from 1 to {MAX_LIMIT}")
    return Filters(agent, kind, int(raw))


def shown(event: dict[str, Any]) -> dict[str, Any]:
    data = event.get("data")
    return {**event, "when": rfc3339(event.get("at")),
            "details": json.dumps(data, sort_keys=True, ensure_ascii=False) if data else ""}


async def context(request: web.Request) -> dict[str, Any]:
    """The template's context; raise HiveError for bad filters or a refused call."""
    chosen = filters(request.query)
    limit = KIND_WINDOW if chosen.kind else chosen.limit
    answer = await hive(request).call("events", name=chosen.agent, limit=limit)
    found = [e for e in reversed(answer["events"]) if chosen.kind in (None, e.get("kind"))]
    kinds = sorted({str(e.get("kind")) for e in answer["events"]})
    return {"events": [shown(e) for e in found[:chosen.limit]], "filters": chosen,
            "kinds": kinds, "limits": (50, DEFAULT_LIMIT, MAX_LIMIT)}


async def page(request: web.Request) -> web.Response:
    try:
        found = await context(request)
    except HiveError as error:
        return refused(request, error, "/events")
    return aiohttp_jinja2.render_template("events.html", request, found)


async def fragment(request: web.Request) -> web.Response:
    try:
        found = await context(request)
    except HiveError as error:
        return refused(request, error, "/events")
    return aiohttp_jinja2.render_template("_events.html", request, found)


def setup(app: web.Application) -> None:
    app.router.add_get("/events", page, name="events")
    app.router.add_get("/fragments/events", fragment, name="fragment-events")
