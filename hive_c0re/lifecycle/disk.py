"""Each agent's disk: one sparse ext4 image behind ``/state`` and ``/root/.claude``.

A plain directory on the host's state filesystem lets one agent fill it for
the daemon and every other agent. The image bounds what the container can
write there to ``resources.disk_max``.

What the container writes is hostile input to host root, so:

- the image file and its mountpoint sit in the agent's daemon-only directory
  (``agents/<name>``, 0700 root), which the container never sees; it sees only
  the ``state`` and ``claude`` directories inside the mounted filesystem;
- the filesystem is made once, by ``mkfs.ext4 -d`` from a staging directory
  the daemon owns, and the host never writes into it again; the container
  changes it only through the kernel, never the image's raw bytes. Given a
  templates directory (daemon-only too), a new image is a sparse copy of a
  formatted template of its size, made once by ``mkfs.ext4`` there: its
  directories are root's until the fresh mount, before any container sees
  it, hands each to its owner. The copies share the template's filesystem
  UUID: the daemon mounts each by its image file, never by UUID, and ext4
  (unlike btrfs or xfs) mounts filesystems of one UUID side by side; giving
  each its own (``tune2fs -U``) would cost more than the copy saves;
- it is mounted ``nosuid,nodev,noexec``: nothing in it can become a setuid
  program, a device node or an executable for anyone, the host included;
- growing it (``resources.disk_max`` raised) happens with the container
  stopped and the image unmounted and detached: ``e2fsck`` and ``resize2fs``
  work on the image file, never on a path inside the filesystem.

The mount lives in the daemon's mount namespace (the host's under the system
manager) until the agent is destroyed; under the test sandbox it vanishes
with the sandbox.
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from hive_c0re.errors import HiveError

log = logging.getLogger(__name__)

MOUNT_OPTIONS = "loop,nosuid,nodev,noexec"
MKFS = "/usr/sbin/mkfs.ext4"
TIMEOUT = 120.0
# Part of a template's name: a template made by another way of making disks is not used.
TEMPLATE_VERSION = 1


class DiskError(HiveError):
    code = "disk"


@dataclass(frozen=True)
class Disk:
    """An agent's disk image and where the daemon mounts it."""

    image: Path
    mountpoint: Path

    @classmethod
    def under(cls, top: Path) -> Disk:
        """The disk of the agent whose daemon-only directory is ``top``."""
        return cls(top / "disk.img", top / "disk")

    def agent_dirs(self, owner: int) -> dict[str, int]:
        """What a new agent disk holds: its ``/state`` and ``/root/.claude``."""
        return {self.state_dir.name: owner, self.claude_dir.name: owner}

    @property
    def state_dir(self) -> Path:
        return self.mountpoint / "state"

    @property
    def claude_dir(self) -> Path:
        return self.mountpoint / "claude"


def _run(*argv: str, ok: tuple[int, ...] = (0,)) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=TIMEOUT,
                              check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise DiskError(f"{argv[0]} could not run: {exc}") from None
    if done.returncode not in ok:
        raise DiskError(f"{' '.join(argv)} failed: {done.stderr.strip() or done.returncode}")
    return done.stdout


def is_mounted(disk: Disk) -> bool:
    return os.path.ismount(disk.mountpoint)


def ensure(disk: Disk, size: int, dirs: Mapping[str, int],
           templates: Path | None = None) -> None:
    """Make the image if there is none, grow it to ``size`` if smaller, and mount it.

    A new image holds ``dirs``, each owned by its uid (an agent's: ``state``
    and ``claude``, owned by the container's root on the host); with
    ``templates``, it is a copy of the formatted template kept there. A
    mounted disk grows only once :func:`release` has let go of it.
    """
    made = not disk.image.exists()
    if made and templates is not None:
        copy_sparse(template(templates, size, sorted(dirs)), disk.image)
    elif made:
        _create(disk.image, size, dirs)
    if is_mounted(disk):
        if too_small(disk, size):
            log.warning("%s stays at %d bytes until it is next mounted", disk.image,
                        disk.image.stat().st_size)
        return
    if too_small(disk, size):
        _grow(disk, size)
    disk.mountpoint.mkdir(mode=0o700, exist_ok=True)
    _run("mount", "-t", "ext4", "-o", MOUNT_OPTIONS, "--", str(disk.image),
         str(disk.mountpoint))
    if made:
        # Still the daemon's alone: no container has seen this filesystem yet.
        (disk.mountpoint / "lost+found").rmdir()
        disk.mountpoint.chmod(0o700)
        _give(disk.mountpoint, dirs)
    log.info("mounted %s at %s", disk.image, disk.mountpoint)


def too_small(disk: Disk, size: int) -> bool:
    return disk.image.stat().st_size < size


def unmount(disk: Disk) -> None:
    """Unmount the disk (lazily: a process still inside cannot keep it mounted)."""
    if is_mounted(disk):
        _run("umount", "--lazy", "--", str(disk.mountpoint))


