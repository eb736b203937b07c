"""Config repos against the real git binary, in tmp_path repos."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from hive_c0re.client import Client
from hive_c0re.errors import HiveError, InvalidInput, NotFound
from hive_c0re.lifecycle.gitenv import (
    IDENTITY_EMAIL,
    IDENTITY_NAME,
    GitError,
    git_version_ok,
    parse_git_version,
    require_git,
)
from hive_c0re.lifecycle.gitrepo import (
    ConfigRepo,
    validate_repo_path,
    validate_sha,
    validate_tag,
)
from hive_c0re.lifecycle.proposed import ProposalTooLarge, ProposedRepos, rename_noreplace
from hive_c0re.paths import Paths
from hive_dev.daemon import DaemonProcess

SEED = 'model = "haiku"\n'


@pytest.fixture(autouse=True)
def _real_git(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HYPERHIVE_GIT", raising=False)


def manager_commit(repo: Path, files: dict[str, str], message: str,
                   branch: str = "main") -> str:
    """Commit in the proposed repo's work tree the way the manager would: plain git."""
    env = {"PATH": os.environ["PATH"], "HOME": str(repo), "GIT_CONFIG_NOSYSTEM": "1",
           "GIT_AUTHOR_NAME": "manager", "GIT_AUTHOR_EMAIL": "m@hive",
           "GIT_COMMITTER_NAME": "manager", "GIT_COMMITTER_EMAIL": "m@hive"}

    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(repo), *args], env=env, check=True,
                              capture_output=True, text=True).stdout.strip()

    if branch != "main":
        git("checkout", "-q", "-B", branch)
    for name, text in files.items():
        (repo / name).write_text(text)
        git("add", "--", name)
    git("commit", "-q", "-m", message)
    sha = git("rev-parse", "HEAD")
    if branch != "main":
        git("checkout", "-q", "main")
    return sha


@pytest.fixture
def proposed(tmp_path: Path) -> ConfigRepo:
    repo = ConfigRepo(tmp_path / "agents" / "alice" / "config")
    repo.init({"agent.toml": SEED}, "seed config for alice")
    return repo


@pytest.fixture
def applied(tmp_path: Path, proposed: ConfigRepo) -> ConfigRepo:
    repo = ConfigRepo(tmp_path / "applied" / "alice")
    repo.init_from(proposed)
    return repo


# -- validation ----------------------------------------------------------------------

HOSTILE_REFS = ["../x", "a;b", "--flag", "-c core.pager=evil", "main", "HEAD", "HEAD~1",
                "refs/heads/main", "abc1234", "0" * 39, "A" * 40, "0" * 41, "0" * 40 + "\n",
                " " + "0" * 40, "", None, 12]


@pytest.mark.parametrize("value", HOSTILE_REFS)
def test_validate_sha_refuses_anything_but_a_full_sha(value: object) -> None:
    with pytest.raises(InvalidInput, match="is not a full commit sha"):
        validate_sha(value)


def test_validate_sha_takes_sha1_and_sha256() -> None:
    assert validate_sha("a" * 40) == "a" * 40
    assert validate_sha("0123456789abcdef" * 4) == "0123456789abcdef" * 4


@pytest.mark.parametrize("value", ["approved/1", "proposal/12", "building/3", "deployed/40",
                                   "failed/5", "denied/6"])
def test_validate_tag_takes_the_hive_tags(value: str) -> None:
    assert validate_tag(value) == value


@pytest.mark.parametrize("value", ["approved/", "approved/x", "v1.0", "deployed/1/2",
                                   "../approved/1", "approved/1\n", "-c x", "main", None])
def test_validate_tag_refuses_other_names(value: object) -> None:
    with pytest.raises(InvalidInput, match="is not a hive tag"):
        validate_tag(value)


@pytest.mark.parametrize("value", ["../x", "/etc/passwd", "a/../b", ".git/config",
                                   "sub/.GIT/x", "a//b", "./a", "a/", "", "-c", "a\nb",
                                   "a\0b", None])
def test_validate_repo_path_refuses_escapes(value: object) -> None:
    with pytest.raises(InvalidInput, match="is not a file path in the config repo"):
        validate_repo_path(value)


# -- creating and reading ------------------------------------------------------------


