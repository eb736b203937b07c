"""Changing what a container can write, without following any path it could have replaced.

The daemon is root and every container is hostile: a container's root owns
its ``/state``, ``/root/.claude`` and ``/run/hive``, and can swap any entry in
them for a symlink at any moment (``renameat2(RENAME_EXCHANGE)`` included).
So nothing here checks a path and then acts on it: each directory is opened
once, from a directory fd the daemon already holds, with ``O_NOFOLLOW``, and
every change is made on that fd or on a name relative to it with
``AT_SYMLINK_NOFOLLOW``. A swapped entry then costs the container its own
file, never the host one.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from hive_c0re.errors import HiveError
from hive_c0re.lifecycle.uids import UID_RANGE

log = logging.getLogger(__name__)

# A directory below a container's tree, never a symlink: O_NOFOLLOW refuses a final
# symlink, O_DIRECTORY anything that is not a directory (a FIFO included, unopened).
DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
# Deeper than this is no tree a harness needs; it is a container trying to exhaust our fds.
MAX_DEPTH = 128
# An entry that vanished, or became a symlink or a file between listing and opening.
SWAPPED = {errno.ENOENT, errno.ELOOP, errno.ENOTDIR}


@contextlib.contextmanager
def open_dir(anchor: Path, *names: str) -> Iterator[int]:
    """An fd on ``anchor/names...``: ``anchor`` is the daemon's own directory (opened
    as given), each name below it is opened with ``O_NOFOLLOW``; raise HiveError if
    one is not a directory."""
    fd = os.open(anchor, DIR_FLAGS & ~os.O_NOFOLLOW)
    try:
        for name in names:
            if not name or "/" in name or name in (".", ".."):
                raise HiveError(f"{name!r} is not a plain directory name")
            try:
                below = os.open(name, DIR_FLAGS, dir_fd=fd)
            except OSError as exc:
                raise HiveError(f"{anchor}/{'/'.join(names)} is not a directory the hive "
                                f"can use: {exc.strerror or exc}") from None
            os.close(fd)
            fd = below
        yield fd
    finally:
        os.close(fd)


def _ours(value: int, base: int) -> bool:
    return base <= value < base + UID_RANGE


def _owner_for(st: os.stat_result, base: int) -> tuple[int, int] | None:
    """The (uid, gid) to give an entry, or None if the container already owns it."""
    uid = st.st_uid if _ours(st.st_uid, base) else base
    gid = st.st_gid if _ours(st.st_gid, base) else base
    return None if (uid, gid) == (st.st_uid, st.st_gid) else (uid, gid)


def give_tree(top: Path, base: int) -> int:
    """Give ``top`` and everything below it to the container whose uid 0 is ``base``.

    Entries the container already owns (any uid of its range: its root, or the
    model's own user) keep their owner; the rest become its root's. ``top``'s
    parent must be the daemon's. Symlinks are changed themselves, never followed.
    Return how many entries changed hands.
    """
    with open_dir(top.parent, top.name) as fd:
        return _give_dir(fd, base, 0, top)


def _give_dir(fd: int, base: int, depth: int, where: Path) -> int:
    changed = 0
    wanted = _owner_for(os.fstat(fd), base)
    if wanted is not None:
        os.fchown(fd, *wanted)
        changed += 1
    if depth >= MAX_DEPTH:
        log.warning("%s is nested deeper than %d directories; not handing over below it",
                    where, MAX_DEPTH)
        return changed
    with os.scandir(fd) as entries:
        names = [entry.name for entry in entries]
    for name in names:
        changed += _give_entry(fd, name, base, depth, where)
    return changed


def _give_entry(fd: int, name: str, base: int, depth: int, where: Path) -> int:
    try:
        st = os.stat(name, dir_fd=fd, follow_symlinks=False)
        if stat.S_ISDIR(st.st_mode):
            child = os.open(name, DIR_FLAGS, dir_fd=fd)
            try:
                return _give_dir(child, base, depth + 1, where / name)
            finally:
                os.close(child)
        wanted = _owner_for(st, base)
        if wanted is None:
            return 0
        # Whatever sits at this name now (the container may have swapped it since
        # the stat) is changed itself: a symlink's own owner, never its target's.
        os.chown(name, *wanted, dir_fd=fd, follow_symlinks=False)
        return 1
    except OSError as exc:
        if exc.errno in SWAPPED:
            return 0
        raise


def hand_over_socket(path: Path, mode: int, owner: int | None = None) -> None:
    """Set the mode (and owner) of the unix socket the daemon just bound at ``path``.

    Done on an ``O_PATH`` fd of the entry, checked to be a socket: if the
    container replaced it with a symlink meanwhile, nothing is changed and
    HiveError is raised.
    """
    with open_dir(path.parent) as directory:
        try:
            fd = os.open(path.name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=directory)
        except OSError as exc:
            raise HiveError(f"{path} vanished before its mode was set: "
                            f"{exc.strerror or exc}") from None
    try:
        if not stat.S_ISSOCK(os.fstat(fd).st_mode):
            raise HiveError(f"{path} was replaced by something that is not a socket; "
                            "leaving it alone")
        # The fd's own inode: /proc/self/fd resolves to it, never through a name.
        inode = Path(f"/proc/self/fd/{fd}")
        inode.chmod(mode)
        if owner is not None:
            os.chown(inode, owner, owner)
    finally:
        os.close(fd)


def make_below(top: Path, relative: PurePosixPath, *, directory: bool) -> None:
    """Create ``top/relative`` and its missing parents (0755), walking by fd with
    ``O_NOFOLLOW`` from ``top``'s parent; a file is created empty (0644, ``O_EXCL``).
    An existing entry of the right kind is left as it is."""
    *parents, last = relative.parts
    with open_dir(top.parent, top.name) as fd:
        current = os.dup(fd)
        try:
            for name in parents:
                below = _open_or_make_dir(current, name)
                os.close(current)
                current = below
            if directory:
                os.close(_open_or_make_dir(current, last))
            else:
                _make_file(current, last)
        except OSError as exc:
            raise HiveError(f"cannot create {top}/{relative}: {exc.strerror or exc}") from None
        finally:
            os.close(current)


def _open_or_make_dir(fd: int, name: str) -> int:
    made = True
    try:
        os.mkdir(name, 0o755, dir_fd=fd)
    except FileExistsError:
        made = False
    below = os.open(name, DIR_FLAGS, dir_fd=fd)
    if made:
        os.fchmod(below, 0o755)  # whatever the daemon's umask
    return below


def _make_file(fd: int, name: str) -> None:
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        made = os.open(name, flags, 0o644, dir_fd=fd)
    except FileExistsError:
        if not stat.S_ISREG(os.stat(name, dir_fd=fd, follow_symlinks=False).st_mode):
            raise HiveError(f"{name} exists and is not a regular file") from None
        return
    os.fchmod(made, 0o644)
    os.close(made)


def give_dir(path: Path, owner: int) -> None:
    """Give the directory ``path`` itself (not its contents) to ``owner``."""
    with open_dir(path.parent, path.name) as fd:
        os.fchown(fd, owner, owner)


def replace_file(directory: Path, name: str, text: str, *, owner: int, mode: int) -> None:
    """Replace ``directory/name`` with ``text``, owned by ``owner`` (uid and gid), ``mode``.

    Through the directory's fd alone, nothing followed: the scratch file is
    made new (``O_EXCL | O_NOFOLLOW``), given its owner and mode before a
    byte is written, and renamed over the old file, which stays whole and
    readable until then.
    """
    scratch = f".{name}.new"
    dir_fd = os.open(directory, DIR_FLAGS)
    try:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(scratch, dir_fd=dir_fd)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        fd = os.open(scratch, flags, 0o600, dir_fd=dir_fd)
        try:
            with os.fdopen(fd, "w") as out:
                os.fchmod(out.fileno(), mode)
                os.fchown(out.fileno(), owner, owner)
                out.write(text)
            os.rename(scratch, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(scratch, dir_fd=dir_fd)
            raise
    finally:
        os.close(dir_fd)
