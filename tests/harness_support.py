"""A real harness against a real daemon process; only the model is scripted."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hive_ag3nt.harness import Harness
from hive_ag3nt.paths import AgentPaths
from hive_ag3nt.settings import HarnessSettings
from hive_c0re.wire import Client
from tests.daemon import DaemonProcess
from tests.fakes.fake_cli import fake_cli_env, read_records, write_fake_cli
from tests.fakes.script import ApiRequest, Reply, write_script


@dataclass
class Rig:
    harness: Harness
    daemon: DaemonProcess
    name: str
    script: Path
    record: Path

    def operator(self) -> Client:
        return Client(self.daemon.host_socket)

    def send(self, body: str) -> int:
        with self.operator() as op:
            (message_id,) = op.call("send", to=self.name, body=body)["ids"]
        return int(message_id)

    def inbox(self) -> list[dict[str, Any]]:
        with self.operator() as op:
            return list(op.call("inbox")["messages"])

    def counts(self) -> tuple[int, int]:
        with self.operator() as op:
            agent = op.call("agent_status", name=self.name)["agent"]
        return agent["unread"], agent["in_flight"]

    def script_replies(self, *replies: Reply) -> None:
        write_script(self.script, replies)

    def calls(self) -> list[ApiRequest]:
        return read_records(self.record) if self.record.exists() else []


def make_rig(tmp_path: Path, daemon: DaemonProcess, name: str, *replies: Reply,
             policy: dict[str, Any] | None = None, **settings: Any) -> Rig:
    """Register ``name`` and build its harness on the fake CLI (not started)."""
    with Client(daemon.host_socket) as op:
        op.call("register", name=name)
    state = tmp_path / "state"
    state.mkdir()
    policy_file = tmp_path / "policy.json"
    policy_file.write_text(json.dumps(policy or {}))
    paths = AgentPaths(state=state, run=tmp_path, policy=policy_file,
                       model_file=state / "hyperhive-model",
                       claude_config=tmp_path / "claude-config",
                       socket_override=daemon.agent_socket(name))
    script, record = tmp_path / "script.json", tmp_path / "calls.jsonl"
    write_script(script, replies)
    defaults = {"recv_wait": 5.0, "rate_limit_wait": 0.05, "error_backoff_max": 0.05,
                "login_recheck": 0.2}
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    harness = Harness(paths, HarnessSettings(**(defaults | settings)),
                      cli_path=str(write_fake_cli(bin_dir)), env=fake_cli_env(script, record))
    return Rig(harness, daemon, name, script, record)


def restarted(rig: Rig) -> Rig:
    """The same agent with a fresh harness process state (same paths, CLI and script)."""
    old = rig.harness
    harness = Harness(old.paths, old.settings, cli_path=old.cli_path, env=old.env)
    return Rig(harness, rig.daemon, rig.name, rig.script, rig.record)
