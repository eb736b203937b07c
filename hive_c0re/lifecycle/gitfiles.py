"""Files of a config repo the daemon reads or writes itself, without running git."""

from __future__ import annotations

import shutil
from pathlib import Path

from hive_c0re.errors import InvalidInput

# What ``git init`` writes: a clone's copy gets this config instead of its own.
_INIT_CONFIG = ("[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n\tbare = false\n"
                "\tlogallrefupdates = true\n")


def forget_origin(git_dir: Path) -> None:
    """Drop what ``git clone`` keeps of its source: the remote and its tracking refs."""
    (git_dir / "config").write_text(_INIT_CONFIG)
    for tracking in (git_dir / "refs" / "remotes", git_dir / "logs" / "refs" / "remotes"):
        shutil.rmtree(tracking, ignore_errors=True)
    packed = git_dir / "packed-refs"
    if not packed.exists():
        return
    kept: list[str] = []
    dropping = False
    for line in packed.read_text().splitlines(keepends=True):
        if not line.startswith("^"):  # "^<sha>" is the peeled tag of the ref line above it
            dropping = line.rstrip("\n").partition(" ")[2].startswith("refs/remotes/")
        if not dropping:
            kept.append(line)
    packed.write_text("".join(kept))


def blob_text(commit: str, name: str, blob: tuple[str, str, bytes] | None) -> str | None:
    """What ``ConfigRepo.read_file`` answers for one ``contents`` answer."""
    if blob is None:
        return None
    if blob[1] != "blob":
        raise InvalidInput(f"{name} at {commit} is not a file")
    try:
        return blob[2].decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput(f"{name} at {commit} is not UTF-8 text") from None


def copy_repo(source: Path, target: Path) -> None:
    """Copy a repo the daemon made and no container can write (the seed), file by file.

    As ``cp -a`` would: symlinks copied as links, never followed; ``target``
    must not exist yet, or be an empty directory.
    """
    if target.is_dir() and not target.is_symlink() and not any(target.iterdir()):
        target.rmdir()
    shutil.copytree(source, target, symlinks=True)
