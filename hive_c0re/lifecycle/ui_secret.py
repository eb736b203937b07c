"""Each agent's UI secret: the only key to its ``ui.sock``, held by the daemon.

Made once per container (``secrets.token_urlsafe``) in the daemon-owned
policy dir that the container sees read-only as ``/etc/hive``: mode 0400,
owned by the container's root (the harness), so the model's uid inside
cannot read it. The operator's CLI and the dashboard read it here, on the
host, and send it as the ``X-Hive-UI-Secret`` header.
"""

from __future__ import annotations

import errno
import os
import secrets
import stat
from pathlib import Path

from hive_c0re.errors import HiveError
from hive_c0re.lifecycle.safefs import DIR_FLAGS, replace_file

SECRET_FILE = "ui-secret"  # noqa: S105 (a file name)
SECRET_BYTES = 32
MAX_SECRET = 256  # characters read back; a bigger file is not one we wrote


def _open_dir(directory: Path) -> int:
    return os.open(directory, DIR_FLAGS)


def _read(dir_fd: int) -> str | None:
    try:
        fd = os.open(SECRET_FILE, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=dir_fd)
    except (FileNotFoundError, IsADirectoryError):
        return None
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # a link: not ours, and never followed
            return None
        raise
    with os.fdopen(fd) as found:
        if not stat.S_ISREG(os.fstat(found.fileno()).st_mode):
            return None
        return found.read(MAX_SECRET).strip() or None


def ensure_ui_secret(directory: Path, owner: int) -> str:
    """The secret in ``directory`` (made now if there is none), readable by ``owner`` only.

    Every step goes through the directory's fd, never a path: nothing in it
    is followed or replaced behind the daemon's back.
    """
    dir_fd = _open_dir(directory)
    try:
        existing = _read(dir_fd)
        if existing is not None:
            return existing
    finally:
        os.close(dir_fd)
    secret = secrets.token_urlsafe(SECRET_BYTES)
    replace_file(directory, SECRET_FILE, secret + "\n", owner=owner, mode=0o400)
    return secret


def read_ui_secret(directory: Path) -> str:
    """The secret the daemon made for the container whose policy dir is ``directory``."""
    try:
        dir_fd = _open_dir(directory)
    except FileNotFoundError:
        raise HiveError(f"{directory} does not exist",
                        hint="the agent has no container; `hive-c0re spawn` makes one") from None
    try:
        found = _read(dir_fd)
    finally:
        os.close(dir_fd)
    if found is None:
        raise HiveError(f"no UI secret in {directory}",
                        hint="`hive-c0re rebuild NAME` hands the container a new one")
    return found
