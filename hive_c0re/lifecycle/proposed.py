"""The proposed config repos: the manager's to write, so the daemon never runs git in them.

``state/proposed-disk/repos`` is bound writable into the manager's container, so all below
it is hostile: a ``.git/config`` with a filter, hooks or an ``include.path``, a
``.git`` that is a gitfile or a symlink, ``objects/info/alternates`` pointing
at another repo, a symlink where a repo should be. Two rules keep root out:

- **Handing over.** A new proposed repo is built in the daemon's scratch space
  (a copy of the applied repo, which the daemon seeded itself) and moved into
  place with one ``renameat2(RENAME_NOREPLACE)`` between directory fds opened
  ``O_NOFOLLOW``: whatever the manager planted at that name stays as it was,
  never followed, merged or replaced.
- **Reading.** A proposal is read from a copy: the object files alone (loose
  objects and packs, plain files in plain directories, each opened
  ``O_NOFOLLOW``), bounded in bytes, into a repo in scratch space with the
  daemon's own config. Nothing else of the manager's ``.git`` is read. The
  commit is fetched from that copy into the applied repo only once the copy's
  objects, as stored and unpacked, fit in ``proposal_max_bytes``.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import hashlib
import logging
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from hive_c0re.errors import HiveError, InvalidInput, NotFound
from hive_c0re.lifecycle.agent_config import seed_text
from hive_c0re.lifecycle.gitfiles import copy_repo
from hive_c0re.lifecycle.gitrepo import ConfigRepo, validate_sha
from hive_c0re.lifecycle.nixos_seed import FLAKE_NIX, seed_files
from hive_c0re.lifecycle.safefs import DIR_FLAGS
from hive_c0re.names import validate_agent_name
from hive_c0re.paths import Paths

log = logging.getLogger(__name__)

CONFIG_FILE = "agent.toml"
# How a seed repo is stored (part of its name): 2, its objects in one pack.
SEED_LAYOUT = 2
MAX_FILES = 100_000  # object files (and objects) one copy may hold: bytes alone allow empty ones
RENAME_NOREPLACE = 1
# O_NONBLOCK: a FIFO planted as an object opens at once (and is then refused) instead of hanging.
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_LOOSE_DIR = re.compile(r"[0-9a-f]{2}")
_LOOSE_FILE = re.compile(r"[0-9a-f]{38}")
_PACK_FILE = re.compile(r"pack-[0-9a-f]{40}\.(?:pack|idx)")
# The copy's whole .git besides its objects: the daemon's, not the manager's.
_COPY_CONFIG = "[core]\n\trepositoryformatversion = 0\n\tbare = false\n"


class ProposalTooLarge(InvalidInput):
    """A proposed repo holds more git objects than ``proposal_max_bytes`` allows."""


def _libc_renameat2() -> Callable[[int, bytes, int, bytes, int], int]:
    libc = ctypes.CDLL(None, use_errno=True)
    try:
        call = libc.renameat2
    except AttributeError:
        raise HiveError("this C library has no renameat2 (glibc 2.28 or later has it)") from None
    call.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                     ctypes.c_uint]
    call.restype = ctypes.c_int
    return call


def rename_noreplace(src_dir: int, src: str, dst_dir: int, dst: str) -> None:
    """Move ``src`` to ``dst`` (names in the two directory fds); FileExistsError if taken."""
    if _libc_renameat2()(src_dir, os.fsencode(src), dst_dir, os.fsencode(dst),
                         RENAME_NOREPLACE) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code), dst)


@contextlib.contextmanager
def open_dir(path: Path | str, dir_fd: int | None = None) -> Iterator[int]:
    """A directory fd for ``path``, never through a symlink at its last component."""
    fd = os.open(path, DIR_FLAGS, dir_fd=dir_fd)
    try:
        yield fd
    finally:
        os.close(fd)


@dataclass
class _Budget:
    """What one copy may still read, and what it has; refuses as soon as it is over."""

    name: str
    limit: int
    bytes: int = 0
    files: int = 0

    def spend(self, size: int, count: int = 1) -> None:
        self.bytes += size
        self.files += count
        if self.bytes > self.limit or self.files > MAX_FILES:
            raise ProposalTooLarge(
                f"{self.name}'s proposed config repo holds more than {self.limit} bytes "
                f"(or {MAX_FILES} objects) of git objects; the hive reads no more",
                hint="a config repo stays small: drop big files from its history; "
                     "`git gc --prune=now` drops unreachable objects "
                     "(the operator's setting proposal_max_bytes is the bound)")


def _refused(budget: _Budget, where: str, what: str) -> InvalidInput:
    return InvalidInput(f"{budget.name}'s proposed config repo: {where} {what}",
                        hint="the hive reads only plain files and directories there")


def _copy_file(src_dir: int, name: str, dst: Path, budget: _Budget, where: str) -> None:
    try:
        fd = os.open(name, _FILE_FLAGS, dir_fd=src_dir)
    except OSError as exc:
        raise _refused(budget, where, "is a symlink" if exc.errno == errno.ELOOP
                       else f"cannot be read ({exc.strerror})") from None
    with os.fdopen(fd, "rb") as source:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise _refused(budget, where, "is not a plain file")
        data = source.read(budget.limit - budget.bytes + 1)
    budget.spend(len(data))
    dst.write_bytes(data)


def _copy_dir(src_dir: int, name: str, dst: Path, budget: _Budget, where: str,
              wanted: re.Pattern[str]) -> None:
    """Copy the files of one object directory whose names match ``wanted``."""
    try:
        fd = os.open(name, DIR_FLAGS, dir_fd=src_dir)
    except OSError as exc:
        raise _refused(budget, where, "is a symlink" if exc.errno == errno.ELOOP
                       else "is not a directory") from None
    try:
        dst.mkdir(mode=0o700)
        with os.scandir(fd) as entries:
            for entry in entries:
                if wanted.fullmatch(entry.name):
                    _copy_file(fd, entry.name, dst / entry.name, budget,
                               f"{where}/{entry.name}")
    finally:
        os.close(fd)


def copy_objects(proposed_root: Path, name: str, target: Path, limit: int) -> None:
    """Copy ``name``'s proposed repo's object files into a fresh repo at ``target``."""
    budget = _Budget(name, limit)
    git = target / ".git"
    objects = git / "objects"
    for made in (target, git, objects, git / "refs"):
        made.mkdir(mode=0o700)
    (git / "HEAD").write_text("ref: refs/heads/main\n")
    (git / "config").write_text(_COPY_CONFIG)
    try:
        with (open_dir(proposed_root) as root, open_dir(name, dir_fd=root) as repo,
              open_dir(".git", dir_fd=repo) as dot_git,
              open_dir("objects", dir_fd=dot_git) as source):
            with os.scandir(source) as entries:
                names = [entry.name for entry in entries]
            for entry in names:
                where = f".git/objects/{entry}"
                if _LOOSE_DIR.fullmatch(entry):
                    _copy_dir(source, entry, objects / entry, budget, where, _LOOSE_FILE)
                elif entry == "pack":
                    _copy_dir(source, entry, objects / "pack", budget, where, _PACK_FILE)
    except FileNotFoundError:
        raise NotFound(f"{name} has no proposed config repo",
                       hint="request_init_config seeds one") from None
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            raise InvalidInput(f"{name}'s proposed config repo is not a plain git directory "
                               "(a symlink, or a .git that is a file)",
                               hint="the hive reads only plain files and directories there"
                               ) from None
        raise HiveError(f"cannot copy {name}'s proposed config repo: {exc}") from None


class ProposedRepos:
    """Every agent's proposed repo, handled only from the daemon's side of the bind."""

    def __init__(self, paths: Paths, max_bytes: int) -> None:
        self.paths = paths
        self.max_bytes = max_bytes

    @contextlib.contextmanager
    def _scratch(self) -> Iterator[Path]:
        self.paths.scratch.mkdir(parents=True, exist_ok=True, mode=0o700)
        made = Path(tempfile.mkdtemp(dir=self.paths.scratch))
        try:
            yield made
        finally:
            shutil.rmtree(made, ignore_errors=True)

    def exists(self, name: str) -> bool:
        """Whether anything sits at ``name`` in the proposed repos (never followed)."""
        return os.path.lexists(self.paths.proposed_repo(name))

    def applied(self, name: str) -> ConfigRepo:
        """``name``'s applied repo, seeded (daemon-only space) if it has none yet."""
        applied = ConfigRepo(self.paths.applied_repo(name))
        if not applied.exists():
            applied.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            copy_repo(self.seed_repo().path, applied.path)
        return applied

    def seed_repo(self) -> ConfigRepo:
        """The seed commit every new applied repo is cloned from, made once.

        Built beside its final place and renamed there; a config seed that
        changed with an upgrade gets a repo of its own, and so does one stored
        another way (:data:`SEED_LAYOUT`).
        """
        files = {CONFIG_FILE: seed_text(), **seed_files()}
        # With the layout: a seed made before it was packed gets a packed one beside it.
        digest = hashlib.sha256(repr((SEED_LAYOUT, sorted(files.items()))).encode()
                                ).hexdigest()[:16]
        seeds = self.paths.seed_repos
        seed = ConfigRepo(seeds / digest)
        if seed.exists():
            return seed
        seeds.mkdir(parents=True, exist_ok=True, mode=0o700)
        made = Path(tempfile.mkdtemp(dir=seeds, prefix=".new-"))
        try:
            # Each new agent copies it twice: as few files as git needs.
            ConfigRepo(made / "repo").init(files, "seed config", packed=True)
            # FileExistsError: a spawn beside this one made it first.
            with (contextlib.suppress(FileExistsError), open_dir(made) as src,
                  open_dir(seeds) as dst):
                rename_noreplace(src, "repo", dst, digest)
        finally:
            shutil.rmtree(made, ignore_errors=True)
        return seed

    def seeded_flakes(self) -> set[str]:
        """The ``flake.nix`` of every seed repo, those of older versions of the hive among
        them: a config repo seeded before an upgrade keeps the flake.nix it was given."""
        seeds = self.paths.seed_repos
        found = set()
        for entry in sorted(seeds.iterdir()) if seeds.is_dir() else ():
            if entry.name.startswith("."):  # a seed being made (seed_repo)
                continue
            _, text = ConfigRepo(entry).read_main_file(FLAKE_NIX)
            if text is not None:
                found.add(text)
        return found

    def seed(self, name: str) -> bool:
        """Give ``name`` both repos; False if something already sits at its proposed name.

        The proposed repo starts as a copy of the applied one, built in scratch
        space and renamed into place, so git never runs where the manager writes.
        A new agent's two repos are copies of the seed repo, file by file: no git
        process at all.
        """
        validate_agent_name(name)
        new = not ConfigRepo(self.paths.applied_repo(name)).exists()
        applied = self.applied(name)
        if self.exists(name):
            return False
        self.paths.proposed_root.mkdir(parents=True, exist_ok=True, mode=0o700)
        with self._scratch() as scratch:
            if new:  # the applied repo is a copy of the seed as it stands: so is this one
                copy_repo(self.seed_repo().path, scratch / "repo")
            else:
                ConfigRepo(scratch / "repo").init_from(applied)
            with open_dir(scratch) as src, open_dir(self.paths.proposed_root) as dst:
                try:
                    rename_noreplace(src, "repo", dst, name)
                except FileExistsError:
                    log.warning("%s: something appeared at its proposed repo; left as it is",
                                name, extra={"HIVE_AGENT": name})
                    return False
                except OSError as exc:
                    raise HiveError(f"cannot move {name}'s new proposed repo into place: {exc}",
                                    hint="the state dir's scratch and proposed must be on "
                                         "one filesystem") from None
        log.info("handed %s's proposed config repo to the manager", name,
                 extra={"HIVE_AGENT": name})
        return True

    def fetch(self, name: str, applied: ConfigRepo, sha: str) -> None:
        """Bring the proposed commit ``sha`` into ``applied``, through a bounded copy.

        Refused (ProposalTooLarge, InvalidInput, NotFound) before anything
        reaches the applied repo, which a refusal leaves as it was.
        """
        commit = validate_sha(sha)
        if applied.has_commit(commit):
            return
        with self._scratch() as scratch:
            copy = ConfigRepo(scratch / "copy")
            copy_objects(self.paths.proposed_root, validate_agent_name(name), copy.path,
                         self.max_bytes)
            self._check_unpacked(name, copy)
            try:
                applied.fetch_commit(copy, commit)
            except NotFound:
                raise NotFound(f"commit {commit} is not in {name}'s proposed config repo"
                               ) from None

    def _check_unpacked(self, name: str, copy: ConfigRepo) -> None:
        """Refuse a copy whose objects unpack past the bound (a small pack of zeros)."""
        budget = _Budget(name, self.max_bytes)
        sizes = copy.object_sizes()
        budget.spend(sum(sizes), len(sizes))
