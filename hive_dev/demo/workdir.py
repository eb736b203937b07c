"""The demo's temporary directory: made at the start, gone at the end."""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path


def make() -> Path:
    # /tmp, not $TMPDIR: unix socket paths under it must stay short.
    return Path(tempfile.mkdtemp(prefix="hyperhive-demo.", dir="/tmp"))


def mounted_under(path: Path, mountinfo: str) -> bool:
    """Whether ``/proc/self/mountinfo``'s text has a mount point at or below ``path``."""
    points = (line.split(" ")[4] for line in mountinfo.splitlines() if line.count(" ") >= 4)
    return any(point == str(path) or point.startswith(f"{path}/") for point in points)


def remove_dir(path: Path) -> bool:
    """Remove ``path``, never through a mount point: the sandbox's mounts are private and
    gone by now, and this guards against anything else. False when it stays."""
    if mounted_under(path, Path("/proc/self/mountinfo").read_text()):
        print(f"demo: something is still mounted under {path}; leaving it",
              file=sys.stderr, flush=True)
        return False
    shutil.rmtree(path, ignore_errors=True)
    return True
