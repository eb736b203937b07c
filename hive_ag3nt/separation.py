"""The model's side runs as its own unprivileged uid, apart from the harness.

Inside a hive container the harness is the container's root: it holds the
operator's door (``/run/hive/ui.sock``), the UI's secret and the hive's
socket. The claude CLI, and so every tool the model runs (Bash above all),
runs as ``model_uid`` (1000, ``claude`` in the container's passwd) through
``hive-ag3nt-model``: a wrapper the SDK starts as its ``cli_path``, which
drops to that uid with no groups, no capabilities and ``no_new_privs``
before it execs the real CLI. A different uid cannot read the harness's
``/proc/<pid>/environ``, open its fds, ptrace it, nor pass the 0700/0600
modes of ``/run/hive``, ``/etc/hive/ui-secret`` and the harness's files.

What the model's side owns: ``/root/.claude`` (its credentials) and its
working files in ``/state``. ``/state`` itself stays root's, group
``model_uid``, mode 01770: the model creates files there, but the sticky
bit keeps it from renaming or deleting the harness's own files
(``hyperhive-events.sqlite`` and its journals, ``hyperhive-model``,
``hyperhive-session``), which are root's, mode 0600.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

from hive_ag3nt.paths import AgentPaths
from hive_c0re.errors import HiveError

log = logging.getLogger(__name__)

WRAPPER = "hive-ag3nt-model"
CLI_VAR = "HYPERHIVE_MODEL_CLI"  # the real CLI the wrapper execs
UID_VAR = "HYPERHIVE_MODEL_UID"
STATE_MODE = 0o1770
PR_SET_NO_NEW_PRIVS = 38
PR_CAPBSET_DROP = 24
LAST_CAP = 63
CAPABILITY_V3 = 0x20080522
HARNESS_SUFFIXES = ("", "-wal", "-shm", "-journal", ".new")
# The container's own tree, which the model must traverse and read: made so by the
# daemon (lifecycle/rootfs.py, read-only here); fixed up only where a tree is not.
PUBLIC = (".", "etc", "etc/passwd", "etc/group", "etc/os-release", "etc/hostname", "root", "var")


# -- the wrapper: runs as root, becomes the model's uid, execs the CLI ---------------

def _prctl(option: int, arg: int) -> int:
    import ctypes  # the wrapper's alone: the harness does not carry it

    libc = ctypes.CDLL(None, use_errno=True)
    return int(libc.prctl(option, arg, 0, 0, 0))


def _clear_inheritable() -> None:
    """capset(2) with every set empty: no inheritable capability is left to pass on."""
    import ctypes

    header = (ctypes.c_uint32 * 2)(CAPABILITY_V3, 0)
    data = (ctypes.c_uint32 * 6)()  # two {effective, permitted, inheritable} words
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.capset(header, data) != 0:
        raise OSError(ctypes.get_errno(), "capset failed")


def drop_privileges(uid: int) -> None:
    """Become ``uid``/``uid`` for good: no groups, no capabilities, no way back up."""
    if uid <= 0:
        raise HiveError(f"the model's uid must be positive, not {uid}")
    if os.geteuid() == 0:
        for cap in range(LAST_CAP + 1):  # stop at the first the kernel does not know
            if _prctl(PR_CAPBSET_DROP, cap) != 0:
                break
        os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)  # clears the permitted, effective and ambient sets
    _clear_inheritable()
    if _prctl(PR_SET_NO_NEW_PRIVS, 1) != 0:
        raise OSError("prctl(PR_SET_NO_NEW_PRIVS) failed")
    if os.getresuid() != (uid, uid, uid) or os.getgroups():
        raise HiveError(f"could not drop to uid {uid}")


def main() -> None:
    """``hive-ag3nt-model ARGS...``: run ``$HYPERHIVE_MODEL_CLI ARGS...`` as the model's uid."""
    cli = os.environ.pop(CLI_VAR, "")
    uid_text = os.environ.pop(UID_VAR, "")
    if not cli:
        sys.exit(f"{WRAPPER}: ${CLI_VAR} names no program")
    try:
        uid = int(uid_text)
        drop_privileges(uid)
    except (OSError, HiveError, ValueError) as exc:
        sys.exit(f"{WRAPPER}: {exc}")
    os.umask(0o022)
    os.closerange(3, os.sysconf("SC_OPEN_MAX"))  # nothing of the harness's but the pipes
    try:
        os.execv(cli, [cli, *sys.argv[1:]])  # noqa: S606 (the harness named it)
    except OSError as exc:
        sys.exit(f"{WRAPPER}: cannot run {cli} as uid {uid}: {exc.strerror or exc}")


# -- the harness's side: how the CLI is started, and the files it may touch ----------

def wrapper_path() -> str:
    """The wrapper beside this interpreter (a venv, a Nix profile), else on PATH."""
    beside = Path(sys.executable).parent / WRAPPER
    if beside.is_file():
        return str(beside)
    found = shutil.which(WRAPPER)
    if found is None:
        raise HiveError(f"{WRAPPER} is not installed; the model cannot run as its own uid")
    return found


def model_side(uid: int, cli: str) -> tuple[str, dict[str, str]]:
    """The ``cli_path`` and extra environment that start ``cli`` as ``uid``."""
    return wrapper_path(), {CLI_VAR: cli, UID_VAR: str(uid)}


