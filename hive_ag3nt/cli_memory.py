"""How much memory the claude CLI holds: the resident size of its process and those below it.

Read from ``/proc`` between turns, to bound the CLI's growth: a long-lived
CLI grows with every turn, and what a restart frees is its whole tree (the
stdio MCP servers it started go with it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

PROC = Path("/proc")


def cli_pid(client: Any) -> int | None:
    """The pid of the CLI process behind a connected ``ClaudeSDKClient``, if it has one.

    The SDK does not publish it: its subprocess transport keeps the process as
    ``_process``. Another transport (or another SDK version) has none: no bound then.
    None too once the process has exited: its pid may already be another process's.
    """
    process = getattr(getattr(client, "_transport", None), "_process", None)
    pid = getattr(process, "pid", None)
    if not isinstance(pid, int) or getattr(process, "returncode", None) is not None:
        return None
    return pid


def tree_rss_mib(pid: int, proc: Path = PROC) -> float | None:
    """Resident MiB of ``pid`` and every live process below it; None when ``pid`` is gone."""
    own = _rss_kib(proc, pid)
    if own is None:
        return None
    total, todo = own, _children(proc, pid)
    while todo:
        child = todo.pop()
        total += _rss_kib(proc, child) or 0  # one that ended meanwhile holds nothing
        todo += _children(proc, child)
    return total / 1024


def _rss_kib(proc: Path, pid: int) -> int | None:
    try:
        status = (proc / str(pid) / "status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])  # "VmRSS:   123456 kB"
    return 0  # a zombie, or a kernel thread: no memory of its own


def _children(proc: Path, pid: int) -> list[int]:
    """Children of every thread of ``pid`` (a child belongs to the thread that forked it)."""
    found: list[int] = []
    try:
        tasks = list((proc / str(pid) / "task").iterdir())
    except OSError:
        return found
    for task in tasks:
        try:
            found += [int(child) for child in (task / "children").read_text().split()]
        except OSError:
            continue  # the thread ended while we looked
    return found
