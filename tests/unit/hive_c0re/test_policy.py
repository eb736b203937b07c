"""policy.json: one type, written by the daemon from agent.toml, read back by the harness."""

from __future__ import annotations

import json
from typing import Any

import pytest

from hive_ag3nt.policy import load_policy
from hive_c0re.errors import InvalidInput
from hive_c0re.lifecycle.agent_config import AgentConfig, load_agent_config
from hive_c0re.policy import McpServer, Policy

CONFIG = """
model = "sonnet"
allowed_recipients = ["bob"]
allowed_bash = ["git *"]
compact_at = 0.5
[mcp_servers.notes]
command = "/usr/bin/notes"
args = ["--fast"]
env = { NOTES_DIR = "/state/notes" }
allowed_tools = ["search"]
[cli]
idle_release_seconds = 60
"""


def test_what_the_daemon_writes_the_harness_reads_as_the_same_policy(tmp_path: Any) -> None:
    policy = load_agent_config(CONFIG).policy()
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(policy.to_json(), indent=2, sort_keys=True))
    assert load_policy(path) == policy
    assert policy.mcp_servers["notes"] == McpServer("/usr/bin/notes", ("--fast",),
                                                    {"NOTES_DIR": "/state/notes"}, ("search",))
    assert (policy.model, policy.allowed_recipients, policy.compact_at) == ("sonnet", ("bob",),
                                                                          0.5)
    # Unset keys stay unset: the harness's own settings decide them.
    assert (policy.cli_idle_release_seconds, policy.cli_max_rss_mib) == (60, None)


def test_the_harness_defaults_are_agent_toml_defaults() -> None:
    assert Policy() == AgentConfig.defaults().policy()
    assert Policy.from_json({}) == Policy()


@pytest.mark.parametrize(("data", "says"), [
    ({"version": 2}, "version 2"),
    ({"modle": "haiku"}, "modle is not a policy key"),
    ({"model": 3}, "model must be a string"),
    ({"allowed_tools": "Bash"}, "allowed_tools must be a list of strings"),
    ({"allowed_bash": ["ls", 1]}, "allowed_bash must be a list of strings"),
    ({"auto_compact": "yes"}, "auto_compact must be true or false"),
    ({"compact_at": True}, "compact_at must be a number"),
    ({"mcp_servers": []}, "mcp_servers must be an object"),
    ({"mcp_servers": {"x": {}}}, "mcp_servers.x must be an object with a command"),
    ({"mcp_servers": {"x": {"command": "/x", "evn": {}}}}, "mcp_servers.x.evn is not"),
    ({"mcp_servers": {"x": {"command": "/x", "env": {"A": 1}}}}, "mcp_servers.x.env must"),
    ({"mcp_servers": {"x": {"command": "/x", "args": "a"}}}, "mcp_servers.x.args must"),
    ({"cli_idle_release_seconds": -1}, "cli_idle_release_seconds must be null or a whole"),
    ({"cli_max_rss_mib": 1.5}, "cli_max_rss_mib must be null or a whole"),
    ({"cli_max_rss_mib": True}, "cli_max_rss_mib must be null or a whole"),
])
def test_a_policy_the_harness_cannot_understand_is_refused(data: dict[str, Any],
                                                           says: str) -> None:
    with pytest.raises(InvalidInput, match=says):
        Policy.from_json(data)
