"""The dashboard's aiohttp application: templates, static files, the views.

Security lives in :mod:`hive_c0re.dashboard.security` (sessions, CSRF, Origin
and Host, the headers); every view is a module of :mod:`.views` whose
``setup(app)`` adds named routes.
"""

from __future__ import annotations

import re
from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web

from hive_c0re.dashboard import live, security
from hive_c0re.dashboard.config import CONFIG, HIVE, DashboardConfig
from hive_c0re.dashboard.hive import HiveClient
from hive_c0re.dashboard.views import VIEWS

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"


def state_class(word: object) -> str:
    """A state word as the part of a CSS class after ``state-``: "idle (released)" is
    ``idle-released`` (one class, not the three "idle", "(released)" would be)."""
    return re.sub(r"[^a-z0-9]+", "-", str(word or "").lower()).strip("-")


def make_app(hive: HiveClient, config: DashboardConfig) -> web.Application:
    app = web.Application(client_max_size=256 * 1024)
    app[HIVE] = hive
    app[CONFIG] = config
    # The door's middlewares first: the template context is computed in a middleware
    # too, and it needs the session check_session puts on the request.
    security.setup(app, config)
    # Autoescaped always, whatever a file is named: everything an agent wrote
    # passes through here as text, and nothing is ever marked safe.
    aiohttp_jinja2.setup(app, loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                         undefined=jinja2.StrictUndefined, trim_blocks=True,
                         lstrip_blocks=True, filters={"state_class": state_class},
                         context_processors=[security.template_context,
                                             live.template_context])
    app.router.add_static("/static/", STATIC, name="static")
    live.setup(app)
    for view in VIEWS:
        view.setup(app)

    async def close_hive(app: web.Application) -> None:
        await app[HIVE].close()

    app.on_cleanup.append(close_hive)
    return app
