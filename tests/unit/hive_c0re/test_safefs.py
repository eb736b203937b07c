"""Handing trees and sockets over without following a path: with a real race thread."""

from __future__ import annotations

import ctypes
import os
import socket
import stat
import threading
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

import pytest

from hive_c0re.errors import HiveError
from hive_c0re.lifecycle import rootfs
from hive_c0re.lifecycle.backend import ContainerSpec
from hive_c0re.lifecycle.nspawn import HostSide, check_executables
from hive_c0re.lifecycle.safefs import (
    give_tree,
    hand_over_socket,
    make_below,
    open_dir,
    replace_file,
)
from hive_c0re.lifecycle.uids import (
    FIRST_AGENT_BASE,
    LAST_AGENT_BASE,
    MANAGER_BASE,
    NSPAWN_PICK_MAX,
    UID_RANGE,
    check_agent_base,
)
from hive_c0re.settings import SETTINGS

BASE = FIRST_AGENT_BASE
as_root = pytest.mark.skipif(os.geteuid() != 0, reason="chown to another uid needs root")
SYS_RENAMEAT2 = 316  # x86_64
AT_FDCWD = -100
RENAME_EXCHANGE = 2


@pytest.fixture
def host(tmp_path: Path) -> Path:
    """A host directory the container must never reach, with a file standing in for
    /etc/shadow."""
    directory = tmp_path / "host"
    directory.mkdir()
    (directory / "shadow").write_text("secret\n")
    (directory / "shadow").chmod(0o640)
    return directory


def owner(path: Path) -> tuple[int, int]:
    st = path.lstat()
    return st.st_uid, st.st_gid


@pytest.fixture
def exchanging(tmp_path: Path, host: Path) -> Iterator[Path]:
    """A container tree whose ``d`` and ``l`` (a symlink to ``host``) swap places, as
    fast as renameat2(RENAME_EXCHANGE) goes, while the test runs."""
    if os.uname().machine != "x86_64":
        pytest.skip("the syscall number is x86_64's")
    tree = tmp_path / "agent" / "state"
    tree.mkdir(parents=True)
    (tree / "d").mkdir()
    (tree / "d" / "inside").touch()
    (tree / "l").symlink_to(host)
    libc = ctypes.CDLL(None, use_errno=True)
    stop = threading.Event()
    d, link = str(tree / "d").encode(), str(tree / "l").encode()

    def swap() -> None:
        while not stop.is_set():
            libc.syscall(SYS_RENAMEAT2, AT_FDCWD, d, AT_FDCWD, link, RENAME_EXCHANGE)

    thread = threading.Thread(target=swap, daemon=True)
    thread.start()
    try:
        yield tree
    finally:
        stop.set()
        thread.join()


@as_root
def test_a_directory_exchanged_with_a_symlink_never_reowns_the_host_file(
        exchanging: Path, host: Path) -> None:
    for _ in range(3000):
        give_tree(exchanging, BASE)
        assert owner(host / "shadow") == (0, 0)
        assert owner(host) == (0, 0)
    assert stat.S_IMODE((host / "shadow").stat().st_mode) == 0o640


@as_root
def test_owners_inside_the_containers_range_are_kept_the_rest_handed_over(
        tmp_path: Path, host: Path) -> None:
    tree = tmp_path / "agent" / "claude"
    (tree / "sub").mkdir(parents=True)
    (tree / "sub" / "model-side").touch()
    os.chown(tree / "sub" / "model-side", BASE + 1000, BASE + 1000)
    (tree / "from-host").touch()
    (tree / "to-host").symlink_to(host / "shadow")
    assert give_tree(tree, BASE) == 4  # tree, sub, from-host, the symlink itself
    assert owner(tree / "sub" / "model-side") == (BASE + 1000, BASE + 1000)
    assert owner(tree / "from-host") == owner(tree / "to-host") == (BASE, BASE)
    assert owner(host / "shadow") == (0, 0)
    assert give_tree(tree, BASE) == 0


