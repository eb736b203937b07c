"""A unit's resource limits, enforced by the test on a cgroup v1 host.

On the legacy (v1) hierarchy a systemd *user* manager gets no controllers,
so the sandbox's ``MemoryMax=``, ``TasksMax=`` and ``CPUQuota=`` are accepted
and not enforced. The system manager (what hyperhive runs under in
production) enforces them on v1 by writing ``memory.limit_in_bytes``,
``pids.max`` and ``cpu.cfs_quota_us``; on v2 every manager does. The test does
what the system manager would: it reads the limits systemd holds for the unit
(so they come from the agent's ``agent.toml`` through the drop-in), writes
them into v1 cgroups of its own below the container's, and moves the
container's processes there. A process started with :func:`in_container`
joins the container's cgroups (all of them, the unit's too, so stopping the
unit ends it) before it enters the container's namespaces.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from hive_dev.sandbox import SandboxHive, container_process

CGROUP = Path("/sys/fs/cgroup")
LIMITED = ("pids", "memory", "cpu")
# The hierarchies a container process is moved into: the unit's own and the limited ones.
JOINED = ("name=systemd", "", *LIMITED)
CFS_PERIOD_US = 100_000


def hierarchy_dir(controllers: str) -> Path:
    """The v1 mount of a ``/proc/<pid>/cgroup`` controllers field."""
    if controllers == "":
        return CGROUP / "unified"
    return CGROUP / controllers.removeprefix("name=")


def parse_cgroups(text: str) -> dict[str, str]:
    """``controllers -> path`` from a ``/proc/<pid>/cgroup``."""
    found = {}
    for line in text.splitlines():
        _, controllers, path = line.split(":", 2)
        found[controllers] = path
    return found


def cgroups_of(pid: int) -> dict[str, str]:
    """The cgroups of a host pid."""
    return parse_cgroups(Path(f"/proc/{pid}/cgroup").read_text())


def sandbox_cgroups_of(hive: SandboxHive, pid: int | str) -> dict[str, str]:
    """The cgroups of a pid of the sandbox's namespace (same cgroup namespace as ours)."""
    return parse_cgroups(hive.sandbox.run("cat", f"/proc/{pid}/cgroup").stdout)


def _procs(directory: Path) -> set[int]:
    found: set[int] = set()
    for procs in directory.rglob("cgroup.procs"):
        with contextlib.suppress(OSError):
            found |= {int(p) for p in procs.read_text().split()}
    return found


def _usec(text: str) -> int | None:
    """systemd's CPUQuotaPerSecUSec (``200ms``, ``1s``, ``infinity``) as µs per second."""
    for suffix, scale in (("ms", 1000), ("us", 1), ("s", 1_000_000)):
        if text.endswith(suffix) and text[: -len(suffix)].replace(".", "").isdigit():
            return int(float(text[: -len(suffix)]) * scale)
    return None


@dataclass
class V1Limits:
    """The unit's limits on v1 cgroups the test made; :meth:`close` removes them."""

    hive: SandboxHive
    agent: str
    made: dict[str, Path] = field(default_factory=dict)

    @property
    def unit(self) -> str:
        return f"hive-agent@{self.agent}.service"

    def enforce(self) -> dict[str, int]:
        """Write the unit's limits into fresh v1 cgroups and move the container into them."""
        container_process(self.hive, self.agent)  # the container is fully up
        show = self.hive.sandbox.show
        tasks = int(show(self.unit, "TasksMax"))
        memory = int(show(self.unit, "MemoryMax"))
        quota = _usec(show(self.unit, "CPUQuotaPerSecUSec"))
        current = sandbox_cgroups_of(self.hive, self.hive.sandbox.show(self.unit, "MainPID"))
        unit_dir = hierarchy_dir("name=systemd") / show(self.unit, "ControlGroup").lstrip("/")
        assert unit_dir.is_dir(), unit_dir
        for controller in LIMITED:
            base = hierarchy_dir(controller) / current[controller].lstrip("/")
            made = base / f"hive-test-{self.agent}-{os.getpid()}"
            made.mkdir()
            self.made[controller] = made
        (self.made["pids"] / "pids.max").write_text(str(tasks))
        (self.made["memory"] / "memory.limit_in_bytes").write_text(str(memory))
        if quota is not None:
            (self.made["cpu"] / "cpu.cfs_period_us").write_text(str(CFS_PERIOD_US))
            (self.made["cpu"] / "cpu.cfs_quota_us").write_text(str(quota * CFS_PERIOD_US
                                                                  // 1_000_000))
        # Until nothing is left behind: a process may fork while the others move.
        for _ in range(50):
            left = {pid for pid in _procs(unit_dir) if self._outside(pid)}
            if not left:
                break
            for pid in left:
                for made in self.made.values():
                    with contextlib.suppress(OSError):  # it may have exited meanwhile
                        (made / "cgroup.procs").write_text(str(pid))
        else:
            raise AssertionError(f"{self.unit}'s processes would not move into {self.made}")
        assert _procs(self.made["pids"]), f"nothing of {self.unit} in {self.made['pids']}"
        return {"tasks": tasks, "memory": memory, "quota_us": quota or 0}

    def _outside(self, pid: int) -> bool:
        try:
            paths = cgroups_of(pid)
        except OSError:
            return False
        return any(not paths[c].endswith(self.made[c].name) for c in LIMITED)

    def read(self, controller: str, name: str) -> str:
        return (self.made[controller] / name).read_text()

    def close(self) -> None:
        """Stop the unit, end what is left in the cgroups, remove them."""
        self.hive.sandbox.systemctl("stop", self.unit, check=False)
        for made in self.made.values():
            for _ in range(100):
                left = _procs(made)
                if not left:
                    break
                for pid in left:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                time.sleep(0.05)
            with contextlib.suppress(OSError):
                made.rmdir()


def in_container(limits: V1Limits, code: str, *, background: bool = False,
                 timeout: float = 120) -> subprocess.Popen[str] | subprocess.CompletedProcess[str]:
    """Run Python ``code`` in the agent's container and in its (limited) cgroups."""
    hive = limits.hive
    pid = container_process(hive, limits.agent)
    joins = []
    for controllers, path in sandbox_cgroups_of(hive, pid).items():
        if controllers in LIMITED and not path.endswith(limits.made[controllers].name):
            raise AssertionError(f"{limits.agent} is not in its limited {controllers} cgroup")
        if controllers in JOINED:
            procs = hierarchy_dir(controllers) / path.lstrip("/") / "cgroup.procs"
            joins.append(f"echo $$ > {shlex.quote(str(procs))}")
    # As host root, before entering the container's user namespace; then exec, same pid.
    script = "; ".join(joins) + f"; exec nsenter -t {pid} -a -r -w -- \"$0\" -c \"$1\""
    argv = ("sh", "-ec", script, sys.executable, code)
    if background:
        return hive.sandbox.popen(*argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
    return hive.sandbox.run(*argv, timeout=timeout, check=False)
