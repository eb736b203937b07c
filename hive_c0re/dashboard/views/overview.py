"""``/``: problems first, then one row per agent and the destroyed agents whose state is kept.

The page and its two live fragments (``/fragments/problems``,
``/fragments/agents``) render from the same calls, made side by side; a part
the daemon refuses shows the refusal in its place and the rest still renders.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from hive_c0re import vocabulary
from hive_c0re.dashboard.views import models, watch
from hive_c0re.dashboard.views.common import hive
from hive_c0re.dashboard.views.problems import CRASH_WINDOW, problems, total
from hive_c0re.dashboard.views.watch import WATCH
from hive_c0re.errors import HiveError
from hive_c0re.timestamps import rfc3339


class Part:
    """One call's answer, or the refusal that came instead."""

    def __init__(self, value: Any = None, error: HiveError | None = None) -> None:
        self.value = value
        self.error = error

    @property
    def message(self) -> str | None:
        if self.error is None:
            return None
        return self.error.message + (f" ({self.error.hint})" if self.error.hint else "")


async def part(call: Awaitable[dict[str, Any]], key: str) -> Part:
    try:
        return Part((await call)[key])
    except HiveError as error:
        return Part([], error)


async def problems_context(request: web.Request, rows: Part | None = None,
                           fresh: bool = True) -> dict[str, Any]:
    """What ``_problems.html`` renders: the problems, their count, and what could not be
    read. Not ``fresh``: approvals, questions and crashes as the feed says they still are."""
    client = hive(request)
    watch = request.app[WATCH]

    def asked(topic: str, call: Callable[[], Awaitable[Part]]) -> Awaitable[Part]:
        return call() if fresh else watch.reuse(topic, call, lambda p: p.error is None)

    now = time.time()
    status, pending, questions, crashes = await asyncio.gather(
        _known(rows) if rows is not None else part(client.call("agent_status"),
                                                   "agent_statuses"),
        asked("approvals", lambda: part(client.call("pending"), "approvals")),
        asked("questions", lambda: part(client.call("questions"), "questions")),
        asked("crashes", lambda: part(client.call("events", since=max(now - CRASH_WINDOW, 0),
                                                  limit=5000), "events")))
    recent = [e for e in crashes.value
              if e.get("kind") == "container_crash" and e.get("at", 0) >= now - CRASH_WINDOW]
    found = problems(status.value, pending.value, questions.value, recent)
    unread = [p.message for p in (status, pending, questions, crashes) if p.error]
    return {"problems": found, "problem_count": total(found), "problem_errors": unread}


async def agents_context(request: web.Request, rows: Part | None = None) -> dict[str, Any]:
    """What ``_agents.html`` renders: the rows, each agent's models, the kept agents."""
    client = hive(request)
    status, kept = await asyncio.gather(
        _known(rows) if rows is not None else part(client.call("agent_status"),
                                                   "agent_statuses"),
        part(client.call("kept_agents"), "agents"))
    # A destroyed agent's row stays in agent_status; it is shown with the kept ones instead.
    shown = [r for r in status.value if r.get("state") != "destroyed"]
    choices = await models.available(request, shown)
    kept_rows = [{**k, "destroyed": rfc3339(k.get("destroyed_at"))} for k in kept.value]
    return {"rows": shown, "agents_error": status.message, "kept": kept_rows,
            "kept_error": kept.message, "models": choices, "states": vocabulary.STATES,
            "uptime": vocabulary.uptime, "last_turn": last_turn, "flash": None,
            "flash_error": None, "armed": None}


def last_turn(row: dict[str, Any], now: float | None = None) -> str:
    """When the agent's last turn ended, how long it took, its tokens and cost, as its
    harness reported them; "-" before the first."""
    turn = row.get("last_turn")
    if not turn or turn.get("ended_at") is None:
        return "-"
    ago = max(0.0, (time.time() if now is None else now) - float(turn["ended_at"]))
    parts = [f"{vocabulary.duration(ago)} ago"]
    if turn.get("duration_ms") is not None:
        parts.append(f"{turn['duration_ms'] / 1000:.1f} s")
    if turn.get("tokens") is not None:
        parts.append(f"{turn['tokens']:,} tokens")
    if turn.get("cost_usd") is not None:
        parts.append(f"${turn['cost_usd']:.4f}")
    return " · ".join(parts)


async def overview(request: web.Request) -> web.Response:
    rows = await part(hive(request).call("agent_status"), "agent_statuses")
    top, agents = await asyncio.gather(problems_context(request, rows, fresh=False),
                                       agents_context(request, rows))
    return aiohttp_jinja2.render_template("overview.html", request, {**top, **agents})


async def problems_fragment(request: web.Request) -> web.Response:
    return aiohttp_jinja2.render_template("_problems.html", request,
                                          await problems_context(request))


async def agents_fragment(request: web.Request) -> web.Response:
    return aiohttp_jinja2.render_template("_agents.html", request,
                                          await agents_context(request))


async def _known(found: Part) -> Part:
    return found


def setup(app: web.Application) -> None:
    watch.setup(app)
    app.router.add_get("/", overview, name="overview")
    app.router.add_get("/fragments/problems", problems_fragment, name="fragment-problems")
    app.router.add_get("/fragments/agents", agents_fragment, name="fragment-agents")
