"""The git the hive runs: its version floor, its closed environment, its pinned settings.

git must be at least :data:`MIN_GIT` (and the fixed release of its series):
the pins rely on the 2024-05 fixes to local fetches and clones. The first git
run checks it (:func:`require_git`). git runs with a fixed environment (no
system or global config, fixed identity, ``LC_ALL=C``) and with the settings
that could run a program named by a repo's own config (hooks, fsmonitor,
signing) pinned off on the command line (:data:`PINNED`).
"""

from __future__ import annotations

import functools
import os
import re
import subprocess

from hive_c0re.errors import HiveError

IDENTITY_NAME = "hyperhive"
IDENTITY_EMAIL = "hyperhive@localhost"

# Command-line config beats every repo's own: no hooks, fsmonitor or signing
# program runs, symlinks are checked out as plain files, gc never detaches.
PINNED = (
    "core.hooksPath=/dev/null",
    "core.fsmonitor=false",
    "core.symlinks=false",
    "commit.gpgSign=false",
    "tag.gpgSign=false",
    "gc.autoDetach=false",
)
# Fetching speaks to local paths only; protocol v2 lets us want any commit by sha.
FETCHING = ("protocol.allow=never", "protocol.file.allow=always", "protocol.version=2")

MIN_GIT = (2, 39, 4)
# The first release of each series with the fixes of 2024-05-14 (CVE-2024-32002, -32004,
# -32020, -32021, -32465: hooks and ownership in local clones and fetches). Later series
# have them from their first release.
_FIXED_IN = {(2, 39): 4, (2, 40): 2, (2, 41): 1, (2, 42): 2, (2, 43): 4, (2, 44): 1, (2, 45): 1}
_VERSION = re.compile(r"git version (\d+)\.(\d+)(?:\.(\d+))?")


def shown(value: object) -> str:
    """``value`` as an error message quotes it: its repr, cut at 60 characters."""
    text = repr(value)
    return text if len(text) <= 60 else text[:60] + "…"


class GitError(HiveError):
    """git itself failed; the message carries its stderr."""

    code = "git"


def git_binary() -> str:
    """The git to run: ``$HYPERHIVE_GIT`` (the unit sets it), else ``git`` on PATH."""
    return os.environ.get("HYPERHIVE_GIT") or "git"


def parse_git_version(text: str) -> tuple[int, int, int]:
    """``(major, minor, patch)`` from ``git --version`` output (vendor suffixes ignored)."""
    match = _VERSION.match(text.strip())
    if match is None:
        raise GitError(f"cannot tell git's version from {shown(text)}",
                       hint="point HYPERHIVE_GIT at a real git")
    major, minor, patch = match.groups()
    return int(major), int(minor), int(patch or 0)


def git_version_ok(version: tuple[int, int, int]) -> bool:
    """Whether ``version`` has the fixes the pinned settings rely on."""
    if version < MIN_GIT:
        return False
    return version[2] >= _FIXED_IN.get(version[:2], 0)


@functools.cache
def require_git(binary: str) -> tuple[int, int, int]:
    """The version of git at ``binary``; GitError if it is too old or does not run.

    Cached on success only (functools.cache does not keep exceptions), so a git
    upgraded under a running daemon is checked again on the next use.
    """
    try:
        done = subprocess.run([binary, "--version"], capture_output=True, env=git_environment(),
                              timeout=30, check=False)
    except FileNotFoundError:
        raise GitError(f"git not found: {binary}",
                       hint="install git or point HYPERHIVE_GIT at it") from None
    except subprocess.TimeoutExpired:
        raise GitError(f"{binary} --version did not answer within 30s") from None
    out = done.stdout.decode("utf-8", errors="replace")
    if done.returncode != 0:
        stderr = done.stderr.decode("utf-8", errors="replace").strip()
        raise GitError(f"{binary} --version failed: {stderr or done.returncode}")
    version = parse_git_version(out)
    if not git_version_ok(version):
        found = ".".join(map(str, version))
        fixed = ", ".join(f"{a}.{b}.{c}" for (a, b), c in _FIXED_IN.items())
        raise GitError(f"git {found} at {binary} is too old: the hive needs a git with the "
                       f"2024-05 security fixes ({fixed}, or 2.46 and later)",
                       hint="upgrade git, or point HYPERHIVE_GIT at a newer one")
    return version


def git_environment() -> dict[str, str]:
    """The whole environment git runs with; nothing else leaks in (GIT_DIR, pagers, config)."""
    return {
        "PATH": os.environ.get("PATH") or os.defpath,
        "HOME": os.devnull,
        "XDG_CONFIG_HOME": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_ATTR_NOSYSTEM": "1",
        "GIT_NO_REPLACE_OBJECTS": "1",
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_PAGER": "cat",
        "GIT_AUTHOR_NAME": IDENTITY_NAME,
        "GIT_AUTHOR_EMAIL": IDENTITY_EMAIL,
        "GIT_COMMITTER_NAME": IDENTITY_NAME,
        "GIT_COMMITTER_EMAIL": IDENTITY_EMAIL,
        "LC_ALL": "C",
        "TZ": "UTC",
    }
