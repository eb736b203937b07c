"""The container backend interface, and what every backend is handed.

A backend turns a :class:`ContainerSpec` into a running container under a
systemd unit, and answers for that unit. It never decides policy: the daemon
reads ``agent.toml``, validates names and builds the spec; the backend only
renders argv, unit files and conf files from it and runs ``systemctl``.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Protocol

from hive_c0re.errors import HiveError, InvalidInput
from hive_c0re.names import validate_container_name

# Inside every container, whatever the backend.
CONTAINER_RUN = Path("/run/hive")
CONTAINER_STATE = Path("/state")
CONTAINER_CLAUDE = Path("/root/.claude")
CONTAINER_POLICY = Path("/etc/hive")
CONTAINER_EGRESS = Path("/run/hive-egress")  # the only way out: the egress process's sockets
POLICY_FILE = "policy.json"  # in the policy dir, bound read-only to CONTAINER_POLICY


def container_command(template: str) -> list[str]:
    """A command setting as argv; ``{python}`` is this interpreter (bound into containers)."""
    return shlex.split(template.replace("{python}", shlex.quote(sys.executable)))


class Scope(StrEnum):
    """Which systemd manager owns the units: the system's, or a user manager (tests)."""

    SYSTEM = "system"
    USER = "user"


_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def size_bytes(size: str) -> int:
    """``512M``, ``4G`` or a plain byte count as bytes (K, M, G, T are powers of 1024)."""
    unit = size[-1:] if size[-1:] in _UNITS else ""
    return int(size.removesuffix(unit)) * _UNITS[unit]


@dataclass(frozen=True)
class Resources:
    """Per-agent limits from ``agent.toml``: systemd unit properties and the disk's size."""

    memory_max: str | None = None  # MemoryMax=, e.g. "2G"
    cpu_quota: str | None = None  # CPUQuota=, e.g. "150%"
    tasks_max: int | None = None  # TasksMax=
    disk_max: str | None = None  # the size of the disk image behind /state and /root/.claude

    def unit_properties(self) -> list[tuple[str, str]]:
        props = [("MemoryMax", self.memory_max), ("CPUQuota", self.cpu_quota),
                 ("TasksMax", None if self.tasks_max is None else str(self.tasks_max))]
        return [(key, value) for key, value in props if value is not None]

    def set_property_args(self) -> list[str]:
        """``KEY=VALUE`` for ``systemctl set-property``: every limit, unset ones reset (a
        limit dropped from agent.toml must not stay in force from an earlier install)."""
        wanted = dict(self.unit_properties())
        for key, value in wanted.items():
            if not _UNIT_VALUE.fullmatch(value):
                raise InvalidInput(f"{key}={value!r} cannot be a unit property",
                                   hint="a size like 2G, a count, or a percentage like 150%")
        return [f"{key}={wanted.get(key, unset)}" for key, unset in _UNLIMITED.items()]

    def bus_values(self) -> list[tuple[str, int]]:
        """The same limits as systemd's D-Bus properties (what ``set-property`` sends):
        bytes, microseconds of CPU a second and a count; unset ones its "no limit"."""
        memory, quota = self.memory_max, self.cpu_quota
        if memory is not None and memory != "infinity" and not SIZE.fullmatch(memory):
            raise InvalidInput(f"MemoryMax={memory!r} cannot be a unit property",
                               hint="a size like 512M or 2G, or infinity")
        if quota is not None and not PERCENT.fullmatch(quota):
            raise InvalidInput(f"CPUQuota={quota!r} cannot be a unit property",
                               hint="a percentage like 150%")
        values = [
            ("MemoryMax", UNLIMITED if memory in (None, "infinity") else size_bytes(memory)),
            # 100% is one CPU: a whole second of CPU time each second.
            ("CPUQuotaPerSecUSec", UNLIMITED if quota is None else int(quota[:-1]) * 10_000),
            ("TasksMax", UNLIMITED if self.tasks_max is None else self.tasks_max),
        ]
        for key, value in values:
            if not 0 < value <= UNLIMITED:
                raise InvalidInput(f"{key}={value} is out of range for a unit property",
                                   hint="a limit above zero, below 16 EiB")
        return values


# A size, a count, a percentage: what agent.toml's limits are.
_UNIT_VALUE = re.compile(r"[A-Za-z0-9.%]+")
# What set-property is given for a limit agent.toml does not set: systemd's "no limit".
_UNLIMITED = {"MemoryMax": "infinity", "CPUQuota": "", "TasksMax": "infinity"}
# The same on the bus: every one of these properties is a uint64, its maximum "no limit".
UNLIMITED = (1 << 64) - 1
# agent.toml's sizes and percentages (agent_values checks them with these too).
SIZE = re.compile(r"[0-9]{1,20}[KMGT]?")
PERCENT = re.compile(r"[0-9]{1,5}%")


