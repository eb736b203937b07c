"""Who may use the dashboard: sessions, CSRF, Origin and Host, the response headers."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from hive_c0re.dashboard.config import DashboardConfig


async def template_context(request: web.Request) -> dict[str, Any]:
    """What every template may use: the session's CSRF token."""
    session = request.get("session")
    return {"csrf": session["csrf"] if session else ""}


def setup(app: web.Application, config: DashboardConfig) -> None:
    """Put the login routes and the middlewares on ``app``."""
