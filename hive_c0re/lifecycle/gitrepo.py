"""Git for the agents' config repos: validated refs, fixed argv, a clean environment.

Each agent has a proposed repo (the manager commits to it through a bind mount)
and an applied repo (only hive-c0re writes it; its work tree stays at ``main``
because the nixos backend builds from it). Both are :class:`ConfigRepo`.
Everything a caller passes is checked before git runs: commits only as full shas
(:func:`validate_sha`), tags only as ours (:func:`validate_tag`), paths only
relative and inside the tree. git runs without a shell, in the closed environment
and with the pinned settings of :mod:`gitenv`, which also checks git's version.
git runs only in trees no container can write (applied repos, the daemon's scratch
space); never in the manager's proposed repos, not even as a fetch source
(``lifecycle/proposed.py`` seeds them in scratch space, reads copies of objects).
"""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

from hive_c0re.errors import InvalidInput, NotFound
from hive_c0re.lifecycle.gitenv import (
    FETCHING,
    PINNED,
    GitError,
    git_binary,
    git_environment,
    require_git,
    shown,
)
from hive_c0re.lifecycle.gitfiles import blob_text, forget_origin

# git_binary and require_git are also the daemon's, which checks git at start.
__all__ = ["MAIN", "TAG_KINDS", "ConfigRepo", "git_binary", "require_git", "validate_repo_path",
           "validate_sha", "validate_tag"]

log = logging.getLogger(__name__)

MAIN = "refs/heads/main"
TAG_KINDS = ("proposal", "approved", "building", "deployed", "failed", "denied")
MAX_PATH = 1024

