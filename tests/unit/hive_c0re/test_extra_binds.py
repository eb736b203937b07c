"""The extra_read_only_binds setting: what a development agent command needs, bound in."""

from __future__ import annotations

from pathlib import Path

from hive_c0re.lifecycle.backend import ContainerSpec
from hive_c0re.lifecycle.nspawn import nspawn_argv
from hive_c0re.settings import Settings

BASE = 0x10000000


def test_extra_read_only_binds_are_colon_separated_paths() -> None:
    settings = Settings.load(environ={"HYPERHIVE_EXTRA_READ_ONLY_BINDS": "/srv/a::/srv/b"})
    assert settings.read_only_binds() == (Path("/srv/a"), Path("/srv/b"))
    assert Settings.load(environ={}).read_only_binds() == ()


def test_a_read_only_bind_lands_at_the_same_path_without_idmap(tmp_path: Path) -> None:
    spec = ContainerSpec(
        name="alice", runtime_dir=tmp_path / "run", state_dir=tmp_path / "state",
        claude_dir=tmp_path / "claude", policy_dir=tmp_path / "policy", command=["true"],
        uid_base=BASE, read_only_binds=[Path("/srv/dev")])
    argv = nspawn_argv(spec, tmp_path / "root")
    assert "--bind-ro=/srv/dev" in argv[:argv.index("--")]
