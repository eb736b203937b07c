"""Every state word of an agent is one CSS class on the dashboard, with a rule for it.

Rendered through the dashboard's own template environment: "idle (released)"
used to come out as ``class="state state-idle (released)"``, three classes of
which none was the released one's.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import aiohttp_jinja2
import jinja2
import pytest

from hive_c0re.dashboard.app import STATIC, make_app, state_class
from hive_c0re.dashboard.config import DashboardConfig
from hive_c0re.dashboard.hive import HiveClient
from hive_c0re.vocabulary import STATES

CLASS = re.compile(r'class="(state [^"]*)"')


@pytest.fixture(scope="module")
def env() -> jinja2.Environment:
    # Never dialled: the templates are rendered by hand.
    return aiohttp_jinja2.get_env(make_app(HiveClient(Path("/nonexistent/host.sock")),
                                           DashboardConfig()))


def row(state: str) -> dict[str, Any]:
    """An agent's status row as the agents table reads it."""
    return {"name": "rae", "state": state, "desired": "running", "running": True,
            "paused": False, "socket_error": None, "active_model": "sonnet",
            "deployed_sha": "0123456789abcdef", "needs_update": False, "unread": 0,
            "in_flight": 0, "turn": "idle", "last_turn": None, "started_at": None}


def classes(html: str) -> list[str]:
    return CLASS.findall(html)


def test_a_released_agent_has_the_released_class_on_its_page(env: jinja2.Environment) -> None:
    page = env.get_template("_agent.html").render(name="rae", row=row("idle (released)"))
    assert classes(page) == ["state state-idle-released"]
    assert ">idle (released)<" in page  # the word itself stays as the operator reads it


def test_a_released_agent_has_the_released_class_in_the_agents_table(
        env: jinja2.Environment) -> None:
    table = env.get_template("_agents.html").render(
        rows=[row("idle (released)")], agents_error=None, kept=[], kept_error=None,
        models={}, states=STATES, uptime=lambda started: "-", last_turn=lambda r: "-",
        flash=None, flash_error=None, armed=None, csrf="token")
    assert classes(table) == ["state state-idle-released"]


@pytest.mark.parametrize("state", sorted(STATES))
def test_every_state_is_one_class(env: jinja2.Environment, state: str) -> None:
    (found,) = classes(env.get_template("_agent.html").render(name="rae", row=row(state)))
    word, one = found.split(" ", 1)
    assert word == "state" and re.fullmatch(r"state-[a-z][a-z0-9-]*", one), found


def test_the_released_class_has_a_rule() -> None:
    css = (STATIC / "dashboard.css").read_text()
    assert re.search(r"\.state-idle-released\b[^{]*\{[^}]*opacity", css), css


@pytest.mark.parametrize("state", sorted(STATES))
def test_every_state_has_a_colour(state: str) -> None:
    css = (STATIC / "dashboard.css").read_text()
    selector = re.escape(f".state-{state_class(state)}")
    assert re.search(selector + r"\b[^{]*\{[^}]*color:", css), f"no colour for {state!r}"
