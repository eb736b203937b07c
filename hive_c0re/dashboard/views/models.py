"""The models each agent may be switched to, from its applied ``agent.toml``, and the switch.

The list changes only with a deploy, so it is kept per (agent, deployed sha)
and read again once the row names another sha: the overview asks for every
agent on every render, and the daemon is asked only after a deploy. A switch
is the agent's own ``/model`` command, sent to its UI through the daemon's
``agent_ui`` pipe with the UI's secret, after the model is checked against
the applied config read afresh.
"""

from __future__ import annotations

import asyncio
import json
import tomllib
from typing import Any

from aiohttp import web

from hive_c0re.dashboard.views.common import hive
from hive_c0re.errors import HiveError, InvalidInput, Unreachable
from hive_c0re.wire import UI_SECRET_HEADER

KNOWN = web.AppKey("available_models", dict[tuple[str, str], tuple[str, ...]])
# Agents remembered at most: a hive is far smaller, a stray name cannot grow it past this.
KEPT = 1024
# Bytes of the UI's answer read at most, and how long it gets.
MAX_ANSWER = 256 * 1024
UI_TIMEOUT = 15.0


def _parsed(text: str) -> tuple[str, ...]:
    """``available_models`` of an agent.toml; nothing when the file does not say."""
    try:
        found = tomllib.loads(text).get("available_models")
    except tomllib.TOMLDecodeError:
        return ()
    if not isinstance(found, list):
        return ()
    return tuple(m for m in found if isinstance(m, str))


async def _read(request: web.Request, name: str) -> tuple[str, ...] | None:
    try:
        answer = await hive(request).call("agent_config", name=name)
    except HiveError:
        return None  # not shown: the agent's page says why its config cannot be read
    return _parsed(str(answer.get("toml", "")))


async def available(request: web.Request,
                    rows: list[dict[str, Any]]) -> dict[str, tuple[str, ...]]:
    """Given status rows, the models each running agent may switch to (none: no choice)."""
    known = request.app[KNOWN]
    wanted = {(str(r["name"]), str(r.get("full_deployed_sha")))
              for r in rows if r.get("running") and r.get("full_deployed_sha")}
    missing = sorted(wanted - known.keys())
    found = await asyncio.gather(*(_read(request, name) for name, _ in missing))
    if len(known) + len(missing) > KEPT:
        known.clear()
    for key, models in zip(missing, found, strict=True):
        if models is not None:
            known[key] = models
    return {name: known.get((name, sha), ()) for name, sha in wanted}


async def switch(request: web.Request, name: str, model: str | None) -> str:
    """Switch ``name`` to ``model`` through its UI; the result line. Raise InvalidInput for
    a model its applied config does not offer, HiveError for what the UI refuses."""
    if not model:
        raise InvalidInput("choose a model to switch to")
    allowed = await _read(request, name)
    if allowed is None:
        raise InvalidInput(f"{name}'s applied config cannot be read, so its models are unknown",
                           hint=f"its page shows why: /agents/{name}/")
    if model not in allowed:
        raise InvalidInput(f"{model[:60]!r} is not one of {name}'s models",
                           hint="its models: " + (", ".join(allowed) or "none"))
    status, answer = await _prompt(request, name, f"/model {model}")
    if status != 200:
        raise InvalidInput(f"{name}'s UI refused the switch: {answer.get('error', status)}")
    warning = answer.get("warning")
    return f"{name}: model {answer.get('model', model)}" + (f"; {warning}" if warning else "")


async def _prompt(request: web.Request, name: str, text: str) -> tuple[int, dict[str, Any]]:
    """POST ``text`` to the agent UI's ``/prompt``; its status and JSON answer."""
    sock, secret = await hive(request).open_ui(name)
    body = json.dumps({"text": text}).encode()
    head = (f"POST /prompt HTTP/1.1\r\nHost: {name}\r\n{UI_SECRET_HEADER}: {secret}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            "Connection: close\r\n\r\n").encode()
    reader, writer = await asyncio.open_connection(sock=sock)
    try:
        writer.write(head + body)
        async with asyncio.timeout(UI_TIMEOUT):
            raw = b""  # the UI closes after its answer (Connection: close)
            while len(raw) < MAX_ANSWER and (more := await reader.read(MAX_ANSWER - len(raw))):
                raw += more
    except (OSError, TimeoutError) as exc:
        raise Unreachable(f"{name}'s UI did not answer: {exc or 'timeout'}") from None
    finally:
        writer.close()
    return _parsed_answer(name, raw)


def _parsed_answer(name: str, raw: bytes) -> tuple[int, dict[str, Any]]:
    head, _, payload = raw.partition(b"\r\n\r\n")
    try:
        status = int(head.split(b" ", 2)[1])
        answer = json.loads(payload)
    except (IndexError, ValueError):
        raise Unreachable(f"{name}'s UI gave an answer that is not HTTP with JSON") from None
    return status, answer if isinstance(answer, dict) else {}


def setup(app: web.Application) -> None:
    app[KNOWN] = {}
