"""What the views share: the hive, form fields, and how an action answers.

An action is a POST that becomes one wire verb. Without JavaScript it ends in
a 303 back to the page it came from; with htmx (``HX-Request``) the caller
renders the fragment it swaps. A refusal is shown as the daemon worded it,
with its hint, on a page of its own (or in the fragment's place), never
hidden in a URL.
"""

from __future__ import annotations

from typing import Any

import aiohttp_jinja2
from aiohttp import web

from hive_c0re.dashboard.config import HIVE
from hive_c0re.dashboard.hive import HiveClient
from hive_c0re.errors import HiveError

# The longest text a form field may carry (a message body, a note, an answer).
MAX_FIELD = 64 * 1024


def hive(request: web.Request) -> HiveClient:
    return request.app[HIVE]


def is_htmx(request: web.Request) -> bool:
    return request.headers.get("HX-Request") == "true"


async def form(request: web.Request) -> dict[str, str]:
    """The posted form's text fields (a field past MAX_FIELD is refused)."""
    data = await request.post()
    fields: dict[str, str] = {}
    for key, value in data.items():
        if not isinstance(value, str):
            raise web.HTTPBadRequest(text=f"{key}: files are not taken here")
        if len(value) > MAX_FIELD:
            raise web.HTTPRequestEntityTooLarge(max_size=MAX_FIELD, actual_size=len(value))
        fields[key] = value
    return fields


def refused(request: web.Request, error: HiveError, back: str) -> web.Response:
    """The daemon's refusal, as a page (or a fragment for htmx), with a way back."""
    status = {"not_found": 404, "refused": 409, "unreachable": 503}.get(error.code, 400)
    return aiohttp_jinja2.render_template(
        "_refused.html" if is_htmx(request) else "refused.html", request,
        {"error": error.message, "hint": error.hint, "back": back}, status=status)


async def act(request: web.Request, verb: str, back: str, **args: Any) -> web.Response:
    """Call ``verb``; 303 to ``back`` when it went well (a fragment caller re-renders)."""
    try:
        await hive(request).call(verb, **args)
    except HiveError as error:
        return refused(request, error, back)
    raise web.HTTPSeeOther(back)
