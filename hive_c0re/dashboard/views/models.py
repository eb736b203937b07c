"""The models each agent may be switched to, from its applied ``agent.toml``.

The list changes only with a deploy, so it is kept per (agent, deployed sha)
and read again once the row names another sha: the overview asks for every
agent on every render, and the daemon is asked only after a deploy.
"""

from __future__ import annotations

import asyncio
import tomllib
from typing import Any

from aiohttp import web

from hive_c0re.dashboard.views.common import hive
from hive_c0re.errors import HiveError

KNOWN = web.AppKey("available_models", dict[tuple[str, str], tuple[str, ...]])
# Agents remembered at most: a hive is far smaller, a stray name cannot grow it past this.
KEPT = 1024


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


def setup(app: web.Application) -> None:
    app[KNOWN] = {}
