"""The model's side on its own uid: the wrapper's drop, the harness's files, the UI's secret.

These run as root (the test machines do), like the harness in its container.
The container itself is in tests/sandbox/test_model_uid.py.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path

import pytest

from hive_ag3nt.paths import AgentPaths
from hive_ag3nt.separation import (
    CLI_VAR,
    STATE_MODE,
    UID_VAR,
    copy_to_model,
    read_private,
    separate,
    wrapper_path,
    write_private,
)
from hive_c0re.errors import HiveError
from hive_c0re.lifecycle.ui_secret import SECRET_FILE, ensure_ui_secret, read_ui_secret

UID = 1000
pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="dropping privileges needs root")

REPORT = """\
import json, os
status = dict(line.split(":", 1) for line in open("/proc/self/status").read().splitlines())
print(json.dumps({"status": {k: v.strip() for k, v in status.items()},
                  "fds": sorted(int(fd) for fd in os.listdir("/proc/self/fd")),
                  "env": sorted(k for k in os.environ if k.startswith("HYPERHIVE_MODEL"))}))
"""


# The system's Python: uid 1000 may not reach this one (a pyenv under /root).
PYTHON = "/usr/bin/python3"


def as_model(*args: str, uid: int = UID,
             pass_fds: tuple[int, ...] = ()) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, CLI_VAR: PYTHON, UID_VAR: str(uid)}
    return subprocess.run([wrapper_path(), *args], env=env, capture_output=True, text=True,
                          check=False, timeout=30, pass_fds=pass_fds)


def test_the_wrapper_runs_the_program_as_the_model_with_nothing_of_root_left() -> None:
    kept = os.open("/dev/null", os.O_RDONLY)
    try:
        done = as_model("-I", "-c", REPORT, pass_fds=(kept,))
    finally:
        os.close(kept)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    status = found["status"]
    assert status["Uid"].split() == [str(UID)] * 4
    assert status["Gid"].split() == [str(UID)] * 4
    assert status["Groups"] == ""
    for cap in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
        assert int(status[cap], 16) == 0, cap
    assert status["NoNewPrivs"] == "1"
    assert kept not in found["fds"]  # only the pipes reach the model (and listdir's own fd)
    assert found["env"] == []  # the wrapper's own settings do not leak on


def test_the_wrapper_refuses_to_run_a_program_as_root() -> None:
    done = as_model("-c", "print('ran')", uid=0)
    assert done.returncode != 0
    assert "ran" not in done.stdout
    assert "must be positive" in done.stderr


def test_writing_a_harness_file_never_follows_a_link_the_model_planted(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("keep me\n")
    target = tmp_path / "hyperhive-model"
    (tmp_path / "hyperhive-model.new").symlink_to(victim)
    write_private(target, "sonnet\n")
    assert victim.read_text() == "keep me\n"
    assert target.read_text() == "sonnet\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    target.unlink()
    target.symlink_to(victim)  # a link in the file's own place is replaced, not followed
    write_private(target, "haiku\n")
    assert victim.read_text() == "keep me\n"
    assert not target.is_symlink() and target.read_text() == "haiku\n"


def test_the_harness_reads_only_its_own_files_never_a_link(tmp_path: Path) -> None:
    secret = tmp_path / "ui-secret"
    secret.write_text("the operator's\n")
    session = tmp_path / "hyperhive-session"
    session.symlink_to(secret)  # the model, after /new-session removed the real one
    assert read_private(session) is None
    session.unlink()
    session.write_text("planted\n")
    os.chown(session, UID, UID)  # the model's file in the harness's place
    assert read_private(session) is None
    write_private(session, "abc\n")
    assert read_private(session) == "abc\n"


def test_the_notes_backup_follows_no_link_and_is_the_models(tmp_path: Path) -> None:
    notes, backup = tmp_path / "notes.md", tmp_path / "notes.md.prev"
    victim = tmp_path / "profile"
    victim.write_text("root's\n")
    notes.write_text("my notes\n")
    backup.symlink_to(victim)  # the harness must not write through it
    copy_to_model(notes, backup, UID)
    assert victim.read_text() == "root's\n"
    assert backup.read_text() == "my notes\n" and backup.stat().st_uid == UID
    notes.unlink()
    notes.symlink_to(victim)  # nor read through one
    with pytest.raises(OSError):
        copy_to_model(notes, backup, UID)
    assert backup.read_text() == "my notes\n"


def layout(root: Path) -> AgentPaths:
    for part in ("state", "run", "root/.claude", "etc/hive", "repos/alice"):
        (root / part).mkdir(parents=True)
    return AgentPaths(state=root / "state", run=root / "run",
                      policy=root / "etc" / "hive" / "policy.json",
                      model_file=root / "state" / "hyperhive-model",
                      claude_config=root / "root" / ".claude",
                      model_owned=(root / "repos",))


def test_separate_gives_the_model_its_files_and_keeps_the_harnesss(tmp_path: Path) -> None:
    paths = layout(tmp_path)
    outside = tmp_path / "outside"
    outside.write_text("root's\n")
    (paths.state / "notes.md").write_text("notes\n")
    (paths.state / "work").mkdir()
    (paths.state / "work" / "draft").write_text("draft\n")
    (paths.state / "link").symlink_to(outside)  # re-owned itself, its target never
    (paths.claude_config / "credentials.json").write_text("{}")
    (paths.model_owned[0] / "alice" / "agent.toml").write_text("")
    events = paths.events
    events.write_text("")
    os.chown(events, UID, UID)  # not the harness's own file: removed
    (paths.state / "hyperhive-events.sqlite-wal").symlink_to(outside)  # a trap: removed
    paths.model_file.write_text("haiku\n")

    umask = os.umask(0o022)
    try:
        separate(paths, UID, tree=tmp_path)
    finally:
        os.umask(umask)

    def owner(path: Path) -> tuple[int, int]:
        st = path.lstat()
        return st.st_uid, st.st_gid

    state = paths.state.stat()
    assert (state.st_uid, state.st_gid, stat.S_IMODE(state.st_mode)) == (0, UID, STATE_MODE)
    assert stat.S_IMODE(paths.run.stat().st_mode) == 0o700
    assert not events.exists() and not (paths.state / "hyperhive-events.sqlite-wal").is_symlink()
    assert owner(paths.model_file) == (0, 0)
    assert stat.S_IMODE(paths.model_file.stat().st_mode) == 0o600
    for mine in (paths.state / "notes.md", paths.state / "work", paths.state / "work" / "draft",
                 paths.state / "link", paths.claude_config,
                 paths.claude_config / "credentials.json",
                 paths.model_owned[0] / "alice" / "agent.toml"):
        assert owner(mine) == (UID, UID), mine
    assert owner(outside) == (0, 0)
    assert stat.S_IMODE(paths.claude_config.stat().st_mode) == 0o700


def test_the_ui_secret_is_made_once_for_the_containers_root_only(tmp_path: Path) -> None:
    owner = 1_048_576
    victim = tmp_path / "victim"
    victim.write_text("keep me\n")
    (tmp_path / (SECRET_FILE + ".new")).symlink_to(victim)
    secret = ensure_ui_secret(tmp_path, owner)
    st = (tmp_path / SECRET_FILE).lstat()
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (owner, owner, 0o400)
    assert len(secret) >= 40 and victim.read_text() == "keep me\n"
    assert ensure_ui_secret(tmp_path, owner) == secret == read_ui_secret(tmp_path)


def test_reading_a_secret_that_was_never_made_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(HiveError, match="no UI secret") as raised:
        read_ui_secret(tmp_path)
    assert "rebuild" in (raised.value.hint or "")
    with pytest.raises(HiveError, match="does not exist"):
        read_ui_secret(tmp_path / "gone")