def test_init_makes_main_with_one_commit_by_hyperhive(proposed: ConfigRepo) -> None:
    assert proposed.exists()
    head = proposed.head()
    assert validate_sha(head) == head
    assert proposed.log() == [(head, "seed config for alice")]
    assert proposed.read_file(head, "agent.toml") == SEED
    assert (proposed.path / "agent.toml").read_text() == SEED
    who = subprocess.run(["git", "-C", str(proposed.path), "log", "-1", "--format=%an <%ae>"],
                         capture_output=True, text=True, check=True).stdout.strip()
    assert who == f"{IDENTITY_NAME} <{IDENTITY_EMAIL}>"
    branch = subprocess.run(["git", "-C", str(proposed.path), "symbolic-ref", "HEAD"],
                            capture_output=True, text=True, check=True).stdout.strip()
    assert branch == "refs/heads/main"


def test_init_writes_nested_files_and_keeps_messages_verbatim(tmp_path: Path) -> None:
    repo = ConfigRepo(tmp_path / "r")
    sha = repo.init({"agent.toml": SEED, "nix/agent.nix": "{ }\n"},
                    "# not a comment\n\nbody line")
    assert repo.read_file(sha, "nix/agent.nix") == "{ }\n"
    assert repo.log(1) == [(sha, "# not a comment")]


def test_init_refuses_an_existing_repo_or_a_full_directory(proposed: ConfigRepo,
                                                           tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="already exists"):
        proposed.init({}, "again")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "stray").write_text("x")
    with pytest.raises(InvalidInput, match="not empty"):
        ConfigRepo(tmp_path / "full").init({}, "seed")


def test_init_checks_every_path_and_the_message_before_creating(tmp_path: Path) -> None:
    repo = ConfigRepo(tmp_path / "r")
    with pytest.raises(InvalidInput):
        repo.init({"agent.toml": SEED, "../escape": "x"}, "seed")
    with pytest.raises(InvalidInput, match="message"):
        repo.init({"agent.toml": SEED}, "  ")
    assert not repo.exists() and not (tmp_path / "escape").exists()


def test_missing_repo_is_not_found(tmp_path: Path) -> None:
    repo = ConfigRepo(tmp_path / "nothing")
    assert not repo.exists()
    with pytest.raises(NotFound, match="no config repo"):
        repo.head()
    with pytest.raises(NotFound, match="no config repo"):
        repo.has_commit("0" * 40)


def test_read_file_missing_path_tree_and_binary(tmp_path: Path) -> None:
    repo = ConfigRepo(tmp_path / "r")
    sha = repo.init({"agent.toml": SEED, "sub/x": "y"}, "seed")
    assert repo.read_file(sha, "absent.toml") is None
    with pytest.raises(InvalidInput, match="is not a file"):
        repo.read_file(sha, "sub")
    (repo.path / "blob").write_bytes(b"\xff\xfe")
    subprocess.run(["git", "-C", str(repo.path), "add", "blob"], check=True)
    subprocess.run(["git", "-C", str(repo.path), "-c", "user.name=x", "-c", "user.email=x@x",
                    "commit", "-qm", "binary"], check=True)
    with pytest.raises(InvalidInput, match="not UTF-8"):
        repo.read_file(repo.head(), "blob")


def test_log_length_is_checked(proposed: ConfigRepo) -> None:
    for bad in (0, -1, 10_001, True):
        with pytest.raises(InvalidInput, match="from 1 to 10000"):
            proposed.log(bad)


# -- tags ----------------------------------------------------------------------------


def test_tags_plain_and_annotated(applied: ConfigRepo) -> None:
    head = applied.head()
    applied.tag("proposal/1", head)
    applied.tag("approved/1", head)
    error = "build failed:\n  # line 3: attribute missing\n"
    applied.tag("failed/1", head, message=error)
    assert applied.tags() == {"proposal/1": head, "approved/1": head, "failed/1": head}
    assert applied.tags("failed/") == {"failed/1": head}
    assert applied.tags("approved") == {"approved/1": head}
    assert applied.tag_message("failed/1") == error.rstrip("\n")
    assert applied.tag_message("approved/1") is None
    with pytest.raises(NotFound, match="no tag denied/1"):
        applied.tag_message("denied/1")


