"""kept_agents and agent_config over a real daemon, for agents without a container (a
registered mailbox); tests/sandbox/test_agent_verbs.py has them with real containers."""

from __future__ import annotations

import time

import pytest

from hive_c0re.client import Client
from hive_c0re.errors import InvalidInput, NotFound
from hive_dev.daemon import DaemonProcess


def test_a_destroyed_mailbox_is_kept_until_purged(daemon: DaemonProcess) -> None:
    with Client(daemon.host_socket) as op:
        op.call("register", name="kim")
        assert "kim" not in [a["name"] for a in op.call("kept_agents")["agents"]]
        before = time.time()
        op.call("destroy", name="kim")
        [kept] = [a for a in op.call("kept_agents")["agents"] if a["name"] == "kim"]
        assert kept["destroyed_at"] >= before
        op.call("destroy", name="kim", purge=True)
        assert "kim" not in [a["name"] for a in op.call("kept_agents")["agents"]]


def test_agent_config_of_an_agent_without_one_is_a_clear_error(daemon: DaemonProcess) -> None:
    with Client(daemon.host_socket) as op:
        op.call("register", name="lee")
        with pytest.raises(NotFound, match="no applied config yet"):
            op.call("agent_config", name="lee")
        with pytest.raises(NotFound, match="no agent named"):
            op.call("agent_config", name="nobody")
        for name in ("../lee", "manager", "-x"):
            with pytest.raises(InvalidInput, match="agent name"):
                op.call("agent_config", name=name)
