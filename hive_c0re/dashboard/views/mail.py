"""``/inbox``: the operator's conversations, threaded; reply, compose, the hive's flow.

The operator's messages both ways (``messages name=operator``) are grouped
into threads by ``in_reply_to``. Looking does not mark anything read: only
the "mark read" form does, or a reply, which marks its thread's unread mail
read. Below, the latest messages between everyone (``messages``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from hive_c0re.dashboard.views.common import act, form, hive, refused
from hive_c0re.dashboard.views.pages import view
from hive_c0re.errors import HiveError, InvalidInput
from hive_c0re.names import OPERATOR
from hive_c0re.timestamps import rfc3339

PAGE = "/inbox"
CONVERSATION = 300  # the operator's newest messages, both ways, the threads are made of
FLOW = 100  # the newest messages between anyone, for the flow
# Senders a reply cannot go to: the hive's own notices.
NO_REPLY = frozenset({"system", OPERATOR})


@dataclass
class Thread:
    messages: list[dict[str, Any]] = field(default_factory=list)

    @property
    def latest(self) -> int:
        return max(int(m["id"]) for m in self.messages)

    @property
    def unread(self) -> list[int]:
        return [int(m["id"]) for m in self.messages if m["unread"]]

    @property
    def reply_to(self) -> dict[str, Any] | None:
        """The newest message of the thread someone the operator can answer wrote."""
        answerable = [m for m in self.messages if m["from"] not in NO_REPLY]
        return answerable[-1] if answerable else None


def shown(message: dict[str, Any]) -> dict[str, Any]:
    """A message with its time as RFC 3339 and whether it is the operator's unread mail."""
    sent = message.get("sent_at")
    return {**message, "sent": rfc3339(sent) if isinstance(sent, int | float) else sent,
            "unread": message.get("to") == OPERATOR and message.get("state") == "unread"}


def _root(message_id: int, parent: dict[int, int | None]) -> int:
    """The first message of ``message_id``'s thread among those known (loops end it)."""
    seen = {message_id}
    while (up := parent.get(message_id)) is not None and up in parent and up not in seen:
        seen.add(up)
        message_id = up
    return message_id


def threads(messages: list[dict[str, Any]]) -> list[Thread]:
    """``messages`` grouped by the thread they reply in, newest activity first."""
    parent = {int(m["id"]): m.get("in_reply_to") for m in messages}
    grouped: dict[int, Thread] = {}
    for message in sorted(messages, key=lambda m: int(m["id"])):
        grouped.setdefault(_root(int(message["id"]), parent), Thread()).messages.append(
            shown(message))
    return sorted(grouped.values(), key=lambda t: t.latest, reverse=True)


async def inbox_context(request: web.Request) -> dict[str, Any]:
    answer = await hive(request).call("messages", name=OPERATOR, limit=CONVERSATION)
    found = threads(answer["messages"])
    return {"threads": found, "unread": [i for t in found for i in t.unread]}


async def flow_context(request: web.Request) -> dict[str, Any]:
    answer = await hive(request).call("messages", limit=FLOW)
    return {"flow": [shown(m) for m in answer["messages"]]}


async def recipients_context(request: web.Request) -> dict[str, Any]:
    agents = (await hive(request).call("agents"))["agents"]
    return {"recipients": sorted(str(a["name"]) for a in agents)}


async def posted_ids(request: web.Request) -> list[int]:
    """The message ids a form names (fields ``id``); a malformed one is refused."""
    values = (await request.post()).getall("id", [])
    if not all(isinstance(v, str) and v.isascii() and v.isdigit() and len(v) <= 18
               for v in values):
        raise InvalidInput("a message id is a number")
    return [int(str(v)) for v in values]


async def mark_read(request: web.Request) -> web.Response:
    await form(request)  # the size checks
    try:
        ids = await posted_ids(request)
    except HiveError as error:
        return refused(request, error, PAGE)
    if not ids:
        raise web.HTTPSeeOther(PAGE)
    return await act(request, "mark_read", PAGE, ids=ids)


async def reply(request: web.Request) -> web.Response:
    """Send the reply, then mark the thread's unread mail read (the reply read it)."""
    fields = await form(request)
    try:
        ids = await posted_ids(request)
        in_reply_to = fields.get("in_reply_to", "")
        if not (in_reply_to.isascii() and in_reply_to.isdigit()):
            raise InvalidInput("a reply names the message it answers")
        await hive(request).call("send", to=fields.get("to", ""), body=fields.get("body", ""),
                                 in_reply_to=int(in_reply_to))
    except HiveError as error:
        return refused(request, error, PAGE)
    if not ids:
        raise web.HTTPSeeOther(PAGE)
    return await act(request, "mark_read", PAGE, ids=ids)


async def compose(request: web.Request) -> web.Response:
    fields = await form(request)
    return await act(request, "send", PAGE, to=fields.get("to", "").strip(),
                     body=fields.get("body", ""))


def setup(app: web.Application) -> None:
    app.router.add_get(PAGE, view("inbox.html", inbox_context, flow_context,
                                  recipients_context), name="inbox")
    app.router.add_get("/fragments/inbox", view("_inbox.html", inbox_context),
                       name="fragment-inbox")
    app.router.add_get("/fragments/flow", view("_flow.html", flow_context), name="fragment-flow")
    app.router.add_post("/inbox/read", mark_read, name="inbox-read")
    app.router.add_post("/inbox/reply", reply, name="inbox-reply")
    app.router.add_post("/inbox/send", compose, name="inbox-send")