def separate(paths: AgentPaths, uid: int, tree: Path = Path("/")) -> None:
    """Give the model's side what it owns and keep the rest root's; before any CLI runs.

    Nothing of the model runs yet (the container starts with the harness), so
    no path here can be swapped under us; links are still never followed.
    ``tree`` is the container's root.
    """
    os.umask(0o077)  # every file the harness makes is its own
    for public in PUBLIC:
        _readable(tree / public)
    _chmod(paths.run, 0o700)
    _chown_inside(paths.claude_config, uid, mode=0o700)
    _readable(paths.claude_config.parent)  # /root: the model reaches .claude
    own = _with_journals(paths.events, paths.model_file, paths.session_file)
    state = paths.state
    _claim(state, own)
    for entry in _entries(state):
        if entry not in own:
            _chown_inside(state / entry, uid)
    _set_owner(state, 0, uid, STATE_MODE)
    if paths.model_file.parent != state:  # HYPERHIVE_MODEL_FILE elsewhere
        _claim(paths.model_file.parent, _with_journals(paths.model_file))
    hand_over(paths, uid)


def _with_journals(*files: Path) -> set[str]:
    """The names of ``files`` and of their journals and scratch copies."""
    return {file.name + suffix for file in files for suffix in HARNESS_SUFFIXES}


def hand_over(paths: AgentPaths, uid: int) -> None:
    """Give the model's side what appeared in its trees since (the manager's new repos).

    Runs while the model's processes may too: every step is relative to a
    directory fd and follows no link, so a swapped entry re-owns only itself.
    """
    for tree in paths.model_owned:
        _chown_inside(tree, uid)


def model_command(argv: list[str], uid: int) -> tuple[list[str], dict[str, str]]:
    """``argv`` (and the environment to run it with) as the model's uid, through the wrapper.

    For programs the harness must run in the model's files (git in its repos):
    as root, a repo's config could make git run its commands as root.
    """
    program = shutil.which(argv[0]) or argv[0]
    return [wrapper_path(), *argv[1:]], {**os.environ, CLI_VAR: program, UID_VAR: str(uid)}


def _entries(directory: Path) -> Iterator[str]:
    with contextlib.suppress(FileNotFoundError):
        yield from (entry.name for entry in directory.iterdir())


def _claim(directory: Path, names: set[str]) -> None:
    """Each of the harness's files in ``directory`` is a root-owned 0600 file, or gone."""
    for name in names:
        try:
            st = os.lstat(directory / name)
        except FileNotFoundError:
            continue
        if stat.S_ISREG(st.st_mode) and st.st_uid == 0:
            (directory / name).chmod(0o600)
        else:  # the model's, or no file: a trap, not ours
            log.warning("removing %s: not the harness's own file", directory / name)
            if stat.S_ISDIR(st.st_mode):
                shutil.rmtree(directory / name)
            else:
                (directory / name).unlink()


def _readable(path: Path) -> None:
    """Let everyone read (and, a directory, traverse) ``path``; a root we may not change
    (read-only, from a newer backend) is left as it is."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        return
    try:
        st = os.fstat(fd)
        mode = stat.S_IMODE(st.st_mode)
        wanted = mode | (0o055 if stat.S_ISDIR(st.st_mode) else 0o044)
        if wanted != mode:
            os.fchmod(fd, wanted)
    except OSError as exc:
        log.warning("cannot make %s readable for the model's side: %s", path, exc)
    finally:
        os.close(fd)


def _chmod(path: Path, mode: int) -> None:
    with contextlib.suppress(FileNotFoundError):
        _set_owner(path, -1, -1, mode)


def _set_owner(path: Path, uid: int, gid: int, mode: int) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        os.fchown(fd, uid, gid)
        os.fchmod(fd, mode)
    finally:
        os.close(fd)


def _chown_inside(top: Path, uid: int, mode: int | None = None) -> None:
    """``top`` and everything below it to ``uid``, links themselves and never their targets."""
    try:
        st = os.lstat(top)
    except FileNotFoundError:
        return
    os.chown(top, uid, uid, follow_symlinks=False)
    if not stat.S_ISDIR(st.st_mode):
        return
    if mode is not None:
        _set_owner(top, uid, uid, mode)
    for _, dirs, files, fd in os.fwalk(top, follow_symlinks=False):
        for name in (*dirs, *files):
            os.chown(name, uid, uid, dir_fd=fd, follow_symlinks=False)


def write_private(path: Path, text: str | bytes, owner: int | None = None) -> None:
    """Replace ``path`` with ``text`` as the harness's file (or ``owner``'s), through no link
    the model planted.

    The model may create any name in ``/state``: the scratch file is made
    afresh (``O_EXCL``, ``O_NOFOLLOW``), and the rename replaces a link
    rather than following it.
    """
    scratch = path.with_name(path.name + ".new")
    scratch.unlink(missing_ok=True)
    fd = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "wb") as out:
        if owner is not None:
            os.fchown(out.fileno(), owner, owner)
        out.write(text.encode() if isinstance(text, str) else text)
    scratch.replace(path)


def read_private(path: Path) -> str | None:
    """The text of the harness's own file at ``path``; None when there is none.

    A link, or a file the harness did not make (the model's), is not read:
    it could point the harness at the UI's secret or its own ``/proc``.
    """
    try:
        return _read_regular(path, owner=os.geteuid()).decode(errors="replace")
    except OSError:
        return None


def copy_to_model(source: Path, target: Path, owner: int | None) -> None:
    """Copy the model's regular file ``source`` to ``target`` (``owner``'s), following no link.

    Raise OSError when ``source`` is a link or not a regular file.
    """
    write_private(target, _read_regular(source), owner)


def _read_regular(path: Path, owner: int | None = None) -> bytes:
    """The bytes of the regular file at ``path`` (``owner``'s, if given), never through a link.

    Raise OSError when ``path`` is a link, not a regular file, or another's.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    with os.fdopen(fd, "rb") as found:
        st = os.fstat(found.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise OSError(f"{path} is not a regular file")
        if owner is not None and st.st_uid != owner:
            raise OSError(f"{path} is not uid {owner}'s")
        return found.read()
