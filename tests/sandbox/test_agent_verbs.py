"""agent_config and kept_agents with real containers, real git and the real systemd."""

from __future__ import annotations

from hive_dev.sandbox import SandboxHive
from tests.sandbox.approval_support import applied_dir, deploy, git

SONNET = 'model = "sonnet"\n# <b>the operator reads this as text</b>\n'


def test_agent_config_is_the_applied_toml_and_follows_an_approval(
        container_hive: SandboxHive) -> None:
    hive = container_hive
    hive.call("spawn", name="alice")
    first = hive.call("agent_config", name="alice")
    assert first["name"] == "alice"
    assert first["sha"] == git(applied_dir(hive, "alice"), "rev-parse", "main")
    assert first["toml"] == git(applied_dir(hive, "alice"), "show", "main:agent.toml") + "\n"
    done = deploy(hive, "alice", SONNET, "alice gets sonnet")
    now = hive.call("agent_config", name="alice")
    assert now["sha"] == done["sha"] != first["sha"]
    assert now["toml"] == SONNET


def test_a_destroyed_agent_is_kept_revived_by_spawn_and_gone_once_purged(
        container_hive: SandboxHive) -> None:
    hive = container_hive
    hive.call("spawn", name="bob")
    hive.call("destroy", name="bob")
    [kept] = hive.call("kept_agents")["agents"]
    assert kept["name"] == "bob" and kept["destroyed_at"] is not None
    # Its applied config is kept with it.
    assert hive.call("agent_config", name="bob")["toml"]
    hive.call("spawn", name="bob")
    assert hive.call("kept_agents")["agents"] == []
    assert hive.sandbox.show("hive-agent@bob.service", "ActiveState") == "active"
    hive.call("destroy", name="bob")
    hive.call("destroy", name="bob", purge=True)
    assert hive.call("kept_agents")["agents"] == []
    assert not applied_dir(hive, "bob").exists()
