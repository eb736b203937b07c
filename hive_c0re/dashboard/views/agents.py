"""The agents' actions: one form per agent, one button per action, one wire verb each.

``POST /agents/<name>/actions`` with the form's ``action``: start, stop,
restart, rebuild, pause, resume, model (with ``model``: the agent's own UI
switches it), revive (``spawn``: a destroyed agent whose state was kept),
destroy and purge. Destroy and purge are armed first: the first POST renders
a confirm button carrying a single-use token bound to the session, the agent
and the action, good for ARM_SECONDS; only the second POST, with that token,
does it. Without JavaScript every action ends in a 303 back to ``/`` (an
armed one in a confirm page); with htmx the agents fragment comes back with
the result, or the confirm button, on top.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from hive_c0re import vocabulary
from hive_c0re.dashboard.views import models
from hive_c0re.dashboard.views.common import form, hive, is_htmx, refused
from hive_c0re.dashboard.views.overview import agents_context
from hive_c0re.errors import HiveError, InvalidInput
from hive_c0re.names import validate_container_name

ARM_SECONDS = 60.0
# Armed confirmations kept at most; an older one past its time is dropped first.
MAX_ARMED = 256


@dataclass(frozen=True)
class Action:
    verb: str
    done: str
    args: tuple[tuple[str, Any], ...] = ()
    armed: bool = False


ACTIONS = {
    "start": Action("start", "started"),
    "stop": Action("stop", "stopped"),
    "restart": Action("restart", "restarted"),
    "rebuild": Action("rebuild", "rebuilt"),
    "pause": Action("set_paused", "paused", (("paused", True),)),
    "resume": Action("set_paused", "resumed", (("paused", False),)),
    "revive": Action("spawn", "revived"),
    # Through the agent's own UI (its /model command), not a daemon verb.
    "model": Action("", "model switched"),
    "destroy": Action("destroy", "destroyed; its state is kept", armed=True),
    "purge": Action("destroy", "purged", (("purge", True),), armed=True),
}


@dataclass(frozen=True)
class Armed:
    session: str
    action: str
    name: str
    expires: float


ARMED = web.AppKey("armed", dict[str, Armed])


def arm(request: web.Request, action: str, name: str) -> str:
    """A fresh token that confirms ``action`` on ``name`` for this session only."""
    armed = request.app[ARMED]
    now = time.monotonic()
    for token in [t for t, a in armed.items() if a.expires <= now]:
        del armed[token]
    while len(armed) >= MAX_ARMED:
        del armed[next(iter(armed))]
    token = secrets.token_urlsafe(24)
    armed[token] = Armed(request["session"]["id"], action, name, now + ARM_SECONDS)
    return token


def disarm(request: web.Request, token: str, action: str, name: str) -> None:
    """Use up ``token``; raise InvalidInput unless it was armed here for this."""
    found = request.app[ARMED].pop(token, None)
    if (found is None or found.expires <= time.monotonic()
            or (found.session, found.action, found.name)
            != (request["session"]["id"], action, name)):
        raise InvalidInput(f"this confirmation to {action} {name} has expired or was used",
                           hint="press the button on the overview again")


def chosen(fields: dict[str, str]) -> tuple[str, Action]:
    """The form's action and what it does; raise InvalidInput for a missing or unknown one."""
    word = fields.get("action")
    if word is None:
        raise InvalidInput("the form names no action", hint="one of: " + ", ".join(ACTIONS))
    if word not in ACTIONS:
        raise InvalidInput(f"{word[:40]!r} is not an action here",
                           hint="one of: " + ", ".join(ACTIONS))
    return word, ACTIONS[word]


async def act(request: web.Request) -> web.StreamResponse:
    try:
        name = validate_container_name(request.match_info["name"])
        fields = await form(request)
        word, action = chosen(fields)
        if action.armed and "token" not in fields:
            return await confirm(request, word, name)
        if action.armed:
            disarm(request, fields["token"], word, name)
        if word == "model":
            done = await models.switch(request, name, fields.get("model"))
        else:
            await hive(request).call(action.verb, name=name, **dict(action.args))
            done = vocabulary.result_line(name, action.done)
    except HiveError as error:
        return await answer(request, None, error)
    return await answer(request, done, None)


async def confirm(request: web.Request, action: str, name: str) -> web.Response:
    armed = {"action": action, "name": name, "token": arm(request, action, name),
             "seconds": int(ARM_SECONDS)}
    if not is_htmx(request):
        return aiohttp_jinja2.render_template("confirm.html", request, {"armed": armed})
    context = await agents_context(request)
    context["armed"] = armed
    return aiohttp_jinja2.render_template("_agents.html", request, context)


async def answer(request: web.Request, done: str | None,
                 error: HiveError | None) -> web.StreamResponse:
    """The agents fragment with the outcome on top (htmx), else a 303 or the refusal page."""
    if not is_htmx(request):
        if error is not None:
            return refused(request, error, "/")
        raise web.HTTPSeeOther("/")
    context = await agents_context(request)
    context["flash"] = done
    context["flash_error"] = error
    # 200 even for a refusal: htmx swaps only a success, and the refusal is shown in place.
    return aiohttp_jinja2.render_template("_agents.html", request, context)


def setup(app: web.Application) -> None:
    app[ARMED] = {}
    models.setup(app)
    app.router.add_post("/agents/{name}/actions", act, name="agent-actions")