@dataclass(frozen=True)
class ContainerSpec:
    """Everything a backend needs to run one agent's container."""

    name: str
    runtime_dir: Path  # bound to /run/hive (the agent's socket lives here)
    state_dir: Path  # bound to /state
    claude_dir: Path  # bound to /root/.claude
    policy_dir: Path  # bound read-only to /etc/hive
    command: Sequence[str]  # the harness, run as the container's main process
    uid_base: int  # container uid 0 is this uid on the host
    resources: Resources = Resources()
    read_only_binds: Sequence[Path] = ()  # host paths the harness needs (its Python)
    executables: Sequence[str] = ()  # programs the config expects inside (MCP servers)
    writable_binds: Sequence[tuple[Path, Path]] = ()  # (host, container): the manager's repos
    environment: Mapping[str, str] = field(default_factory=dict)
    egress_dir: Path | None = None  # bound read-only to /run/hive-egress

    def __post_init__(self) -> None:
        validate_container_name(self.name)
        if self.uid_base % 65536 or self.uid_base < 65536:
            raise HiveError(f"uid base {self.uid_base} must be a positive multiple of 65536")

    def hive_binds(self) -> list[tuple[Path, Path, bool]]:
        """(host, container, writable) of each bind the hive gives every container, in order."""
        binds = [(self.runtime_dir, CONTAINER_RUN, True), (self.state_dir, CONTAINER_STATE, True),
                 (self.claude_dir, CONTAINER_CLAUDE, True),
                 (self.policy_dir, CONTAINER_POLICY, False)]
        if self.egress_dir is not None:
            binds.append((self.egress_dir, CONTAINER_EGRESS, False))
        return binds


class Backend(Protocol):
    """What the lifecycle needs of a container backend."""

    name: str

    def unit(self, agent: str) -> str:
        """The systemd unit that runs ``agent``'s container."""
        ...

    def install(self, spec: ContainerSpec) -> None:
        """Write (or rewrite) everything the unit needs; do not start it."""
        ...

    def uninstall(self, agent: str) -> None:
        """Remove what :meth:`install` wrote; never the agent's state."""
        ...

    def start(self, agent: str) -> None: ...

    def stop(self, agent: str) -> None: ...

    def restart(self, agent: str) -> None: ...

    def is_active(self, agent: str) -> bool: ...


def write_if_changed(path: Path, text: str, mode: int | None = None) -> bool:
    """Replace ``path`` atomically with ``text``; False if it already says that.

    ``mode`` is set before any byte is written (secrets); without it an
    existing file keeps its mode.
    """
    if path.exists() and path.read_text() == text:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.with_name(path.name + ".new")
    scratch.unlink(missing_ok=True)
    if mode is None and path.exists():
        mode = path.stat().st_mode & 0o777
    scratch.touch(mode=0o600 if mode is None else mode)
    if mode is not None:
        scratch.chmod(mode)
    scratch.write_text(text)
    scratch.replace(path)
    return True


def render_environment(environment: dict[str, str] | Mapping[str, str]) -> str:
    """An EnvironmentFile: one KEY="VALUE" per line, quoted so that nothing expands."""
    lines = []
    for key, value in sorted(environment.items()):
        if "\n" in value or "\0" in value:
            raise HiveError(f"environment value of {key} has a newline or NUL")
        escaped = value.replace("\\", "\\\\").replace('"', '\\"')
        lines.append(f'{key}="{escaped}"')
    return "\n".join(lines) + "\n"


UNIT_NOT_LOADED = 5  # systemctl's exit status for a unit it has no file for


class SystemctlError(HiveError):
    code = "systemd"


@dataclass(frozen=True)
class Systemctl:
    """``systemctl`` for one manager; every argv is built from validated names."""

    scope: Scope = Scope.SYSTEM
    timeout: float = 120.0

    def argv(self, *args: str) -> list[str]:
        return ["systemctl", *(["--user"] if self.scope is Scope.USER else []), *args]

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(self.argv(*args), capture_output=True, text=True,
                              timeout=self.timeout, check=False)
        if check and done.returncode != 0:
            raise SystemctlError(
                f"systemctl {' '.join(args)} failed: {done.stderr.strip() or done.returncode}")
        return done

    def error(self, verb: str, unit: str, why: str) -> SystemctlError:
        return SystemctlError(f"{verb} of {unit} failed: {why}")

    def begin(self, verb: str, unit: str) -> None:
        """``start`` or ``restart``; ``reset-failed`` and once more only if refused
        (a unit that failed too often in a row hits its start limit): one job, not two."""
        why = self.attempt(verb, unit)
        if why is not None:
            self.reset_failed(unit)
            why = self.attempt(verb, unit)
        if why is not None:
            raise self.error(verb, unit, why)

    def attempt(self, verb: str, unit: str) -> str | None:
        """Run ``verb`` of ``unit`` to its end: None when it went well, else why not."""
        done = self.run(verb, unit, check=False)
        return None if done.returncode == 0 else done.stderr.strip() or str(done.returncode)

    def reset_failed(self, unit: str) -> None:
        self.run("reset-failed", unit, check=False)

    def set_limits(self, unit: str, resources: Resources) -> None:
        """Set ``unit``'s limits until the manager restarts (``set-property --runtime``):
        every install sets them all again, so nothing of an older config lingers."""
        self.run("set-property", "--runtime", unit, *resources.set_property_args())

    def stop(self, unit: str) -> None:
        """Stop ``unit``; one already gone (not loaded) is as stopped as it gets."""
        done = self.run("stop", unit, check=False)
        if done.returncode not in (0, UNIT_NOT_LOADED):
            raise self.error("stop", unit, done.stderr.strip() or str(done.returncode))

    def show(self, unit: str, prop: str) -> str:
        return self.run("show", unit, "-p", prop, "--value").stdout.strip()
