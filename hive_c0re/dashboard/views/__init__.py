"""The dashboard's views: each module's ``setup(app)`` adds its named routes."""

from __future__ import annotations

from types import ModuleType

from hive_c0re.dashboard.views import (
    agent_page,
    agents,
    approvals,
    events,
    login,
    mail,
    overview,
    threads,
)

VIEWS: tuple[ModuleType, ...] = (
    login,
    overview,
    agents,
    agent_page,
    events,
    approvals,
    mail,
    threads,
)
