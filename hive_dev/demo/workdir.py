"""The demo's temporary directory: made at the start, gone at the end."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

MOUNTINFO = Path("/proc/self/mountinfo")
# mountinfo writes a space, tab, newline or backslash in a path as \NNN (octal).
_ESCAPED = re.compile(r"\\([0-7]{3})")


def make() -> Path:
    # /tmp, not $TMPDIR: unix socket paths under it must stay short.
    return Path(tempfile.mkdtemp(prefix="hyperhive-demo.", dir="/tmp"))


def mount_points_under(path: Path, mountinfo: str) -> list[Path]:
    """The mount points at or below ``path`` in ``/proc/self/mountinfo``'s text, deepest
    first (the order they can be unmounted in)."""
    points = (Path(_ESCAPED.sub(lambda m: chr(int(m[1], 8)), fields[4]))
              for fields in (line.split(" ") for line in mountinfo.splitlines())
              if len(fields) > 4)
    found = {point for point in points if point == path or point.is_relative_to(path)}
    return sorted(found, key=lambda point: (-len(point.parts), str(point)))


def unmount_under(path: Path) -> None:
    """Unmount what the hive mounted in the demo's directory and left mounted when it
    stopped (on a systemd host the agents' disks are mounted in the host's namespace
    until an agent is destroyed); loop devices go with their mounts."""
    for point in mount_points_under(path, MOUNTINFO.read_text()):
        done = subprocess.run(["umount", "--", str(point)], capture_output=True, text=True,
                              check=False)
        if done.returncode != 0:
            print(f"demo: umount {point} failed: {done.stderr.strip()}", file=sys.stderr,
                  flush=True)


def remove_dir(path: Path) -> bool:
    """Remove ``path``, never through a mount point: the sandbox's mounts are private and
    gone by now, and this guards against anything else. False when it stays."""
    if mount_points_under(path, MOUNTINFO.read_text()):
        print(f"demo: something is still mounted under {path}; leaving it",
              file=sys.stderr, flush=True)
        return False
    shutil.rmtree(path, ignore_errors=True)
    return True
