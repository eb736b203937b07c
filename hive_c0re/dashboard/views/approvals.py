"""``/approvals``: what the manager asks for, with its diff; approve, deny, the history.

An apply_commit request is shown with the diff of its pinned commit against
what is deployed (``approval_diff``), and its approve form carries the sha
that diff was made from: the daemon refuses the approval if the request no
longer pins that sha, so the operator approves what they read.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from hive_c0re.dashboard.views import diff
from hive_c0re.dashboard.views.common import act, form, hive
from hive_c0re.dashboard.views.pages import view
from hive_c0re.errors import HiveError
from hive_c0re.timestamps import rfc3339

PAGE = "/approvals"
HISTORY = 200  # the newest requests the history shows
_ID = "{id:[0-9]{1,18}}"
_STYLE_SHEET = diff.style_sheet()


def _tag(approval: dict[str, Any]) -> str | None:
    """The applied repo's tag for where a commit request stands (proposal/<id>, ...)."""
    if approval.get("kind") != "apply_commit":
        return None
    status = approval.get("status")
    return f"{'proposal' if status == 'pending' else status}/{approval.get('id')}"


async def _with_diff(request: web.Request, approval: dict[str, Any]) -> dict[str, Any]:
    """A pending request with what it would change: its diff, or why none is shown."""
    shown: dict[str, Any] = {"approval": approval, "diff": None, "sha": None, "base": None,
                             "diff_error": None, "cut": False}
    if approval.get("kind") != "apply_commit":
        return shown
    try:
        answer = await hive(request).call("approval_diff", id=approval["id"])
    except HiveError as error:
        shown["diff_error"] = error.message
        return shown
    shown.update(diff=diff.parse(str(answer.get("diff") or "")), sha=answer.get("sha"),
                 base=answer.get("base"), cut=bool(answer.get("truncated")))
    return shown


def _history_row(approval: dict[str, Any]) -> dict[str, Any]:
    return {**approval, "tag": _tag(approval),
            "updated": rfc3339(approval.get("updated_at")) or ""}


async def approvals_context(request: web.Request) -> dict[str, Any]:
    """What ``_approvals.html`` shows: the pending requests and the history."""
    client = hive(request)
    pending = (await client.call("pending"))["approvals"]
    every = (await client.call("approvals"))["approvals"]
    every = sorted(every, key=lambda a: int(a["id"]), reverse=True)[:HISTORY]
    # The diffs are asked for at once: the client keeps a connection for each.
    return {"pending": await asyncio.gather(*(_with_diff(request, a) for a in pending)),
            "history": [_history_row(a) for a in every]}


async def style_sheet(request: web.Request) -> web.Response:
    return web.Response(text=_STYLE_SHEET, content_type="text/css",
                        headers={"Cache-Control": "max-age=3600"})


async def approve(request: web.Request) -> web.Response:
    fields = await form(request)
    sha = fields.get("sha", "").strip() or None
    return await act(request, "approve", PAGE, id=int(request.match_info["id"]), sha=sha)


async def deny(request: web.Request) -> web.Response:
    fields = await form(request)
    note = fields.get("note", "").strip() or None
    return await act(request, "deny", PAGE, id=int(request.match_info["id"]), note=note)


def setup(app: web.Application) -> None:
    app.router.add_get(PAGE, view("approvals.html", approvals_context), name="approvals")
    app.router.add_get("/fragments/approvals", view("_approvals.html", approvals_context),
                       name="fragment-approvals")
    app.router.add_get("/approvals/highlight.css", style_sheet, name="approvals-highlight")
    app.router.add_post(f"/approvals/{_ID}/approve", approve, name="approval-approve")
    app.router.add_post(f"/approvals/{_ID}/deny", deny, name="approval-deny")
