"""What the hive's processes hold, read from the host: each unit's cgroup, its processes'
``smaps_rollup``, and the daemon's open file descriptors.

The sandbox's user manager puts every unit in a cgroup of its own (the agent's
container in a sub-cgroup of its unit, ``Delegate=yes``). Its ``ControlGroup``
names the path; the bench, in the host's PID namespace, reads the host pids
from ``cgroup.procs`` of that cgroup and everything below it. Memory is summed
per process from ``/proc/<pid>/smaps_rollup``: RSS (a page shared by several
processes counts in each) and PSS (a shared page is split among its sharers,
so PSS adds up to what the processes hold together). On a cgroup v2 host
with the memory controller the cgroup's own ``memory.current`` (page cache
included) is read too; on v1 (these machines) a user manager's units get no
memory controller, so it is n/a.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from hive_dev.sandbox import Sandbox

# Where systemd's own hierarchy may be mounted: unified (v2 or hybrid), the v1 name=systemd.
HIERARCHIES = (Path("/sys/fs/cgroup/unified"), Path("/sys/fs/cgroup/systemd"),
               Path("/sys/fs/cgroup"))
KIB = 1024
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Proc:
    """One process: smaps_rollup's Rss and Pss (KiB), its CPU time so far, what it runs."""

    pid: int
    argv: tuple[str, ...]
    rss: float
    pss: float
    cpu: float  # seconds, user + system

    @classmethod
    def of(cls, pid: int) -> Proc | None:
        """None when it is gone (or never readable) by the time we look."""
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().rstrip(b"\0").split(b"\0")
            rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return None
        fields: dict[str, float] = {}
        for line in rollup.splitlines()[1:]:
            key, _, rest = line.partition(":")
            if key in ("Rss", "Pss"):
                fields[key] = float(rest.split()[0])
        if "Rss" not in fields:  # a zombie, or a kernel thread
            return None
        # After the command name (which may hold spaces), utime and stime are fields 12, 13.
        ticks = stat.rpartition(")")[2].split()[11:13]
        return cls(pid, tuple(a.decode(errors="replace") for a in argv),
                   fields["Rss"], fields.get("Pss", fields["Rss"]),
                   sum(int(t) for t in ticks) / CLOCK_TICKS)

    def runs(self, cli: str) -> str:
        """``cli`` (the claude CLI), ``harness``, ``egress``, ``daemon`` or ``other`` (nspawn,
        the container's init, the harness's forwarder)."""
        if self.argv and self.argv[0] == cli:
            return "cli"
        joined = " ".join(self.argv)
        if "hive_ag3nt" in joined or "hive_m1nd" in joined:
            return "harness"
        if "hive_c0re.egress" in joined:
            return "egress"
        if "hive_c0re" in joined:
            return "daemon"
        return "other"


@dataclass
class Unit:
    """The processes of one unit's cgroup (and below), and its memory.current if any."""

    name: str
    procs: list[Proc] = field(default_factory=list)
    current: float | None = None  # KiB, cgroup v2 memory controller only

    def total(self, attr: str, kind: str | None = None, cli: str = "") -> float:
        """Summed ``rss`` or ``pss`` (KiB), of every process or of one ``kind``."""
        chosen = (p for p in self.procs if kind is None or p.runs(cli) == kind)
        return sum(float(getattr(p, attr)) for p in chosen)

    def count(self, kind: str, cli: str) -> int:
        return sum(1 for p in self.procs if p.runs(cli) == kind)


def cgroup_dir(path: str) -> Path | None:
    """The directory of the cgroup systemd calls ``path``, in whichever hierarchy has it."""
    if not path:
        return None
    for root in HIERARCHIES:
        found = root / path.lstrip("/")
        if (found / "cgroup.procs").is_file():
            return found
    return None


def pids_below(top: Path) -> list[int]:
    """Host pids in ``top`` and every cgroup below it."""
    pids: list[int] = []
    for here, _, _ in os.walk(top):
        try:
            pids += [int(p) for p in Path(here, "cgroup.procs").read_text().split()]
        except OSError:
            continue  # removed while we walked
    return pids


def memory_current(top: Path) -> float | None:
    try:
        return int((top / "memory.current").read_text()) / KIB
    except (OSError, ValueError):
        return None


def control_groups(box: Sandbox, units: Sequence[str]) -> dict[str, str]:
    """unit -> its ControlGroup, in one ``systemctl show`` (empty for units not running)."""
    if not units:
        return {}
    done = box.systemctl("show", "-p", "Id,ControlGroup", *units, check=False)
    found: dict[str, str] = {}
    for block in done.stdout.strip().split("\n\n"):
        props = dict(line.partition("=")[::2] for line in block.splitlines())
        if props.get("Id"):
            found[props["Id"]] = props.get("ControlGroup", "")
    return found


def read_units(box: Sandbox, units: Iterable[str]) -> dict[str, Unit]:
    """Every named unit's processes and memory, read now."""
    found = {}
    for name, group in control_groups(box, list(units)).items():
        unit = Unit(name)
        top = cgroup_dir(group)
        if top is not None:
            unit.procs = [p for p in map(Proc.of, pids_below(top)) if p is not None]
            unit.current = memory_current(top)
        found[name] = unit
    return found


def cpu_by_kind(units: Iterable[Unit], cli: str, extra: Iterable[int] = ()) -> dict[str, float]:
    """CPU seconds so far of every process, summed by what it runs; ``extra`` host pids
    (the stand-in model) as ``model``."""
    found: dict[str, float] = {}
    for unit in units:
        for proc in unit.procs:
            kind = proc.runs(cli)
            found[kind] = found.get(kind, 0.0) + proc.cpu
    for proc in filter(None, map(Proc.of, extra)):
        found["model"] = found.get("model", 0.0) + proc.cpu
    return found


def fd_count(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return -1


def mem_available() -> float:
    """The host's MemAvailable, KiB: the bench stops spawning when it runs low."""
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return float(line.split()[1])
    return float("inf")
