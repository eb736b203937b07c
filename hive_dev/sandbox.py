"""A real systemd user manager for the tests, in a private mount and PID namespace.

Built on ``scripts/hive-sandbox``. The sandbox lives as long as a pipe the test
process holds: when the test ends (or the test process dies), the pipe closes,
the namespace's first process exits, and the kernel ends everything inside.
Its runtime dir sits on the real filesystem, so the tests dial the hive's
sockets directly; commands that need the namespace's view (``journalctl``,
``systemctl``) run through ``nsenter``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from hive_c0re.client import Client

PACKAGE = Path(__file__).resolve().parent
REPO = PACKAGE.parent
SCRIPT = REPO / "scripts" / "hive-sandbox"


def can_run() -> str | None:
    """None if this machine can host the sandbox, else why not."""
    if os.geteuid() != 0:
        return "needs root (unshare --mount --pid)"
    for tool in ("unshare", "nsenter", "dbus-daemon", "systemctl", "journalctl"):
        if shutil.which(tool) is None:
            return f"needs {tool}"
    if not Path("/lib/systemd/systemd").exists():
        return "needs /lib/systemd/systemd"
    return None


class Sandbox:
    """One private systemd --user with journald and D-Bus."""

    def __init__(self) -> None:
        # Short: unix socket paths below it must stay under 108 bytes.
        self.dir = Path(tempfile.mkdtemp(prefix="hhs", dir="/tmp"))
        self._proc = subprocess.Popen(
            [str(SCRIPT), str(self.dir), "--", "cat"],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 30
        while not (self.dir / "ready").exists():
            if self._proc.poll() is not None or time.monotonic() > deadline:
                err = self._proc.stderr.read().decode() if self._proc.stderr else ""
                self.close()
                raise RuntimeError(f"sandbox did not come up: {err}")
            time.sleep(0.02)
        self.env = self._read_env()
        self.init_pid = self._namespace_init()

    def _read_env(self) -> dict[str, str]:
        env = {}
        for line in (self.dir / "env").read_text().splitlines():
            key, _, value = line.removeprefix("export ").partition("=")
            env[key] = value
        return env

    def _namespace_init(self) -> int:
        """The first process of the sandbox's PID namespace (a descendant of our child)."""
        ours = os.readlink("/proc/self/ns/pid")
        pid = self._proc.pid
        while os.readlink(f"/proc/{pid}/ns/pid") == ours:
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
            pid = int(children[0])
        return pid

    @property
    def runtime(self) -> Path:
        return Path(self.env["XDG_RUNTIME_DIR"])

    @property
    def unit_dir(self) -> Path:
        return Path(self.env["XDG_CONFIG_HOME"]) / "systemd" / "user"

    def _inside(self, argv: tuple[str, ...]) -> list[str]:
        return ["nsenter", "-t", str(self.init_pid), "-m", "-p", "--", *argv]

    def run(self, *argv: str, check: bool = True, timeout: float = 60,
            **kwargs: Any) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` inside the namespace with the sandbox's environment."""
        return subprocess.run(
            self._inside(argv), env={**os.environ, **self.env}, check=check,
            capture_output=True, text=True, timeout=timeout, **kwargs,
        )

    def popen(self, *argv: str, **kwargs: Any) -> subprocess.Popen[str]:
        """Like :meth:`run`, but running beside the test."""
        return subprocess.Popen(self._inside(argv), env={**os.environ, **self.env}, text=True,
                                **kwargs)

    def systemctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.run("systemctl", "--user", *args, check=check)

    def show(self, unit: str, prop: str) -> str:
        return self.systemctl("show", unit, "-p", prop, "--value").stdout.strip()

    def journal(self, *matches: str) -> str:
        """Journal lines (with fields, JSON per line) matching ``matches``."""
        self.run("journalctl", "--sync", check=False)
        return self.run("journalctl", "--no-pager", "-o", "json", *matches, check=False).stdout

    def close(self) -> None:
        if self._proc.poll() is None:
            assert self._proc.stdin is not None
            self._proc.stdin.close()
            try:
                self._proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        for stream in (self._proc.stdin, self._proc.stderr):
            if stream is not None:
                stream.close()
        shutil.rmtree(self.dir, ignore_errors=True)


class SandboxHive:
    """hive-c0re installed as socket + service units in a :class:`Sandbox`."""

    def __init__(self, sandbox: Sandbox, **environment: str) -> None:
        self.sandbox = sandbox
        executable = f"{sys.executable} -m hive_c0re"
        subprocess.run(
            [sys.executable, "-m", "hive_c0re", "install-units", "--dir",
             str(sandbox.unit_dir), "--exec", executable],
            check=True, capture_output=True,
        )
        # No manager container unless a test asks for one, and agents answered by the
        # stand-in echo agent unless a test runs the real harness: both would need a model.
        # The echo agent is this package's, which containers see only through this bind.
        environment = {"HYPERHIVE_MANAGER_COMMAND": "", "HYPERHIVE_AGENT_COMMAND": ECHO,
                       "HYPERHIVE_EXTRA_READ_ONLY_BINDS": str(PACKAGE), **environment}
        if environment:
            dropin = sandbox.unit_dir / "hive-c0re.service.d"
            dropin.mkdir(exist_ok=True)
            lines = "".join(f'Environment="{k}={v}"\n' for k, v in environment.items())
            (dropin / "test.conf").write_text("[Service]\n" + lines)
        sandbox.systemctl("daemon-reload")
        sandbox.systemctl("start", "hive-c0re.socket")

    @property
    def host_socket(self) -> Path:
        return self.sandbox.runtime / "hyperhive" / "host.sock"

    def agent_socket(self, name: str) -> Path:
        return self.sandbox.runtime / "hyperhive" / "agents" / name / "hive.sock"

    @property
    def manager_socket(self) -> Path:
        return self.sandbox.runtime / "hyperhive" / "manager" / "hive.sock"

    def client(self, path: Path | None = None, timeout: float = 30) -> Client:
        return Client(path or self.host_socket, timeout=timeout)

    def call(self, cmd: str, **args: Any) -> dict[str, Any]:
        with self.client() as client:
            return client.call(cmd, **args)

    def main_pid(self) -> int:
        return int(self.sandbox.show("hive-c0re.service", "MainPID"))

    def active(self, unit: str = "hive-c0re.service") -> str:
        return self.sandbox.show(unit, "ActiveState")

    def wait_active(self, unit: str = "hive-c0re.service", timeout: float = 30) -> None:
        """Until ``unit`` (the daemon's, unless named) is active again."""
        deadline = time.monotonic() + timeout
        while self.active(unit) != "active":
            if time.monotonic() > deadline:
                raise TimeoutError(f"{unit} is {self.active(unit)}")
            time.sleep(0.05)

    def cli(self, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        """The real operator CLI, run as a process against this hive."""
        return subprocess.run(
            [sys.executable, "-m", "hive_c0re", "--socket", str(self.host_socket), *args],
            capture_output=True, text=True, input=input, timeout=60,
        )


# The stand-in answers mail as the manager would be reached; the real one is hive-m1nd.
ECHO = "{python} -m hive_dev.echo_agent"


def containers_hive(sandbox: Sandbox, manager: bool = False, **environment: str) -> SandboxHive:
    """A hive whose agents (and, with ``manager``, the stand-in manager) run as real nspawn
    containers under the sandbox's systemd."""
    if manager:
        environment = {"HYPERHIVE_MANAGER_COMMAND": ECHO, **environment}
    return SandboxHive(sandbox, HYPERHIVE_SYSTEMD_SCOPE="user",
                       HYPERHIVE_UNIT_DIR=str(sandbox.unit_dir),
                       HYPERHIVE_APPLY_SETTLE_SECONDS="1", **environment)


def children(hive: SandboxHive, pid: int | str) -> list[str]:
    """The namespace-local pids of ``pid``'s children."""
    found = hive.sandbox.run("cat", f"/proc/{pid}/task/{pid}/children", check=False).stdout
    return found.split()


def container_process(hive: SandboxHive, agent: str) -> int:
    """The namespace-local pid of ``agent``'s harness: nspawn's grandchild (under its init).

    Waiting for the grandchild means the container is fully set up: nspawn's
    intermediate children never have one.
    """
    unit = f"hive-agent@{agent}.service"
    deadline = time.monotonic() + 30
    while True:
        nspawn = hive.sandbox.show(unit, "MainPID")
        inits = children(hive, nspawn) if nspawn != "0" else []
        payload = children(hive, inits[0]) if inits else []
        if payload:
            return int(payload[0])
        if time.monotonic() > deadline:
            raise TimeoutError(f"{unit} has no container process")
        time.sleep(0.05)


def _python_in(hive: SandboxHive, agent: str, code: str) -> tuple[str, ...]:
    pid = container_process(hive, agent)
    return ("nsenter", "-t", str(pid), "-a", "-r", "-w", "--", sys.executable, "-c", code)


def in_container(hive: SandboxHive, agent: str, code: str) -> subprocess.CompletedProcess[str]:
    """Run Python ``code`` as a process inside ``agent``'s container (all its namespaces)."""
    return hive.sandbox.run(*_python_in(hive, agent, code), check=False)


def container_popen(hive: SandboxHive, agent: str, code: str,
                    **kwargs: Any) -> subprocess.Popen[str]:
    """Like :func:`in_container`, but running beside the test (``kwargs`` go to Popen)."""
    return hive.sandbox.popen(*_python_in(hive, agent, code), **kwargs)
