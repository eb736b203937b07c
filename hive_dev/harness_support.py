"""A real harness against a real daemon process; only the model is scripted."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from hive_ag3nt.harness import Harness
from hive_ag3nt.paths import AgentPaths
from hive_ag3nt.runner import bundled_cli
from hive_ag3nt.settings import HarnessSettings
from hive_c0re.client import Client
from hive_dev.daemon import DaemonProcess
from hive_dev.fakes.fake_cli import fake_cli_env, read_records, write_fake_cli
from hive_dev.fakes.messages_api import MessagesApi, cli_env
from hive_dev.fakes.script import ApiRequest, Reply, write_script
from hive_dev.processes import descendants, end

T = TypeVar("T")
# What a test harness waits and backs off: short, so a scenario runs in seconds.
HARNESS_DEFAULTS = {"recv_wait": 5.0, "rate_limit_wait": 0.05, "error_backoff_max": 0.05,
                    "login_recheck": 0.2}


def run(coro: Coroutine[Any, Any, T], timeout: float = 60) -> T:
    """Run a scenario to its end, failing it (not hanging) after ``timeout`` seconds."""
    return asyncio.run(asyncio.wait_for(coro, timeout))


async def until(condition: Callable[[], bool]) -> None:
    """Wait for a condition another task brings about (the harness has no event for these)."""
    while not condition():  # noqa: ASYNC110
        await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def running(harness: Harness) -> AsyncIterator[Harness]:
    """The harness started for the block and closed after it, whatever happens."""
    await harness.start()
    try:
        yield harness
    finally:
        await harness.close()


@contextlib.contextmanager
def daemon_process(**settings: str) -> Iterator[DaemonProcess]:
    """A daemon process for a test or a module, its state removed afterwards."""
    daemon = DaemonProcess(**settings)
    try:
        yield daemon
    finally:
        daemon.stop()
        shutil.rmtree(daemon.root, ignore_errors=True)


def register(daemon: DaemonProcess, name: str) -> None:
    with Client(daemon.host_socket) as op:
        op.call("register", name=name)


def fresh(old: Harness) -> Harness:
    """A new harness for the same agent: same paths, settings, CLI and environment."""
    return Harness(old.paths, old.settings, cli_path=old.cli_path, env=old.env)


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
    register(daemon, name)
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
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    harness = Harness(paths, HarnessSettings.load(HARNESS_DEFAULTS | settings, environ={}),
                      cli_path=str(write_fake_cli(bin_dir)), env=fake_cli_env(script, record))
    return Rig(harness, daemon, name, script, record)


def restarted(rig: Rig) -> Rig:
    """The same agent with a fresh harness process state (same paths, CLI and script)."""
    return Rig(fresh(rig.harness), rig.daemon, rig.name, rig.script, rig.record)


# -- the fidelity tier: the real claude CLI against the scripted Messages API ----


@dataclass
class RealRig(Rig):
    """A Rig whose harness runs the SDK's bundled claude CLI against ``api``.

    ``script_replies`` adds to the stand-in's script (a live one: replies may
    come after requests started); ``calls`` are the model calls it saw.
    """

    api: MessagesApi

    def script_replies(self, *replies: Reply) -> None:
        self.api.add(*replies)

    def calls(self) -> list[ApiRequest]:
        return self.api.model_calls

    def restarted(self) -> RealRig:
        """The same agent with a fresh harness (same paths, CLI, environment and stand-in)."""
        return RealRig(fresh(self.harness), self.daemon, self.name, self.script, self.record,
                       self.api)


UI_SECRET = "the-test-agents-ui-secret"


def agent_paths(tmp_path: Path, socket: Path, policy: dict[str, Any] | None = None
                ) -> AgentPaths:
    """An agent's state under ``tmp_path`` (made here), its policy file written."""
    state = tmp_path / "state"
    state.mkdir()
    policy_file = tmp_path / "policy.json"
    policy_file.write_text(json.dumps(policy or {}))
    (tmp_path / "ui-secret").write_text(UI_SECRET + "\n")  # as the daemon puts it, beside
    return AgentPaths(state=state, run=tmp_path, policy=policy_file,
                      model_file=state / "hyperhive-model",
                      claude_config=tmp_path / "home" / ".claude", socket_override=socket)


