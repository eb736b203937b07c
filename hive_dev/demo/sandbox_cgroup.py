"""The cgroups scripts/hive-sandbox makes (``hive-sandbox-<its pid>`` in each hierarchy).

The sandbox removes them itself when it ends normally. When a signal ends
the sandbox's own shell first (SIGTERM to the demo's process group), the
namespace inside still winds down after it and the cgroups stay: the demo
waits for the last process in them to go and removes them.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

HIERARCHIES = (Path("/sys/fs/cgroup/systemd"), Path("/sys/fs/cgroup/unified"),
               Path("/sys/fs/cgroup"))
POLL = 0.2


def groups(pid: int, hierarchies: tuple[Path, ...] = HIERARCHIES) -> list[Path]:
    return [group for group in (h / f"hive-sandbox-{pid}" for h in hierarchies)
            if group.is_dir()]


def tree(group: Path) -> list[Path]:
    """``group`` and every cgroup below it, deepest first (the order rmdir needs)."""
    found = [Path(top) for top, _, _ in os.walk(group)]
    return sorted(found, key=lambda path: len(path.parts), reverse=True)


def processes(group: Path) -> list[int]:
    pids: list[int] = []
    for cgroup in tree(group):
        try:
            pids.extend(int(line) for line in (cgroup / "cgroup.procs").read_text().split())
        except OSError:
            continue  # gone meanwhile
    return pids


def remove(pid: int, timeout: float) -> list[Path]:
    """Wait up to ``timeout`` for the sandbox's cgroups to empty, then remove them;
    return those that stay."""
    left = groups(pid)
    deadline = time.monotonic() + timeout
    while any(processes(group) for group in left) and time.monotonic() < deadline:
        time.sleep(POLL)
    for group in left:
        for cgroup in tree(group):
            try:
                cgroup.rmdir()
            except OSError:
                continue  # still in use: reported below
    return groups(pid)