_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
_TAG = re.compile(r"(?:" + "|".join(TAG_KINDS) + r")/[0-9]{1,18}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def validate_sha(value: object) -> str:
    """Return ``value`` if it is a full commit sha (40, or 64 for sha256, lowercase hex)."""
    if isinstance(value, str) and _SHA.fullmatch(value):
        return value
    raise InvalidInput(f"{shown(value)} is not a full commit sha",
                       hint="give all 40 (or 64) lowercase hex digits; no branch names or HEAD")


def validate_tag(name: object) -> str:
    """Return ``name`` if it is one of the hive's tags, like ``approved/12``."""
    if isinstance(name, str) and _TAG.fullmatch(name):
        return name
    raise InvalidInput(f"{shown(name)} is not a hive tag",
                       hint="tags are <kind>/<number>, kind one of " + ", ".join(TAG_KINDS))


def validate_repo_path(path: object) -> str:
    """Return ``path`` if it names a file inside a repo's tree: relative, no ``..`` or ``.git``."""
    if not isinstance(path, str) or not path or len(path) > MAX_PATH or _CONTROL.search(path):
        raise InvalidInput(f"{shown(path)} is not a file path in the config repo")
    parts = path.split("/")
    bad = {"", ".", ".."}
    if any(part in bad or part.lower() == ".git" for part in parts) or path.startswith("-"):
        raise InvalidInput(f"{shown(path)} is not a file path in the config repo",
                           hint="a relative path like agent.toml, without '..', '.' or .git")
    return path


class ConfigRepo:
    """One agent's config repo with a work tree; every method takes only validated input."""

    def __init__(self, path: Path, *, git: str | None = None, timeout: float = 120.0) -> None:
        self.path = Path(path).absolute()
        self.git = git or git_binary()
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"ConfigRepo({str(self.path)!r})"

    # -- running git ---------------------------------------------------------------

    def _argv(self, args: tuple[str, ...], config: tuple[str, ...], in_repo: bool) -> list[str]:
        where = [f"--git-dir={self.path / '.git'}", f"--work-tree={self.path}"] if in_repo else []
        pinned = [item for setting in (*PINNED, *config) for item in ("-c", setting)]
        return [self.git, *where, *pinned, *args]

    def _run(self, *args: str, stdin: bytes = b"", config: tuple[str, ...] = (),
             in_repo: bool = True) -> subprocess.CompletedProcess[bytes]:
        require_git(self.git)
        argv = self._argv(args, config, in_repo)
        cwd = self.path if self.path.is_dir() else None
        try:
            return subprocess.run(argv, input=stdin, capture_output=True, cwd=cwd,
                                  env=git_environment(), timeout=self.timeout, check=False)
        except FileNotFoundError:
            raise GitError(f"git not found: {self.git}",
                           hint="install git or point HYPERHIVE_GIT at it") from None
        except subprocess.TimeoutExpired:
            raise GitError(f"git {args[0]} in {self.path} took over {self.timeout:g}s") from None

    def _git(self, *args: str, stdin: bytes = b"", config: tuple[str, ...] = (),
             in_repo: bool = True) -> str:
        """Run git and return its stdout; raise GitError with its stderr if it fails."""
        done = self._run(*args, stdin=stdin, config=config, in_repo=in_repo)
        if done.returncode != 0:
            raise self._failure(args[0], done)
        return done.stdout.decode("utf-8", errors="replace")

    def _failure(self, verb: str, done: subprocess.CompletedProcess[bytes]) -> GitError:
        stderr = done.stderr.decode("utf-8", errors="replace").strip()
        hint = None
        if "dubious ownership" in stderr:
            hint = "the config repo must belong to the user hive-c0re runs as"
        return GitError(f"git {verb} failed in {self.path}: {stderr or done.returncode}",
                        hint=hint)

    def _probe(self, *args: str) -> bool:
        """Run a git question that answers with its exit code (0 yes, 1 no)."""
        done = self._run(*args)
        if done.returncode not in (0, 1):
            raise self._failure(args[0], done)
        return done.returncode == 0

    # -- creating ------------------------------------------------------------------

    def exists(self) -> bool:
        return (self.path / ".git").is_dir()

    def init(self, files: Mapping[str, str], message: str, *, packed: bool = False) -> str:
        """Create the repo on branch ``main`` with ``files`` as its first commit; return its sha.

        Only where no container can write: between ``git init`` and ``git add``
        a writer could plant a filter in ``.git/config`` for git to run. ``packed``: its
        objects in one pack (``-n``: no ``info/`` files), for a repo copied file by file.
        """
        names = [validate_repo_path(name) for name in files]
        body = _message(message)
        self._create()
        try:
            for name, text in zip(names, files.values(), strict=True):
                target = self.path / name
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(text, encoding="utf-8")
            if names:
                self._git("add", "--", *names)
            self._git("commit", "--quiet", "--allow-empty", "--no-verify",
                      "--cleanup=verbatim", "--file=-", stdin=body)
            if packed:
                self._git("repack", "-a", "-d", "-q", "-n")
                (self.path / ".git" / "COMMIT_EDITMSG").unlink()
        except BaseException:
            self._remove_git_dir()
            raise
        log.info("created config repo %s", self.path)
        return self.head()

    def init_from(self, source: ConfigRepo) -> str:
        """Create the repo as a copy of ``source``'s ``main`` (history included); return its sha.

        One ``git clone`` (objects copied, never hard-linked: the copy may go to a
        container); its remote and tracking refs are then dropped without git.
        """
        source._need_repo()
        if self.exists():
            raise InvalidInput(f"a config repo already exists at {self.path}")
        if self.path.exists() and any(self.path.iterdir()):
            raise InvalidInput(f"{self.path} is not empty; a new config repo needs an empty dir")
        done = self._run("clone", "--quiet", "--no-hardlinks", "--no-tags", "--single-branch",
                         "--branch=main", "--", str(source.path), str(self.path),
                         config=FETCHING, in_repo=False)
        try:
            if done.returncode != 0:
                if b"not found in upstream" in done.stderr:
                    raise NotFound(f"the config repo at {source.path} has no main branch")
                raise self._failure("clone", done)
            forget_origin(self.path / ".git")
            sha = self.written_main() or self.head()
        except BaseException:
            self._remove_git_dir()
            raise
        log.info("created config repo %s from %s at %s", self.path, source.path, sha)
        return sha

    def written_main(self) -> str | None:  # main's loose ref file, which git reads first
        try:
            return validate_sha((self.path / ".git" / MAIN).read_text().strip())
        except (OSError, InvalidInput):
            return None

    def _create(self) -> None:
        if self.exists():
            raise InvalidInput(f"a config repo already exists at {self.path}")
        if self.path.exists() and any(self.path.iterdir()):
            raise InvalidInput(f"{self.path} is not empty; a new config repo needs an empty dir")
        self.path.mkdir(parents=True, exist_ok=True)
        # No template: its sample hooks never run (core.hooksPath is pinned), only get copied.
        self._git("init", "--quiet", "--template=", "--initial-branch=main", "--",
                  str(self.path), in_repo=False)

    def _remove_git_dir(self) -> None:
        shutil.rmtree(self.path / ".git", ignore_errors=True)

    # -- reading -------------------------------------------------------------------

    def _need_repo(self) -> None:
        if not self.exists():
            raise NotFound(f"no config repo at {self.path}")

    def _need_commit(self, sha: str) -> None:
        if not self.has_commit(sha):
            raise NotFound(f"commit {sha} is not in the config repo at {self.path}")

    def head(self) -> str:
        """The sha ``main`` points at."""
        self._need_repo()
        done = self._run("rev-parse", "--verify", "--quiet", MAIN + "^{commit}")
        if done.returncode != 0:
            raise NotFound(f"the config repo at {self.path} has no main branch")
        return validate_sha(done.stdout.decode().strip())

    def has_commit(self, sha: str) -> bool:
        """Whether this repo holds the commit ``sha`` (validated before git sees it)."""
        commit = validate_sha(sha)
        self._need_repo()
        done = self._run("cat-file", "-e", commit + "^{commit}")
        if done.returncode != 0 and b"Not a valid object name" not in done.stderr:
            raise self._failure("cat-file", done)
        return done.returncode == 0

    def read_file(self, sha: str, path: str) -> str | None:
        """The UTF-8 text of ``path`` at commit ``sha``; None if the commit has no such file."""
        commit, name = validate_sha(sha), validate_repo_path(path)
        self._need_repo()
        found, blob = self._batch(f"info {commit}^{{commit}}", f"contents {commit}:{name}")
        if found is None:
            raise NotFound(f"commit {commit} is not in the config repo at {self.path}")
        return blob_text(commit, name, blob)

    def read_main_file(self, path: str) -> tuple[str, str | None]:
        """``main``'s sha and ``path``'s text there (None if none), in one git process."""
        name = validate_repo_path(path)
        self._need_repo()
        found, blob = self._batch(f"info {MAIN}^{{commit}}", f"contents {MAIN}:{name}")
        if found is None:
            raise NotFound(f"the config repo at {self.path} has no main branch")
        sha = validate_sha(found[0])
        return sha, blob_text(sha, name, blob)

    def _batch(self, *commands: str) -> list[tuple[str, str, bytes] | None]:
        """``cat-file --batch-command``: (oid, type, contents) or None (missing) each."""
        done = self._run("cat-file", "--batch-command",
                         stdin="".join(f"{command}\n" for command in commands).encode())
        if done.returncode != 0:
            raise self._failure("cat-file", done)
        out, at = done.stdout, 0
        answers: list[tuple[str, str, bytes] | None] = []
        for command in commands:
            end = out.index(b"\n", at)
            line = out[at:end].decode("utf-8", errors="replace")
            at = end + 1
            if line.endswith((" missing", " ambiguous")):
                answers.append(None)
                continue
            oid, kind, size = line.rsplit(" ", 2)
            body = b""
            if command.startswith("contents "):
                body = out[at:at + int(size)]
                at += int(size) + 1  # the contents end with a newline of git's own
            answers.append((oid, kind, body))
        return answers

    def diff(self, base: str | None, sha: str) -> str:
        """``git diff`` from ``base`` to ``sha``; the whole tree of ``sha`` when base is None."""
        new = validate_sha(sha)
        old = None if base is None else validate_sha(base)
        self._need_commit(new)
        if old is None:
            old = self._git("hash-object", "-t", "tree", "--stdin").strip()
        else:
            self._need_commit(old)
        # --text: a committed .gitattributes must not hide a file's change as "binary"
        # from the operator who approves it.
        return self._git("diff", "--no-color", "--no-ext-diff", "--no-textconv", "--text",
                         old, new, "--")

    def log(self, n: int = 20) -> list[tuple[str, str]]:
        """The newest ``n`` commits on ``main`` as (sha, subject)."""
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 10_000:
            raise InvalidInput(f"log length {shown(n)} must be an integer from 1 to 10000")
        self._need_repo()
        out = self._git("log", f"--max-count={n}", "--format=%H%x00%s", MAIN, "--")
        return [(sha, subject) for sha, _, subject in
                (line.partition("\0") for line in out.splitlines())]

    def object_sizes(self) -> list[int]:
        """The unpacked size of every object this repo stores (read from headers only)."""
        self._need_repo()
        out = self._git("cat-file", "--batch-all-objects", "--unordered",
                        "--batch-check=%(objectsize)")
        return [int(line) for line in out.split()]

    # -- tags ----------------------------------------------------------------------

    def tag(self, name: str, sha: str, message: str | None = None) -> None:
        """Tag commit ``sha``; annotated when ``message`` is given. Tags never move."""
        tag, commit = validate_tag(name), validate_sha(sha)
        body = None if message is None else _message(message)
        self._need_commit(commit)
        existing = self.tags().get(tag)
        if existing is not None:
            raise InvalidInput(f"tag {tag} already exists (at {existing}); tags never move")
        if body is None:
            self._git("tag", "--", tag, commit)
        else:
            self._git("tag", "--annotate", "--cleanup=verbatim", "--file=-", "--", tag, commit,
                      stdin=body)

    def tags(self, prefix: str = "") -> dict[str, str]:
        """Every tag starting with ``prefix``, mapped to the commit it points at."""
        self._need_repo()
        out = self._git("for-each-ref",
                        "--format=%(refname:lstrip=2)%00%(objectname)%00%(*objectname)",
                        "refs/tags/")
        found: dict[str, str] = {}
        for line in out.splitlines():
            name, target, peeled = line.split("\0")
            if name.startswith(prefix):
                found[name] = peeled or target
        return found

    def tag_message(self, name: str) -> str | None:
        """The message of an annotated tag; None for a plain one. NotFound if there is no tag."""
        tag = validate_tag(name)
        self._need_repo()
        out = self._git("for-each-ref", "--format=%(objecttype)%00%(contents)",
                        f"refs/tags/{tag}")
        if not out:
            raise NotFound(f"no tag {tag} in the config repo at {self.path}")
        kind, _, contents = out.partition("\0")
        return contents.rstrip("\n") if kind == "tag" else None

    # -- moving main ---------------------------------------------------------------

    def fetch_commit(self, source: ConfigRepo, sha: str) -> None:
        """Bring commit ``sha`` (and its history) from ``source`` into this one.

        git's upload-pack and pack-objects run in ``source`` and read its config,
        so ``source`` is a repo the daemon owns: the applied repo, or the daemon's
        copy of a proposal's objects. Raise NotFound if ``source`` lacks that commit.
        """
        commit = validate_sha(sha)
        source._need_repo()
        if self.has_commit(commit):
            return
        done = self._run("fetch", "--quiet", "--no-tags", "--no-recurse-submodules",
                         "--no-write-fetch-head", "--", str(source.path), commit,
                         config=FETCHING)
        if done.returncode != 0 and b"not our ref" not in done.stderr:
            raise self._failure("fetch", done)
        if done.returncode != 0 or not self.has_commit(commit):
            raise NotFound(f"commit {commit} is not in the proposed repo at {source.path}")

    def set_main(self, sha: str, force: bool = False) -> None:
        """Point ``main`` and the work tree at ``sha``, which must fast-forward it.

        ``force`` moves main anywhere: the rollback to an earlier deployed commit.
        """
        new = validate_sha(sha)
        self._need_commit(new)
        old = self._main_or_none()
        if old is not None and not force and not self._probe("merge-base", "--is-ancestor",
                                                             old, new):
            raise InvalidInput(f"{new} does not fast-forward main (at {old})",
                               hint="a rollback moves main with force=True")
        self._git("update-ref", "-m", "hyperhive: set main", MAIN, new, old or "")
        self._git("symbolic-ref", "HEAD", MAIN)
        self._git("reset", "--hard", "--quiet", new, "--")

    def _main_or_none(self) -> str | None:
        try:
            return self.head()
        except NotFound:
            return None


def _message(text: str) -> bytes:
    """A commit or tag message as git reads it on stdin; refuse what git would mangle."""
    if not isinstance(text, str) or not text.strip() or "\0" in text:
        raise InvalidInput("a commit or tag message must be non-empty text without NUL")
    return text.encode("utf-8")
