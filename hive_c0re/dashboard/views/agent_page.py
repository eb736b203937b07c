"""``/agents/<name>/``: one agent's page: its status row, applied ``agent.toml``,
journal (following live) and its own UI, framed from :mod:`hive_c0re.dashboard.proxy`.

Each part asks its own verb; a part the hive refuses (no config applied yet,
no journal on this host) shows the refusal in its place and the rest of the
page still renders. Only a name that is neither an agent nor the manager
makes the whole page a refusal.
"""

from __future__ import annotations

from typing import Any

import aiohttp_jinja2
from aiohttp import web

from hive_c0re.dashboard import proxy
from hive_c0re.dashboard.views.common import hive, refused
from hive_c0re.errors import HiveError, InvalidInput, NotFound

JOURNAL_LINES = 200  # lines of the journal a page shows at first
MAX_CURSOR = 4096  # characters of a journal cursor (journald's are ~150)


def _csrf(request: web.Request) -> str:
    """The session's CSRF token, given to the template itself: the framed agent UI sends
    it with its POSTs, so it must be the session's even where the context processor ran
    before the session was known."""
    session = request.get("session")
    return str(session["csrf"]) if session else ""


async def _part(request: web.Request, verb: str, **args: Any) -> dict[str, Any]:
    """``verb``'s answer, or ``{"error": ..., "hint": ...}`` in its place."""
    try:
        return await hive(request).call(verb, **args)
    except HiveError as error:
        return {"error": error.message, "hint": error.hint}


async def _status(request: web.Request, name: str) -> dict[str, Any]:
    """``name``'s status row; NotFound raised for a name the hive does not know."""
    answer = await hive(request).call("agent_status", name=name)
    row: dict[str, Any] = answer["agent"]
    return row


async def page(request: web.Request) -> web.StreamResponse:
    name = proxy.ui_name(request)
    try:
        row = await _status(request, name)
    except HiveError as error:
        return refused(request, error, "/")
    context = {
        "name": name, "row": row,
        "config": await _part(request, "agent_config", name=name),
        "journal": await _part(request, "journal", name=name, lines=JOURNAL_LINES),
        "ui": proxy.prefix(name), "csrf": _csrf(request),
    }
    return aiohttp_jinja2.render_template("agent.html", request, context)


async def status_fragment(request: web.Request) -> web.StreamResponse:
    """The ``agent:<name>`` live area: the status row, re-fetched when the topic fires."""
    name = proxy.ui_name(request)
    try:
        row = await _status(request, name)
    except HiveError as error:
        return refused(request, error, f"/agents/{name}/")
    return aiohttp_jinja2.render_template("_agent.html", request, {"name": name, "row": row})


def _cursor(request: web.Request) -> str | None:
    after = request.query.get("after") or None
    if after is not None and (len(after) > MAX_CURSOR or not after.isprintable()):
        raise InvalidInput("after: not a journal cursor",
                           hint="reload the page to follow the journal afresh")
    return after


async def journal_fragment(request: web.Request) -> web.StreamResponse:
    """The journal's lines after ``?after=CURSOR`` (appended), or its last lines without."""
    name = proxy.ui_name(request)
    try:
        after = _cursor(request)
        if after is None:
            journal = await hive(request).call("journal", name=name, lines=JOURNAL_LINES)
        else:
            journal = await hive(request).call("journal", name=name, after=after)
    except NotFound as error:
        return refused(request, error, f"/agents/{name}/")
    except HiveError as error:
        journal = {"error": error.message, "hint": error.hint, "cursor": after}
    template = "_agent_journal_more.html" if after else "_agent_journal.html"
    return aiohttp_jinja2.render_template(template, request,
                                          {"name": name, "journal": journal})


async def bare(request: web.Request) -> web.StreamResponse:
    name = proxy.ui_name(request)
    raise web.HTTPPermanentRedirect(f"/agents/{name}/")


def setup(app: web.Application) -> None:
    app.router.add_get("/agents/{name}", bare, name="agent_page_bare")
    app.router.add_get("/agents/{name}/", page, name="agent_page")
    app.router.add_get("/agents/{name}/journal", journal_fragment, name="agent_journal")
    app.router.add_get("/fragments/agent:{name}", status_fragment, name="agent_fragment")
    proxy.setup(app)
