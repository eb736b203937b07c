"""Child processes of the tests and benchmarks: found by pid, ended by pid."""

from __future__ import annotations

import subprocess
from pathlib import Path


def descendants(pid: int) -> list[int]:
    """The live processes below ``pid``, children before their own children."""
    found, todo = [], [pid]
    while todo:
        parent = todo.pop()
        try:
            children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
        except OSError:
            continue  # gone while we looked
        for child in map(int, children):
            found.append(child)
            todo.append(child)
    return found


def end(proc: subprocess.Popen[bytes] | subprocess.Popen[str], timeout: float) -> int:
    """SIGTERM ``proc`` and wait; SIGKILL it if it is not gone within ``timeout`` seconds."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


def log_tail(path: Path, lines: int = 20, missing: str = "(no log)") -> str:
    """The last ``lines`` of a child's log, for an error message."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return missing
