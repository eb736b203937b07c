"""The overview's lifecycle buttons on real nspawn containers under the sandbox's systemd.

The dashboard is the real process (``hive_dev.dashboard``) in front of the
sandboxed daemon's host.sock; each button's POST must change the container's
unit for real, and the next page must say so.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from hive_dev.dashboard import Dashboard, WebSession
from hive_dev.sandbox import SandboxHive

UNIT = "hive-agent@alice.service"


@dataclass
class SandboxDoor:
    """What the dashboard helper takes from a daemon: its socket and its environment."""

    host_socket: Path
    env: dict[str, str] = field(default_factory=lambda: dict(os.environ))


@pytest.fixture
def dash(container_hive: SandboxHive) -> Iterator[Dashboard]:
    container_hive.call("spawn", name="alice")
    found = Dashboard(SandboxDoor(container_hive.host_socket))  # type: ignore[arg-type]
    try:
        yield found
    finally:
        assert found.stop() == 0, found.log


def state_on_page(web: WebSession) -> str:
    found = re.search(r'<tr id="agent-alice" data-state="([a-z-]+)"', web.get("/").text)
    assert found
    return found.group(1)


def settles(hive: SandboxHive, web: WebSession, unit: str, word: str) -> None:
    """Until the unit is ``unit`` and the page says ``word`` (no bound on how soon)."""
    deadline = time.monotonic() + 60
    while not (hive.sandbox.show(UNIT, "ActiveState") == unit and state_on_page(web) == word):
        assert time.monotonic() < deadline, (hive.sandbox.show(UNIT, "ActiveState"),
                                             state_on_page(web))
        time.sleep(0.1)


def test_stop_start_restart_and_rebuild_drive_the_container(
        container_hive: SandboxHive, dash: Dashboard) -> None:
    web = dash.login()
    settles(container_hive, web, "active", "idle")
    stopped = web.post("/agents/alice/actions", {"action": "stop"})
    assert stopped.status == 303, stopped.text
    settles(container_hive, web, "inactive", "stopped")
    assert 'value="start"' in web.get("/").text
    assert web.post("/agents/alice/actions", {"action": "start"}).status == 303
    settles(container_hive, web, "active", "idle")
    began = container_hive.sandbox.show(UNIT, "ActiveEnterTimestampMonotonic")
    assert web.post("/agents/alice/actions", {"action": "restart"}).status == 303
    settles(container_hive, web, "active", "idle")
    assert container_hive.sandbox.show(UNIT, "ActiveEnterTimestampMonotonic") != began
    rebuilt = web.post("/agents/alice/actions", {"action": "rebuild"},
                       headers={"HX-Request": "true"})
    assert rebuilt.status == 200 and "alice: rebuilt" in rebuilt.text, rebuilt.text
    settles(container_hive, web, "active", "idle")


def test_destroy_then_revive_from_the_kept_list(container_hive: SandboxHive,
                                                dash: Dashboard) -> None:
    web = dash.login()
    armed = web.post("/agents/alice/actions", {"action": "destroy"})
    token = re.search(r'name="token" value="([^"]+)"', armed.text)
    assert token, armed.text
    assert web.post("/agents/alice/actions",
                    {"action": "destroy", "token": token.group(1)}).status == 303
    assert [a["name"] for a in container_hive.call("kept_agents")["agents"]] == ["alice"]
    assert 'id="kept-alice"' in web.get("/").text
    assert web.post("/agents/alice/actions", {"action": "revive"}).status == 303
    settles(container_hive, web, "active", "idle")
    assert container_hive.call("kept_agents")["agents"] == []


def test_the_model_choice_comes_from_the_applied_config(container_hive: SandboxHive,
                                                        dash: Dashboard) -> None:
    web = dash.login()
    settles(container_hive, web, "active", "idle")
    row = re.search(r'<tr id="agent-alice".*?</tr>', web.get("/").text, re.S)
    assert row, "no row"
    assert re.findall(r"<option[^>]*>([a-z0-9.-]+)</option>", row.group(0)) == [
        "haiku", "sonnet", "opus"]  # agent.toml's default available_models
    wrong = web.post("/agents/alice/actions", {"action": "model", "model": "gpt-5"})
    assert wrong.status == 400
    assert "&#39;gpt-5&#39; is not one of alice&#39;s models" in wrong.text
    assert "its models: haiku, sonnet, opus" in wrong.text
    # The stand-in agent serves no UI: the switch reaches the daemon's pipe, which says so.
    right = web.post("/agents/alice/actions", {"action": "model", "model": "sonnet"})
    assert right.status == 503, right.text
    assert "the agent&#39;s UI is not up" in right.text
    assert container_hive.call("whoami")["name"] == "operator"
