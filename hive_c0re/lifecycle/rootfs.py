"""The small root an nspawn container boots from, and the ``/etc`` files the host controls.

Three things per agent under the hive's state directory (``roots/``, the
daemon's alone):

- ``roots/<name>/``: the tree itself (empty ``usr``, ``etc``, ``tmp``, ...,
  merged-``/usr`` symlinks). Built once in a scratch directory and renamed
  into place; never written by the daemon again. nspawn mounts it read-only
  (``--read-only``), so the container cannot replace anything in it, and
  nothing nspawn reads from it on the host side (``/etc/machine-id``) is the
  container's to change.
- ``roots/.<name>.etc/``: ``passwd``, ``group``, ``os-release``, ``hostname``
  and ``machine-id``, rewritten (atomically, in daemon-only space) on every
  install and bound read-only over the tree's placeholders.
- scratch space: bounded tmpfs on ``/tmp`` and ``/var/tmp``, so what an agent
  writes outside its binds lands in memory its cgroup pays for, not on the
  host's disk or ``/run``.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

from hive_c0re.lifecycle.backend import write_if_changed
from hive_c0re.lifecycle.safefs import give_dir, make_below
from hive_c0re.names import validate_container_name

# Directories of the tree, with their modes. /root is traversable: the model's own
# user must reach /root/.claude (a bind).
TREE_DIRS = {
    "usr": 0o755, "etc": 0o755, "etc/ssl": 0o755, "tmp": 0o1777, "proc": 0o755,
    "sys": 0o755, "dev": 0o755, "run": 0o755, "root": 0o755, "var": 0o755,
    "var/tmp": 0o1777,
}
MERGED_USR = ("bin", "lib", "lib64", "sbin")
# Mount points for what nspawn binds itself on a read-only root (resolv.conf).
PLACEHOLDERS = ("etc/resolv.conf",)
# Bounded scratch space; its pages are charged to the container's memory cgroup.
SCRATCH = {"/tmp": "mode=1777,size=256M,nr_inodes=65536",
           "/var/tmp": "mode=1777,size=256M,nr_inodes=65536"}
MACHINE_IDS = uuid.UUID("6d1b3c9e-5a0f-4c1e-9b59-4b1e7d0a2f10")  # namespace for uuid5


def passwd() -> str:
    return ("root:x:0:0:root:/root:/bin/sh\n"
            "claude:x:1000:1000:the model's side:/root:/bin/sh\n"
            "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n")


def group() -> str:
    return "root:x:0:\nclaude:x:1000:\nnogroup:x:65534:\n"


def machine_id(agent: str) -> str:
    """The container's machine id: stable per agent, never read from the container."""
    return uuid.uuid5(MACHINE_IDS, validate_container_name(agent)).hex


def host_etc(agent: str) -> dict[str, str]:
    """The ``/etc`` files the host controls, by name."""
    return {
        "passwd": passwd(),
        "group": group(),
        "os-release": 'ID=hyperhive\nNAME="hyperhive agent"\n',
        "hostname": f"h-{validate_container_name(agent)}\n",
        "machine-id": machine_id(agent) + "\n",
    }


def tree(roots: Path, agent: str) -> Path:
    return roots / validate_container_name(agent)


def etc_dir(roots: Path, agent: str) -> Path:
    return roots / f".{validate_container_name(agent)}.etc"


def _make_roots(roots: Path) -> None:
    # Traversable, not listable: nspawn's inner child, already the container's root,
    # resolves paths below the tree on the host side.
    roots.mkdir(parents=True, exist_ok=True, mode=0o711)
    roots.chmod(0o711)


def build_tree(roots: Path, agent: str, base: int) -> Path:
    """The agent's root tree, built now if it does not exist yet.

    Everything in it is host root's except ``/`` itself, which nspawn wants
    owned by the container's root (``base``); the container gets it
    read-only, so it never changes anything in it.
    """
    target = tree(roots, agent)
    _make_roots(roots)
    if not target.is_dir() or target.is_symlink():
        scratch = roots / f".{agent}.new"
        shutil.rmtree(scratch, ignore_errors=True)
        scratch.mkdir()
        scratch.chmod(0o755)  # modes set explicitly: the daemon's umask is tight
        for name, mode in TREE_DIRS.items():
            (scratch / name).mkdir()
            (scratch / name).chmod(mode)
        for name in MERGED_USR:
            (scratch / name).symlink_to(f"usr/{name}")
        for name in PLACEHOLDERS:
            (scratch / name).touch()
            (scratch / name).chmod(0o644)
        scratch.rename(target)
    give_dir(target, base)
    return target


def make_mount_points(root: Path, argv: Sequence[str]) -> None:
    """Create in the tree every mount point ``argv`` binds (nspawn cannot, on a read-only
    root): a directory for a directory, an empty file for a file.

    Safe on a tree the container has used: it could not write it, and the walk
    does not follow symlinks anyway.
    """
    for inside, is_dir in mount_points(argv):
        relative = PurePosixPath(inside).relative_to("/")
        if relative.parts:
            make_below(root, relative, directory=is_dir)


def mount_points(argv: Sequence[str]) -> list[tuple[str, bool]]:
    """(path inside, is a directory) of each ``--bind``, ``--bind-ro`` and ``--tmpfs``."""
    found = []
    for word in argv:
        option, _, value = word.partition("=")
        if option == "--tmpfs":
            found.append((value.split(":")[0], True))
        elif option in ("--bind", "--bind-ro"):
            source, _, rest = value.partition(":")
            inside = rest.split(":")[0] or source
            found.append((inside, Path(source).is_dir()))
        elif word == "--":
            break
    return found


def write_etc(roots: Path, agent: str) -> Path:
    """Write the host-controlled ``/etc`` files into daemon-only space; return their dir."""
    _make_roots(roots)
    directory = etc_dir(roots, agent)
    directory.mkdir(exist_ok=True, mode=0o755)
    for name, text in host_etc(agent).items():
        write_if_changed(directory / name, text, mode=0o644)
    return directory


def root_options(roots: Path, agent: str) -> list[str]:
    """nspawn options for the tree: read-only, scratch tmpfs, the host's ``/etc`` files."""
    # No /etc/localtime: the container keeps UTC, as it always had.
    options = ["--read-only", "--timezone=off", f"--uuid={machine_id(agent)}"]
    options += [f"--tmpfs={path}:{opts}" for path, opts in SCRATCH.items()]
    options += [f"--bind-ro={etc_dir(roots, agent) / name}:/etc/{name}"
                for name in host_etc(agent)]
    return options


def remove(roots: Path, agent: str) -> None:
    """Remove the tree and its ``/etc`` files (``rmtree`` walks by fd, never following)."""
    for path in (tree(roots, agent), etc_dir(roots, agent), roots / f".{agent}.new"):
        shutil.rmtree(path, ignore_errors=True)
