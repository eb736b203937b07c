"""The Backend contract, on the real NspawnBackend: real nspawn containers under the
sandbox's systemd user manager, driven from the test process through ``nsenter``."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from hive_c0re.lifecycle.backend import ContainerSpec, Scope, Systemctl
from hive_c0re.lifecycle.nspawn import NspawnBackend
from hive_dev.polling import eventually, wait_until
from hive_dev.sandbox import Sandbox
from tests.backend_contract import BackendContract, make_spec

# The container's process: runs until the test leaves /state/exit, then fails. A file
# in /state, since a unit file takes no newline or quote.
RUNS = """
import os, signal, sys, time
for sig in (signal.SIGTERM, signal.SIGRTMIN + 3):
    signal.signal(sig, lambda *_: sys.exit(0))  # stopped: a clean end
open("/state/up", "w").close()
while not os.path.exists("/state/exit"):
    time.sleep(0.05)
os.remove("/state/exit")
raise SystemExit(3)
"""
EXITS = "raise SystemExit(3)"


@dataclass(frozen=True)
class SandboxSystemctl(Systemctl):
    """``systemctl --user`` of the sandbox's manager, run inside its namespaces."""

    sandbox: Sandbox | None = None

    def argv(self, *args: str) -> list[str]:
        assert self.sandbox is not None
        box = self.sandbox
        env = [f"{key}={value}" for key, value in box.env.items()]
        return ["nsenter", "-t", str(box.init_pid), "-m", "-p", "--", "env", *env,
                *super().argv(*args)]


class NspawnWorld:
    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.root = sandbox.dir / "contract"
        systemctl = SandboxSystemctl(Scope.USER, sandbox=sandbox)
        self.backend = NspawnBackend(systemctl, sandbox.unit_dir, self.root / "roots")
        self.uid_bases: dict[str, int] = {}

    def spec(self, agent: str, *, exits: bool = False) -> ContainerSpec:
        uid_base = self.uid_bases.setdefault(agent, 65536 * (10 + len(self.uid_bases)))
        payload = ["-c", EXITS] if exits else ["/state/runs.py"]
        spec = make_spec(self.root, agent, [sys.executable, *payload], uid_base)
        (spec.state_dir / "runs.py").write_text(RUNS)
        return spec

    def crash(self, agent: str) -> None:
        (self.root / agent / "state" / "exit").touch()

    def eventually(self, condition: Callable[[], bool]) -> bool:
        return eventually(condition)

    def up(self, agent: str) -> None:
        marker = self.root / agent / "state" / "up"
        wait_until(marker.exists, f"{agent}'s container process to start")
        marker.unlink()

    def close(self) -> None:
        for agent in self.uid_bases:
            self.backend.uninstall(agent)


class TestNspawnBackendContract(BackendContract):
    @pytest.fixture
    def world(self, sandbox: Sandbox) -> Iterator[NspawnWorld]:
        world = NspawnWorld(sandbox)
        yield world
        world.close()