def test_a_tree_whose_top_is_a_symlink_is_refused(tmp_path: Path, host: Path) -> None:
    (tmp_path / "state").symlink_to(host)
    with pytest.raises(HiveError, match="not a directory"):
        give_tree(tmp_path / "state", BASE)
    with pytest.raises(HiveError), open_dir(tmp_path, "state"):
        pass


def test_a_socket_swapped_for_a_symlink_keeps_its_target_unchanged(
        tmp_path: Path, host: Path) -> None:
    path = tmp_path / "hive.sock"
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(path))
    try:
        hand_over_socket(path, 0o660)
        assert stat.S_IMODE(path.stat().st_mode) == 0o660
        path.unlink()
        path.symlink_to(host / "shadow")
        with pytest.raises(HiveError, match="not a socket"):
            hand_over_socket(path, 0o666)
        assert stat.S_IMODE((host / "shadow").stat().st_mode) == 0o640
    finally:
        sock.close()


def test_make_below_creates_with_fixed_modes_and_never_walks_a_symlink(
        tmp_path: Path, host: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    old = os.umask(0o077)
    try:
        make_below(root, PurePosixPath("work/venv"), directory=True)
        make_below(root, PurePosixPath("etc/passwd"), directory=False)
    finally:
        os.umask(old)
    assert stat.S_IMODE((root / "work" / "venv").stat().st_mode) == 0o755
    assert stat.S_IMODE((root / "etc" / "passwd").stat().st_mode) == 0o644
    (root / "escape").symlink_to(host)
    with pytest.raises(HiveError, match="cannot create"):
        make_below(root, PurePosixPath("escape/planted"), directory=False)
    assert sorted(p.name for p in host.iterdir()) == ["shadow"]


def test_the_root_tree_is_built_once_with_modes_the_model_can_traverse(tmp_path: Path) -> None:
    roots = tmp_path / "roots"
    old = os.umask(0o077)
    try:
        tree = rootfs.build_tree(roots, "alice", os.geteuid())
        rootfs.write_etc(roots, "alice")
    finally:
        os.umask(old)
    modes = {name: stat.S_IMODE((tree / name).stat().st_mode) for name in ("", "root", "tmp")}
    assert modes == {"": 0o755, "root": 0o755, "tmp": 0o1777}
    assert stat.S_IMODE(roots.stat().st_mode) == 0o711
    etc = rootfs.etc_dir(roots, "alice")
    assert "claude:x:1000:1000:the model's side:/root:/bin/sh\n" in (etc / "passwd").read_text()
    assert "claude:x:1000:\n" in (etc / "group").read_text()
    assert (etc / "machine-id").read_text() == rootfs.machine_id("alice") + "\n"
    (tree / "etc" / "marker").touch()
    assert rootfs.build_tree(roots, "alice", os.geteuid()) == tree
    assert (tree / "etc" / "marker").exists()  # an existing tree is never rebuilt


def test_mount_points_come_from_every_bind_and_tmpfs(tmp_path: Path) -> None:
    (tmp_path / "file").touch()
    argv = ["nspawn", f"--bind-ro={tmp_path}", f"--bind={tmp_path}:/state",
            f"--bind-ro={tmp_path / 'file'}:/etc/passwd", f"--bind={tmp_path}:/agents:idmap",
            "--tmpfs=/tmp:mode=1777", "--", "--bind=/not/an/option"]
    assert rootfs.mount_points(argv) == [(str(tmp_path), True), ("/state", True),
                                         ("/etc/passwd", False), ("/agents", True),
                                         ("/tmp", True)]


def spec_with(binds: list[Path], programs: list[str]) -> ContainerSpec:
    return ContainerSpec(
        name="alice", runtime_dir=Path("/run/x"), state_dir=Path("/x/state"),
        claude_dir=Path("/x/claude"), policy_dir=Path("/run/x/policy"), command=["true"],
        uid_base=BASE, read_only_binds=binds, executables=programs)


@pytest.mark.parametrize("program", ["/usr/../bin/sh", "/usr/bin/../../tmp/x", "usr/bin/env"])
def test_check_executables_refuses_paths_that_leave_by_dots(program: str) -> None:
    with pytest.raises(HiveError):
        check_executables(spec_with([], [program]))


def test_check_executables_refuses_a_symlink_out_of_what_the_container_sees(
        tmp_path: Path) -> None:
    visible, outside = tmp_path / "visible", tmp_path / "outside"
    visible.mkdir()
    outside.mkdir()
    (outside / "tool").write_text("#!/bin/sh\n")
    (outside / "tool").chmod(0o755)
    (visible / "tool").symlink_to(outside / "tool")
    (visible / "inner").symlink_to("/usr/bin/env")
    check_executables(spec_with([visible], ["/usr/bin/env", str(visible / "inner")]))
    with pytest.raises(HiveError, match="outside what the container sees"):
        check_executables(spec_with([visible], [str(visible / "tool")]))


def test_check_executables_reads_usr_where_the_container_gets_it(tmp_path: Path) -> None:
    # NixOS: the containers' /usr is the system profile, not the host's /usr.
    profile = tmp_path / "sw"
    (profile / "bin").mkdir(parents=True)
    (profile / "bin" / "rg").write_text("#!/bin/sh\n")
    (profile / "bin" / "rg").chmod(0o755)
    nixos = HostSide(usr=profile)
    check_executables(spec_with([], ["/usr/bin/rg"]), nixos)
    with pytest.raises(HiveError, match="not an executable file"):
        check_executables(spec_with([], ["/usr/bin/env"]), nixos)


@as_root
def test_replace_file_owns_before_writing_and_never_follows_a_link(
        tmp_path: Path, host: Path) -> None:
    directory = tmp_path / "policy"
    directory.mkdir()
    (directory / "environment").symlink_to(host / "shadow")
    (directory / ".environment.new").symlink_to(host / "shadow")
    replace_file(directory, "environment", 'KEY="v"\n', owner=BASE, mode=0o400)
    written = directory / "environment"
    assert not written.is_symlink() and written.read_text() == 'KEY="v"\n'
    assert (stat.S_IMODE(written.stat().st_mode), owner(written)) == (0o400, (BASE, BASE))
    assert (host / "shadow").read_text() == "secret\n"
    assert owner(host / "shadow") == (0, 0)
    assert sorted(p.name for p in directory.iterdir()) == ["environment"]


def test_replace_file_refuses_a_directory_that_is_a_link(tmp_path: Path, host: Path) -> None:
    (tmp_path / "policy").symlink_to(host)
    with pytest.raises(OSError):
        replace_file(tmp_path / "policy", "shadow", "x\n", owner=0, mode=0o400)
    assert (host / "shadow").read_text() == "secret\n"


def test_uid_slots_stay_out_of_nspawns_pick_range_and_apart() -> None:
    assert FIRST_AGENT_BASE > NSPAWN_PICK_MAX
    for base in (FIRST_AGENT_BASE, LAST_AGENT_BASE, MANAGER_BASE):
        assert base % UID_RANGE == 0
    assert LAST_AGENT_BASE < MANAGER_BASE < 0x7FFE0000
    assert check_agent_base(FIRST_AGENT_BASE) == FIRST_AGENT_BASE
    for bad in (NSPAWN_PICK_MAX, MANAGER_BASE, FIRST_AGENT_BASE + 1):
        with pytest.raises(HiveError):
            check_agent_base(bad)
    setting = next(s for s in SETTINGS if s.name == "uid_base_start")
    assert setting.minimum == FIRST_AGENT_BASE and setting.maximum == LAST_AGENT_BASE


def test_the_checkout_is_bound_by_its_packages_not_as_a_whole() -> None:
    # A checkout in a 0700 directory (mktemp -d) must still run in a container that
    # reads only what any host user may: its packages are bound, never their parent.
    import hive_c0re
    from hive_c0re.lifecycle.nspawn import host_python_binds

    checkout = Path(hive_c0re.__file__).resolve().parent.parent
    binds = host_python_binds()
    assert checkout not in binds
    assert all(any(pkg.is_relative_to(b) for b in binds)
               for pkg in (checkout / "hive_c0re", checkout / "hive_ag3nt", checkout / "hive_m1nd"))