def release(disk: Disk, wait: float = 10.0) -> None:
    """Unmount the disk of a stopped container and wait until no loop device holds it.

    The filesystem may still be alive in a container's mount namespace that
    the kernel has not torn down yet; only once its loop device is gone is the
    image safe to check and grow.
    """
    if is_mounted(disk):
        _run("umount", "--", str(disk.mountpoint))
    deadline = time.monotonic() + wait
    while _attached(disk.image):
        if time.monotonic() > deadline:
            raise DiskError(f"{disk.image} is still in use after its container stopped")
        time.sleep(0.1)


def _attached(image: Path) -> bool:
    return bool(_run("losetup", "--noheadings", "--associated", str(image)).strip())


def _give(top: Path, dirs: Mapping[str, int]) -> None:
    """Each of ``dirs`` (root's in a template) to its owner, on a fresh mount."""
    fd = os.open(top, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        for name, owner in dirs.items():
            os.chown(name, owner, owner, dir_fd=fd, follow_symlinks=False)
    finally:
        os.close(fd)


def template(templates: Path, size: int, names: Sequence[str]) -> Path:
    """The formatted image of ``size`` holding the directories ``names``, made once.

    Built beside its final name and renamed there: a template is whole or absent.
    """
    path = templates / f"ext4-v{TEMPLATE_VERSION}-{size}-{'-'.join(names)}.img"
    if path.exists():
        return path
    templates.mkdir(mode=0o700, parents=True, exist_ok=True)
    new = templates / f".new-{os.getpid()}-{threading.get_ident()}-{path.name}"
    new.unlink(missing_ok=True)
    try:
        _create(new, size, dict.fromkeys(names, 0))
        new.replace(path)
    finally:
        new.unlink(missing_ok=True)
    return path


def copy_sparse(source: Path, target: Path) -> None:
    """Copy the image ``source`` to the new file ``target``: its data only, holes kept."""
    src = os.open(source, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        # O_EXCL | O_NOFOLLOW: a new file of our own, never something already there.
        dst = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
                      | os.O_CLOEXEC, 0o600)
        try:
            end = os.fstat(src).st_size
            os.ftruncate(dst, end)
            at = 0
            while at < end:
                try:
                    at = os.lseek(src, at, os.SEEK_DATA)
                except OSError as exc:
                    if exc.errno == errno.ENXIO:  # only a hole from here to the end
                        break
                    raise
                hole = os.lseek(src, at, os.SEEK_HOLE)
                _copy_range(src, dst, at, hole)
                at = hole
        except BaseException:
            target.unlink(missing_ok=True)
            raise
        finally:
            os.close(dst)
    finally:
        os.close(src)
    log.info("made a %d-byte disk %s from %s", end, target, source)


def _copy_range(src: int, dst: int, start: int, end: int) -> None:
    at = start
    while at < end:
        try:
            done = os.copy_file_range(src, dst, end - at, at, at)
        except OSError as exc:
            if exc.errno not in (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
                raise
            done = os.pwrite(dst, os.pread(src, min(end - at, 1 << 20), at), at)
        if done <= 0:
            raise DiskError(f"the disk template ended early at {at} of {end} bytes")
        at += done


def _create(image: Path, size: int, dirs: Mapping[str, int]) -> None:
    # O_EXCL | O_NOFOLLOW: a new file of our own, never something already there.
    fd = os.open(image, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                 0o600)
    try:
        os.ftruncate(fd, size)
    finally:
        os.close(fd)
    seed = Path(tempfile.mkdtemp(prefix=".disk-seed-", dir=image.parent))
    try:
        for name, owner in dirs.items():
            (seed / name).mkdir(mode=0o700)
            os.chown(seed / name, owner, owner)
        # -m 0: blocks reserved for uid 0 would go unused, container root is not uid 0.
        # lazy_journal_init: the new file reads as zeroes already, so writing the journal's
        # zeroes would only allocate it (64M of a 4G disk) for nothing.
        _run(MKFS, "-q", "-F", "-m", "0", "-E", "root_owner=0:0,lazy_journal_init=1",
             "-d", str(seed), "--", str(image))
    except BaseException:
        image.unlink(missing_ok=True)
        raise
    finally:
        shutil.rmtree(seed, ignore_errors=True)
    log.info("made a %d-byte disk %s", size, image)


def _grow(disk: Disk, size: int) -> None:
    """Grow an image nothing has mounted: checked and resized as a file, no ioctl."""
    if _attached(disk.image):
        log.warning("%s is in use elsewhere; it stays at %d bytes", disk.image,
                    disk.image.stat().st_size)
        return
    os.truncate(disk.image, size)
    # 1: e2fsck fixed something, as it may after an unclean shutdown.
    _run("/usr/sbin/e2fsck", "-f", "-p", "--", str(disk.image), ok=(0, 1))
    _run("/usr/sbin/resize2fs", "--", str(disk.image))
    log.info("grew %s to %d bytes", disk.image, size)
