"""The dashboard's views: each module's ``setup(app)`` adds its named routes."""

from __future__ import annotations

from types import ModuleType

VIEWS: tuple[ModuleType, ...] = ()
