"""``/questions``: what the agents ask the operator, and the reminders waiting to fire.

A question with options shows them as radio buttons (checkboxes when it takes
several); a line of free text is always there too. What is sent is the text
when there is any, else the options picked, comma-separated as ``answer``
wants; the daemon says which answers a question takes, and that refusal is
what the operator sees. The time left is rendered by the server; a script
may count it down, and without one it is the time at loading.
"""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from hive_c0re.dashboard.views.common import act, form, hive
from hive_c0re.dashboard.views.pages import view
from hive_c0re.timestamps import rfc3339
from hive_c0re.vocabulary import duration

PAGE = "/questions"
_ID = "{id:[0-9]{1,18}}"


def _question(question: dict[str, Any], now: float) -> dict[str, Any]:
    deadline = float(question.get("deadline") or now)
    return {**question, "deadline_at": rfc3339(deadline), "left": duration(deadline - now),
            "asked": rfc3339(question.get("asked_at"))}


def _reminder(reminder: dict[str, Any], now: float) -> dict[str, Any]:
    due = float(reminder.get("due_at") or now)
    return {**reminder, "due": rfc3339(due), "left": duration(due - now)}


async def questions_context(request: web.Request) -> dict[str, Any]:
    now = time.time()
    found = (await hive(request).call("questions"))["questions"]
    return {"questions": [_question(q, now) for q in found]}


async def reminders_context(request: web.Request) -> dict[str, Any]:
    now = time.time()
    found = (await hive(request).call("reminders"))["reminders"]
    return {"reminders": [_reminder(r, now) for r in found]}


async def answer_text(request: web.Request) -> str:
    """The free text if any, else the picked options joined as ``answer`` reads them."""
    fields = await form(request)
    text = fields.get("text", "").strip()
    if text:
        return text
    picked = [str(v).strip() for v in (await request.post()).getall("choice", [])]
    return ", ".join(p for p in picked if p)


async def answer(request: web.Request) -> web.Response:
    return await act(request, "answer", PAGE, question_id=int(request.match_info["id"]),
                     answer=await answer_text(request))


async def cancel_question(request: web.Request) -> web.Response:
    await form(request)
    return await act(request, "cancel_question", PAGE, id=int(request.match_info["id"]))


async def cancel_reminder(request: web.Request) -> web.Response:
    await form(request)
    return await act(request, "cancel_reminder", PAGE, id=int(request.match_info["id"]))


def setup(app: web.Application) -> None:
    app.router.add_get(PAGE, view("questions.html", questions_context, reminders_context),
                       name="questions")
    app.router.add_get("/fragments/questions", view("_questions.html", questions_context),
                       name="fragment-questions")
    app.router.add_get("/fragments/reminders", view("_reminders.html", reminders_context),
                       name="fragment-reminders")
    app.router.add_post(f"/questions/{_ID}/answer", answer, name="question-answer")
    app.router.add_post(f"/questions/{_ID}/cancel", cancel_question, name="question-cancel")
    app.router.add_post(f"/reminders/{_ID}/cancel", cancel_reminder, name="reminder-cancel")