def test_tags_never_move(applied: ConfigRepo, proposed: ConfigRepo) -> None:
    first = applied.head()
    applied.tag("deployed/1", first)
    second = manager_commit(proposed.path, {"agent.toml": 'model = "opus"\n'}, "opus")
    applied.fetch_commit(proposed, second)
    for sha in (first, second):
        with pytest.raises(InvalidInput, match=r"already exists.*tags never move"):
            applied.tag("deployed/1", sha, message="again")
    assert applied.tags() == {"deployed/1": first}


def test_tag_on_a_commit_not_here_is_not_found(applied: ConfigRepo) -> None:
    with pytest.raises(NotFound, match="is not in the config repo"):
        applied.tag("approved/2", "1" * 40)


# -- proposals: fetch, main, diff, rollback -----------------------------------------


def test_init_from_copies_main_with_history(proposed: ConfigRepo, tmp_path: Path) -> None:
    second = manager_commit(proposed.path, {"agent.toml": 'model = "opus"\n'}, "opus")
    copy = ConfigRepo(tmp_path / "copy")
    assert copy.init_from(proposed) == second
    assert copy.head() == second
    assert [subject for _, subject in copy.log()] == ["opus", "seed config for alice"]
    assert (copy.path / "agent.toml").read_text() == 'model = "opus"\n'
    remotes = subprocess.run(["git", "-C", str(copy.path), "remote"], capture_output=True,
                             text=True, check=True).stdout
    assert remotes == ""


def test_init_from_an_empty_source_fails_cleanly(tmp_path: Path) -> None:
    source = tmp_path / "src"
    subprocess.run(["git", "init", "-q", "-b", "main", str(source)], check=True)
    target = ConfigRepo(tmp_path / "dst")
    with pytest.raises(NotFound, match="has no main branch"):
        target.init_from(ConfigRepo(source))
    assert not target.exists()


def test_fetch_a_proposal_then_fast_forward_diff_and_roll_back(
        applied: ConfigRepo, proposed: ConfigRepo) -> None:
    first = applied.head()
    second = manager_commit(proposed.path, {"agent.toml": 'model = "sonnet"\n',
                                            "notes.txt": "hello\n"}, "use sonnet")
    assert not applied.has_commit(second)
    applied.fetch_commit(proposed, second)
    assert applied.has_commit(second)
    applied.fetch_commit(proposed, second)  # already here: nothing to do
    assert applied.read_file(second, "agent.toml") == 'model = "sonnet"\n'
    assert applied.head() == first  # fetching never moves main

    change = applied.diff(first, second)
    assert '-model = "haiku"' in change and '+model = "sonnet"' in change
    assert "+++ b/notes.txt" in change
    whole = applied.diff(None, first)
    assert '+model = "haiku"' in whole and "new file mode" in whole

    applied.set_main(second)
    assert applied.head() == second
    assert (applied.path / "agent.toml").read_text() == 'model = "sonnet"\n'
    assert (applied.path / "notes.txt").read_text() == "hello\n"

    with pytest.raises(InvalidInput, match="does not fast-forward"):
        applied.set_main(first)
    applied.set_main(first, force=True)
    assert applied.head() == first
    assert (applied.path / "agent.toml").read_text() == SEED
    assert not (applied.path / "notes.txt").exists()


def test_fetch_a_commit_off_main(applied: ConfigRepo, proposed: ConfigRepo) -> None:
    side = manager_commit(proposed.path, {"agent.toml": 'model = "opus"\n'}, "try opus",
                          branch="experiment")
    applied.fetch_commit(proposed, side)
    assert applied.read_file(side, "agent.toml") == 'model = "opus"\n'
    with pytest.raises(NotFound, match="is not in the config repo"):
        applied.set_main(manager_commit(proposed.path, {"x": "1"}, "x"))  # not fetched yet
    # a sibling of main is neither ahead nor behind
    sibling = manager_commit(proposed.path, {"agent.toml": 'model = "sonnet"\n'}, "s",
                             branch="other")
    applied.fetch_commit(proposed, sibling)
    main_next = manager_commit(proposed.path, {"y": "1"}, "y")
    applied.fetch_commit(proposed, main_next)
    applied.set_main(main_next)
    with pytest.raises(InvalidInput, match="does not fast-forward"):
        applied.set_main(sibling)


