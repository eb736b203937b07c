"""The demo's hive: its surroundings (which systemd manager, which names), bringing it up and
down, and saying what went wrong.

Everything the hive is asked goes over the wire (:class:`hive_c0re.Client`);
systemd is driven with the project's :class:`~hive_c0re.lifecycle.backend.Systemctl`.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from hive_c0re.client import Client
from hive_c0re.errors import HiveError
from hive_c0re.lifecycle.backend import Scope, Systemctl
from hive_c0re.lifecycle.nspawn import unit_name
from hive_dev.demo import rendering
from hive_dev.demo.credentials import Model, agent_env, write_agent_env
from hive_dev.demo.rendering import MODEL_UNIT

REPO = Path(__file__).resolve().parents[2]
PYTHON = REPO / ".venv" / "bin" / "python"
AGENTS = ("alice", "bob")
CONTAINERS = ("manager", *AGENTS)
UP_TIMEOUT = 120.0  # seconds for the containers to come up
MODEL_TIMEOUT = 30.0  # seconds for the stand-in to listen
POLL = 0.5


class DemoError(HiveError):
    """The demo cannot go on; the message says why."""


def say(text: str) -> None:
    print(f"demo: {text}", flush=True)


@dataclass(frozen=True)
class Site:
    """Where the hive runs: the manager, its unit directory, the daemon's unit name (a
    prefix of its own on a systemd host, never meeting a real hive's), the runtime
    directory and the demo's temporary directory."""

    systemctl: Systemctl
    unit_dir: Path
    hive_unit: str
    runtime: Path
    work: Path

    @classmethod
    def user(cls, work: Path) -> Site:
        """Inside scripts/hive-sandbox, whose environment names the user manager's dirs."""
        return cls(Systemctl(Scope.USER), Path(os.environ["XDG_CONFIG_HOME"]) / "systemd/user",
                   "hive-c0re", Path(os.environ["XDG_RUNTIME_DIR"]) / "hyperhive", work)

    @classmethod
    def system(cls, work: Path) -> Site:
        return cls(Systemctl(Scope.SYSTEM), Path("/run/systemd/system"), "hyperhive-demo-c0re",
                   work / "run", work)

    @property
    def scope(self) -> str:
        return str(self.systemctl.scope)

    @property
    def manager_flag(self) -> str:
        """What an operator adds to ``systemctl`` to reach this manager."""
        return " --user" if self.systemctl.scope is Scope.USER else ""

    @property
    def socket(self) -> Path:
        return self.runtime / "host.sock"

    @property
    def agent_env(self) -> Path:
        return self.work / "agent.env"

    def export(self) -> None:
        """For the CLI the tour and the shell run (``hive-c0re ui`` finds the UI sockets in
        the runtime directory)."""
        os.environ["HYPERHIVE_SOCKET"] = str(self.socket)
        os.environ["HYPERHIVE_RUNTIME_DIR"] = str(self.runtime)


def container_units() -> list[str]:
    return [unit_name(name) for name in CONTAINERS]


class Hive:
    """The daemon, the model and the containers on one :class:`Site`."""

    def __init__(self, site: Site, model: Model) -> None:
        self.site = site
        self.model = model
        self.started = int(time.time())

    def up(self) -> None:
        self._setup_model()
        self.site.systemctl.run("daemon-reload")
        self.site.systemctl.run("start", f"{self.site.hive_unit}.socket")
        with Client(self.site.socket) as client:
            for name in AGENTS:
                say(f"hive-c0re spawn {name}")
                client.call("spawn", name=name)
        self._wait_for_containers()

    def _setup_model(self) -> None:
        port = None
        if self.model.is_stand_in:
            port = self._start_model()
            say(f"the built-in model listens on 127.0.0.1:{port} ({MODEL_UNIT}.service)")
        else:
            say(f"using {self.model.name} with {', '.join(self.model.given)} "
                "from your environment")
        write_agent_env(self.site.agent_env, agent_env(self.model, os.environ, port))

    def _start_model(self) -> int:
        port_file = self.site.work / "model.port"
        unit = self.site.unit_dir / f"{MODEL_UNIT}.service"
        unit.write_text(rendering.model_unit(PYTHON, port_file))
        self.site.systemctl.run("daemon-reload")
        self.site.systemctl.run("start", unit.name)
        deadline = time.monotonic() + MODEL_TIMEOUT
        while not port_file.exists():
            if time.monotonic() > deadline or not self._active(unit.name):
                self._show(*self.site.systemctl.argv("status", MODEL_UNIT, "--no-pager"))
                raise DemoError("the built-in model did not start")
            time.sleep(0.1)
        return int(port_file.read_text())

    def _active(self, unit: str) -> bool:
        return self.site.systemctl.run("is-active", "-q", unit, check=False).returncode == 0

    def _wait_for_containers(self) -> None:
        units = container_units()
        say(f"waiting for the containers: {' '.join(units)}")
        deadline = time.monotonic() + UP_TIMEOUT
        while not all(self._active(unit) for unit in units):
            if time.monotonic() > deadline:
                self.diagnose()
                raise DemoError(f"the containers did not come up within {UP_TIMEOUT:.0f}s")
            time.sleep(POLL)

    def installed_containers(self) -> list[str]:
        """Every container the daemon installed: ours, and any the operator spawned."""
        dropins = (d.name.removesuffix(".d")
                   for d in self.site.unit_dir.glob("hive-agent@*.service.d") if d.is_dir())
        return sorted({*container_units(), *dropins})

    def down(self) -> None:
        units = self.installed_containers()
        hive = self.site.hive_unit
        # The daemon first: it would count containers stopping under it as crashes.
        self.site.systemctl.run("stop", f"{hive}.socket", f"{hive}.service", check=False)
        self.site.systemctl.run("stop", *units, f"{MODEL_UNIT}.service", check=False)

    def diagnose(self) -> None:
        """What went wrong, on stderr: the units' state and their last journal lines."""
        self._show(*self.site.systemctl.argv("list-units", "--all", "--no-pager",
                                             "hive-*", "hyperhive-*"))
        self._show("journalctl", "--sync")
        for name in ("hive-c0re", MODEL_UNIT, *(f"hive-agent-{c}" for c in CONTAINERS)):
            print(f"---- journalctl -t {name}", file=sys.stderr, flush=True)
            self._show("journalctl", "--no-pager", "-n", "30", "-t", name,
                       "--since", f"@{self.started}")

    @staticmethod
    def _show(*argv: str) -> None:
        subprocess.run(argv, stdout=sys.stderr, check=False, env={**os.environ,
                                                                  "SYSTEMD_COLORS": "0"})
