"""``GET /``: the agent's page, rendered on the server; ``static/ui.js`` keeps it live.

Every value from the agent (names, mail, turn fields) is escaped here; the
script only ever sets text, never markup.
"""

from __future__ import annotations

import html
import time
from pathlib import Path
from string import Template
from typing import Any

from aiohttp import web

from hive_ag3nt.events import TurnStats
from hive_ag3nt.harness import Harness, State
from hive_ag3nt.ui import words
from hive_ag3nt.ui.config import HARNESS, SETTINGS

PAGE = Template((Path(__file__).parent / "page.html").read_text())
BODY_SHOWN = 2000  # characters of a message body on the page
DATE_FORMAT = "%Y-%m-%d %H:%M:%S"  # the one the script writes too (ui.js when()), local time


def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def model_options(current: str, available: list[str]) -> str:
    names = available if current in available else [current, *available]
    return "".join(
        f'<option value="{esc(n)}"{" selected" if n == current else ""}>{esc(n)}</option>'
        for n in names)


def turn_duration_ms(harness: Harness, turn: TurnStats) -> float | None:
    """The turn's duration: from its row, else from its first and last events."""
    if turn.duration_ms is not None:
        return turn.duration_ms
    events = harness.events.events(turn.id)
    ends = [e["at"] for e in events if e["kind"] == "turn_end"]
    return (ends[-1] - turn.started_at) * 1000 if ends else None


def last_turn_line(harness: Harness) -> str:
    """The same words ``ui.js`` writes: ``last turn #3 ok · 2.1 s · $0.0123 · 1234 tokens``
    (``stand-in`` in place of the cost for the stand-in's turns)."""
    last = harness.events.last_turns(1)
    if not last:
        return "no turns yet"
    turn = last[0]
    parts = [f"last turn #{turn.id} {turn.status}"]
    duration = turn_duration_ms(harness, turn)
    if duration is not None:
        parts.append(f"{duration / 1000:.1f} s")
    if turn.stand_in:
        parts.append("stand-in")
    elif turn.cost_usd is not None:
        parts.append(f"${turn.cost_usd:.4f}")
    if turn.input_tokens is not None:
        parts.append(f"{turn.input_tokens} tokens")
    return " · ".join(parts)


def inbox_item(message: dict[str, Any]) -> str:
    body = str(message.get("body", ""))
    if len(body) > BODY_SHOWN:
        body = body[:BODY_SHOWN] + "…"
    sent = message.get("sent_at")
    when = time.strftime(DATE_FORMAT, time.localtime(sent)) \
        if isinstance(sent, int | float) else ""
    marker = ' <span class="badge redelivered">redelivered</span>' \
        if message.get("redelivered") else ""
    line = words.system_line(message)
    shown = f'<div class="event-line">{esc(line)}</div>' if line is not None \
        else f'<div class="body">{esc(body)}</div>'
    return (f'<li><div class="meta">#{esc(message.get("id", "?"))} from '
            f'<b>{esc(message.get("from", "?"))}</b> <time>{esc(when)}</time>{marker}</div>'
            f'{shown}</li>')


def inbox_items(harness: Harness, shown: int) -> str:
    mail = list(harness.recent_mail)[-shown:][::-1]
    if not mail:
        return '<li class="muted empty">no mail yet</li>'
    return "".join(inbox_item(m) for m in mail)


def hidden(flag: bool) -> str:
    return " hidden" if flag else ""


def render(harness: Harness, shown: int) -> str:
    status = harness.status()
    return PAGE.substitute(
        stand_in_hidden=hidden(not status["stand_in"]),
        live_hidden=hidden(not status["turn_running"]),
        login_hidden=hidden(not status["login_needed"]),
        name=esc(status["name"]),
        state=esc(status["state"]),
        state_class=esc(harness.state.value) + (" released" if status["released"] else ""),
        model_options=model_options(status["model"], status["available_models"]),
        last_turn=esc(last_turn_line(harness)),
        inbox=inbox_items(harness, shown),
        login_class="attention" if harness.state is State.NEEDS_LOGIN else "",
    )


async def page(request: web.Request) -> web.Response:
    text = render(request.app[HARNESS], request.app[SETTINGS].inbox_shown)
    return web.Response(text=text, content_type="text/html", charset="utf-8")


def setup(app: web.Application) -> None:
    app.router.add_get("/", page)
