"""``/approvals``: what the manager asks for, with its diff; approve, deny, the history.

An apply_commit request is shown with the diff of its pinned commit against
what is deployed (``approval_diff``), and its approve form carries the sha
that diff was made from: the daemon refuses the approval if the request no
longer pins that sha, so the operator approves what they read. One render
highlights PAGE_LINES lines in all; a request past them shows no diff and no
approve button, only a link to ``/approvals/<id>``, its page of one. A request
whose diff could not be read, or was cut, asks for a second press to approve.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from hive_c0re.dashboard.views import diff
from hive_c0re.dashboard.views.agents import ARM_SECONDS, arm, disarm
from hive_c0re.dashboard.views.common import act, form, hive, refused
from hive_c0re.dashboard.views.pages import view
from hive_c0re.errors import HiveError, InvalidInput, NotFound
from hive_c0re.timestamps import rfc3339

PAGE = "/approvals"
HISTORY = 200  # the newest requests the history shows
_ID = "{id:[0-9]{1,18}}"
_STYLE_SHEET = diff.style_sheet()
# Highlighted lines one render of the page shows in all; past them a request's diff is
# not shown and its card links /approvals/<id>, which shows that one alone.
PAGE_LINES = diff.MAX_LINES
DIFF_CALLS = 3  # approval_diff calls the dashboard makes at once, over every tab
_DIFF_CALLS = web.AppKey("approval_diff_calls", asyncio.Semaphore)
# Why the operator did not see all of a diff: its approve asks for a second press.
UNSEEN = {
    "error": "its diff could not be read as a diff",
    "cut": "the hive cut its diff short (git diff in the applied repo shows it whole)",
    "truncated": f"only its first lines are shown (at most {diff.MAX_LINES})",
}


def _tag(approval: dict[str, Any]) -> str | None:
    """The applied repo's tag for where a commit request stands (proposal/<id>, ...)."""
    if approval.get("kind") != "apply_commit":
        return None
    status = approval.get("status")
    return f"{'proposal' if status == 'pending' else status}/{approval.get('id')}"


async def _fetch(request: web.Request, approval_id: int) -> dict[str, Any]:
    # Every tab refetches on each approval event: a few diffs are read at once, no more.
    async with request.app[_DIFF_CALLS]:
        answer: dict[str, Any] = await hive(request).call("approval_diff", id=approval_id)
    return answer


def _why(parsed: diff.Diff, cut: bool) -> str | None:
    """Why the operator could not see all of a diff (its approve asks twice), or None."""
    if cut:  # first: a diff cut in a hunk is also one that cannot be read
        return "cut"
    if parsed.error is not None:
        return "error"
    return "truncated" if parsed.truncated else None


async def _with_diff(request: web.Request, approval: dict[str, Any],
                     lines: int) -> dict[str, Any]:
    """A pending request with what it would change: its diff (at most ``lines`` of it,
    none when the page has no lines left), or why none is shown."""
    shown: dict[str, Any] = {"approval": approval, "diff": None, "sha": None, "base": None,
                             "diff_error": None, "cut": False, "hidden": False, "why": None}
    if approval.get("kind") != "apply_commit":
        return shown
    if lines <= 0:
        shown["hidden"] = True
        return shown
    try:
        answer = await _fetch(request, approval["id"])
    except HiveError as error:
        shown["diff_error"] = error.message
        return shown
    # Parsing and highlighting a long diff takes a while: off the event loop.
    parsed = await asyncio.to_thread(diff.parse, str(answer.get("diff") or ""), lines)
    shown.update(diff=parsed, sha=answer.get("sha"), base=answer.get("base"),
                 cut=bool(answer.get("truncated")))
    shown["why"] = _why(parsed, shown["cut"])
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
    # One budget of lines for the whole page: past it a request links its own page.
    cards, left = [], PAGE_LINES
    for approval in pending:
        card = await _with_diff(request, approval, left)
        left -= card["diff"].lines if card["diff"] is not None else 0
        cards.append(card)
    return {"pending": cards, "history": [_history_row(a) for a in every],
            "single": False, "page_lines": PAGE_LINES}


async def approval_context(request: web.Request) -> dict[str, Any]:
    """What ``approval.html`` shows: one pending request with its diff."""
    approval_id = int(request.match_info["id"])
    pending = (await hive(request).call("pending"))["approvals"]
    found = next((a for a in pending if int(a["id"]) == approval_id), None)
    if found is None:
        raise NotFound(f"approval #{approval_id} is not pending",
                       hint="the history on /approvals shows how it ended")
    return {"item": await _with_diff(request, found, diff.MAX_LINES), "single": True,
            "page_lines": PAGE_LINES}


async def style_sheet(request: web.Request) -> web.Response:
    return web.Response(text=_STYLE_SHEET, content_type="text/css",
                        headers={"Cache-Control": "max-age=3600"})


async def approve(request: web.Request) -> web.Response:
    """Approve; one whose diff the operator could not see whole is armed first."""
    approval_id = int(request.match_info["id"])
    fields = await form(request)
    sha = fields.get("sha", "").strip() or None
    why = fields.get("why", "")
    try:
        if "token" in fields:
            _disarm(request, fields["token"], approval_id)
        elif why:
            return _confirm(request, approval_id, sha, why)
    except HiveError as error:
        return refused(request, error, PAGE)
    return await act(request, "approve", PAGE, id=approval_id, sha=sha)


def _disarm(request: web.Request, token: str, approval_id: int) -> None:
    try:
        disarm(request, token, "approve", str(approval_id))
    except InvalidInput as error:
        raise InvalidInput(error.message, hint=f"press Approve on /approvals/{approval_id} "
                           "again") from None


def _confirm(request: web.Request, approval_id: int, sha: str | None,
             why: str) -> web.Response:
    if why not in UNSEEN:
        raise web.HTTPBadRequest(text="unknown reason to confirm")
    armed = {"id": approval_id, "sha": sha, "why": why, "reason": UNSEEN[why],
             "token": arm(request, "approve", str(approval_id)), "seconds": int(ARM_SECONDS)}
    return aiohttp_jinja2.render_template("approve_confirm.html", request, {"armed": armed})


async def deny(request: web.Request) -> web.Response:
    fields = await form(request)
    note = fields.get("note", "").strip() or None
    return await act(request, "deny", PAGE, id=int(request.match_info["id"]), note=note)


def setup(app: web.Application) -> None:
    app[_DIFF_CALLS] = asyncio.Semaphore(DIFF_CALLS)
    app.router.add_get(PAGE, view("approvals.html", approvals_context), name="approvals")
    app.router.add_get("/fragments/approvals", view("_approvals.html", approvals_context),
                       name="fragment-approvals")
    app.router.add_get("/approvals/highlight.css", style_sheet, name="approvals-highlight")
    app.router.add_get(f"/approvals/{_ID}", view("approval.html", approval_context, back=PAGE),
                       name="approval")
    app.router.add_post(f"/approvals/{_ID}/approve", approve, name="approval-approve")
    app.router.add_post(f"/approvals/{_ID}/deny", deny, name="approval-deny")
