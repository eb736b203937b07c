"""One setting, declared once: its name, type, default, variable, rule and help.

The daemon's settings (:data:`hive_c0re.settings.SETTINGS`) and the
harness's (:data:`hive_ag3nt.settings.HARNESS_SETTINGS`) are tables of
:class:`Setting`, read by :func:`load_values`: the same variable names
(``HYPERHIVE_<NAME>``), checks and messages on both sides of the container.
This module imports nothing of the host's but errors: the container side
imports it (``hive_dev/imports.py`` SHARED).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from hive_c0re.errors import InvalidInput


@dataclass(frozen=True)
class Setting:
    name: str
    type: type[int] | type[float] | type[str]
    default: int | float | str
    help: str
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()

    @property
    def env(self) -> str:
        return "HYPERHIVE_" + self.name.upper()

    @property
    def option(self) -> str:
        return "--" + self.name.replace("_", "-")

    def parse(self, raw: str | int | float) -> int | float | str:
        """Convert and check one value; raise InvalidInput naming the setting and the rule."""
        try:
            value = self.type(raw)
        except (TypeError, ValueError):
            raise InvalidInput(
                f"setting {self.name} ({self.env}) must be {self.type.__name__}, got {raw!r}"
            ) from None
        if self.choices and value not in self.choices:
            raise InvalidInput(f"setting {self.name} must be one of {', '.join(self.choices)}")
        if isinstance(value, int | float):
            # float("nan") parses, and would slip past every bound below.
            if not math.isfinite(value):
                raise InvalidInput(f"setting {self.name} ({self.env}) must be a finite number")
            if self.minimum is not None and value < self.minimum:
                raise InvalidInput(f"setting {self.name} must be at least {self.minimum:g}")
            if self.maximum is not None and value > self.maximum:
                raise InvalidInput(f"setting {self.name} must be at most {self.maximum:g}")
        return value


def load_values(table: Iterable[Setting], overrides: Mapping[str, Any] | None = None,
                environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Each setting's value: its default, then its variable, then an override (None = unset)."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for setting in table:
        values[setting.name] = setting.default
        if setting.env in env:
            values[setting.name] = setting.parse(env[setting.env])
        given = (overrides or {}).get(setting.name)
        if given is not None:
            values[setting.name] = setting.parse(given)
    return values