def test_set_main_to_a_missing_commit_is_not_found(applied: ConfigRepo) -> None:
    with pytest.raises(NotFound, match="is not in the config repo"):
        applied.set_main("2" * 40, force=True)


# -- nothing hostile reaches git ------------------------------------------------------


@pytest.fixture
def recorded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[], list[str]]:
    """Point HYPERHIVE_GIT at a wrapper that logs each run, then runs the real git."""
    log = tmp_path / "git-calls.log"
    wrapper = tmp_path / "recording-git"
    wrapper.write_text(f'#!/bin/sh\nprintf "%s\\n" "$*" >> "{log}"\nexec git "$@"\n')
    wrapper.chmod(0o755)
    monkeypatch.setenv("HYPERHIVE_GIT", str(wrapper))

    def calls() -> list[str]:
        return log.read_text().splitlines() if log.exists() else []
    return calls


def _every_use(repo: ConfigRepo, source: ConfigRepo, ref: object) -> list[Callable[[], object]]:
    good = "a" * 40
    uses: list[Callable[[], object]] = [
        lambda: repo.has_commit(ref),  # type: ignore[arg-type]
        lambda: repo.read_file(ref, "agent.toml"),  # type: ignore[arg-type]
        lambda: repo.fetch_commit(source, ref),  # type: ignore[arg-type]
        lambda: repo.set_main(ref),  # type: ignore[arg-type]
        lambda: repo.set_main(ref, force=True),  # type: ignore[arg-type]
        lambda: repo.diff(good, ref),  # type: ignore[arg-type]
        lambda: repo.tag("approved/1", ref),  # type: ignore[arg-type]
        lambda: repo.tag(ref, good),  # type: ignore[arg-type]
        lambda: repo.tag_message(ref),  # type: ignore[arg-type]
    ]
    if ref is not None:  # None is the base of a whole-tree diff
        uses.append(lambda: repo.diff(ref, good))  # type: ignore[arg-type]
    return uses


@pytest.mark.parametrize("ref", HOSTILE_REFS)
def test_hostile_refs_are_refused_before_git_runs(
        applied: ConfigRepo, proposed: ConfigRepo, recorded: Callable[[], list[str]],
        ref: object) -> None:
    repo, source = ConfigRepo(applied.path), ConfigRepo(proposed.path)
    assert repo.git.endswith("recording-git")
    for use in _every_use(repo, source, ref):
        with pytest.raises(InvalidInput):
            use()
    assert recorded() == []


HOSTILE_PATHS = ["../x", "/etc/passwd", ".git/config", "-c core.pager=evil", "--flag",
                 "a/../../b", "x\n", ""]


@pytest.mark.parametrize("path", HOSTILE_PATHS)
def test_hostile_paths_are_refused_before_git_runs(
        applied: ConfigRepo, recorded: Callable[[], list[str]], path: str) -> None:
    repo = ConfigRepo(applied.path)
    with pytest.raises(InvalidInput, match="is not a file path"):
        repo.read_file("a" * 40, path)
    with pytest.raises(InvalidInput, match="is not a file path"):
        ConfigRepo(applied.path.parent / "new").init({path: "x"}, "seed")
    assert recorded() == []


def test_a_full_sha_not_proposed_reaches_git_and_is_not_found(
        applied: ConfigRepo, proposed: ConfigRepo, recorded: Callable[[], list[str]]) -> None:
    repo, source = ConfigRepo(applied.path), ConfigRepo(proposed.path)
    missing = "3" * 40
    assert not repo.has_commit(missing)
    assert any("cat-file -e " + missing in call for call in recorded())
    with pytest.raises(NotFound, match=f"commit {missing} is not in the proposed repo"):
        repo.fetch_commit(source, missing)
    assert any(" fetch " in call and call.endswith(missing) for call in recorded())
    with pytest.raises(NotFound):
        repo.read_file(missing, "agent.toml")