def make_real_rig(tmp_path: Path, daemon: DaemonProcess, name: str, api: MessagesApi, *,
                  policy: dict[str, Any] | None = None, max_retries: int | None = None,
                  **settings: Any) -> RealRig:
    """Register ``name`` and build its harness on the real CLI (not started)."""
    register(daemon, name)
    paths = agent_paths(tmp_path, daemon.agent_socket(name), policy)
    env = api.cli_env(tmp_path / "home", max_retries)
    harness = Harness(paths, HarnessSettings.load(HARNESS_DEFAULTS | settings, environ={}),
                      cli_path=bundled_cli(), env=env)
    return RealRig(harness, daemon, name, tmp_path / "unused-script.json",
                   tmp_path / "unused-calls.jsonl", api)


def serve_env(paths: AgentPaths, api_url: str, **settings: str) -> dict[str, str]:
    """The environment of a ``hive-ag3nt serve`` process for ``paths`` on the real CLI.

    ``settings`` become ``HYPERHIVE_<NAME>`` (``recv_wait="5"``).
    """
    env = {**os.environ, **cli_env(api_url, paths.claude_config.parent)}
    env.update({
        "HYPERHIVE_SOCKET": str(paths.socket),
        "HYPERHIVE_STATE": str(paths.state),
        "HYPERHIVE_RUN": str(paths.run),
        "HYPERHIVE_POLICY": str(paths.policy),
        "HYPERHIVE_MODEL_FILE": str(paths.model_file),
        "CLAUDE_CONFIG_DIR": str(paths.claude_config),
        "HYPERHIVE_CLAUDE": bundled_cli(),
        "PYTHONUNBUFFERED": "1",
    })
    env.update({f"HYPERHIVE_{k.upper()}": v for k, v in settings.items()})
    return env


class HarnessProcess:
    """``hive-ag3nt serve --no-ui`` as a child process; everything it started is ended by pid."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.log_path = log
        self._log = log.open("ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "hive_ag3nt", "serve", "--no-ui"],
                                     env=env, stdout=self._log, stderr=self._log,
                                     cwd=Path(__file__).resolve().parent.parent)
        self.seen: set[int] = set()  # descendants noticed so far (the claude CLI)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def descendants(self) -> list[int]:
        """The live processes below the harness; remembered for ``close``."""
        found = descendants(self.pid)
        self.seen.update(found)
        return found

    def kill(self) -> None:
        """SIGKILL the harness alone, as a crash would (its CLI is left to notice)."""
        self.descendants()
        os.kill(self.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self, timeout: float = 20) -> int:
        """SIGTERM and wait; the harness stops its CLI itself."""
        self.descendants()
        return end(self.proc, timeout)

    def close(self) -> None:
        """Stop the harness and end any process of ours it left behind."""
        self.stop()
        for pid in self.seen:
            with contextlib.suppress(ProcessLookupError):
                if _is_ours(pid):
                    os.kill(pid, signal.SIGKILL)
        self._log.close()

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")


def _is_ours(pid: int) -> bool:
    """Still a claude CLI (not a recycled pid given to something else)?"""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"claude" in cmdline


def container_env_file(path: Path, api_url: str) -> Path:
    """Every container's environment (``agent_env_file``): the bundled CLI, at the stand-in."""
    lines = {
        "ANTHROPIC_BASE_URL": api_url,
        "ANTHROPIC_API_KEY": "dummy",
        "HYPERHIVE_CLAUDE": bundled_cli(),
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_AUTOUPDATER": "1",
        "HYPERHIVE_RECV_WAIT": "30",
    }
    path.write_text("".join(f"{k}={v}\n" for k, v in lines.items()))
    return path