def test_real_git_is_used_through_the_recorder(applied: ConfigRepo,
                                               recorded: Callable[[], list[str]]) -> None:
    repo = ConfigRepo(applied.path)
    head = repo.head()
    repo.tag("proposal/9", head)
    assert repo.tags() == {"proposal/9": head}
    calls = recorded()
    assert any(" rev-parse " in call for call in calls)
    assert any(" tag -- proposal/9 " + head in call for call in calls)


# -- git's environment and errors ----------------------------------------------------


def test_git_runs_with_a_clean_fixed_environment(
        applied: ConfigRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dump = tmp_path / "env.txt"
    wrapper = tmp_path / "env-git"
    wrapper.write_text(f'#!/bin/sh\nenv > "{dump}"\nprintf "%s\\n" "$@" >> "{dump}.argv"\n'
                       'exec git "$@"\n')
    wrapper.chmod(0o755)
    monkeypatch.setenv("HYPERHIVE_GIT", str(wrapper))
    monkeypatch.setenv("GIT_DIR", str(tmp_path / "elsewhere"))
    monkeypatch.setenv("GIT_CONFIG_PARAMETERS", "'core.pager'='evil'")
    ConfigRepo(applied.path).head()
    env = dict(line.split("=", 1) for line in dump.read_text().splitlines() if "=" in line)
    assert env["GIT_CONFIG_NOSYSTEM"] == "1"
    assert env["GIT_CONFIG_GLOBAL"] == os.devnull
    assert env["LC_ALL"] == "C"
    assert env["GIT_AUTHOR_NAME"] == env["GIT_COMMITTER_NAME"] == IDENTITY_NAME
    assert "GIT_DIR" not in env and "GIT_CONFIG_PARAMETERS" not in env
    argv = Path(f"{dump}.argv").read_text().splitlines()
    assert f"--git-dir={applied.path / '.git'}" in argv
    assert "core.hooksPath=/dev/null" in argv


def test_repo_config_and_hooks_cannot_run_programs(applied: ConfigRepo, proposed: ConfigRepo,
                                                   tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    evil = tmp_path / "evil"
    evil.write_text(f'#!/bin/sh\ntouch "{marker}"\n')
    evil.chmod(0o755)
    for hook in ("reference-transaction", "post-checkout", "pre-commit", "post-commit"):
        target = applied.path / ".git" / "hooks" / hook
        target.parent.mkdir(exist_ok=True)
        target.write_text(evil.read_text())
        target.chmod(0o755)
    with (applied.path / ".git" / "config").open("a") as config:
        config.write(f"[core]\n\tfsmonitor = {evil}\n\tpager = {evil}\n"
                     f"[diff]\n\texternal = {evil}\n[tag]\n\tgpgSign = true\n"
                     f"[gpg]\n\tprogram = {evil}\n")
    second = manager_commit(proposed.path, {"agent.toml": 'model = "opus"\n'}, "opus")
    applied.fetch_commit(proposed, second)
    applied.diff(applied.head(), second)
    applied.set_main(second)
    applied.tag("deployed/1", second, message="ok")
    assert not marker.exists()
    # The trap is armed: plain git in that repo does run it.
    subprocess.run(["git", "-C", str(applied.path), "status"], check=False,
                   capture_output=True,
                   env={"PATH": os.environ["PATH"], "GIT_CONFIG_NOSYSTEM": "1", "HOME": "/"})
    assert marker.exists()


def test_git_failures_carry_stderr(applied: ConfigRepo, tmp_path: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    broken = tmp_path / "broken-git"
    broken.write_text('#!/bin/sh\necho "fatal: the disk is on fire" >&2\nexit 128\n')
    broken.chmod(0o755)
    monkeypatch.setenv("HYPERHIVE_GIT", str(broken))
    with pytest.raises(GitError, match="the disk is on fire") as caught:
        ConfigRepo(applied.path).tags()
    assert isinstance(caught.value, HiveError)


def test_a_missing_git_binary_says_so(applied: ConfigRepo,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HYPERHIVE_GIT", "/nonexistent/git")
    with pytest.raises(GitError, match="git not found: /nonexistent/git") as caught:
        ConfigRepo(applied.path).tags()
    assert caught.value.hint and "HYPERHIVE_GIT" in caught.value.hint


# -- the git version ------------------------------------------------------------------


@pytest.mark.parametrize(("text", "version"), [
    ("git version 2.39.5\n", (2, 39, 5)),
    ("git version 2.45.1.windows.1", (2, 45, 1)),
    ("git version 2.39.3 (Apple Git-146)", (2, 39, 3)),
    ("git version 3.0", (3, 0, 0)),
])
def test_git_version_is_parsed(text: str, version: tuple[int, int, int]) -> None:
    assert parse_git_version(text) == version


@pytest.mark.parametrize("text", ["", "hub version 2.39.5", "git version two", "2.39.5"])
def test_unparseable_git_version_is_refused(text: str) -> None:
    with pytest.raises(GitError, match="cannot tell git's version"):
        parse_git_version(text)


@pytest.mark.parametrize(("version", "ok"), [
    ((2, 39, 3), False), ((2, 39, 4), True), ((2, 38, 9), False), ((1, 99, 99), False),
    ((2, 40, 1), False), ((2, 40, 2), True), ((2, 43, 3), False), ((2, 43, 4), True),
    ((2, 45, 0), False), ((2, 45, 1), True), ((2, 46, 0), True), ((3, 0, 0), True),
])
def test_git_version_needs_the_fixes_of_its_series(version: tuple[int, int, int],
                                                   ok: bool) -> None:
    assert git_version_ok(version) is ok


def test_a_too_old_git_is_refused_naming_its_version(
        applied: ConfigRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    old = tmp_path / "old-git"
    ran = tmp_path / "ran"
    old.write_text('#!/bin/sh\nif [ "$1" = --version ]; then echo "git version 2.39.2"; '
                   f'exit 0; fi\ntouch "{ran}"\nexec git "$@"\n')
    old.chmod(0o755)
    monkeypatch.setenv("HYPERHIVE_GIT", str(old))
    with pytest.raises(GitError, match=r"git 2\.39\.2 at .*old-git is too old") as caught:
        ConfigRepo(applied.path).head()
    assert caught.value.hint and "upgrade git" in caught.value.hint
    assert not ran.exists()  # refused before any other git verb ran
    assert require_git("git") >= (2, 39, 4)  # the real one passes


# -- proposed repos: handed over, read from a bounded copy ------------------------------


@pytest.fixture
def hive_paths(tmp_path: Path) -> Paths:
    return Paths(state=tmp_path / "state", runtime=tmp_path / "run")


def objects_in(repo: ConfigRepo) -> list[str]:
    found = subprocess.run(["git", "-C", str(repo.path), "cat-file", "--batch-all-objects",
                            "--batch-check=%(objectname)"], capture_output=True, text=True,
                           check=True).stdout
    return sorted(found.split())


def test_seed_builds_applied_then_hands_over_a_copy(hive_paths: Paths) -> None:
    repos = ProposedRepos(hive_paths, 1 << 20)
    assert repos.seed("alice")
    applied = ConfigRepo(hive_paths.applied_repo("alice"))
    proposed = ConfigRepo(hive_paths.proposed_repo("alice"))
    assert proposed.head() == applied.head()
    assert (proposed.path / "agent.toml").read_text() == applied.read_file(applied.head(),
                                                                           "agent.toml")
    assert list(hive_paths.scratch.iterdir()) == []  # nothing left behind
    assert not repos.seed("alice")  # there already: left alone


def test_a_new_agents_repos_take_no_git_process_once_the_seed_exists(
        hive_paths: Paths, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Spawning runs git for the seed repo once; every new agent after that is copies."""
    ran = tmp_path / "ran.log"
    wrapper = tmp_path / "git"
    real = shutil.which("git")
    wrapper.write_text(f'#!/bin/sh\necho "$*" >> {ran}\nexec {real} "$@"\n')
    wrapper.chmod(0o755)
    monkeypatch.setenv("HYPERHIVE_GIT", str(wrapper))
    repos = ProposedRepos(hive_paths, 1 << 20)
    assert repos.seed("alice")
    assert ran.exists()  # the seed repo: init, add, commit (and its head)
    ran.unlink()
    assert repos.seed("bob")
    assert not ran.exists()
    applied = ConfigRepo(hive_paths.applied_repo("bob"))
    proposed = ConfigRepo(hive_paths.proposed_repo("bob"))
    assert applied.head() == proposed.head() == ConfigRepo(hive_paths.applied_repo("alice")).head()
    assert applied.log() == [(applied.head(), "seed config")]
    status = subprocess.run(["git", "-C", str(proposed.path), "status", "--porcelain"],
                            capture_output=True, text=True, check=True)
    assert status.stdout == ""  # a clean work tree, as a clone would leave it


def test_seed_never_follows_or_replaces_what_sits_at_the_name(hive_paths: Paths,
                                                              tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.mkdir()
    hive_paths.proposed_root.mkdir(parents=True)
    hive_paths.proposed_repo("alice").symlink_to(victim)
    repos = ProposedRepos(hive_paths, 1 << 20)
    assert not repos.seed("alice")
    assert list(victim.iterdir()) == []
    assert os.readlink(hive_paths.proposed_repo("alice")) == str(victim)
    assert ConfigRepo(hive_paths.applied_repo("alice")).exists()  # the agent still gets one
    with pytest.raises(InvalidInput, match="not a plain git directory"):
        repos.fetch("alice", repos.applied("alice"), "a" * 40)


def test_a_new_agents_repos_are_copies_of_a_packed_seed_without_templates(
        hive_paths: Paths) -> None:
    """Each new agent copies the seed twice, file by file: it holds only what git needs."""
    repos = ProposedRepos(hive_paths, 1 << 20)
    assert repos.seed("alice")
    for repo in (ConfigRepo(hive_paths.applied_repo("alice")),
                 ConfigRepo(hive_paths.proposed_repo("alice"))):
        git = repo.path / ".git"
        assert not (git / "hooks").exists() and not (git / "description").exists()
        loose = [d for d in (git / "objects").iterdir() if d.name not in ("pack", "info")]
        assert loose == []
        assert len(list((git / "objects" / "pack").glob("pack-*.pack"))) == 1
        assert repo.log() == [(repo.head(), "seed config")]
        assert repo.read_file(repo.head(), "agent.toml") is not None
    # The manager's commit on top of it is read through the bounded copy of its objects.
    proposed = hive_paths.proposed_repo("alice")
    (proposed / "agent.toml").write_text(SEED)
    for argv in (["add", "agent.toml"], ["-c", "user.name=m", "-c", "user.email=m@x",
                                          "commit", "-qm", "change"]):
        subprocess.run(["git", "-C", str(proposed), *argv], check=True)
    sha = ConfigRepo(proposed).head()
    applied = repos.applied("alice")
    repos.fetch("alice", applied, sha)
    assert applied.read_file(sha, "agent.toml") == SEED


def test_the_rename_itself_never_replaces(hive_paths: Paths, tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").symlink_to(tmp_path / "elsewhere")
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        with pytest.raises(FileExistsError):
            rename_noreplace(fd, "a", fd, "b")
        rename_noreplace(fd, "a", fd, "c")
    finally:
        os.close(fd)
    assert (tmp_path / "c").is_dir() and (tmp_path / "b").is_symlink()


@pytest.fixture
def seeded(hive_paths: Paths) -> tuple[ProposedRepos, ConfigRepo, ConfigRepo]:
    repos = ProposedRepos(hive_paths, 256 * 1024)
    repos.seed("alice")
    return (repos, ConfigRepo(hive_paths.applied_repo("alice")),
            ConfigRepo(hive_paths.proposed_repo("alice")))


def test_a_proposal_is_fetched_through_a_copy(
        seeded: tuple[ProposedRepos, ConfigRepo, ConfigRepo], tmp_path: Path) -> None:
    repos, applied, proposed = seeded
    sha = manager_commit(proposed.path, {"agent.toml": 'model = "sonnet"\n'}, "sonnet")
    marker = tmp_path / "ran"
    # What the manager's config could ask of a git that read it: none of it runs.
    with (proposed.path / ".git" / "config").open("a") as config:
        config.write(f'[uploadpack]\n\tpackObjectsHook = touch "{marker}"\n'
                     f'[core]\n\tfsmonitor = touch "{marker}"\n'
                     f'[include]\n\tpath = /etc/shadow\n')
    other = ConfigRepo(tmp_path / "other")
    other.init({"agent.toml": 'model = "opus"\n'}, "someone else's")
    (proposed.path / ".git" / "objects" / "info").mkdir(exist_ok=True)
    (proposed.path / ".git" / "objects" / "info" / "alternates").write_text(
        str(other.path / ".git" / "objects") + "\n")
    repos.fetch("alice", applied, sha)
    assert applied.read_file(sha, "agent.toml") == 'model = "sonnet"\n'
    assert not marker.exists()
    with pytest.raises(NotFound, match="is not in alice's proposed config repo"):
        repos.fetch("alice", applied, other.head())  # only through the alternates


@pytest.mark.parametrize("content", ["random", "zeros"])
def test_a_proposal_over_the_bound_is_refused_and_leaves_applied_clean(
        seeded: tuple[ProposedRepos, ConfigRepo, ConfigRepo], content: str) -> None:
    repos, applied, proposed = seeded
    # Random bytes are big on disk; zeros pack small and unpack big.
    blob = os.urandom(300 * 1024) if content == "random" else bytes(64 * 1024 * 1024)
    (proposed.path / "big").write_bytes(blob)
    subprocess.run(["git", "-C", str(proposed.path), "add", "big"], check=True)
    sha = manager_commit(proposed.path, {"agent.toml": 'model = "sonnet"\n'}, "big")
    before = objects_in(applied)
    with pytest.raises(ProposalTooLarge, match=r"more than 262144 bytes") as caught:
        repos.fetch("alice", applied, sha)
    assert caught.value.hint and "proposal_max_bytes" in caught.value.hint
    assert objects_in(applied) == before and not applied.has_commit(sha)
    assert list(repos.paths.scratch.iterdir()) == []


def test_symlinks_and_gitfiles_in_a_proposed_repo_are_refused(
        seeded: tuple[ProposedRepos, ConfigRepo, ConfigRepo], tmp_path: Path) -> None:
    repos, applied, proposed = seeded
    sha = manager_commit(proposed.path, {"agent.toml": 'model = "sonnet"\n'}, "sonnet")
    objects = proposed.path / ".git" / "objects"
    loose = next(p for p in objects.iterdir() if len(p.name) == 2)
    entry = next(loose.iterdir())
    saved = entry.read_bytes()
    entry.unlink()
    entry.symlink_to("/etc/shadow")
    with pytest.raises(InvalidInput, match="is a symlink"):
        repos.fetch("alice", applied, sha)
    entry.unlink()
    entry.write_bytes(saved)
    dot_git = proposed.path / ".git"
    dot_git.rename(tmp_path / "moved")
    dot_git.write_text(f"gitdir: {tmp_path / 'moved'}\n")
    with pytest.raises(InvalidInput, match="not a plain git directory"):
        repos.fetch("alice", applied, sha)
    dot_git.unlink()
    (tmp_path / "moved").rename(dot_git)
    repos.fetch("alice", applied, sha)
    assert applied.has_commit(sha)


def test_the_daemon_says_at_start_that_git_is_too_old_and_keeps_serving(
        tmp_path: Path) -> None:
    old = tmp_path / "old-git"
    old.write_text('#!/bin/sh\necho "git version 2.39.2"\n')
    old.chmod(0o755)
    daemon = DaemonProcess(git=str(old))
    try:
        log = daemon.root / "daemon.log"
        deadline = time.monotonic() + 30
        while "git 2.39.2" not in log.read_text():
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        assert "is too old" in log.read_text()
        with Client(daemon.host_socket) as client:
            assert client.call("whoami")["name"] == "operator"
    finally:
        assert daemon.stop() == 0
        shutil.rmtree(daemon.root, ignore_errors=True)


def test_a_committed_gitattributes_cannot_hide_a_diff_as_binary(
        applied: ConfigRepo, proposed: ConfigRepo) -> None:
    # Deployed, the attributes sit in the applied work tree, where git diff reads them.
    marked = manager_commit(proposed.path, {".gitattributes": "* -diff binary\n"}, "attrs")
    applied.fetch_commit(proposed, marked)
    applied.set_main(marked)
    hidden = manager_commit(proposed.path, {"agent.toml": 'model = "opus"\n'}, "opus")
    applied.fetch_commit(proposed, hidden)
    change = applied.diff(marked, hidden)
    assert '+model = "opus"' in change and "Binary files" not in change, change
