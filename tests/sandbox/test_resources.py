"""One agent's fork bomb, memory hog and disk filler leave the hive working.

Limits enforced here: the disk by the hive itself (each agent's ext4 image);
memory, tasks and CPU by the unit's properties, which on this cgroup v1
machine the test writes into v1 cgroups itself (see limits_support), as the
system manager would.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hive_dev.sandbox import Sandbox, SandboxHive, containers_hive
from hive_dev.sandbox import in_container as plain_in_container
from tests.sandbox.approval_support import deploy, manager, state_dir
from tests.sandbox.limits_support import V1Limits, in_container
from tests.sandbox.test_containers import wait_reply

DISK = 64 << 20
HOG_TOML = """
[resources]
memory_max = "256M"
tasks_max = 64
cpu_quota = "20%"
disk_max = "64M"
"""
FILL = """
import errno, json, sys
written = 0
try:
    with open(sys.argv[1] if len(sys.argv) > 1 else PATH, "wb") as out:
        while written < LIMIT:
            out.write(b"x" * (1 << 20))
            out.flush()
            written += 1 << 20
        import os
        os.fsync(out.fileno())
    print(json.dumps({"written": written, "error": None}))
except OSError as err:
    print(json.dumps({"written": written, "error": errno.errorcode.get(err.errno)}))
"""
# Each attack stops on its own well past its limit, should the limit not hold.
HOG = """
chunks = []
while len(chunks) < 64:  # 1G, four times memory_max
    chunks.append(bytearray(16 << 20))  # zeroed, so every page is touched
"""
BOMB = """
import os, resource, select, time
resource.setrlimit(resource.RLIMIT_NPROC, (256, 256))  # per uid: the container's root
end = time.monotonic() + 120
# Every process forks until the test closes the stdin they all share.
while time.monotonic() < end and not select.select([0], [], [], 0)[0]:
    try:
        os.fork()
    except OSError:
        time.sleep(0.05)
"""


def spawn_with(hive: SandboxHive, name: str, toml: str) -> None:
    """The manager's way to a new agent with its own agent.toml, the operator approving."""
    hive.call("whoami")  # socket activation: the daemon binds the manager's socket
    seeded = manager(hive, "request_init_config", name=name)["approval"]
    assert hive.call("approve", id=seeded["id"])["approval"]["status"] == "deployed"
    deploy(hive, name, toml, f"{name} gets small limits")


def fill(limits: V1Limits, path: str, limit: int) -> dict[str, object]:
    done = in_container(limits, f"PATH = {path!r}\nLIMIT = {limit}\n" + FILL)
    assert isinstance(done, subprocess.CompletedProcess) and done.returncode == 0, done
    result: dict[str, object] = json.loads(done.stdout)
    return result


def allocated(hive: SandboxHive, path: str) -> int:
    """Bytes the host's filesystem holds for ``path`` (sparse files count what they use)."""
    return int(hive.sandbox.run("du", "-s", "-B1", "-x", path).stdout.split()[0])


@pytest.fixture
def hog(container_hive: SandboxHive) -> Iterator[V1Limits]:
    spawn_with(container_hive, "hog", HOG_TOML)
    limits = V1Limits(container_hive, "hog")
    try:
        yield limits
    finally:
        limits.close()


def test_defaults_limit_every_agent(container_hive: SandboxHive) -> None:
    hive = container_hive
    hive.call("spawn", name="bob")
    unit = "hive-agent@bob.service"
    assert hive.sandbox.show(unit, "TasksMax") == "512"
    assert hive.sandbox.show(unit, "MemoryMax") == str(2 << 30)
    image = state_dir(hive, "bob") / "disk.img"
    assert image.stat().st_size == 4 << 30
    mounts = hive.sandbox.run("findmnt", "-n", "-o", "FSTYPE,OPTIONS", "--mountpoint",
                              str(state_dir(hive, "bob") / "disk")).stdout
    assert mounts.startswith("ext4 ") and {"nosuid", "nodev", "noexec"} <= set(
        mounts.split()[1].split(","))


def test_fork_bomb_memory_hog_and_disk_filler_leave_the_hive_working(
        container_hive: SandboxHive, hog: V1Limits) -> None:
    hive = container_hive
    hive.call("spawn", name="bob")
    enforced = hog.enforce()
    assert enforced == {"tasks": 64, "memory": 256 << 20, "quota_us": 200_000}
    host_state = str(state_dir(hive, "hog"))
    before = allocated(hive, host_state)

    # The disk filler: /state and /root/.claude share the agent's 64M disk.
    state = fill(hog, "/state/fill", 4 * DISK)
    claude = fill(hog, "/root/.claude/fill", 4 * DISK)
    assert state["error"] == "ENOSPC" and claude["error"] == "ENOSPC", (state, claude)
    assert isinstance(state["written"], int) and isinstance(claude["written"], int)
    assert state["written"] + claude["written"] <= DISK
    assert allocated(hive, host_state) - before <= DISK

    # The memory hog: the kernel kills it inside the container's cgroup.
    eater = in_container(hog, HOG, timeout=120)
    assert isinstance(eater, subprocess.CompletedProcess)
    assert eater.returncode == -9, eater
    assert int(hog.read("memory", "memory.failcnt")) > 0
    assert "oom_kill 0\n" not in hog.read("memory", "memory.oom_control")

    # The fork bomb, and while it runs the operator, the daemon and bob carry on.
    bomb = in_container(hog, BOMB, background=True)
    assert isinstance(bomb, subprocess.Popen)
    try:
        deadline = time.monotonic() + 30
        while int(hog.read("pids", "pids.events").split()[1]) == 0:
            assert time.monotonic() < deadline, "the fork bomb never hit pids.max"
            time.sleep(0.1)
        assert int(hog.read("pids", "pids.current")) <= 64
        assert {a["name"] for a in hive.call("agents")["agents"]} == {"bob", "hog"}
        listed = hive.cli("agents")
        assert listed.returncode == 0, listed.stderr
        hive.call("send", to="bob", body="still there?")
        wait_reply(hive, "bob heard: still there?", timeout=60)
        assert hive.active() == "active"
        assert int(hog.read("pids", "pids.current")) > 32, "the fork bomb is still at it"
    finally:
        assert bomb.stdin is not None
        bomb.stdin.close()
        bomb.wait(timeout=120)
    assert hive.sandbox.show("hive-agent@bob.service", "ActiveState") == "active"
    assert allocated(hive, host_state) - before <= DISK


TMP_SIZE = """
import json, os
st = os.statvfs("/tmp")
print(json.dumps({"size": st.f_blocks * st.f_frsize}))
"""


def test_tmp_filler_is_bounded(container_hive: SandboxHive, hog: V1Limits) -> None:
    hog.enforce()
    sized = in_container(hog, TMP_SIZE)
    assert isinstance(sized, subprocess.CompletedProcess) and sized.returncode == 0, sized
    size = json.loads(sized.stdout)["size"]
    assert size <= 1 << 30, f"/tmp in the container is a {size}-byte filesystem"
    done = in_container(hog, f"PATH = '/tmp/fill'\nLIMIT = {size + (16 << 20)}\n" + FILL)
    assert isinstance(done, subprocess.CompletedProcess)
    # Refused by the filesystem's size, or killed at memory_max (tmpfs pages count there).
    refused = done.returncode == 0 and json.loads(done.stdout)["error"] == "ENOSPC"
    assert refused or done.returncode == -9, done


def test_the_manager_cannot_fill_the_host_through_its_repos(sandbox: Sandbox) -> None:
    hive = containers_hive(sandbox, manager=True, HYPERHIVE_PROPOSED_DISK_MIB="32")
    hive.call("spawn", name="alice")
    filled = plain_in_container(hive, "manager", f"PATH = '/agents/fill'\nLIMIT = {DISK}\n" + FILL)
    assert filled.returncode == 0, filled.stderr
    result = json.loads(filled.stdout)
    assert result["error"] == "ENOSPC" and result["written"] < 32 << 20, result
    # The daemon still seeds and reads repos there: refused for want of room, never crashed.
    assert {a["name"] for a in hive.call("agents")["agents"]} >= {"alice"}
    hive.call("send", to="alice", body="still there?")
    wait_reply(hive, "alice heard: still there?", timeout=60)
    proposed = Path(hive.sandbox.env["XDG_CONFIG_HOME"]) / "hyperhive" / "proposed.img"
    assert allocated(hive, str(proposed)) <= 32 << 20


STATE_SIZE = """
import json, os
st = os.statvfs("/state")
print(json.dumps({"size": st.f_blocks * st.f_frsize}))
"""


def disk_size(hive: SandboxHive, agent: str) -> int:
    done = plain_in_container(hive, agent, STATE_SIZE)
    assert done.returncode == 0, done.stderr
    size: int = json.loads(done.stdout)["size"]
    return size


def test_a_raised_disk_max_grows_the_disk_of_a_running_agent(
        container_hive: SandboxHive) -> None:
    hive = container_hive
    spawn_with(hive, "alice", '[resources]\ndisk_max = "32M"\n')
    small = disk_size(hive, "alice")
    assert small <= 32 << 20
    written = plain_in_container(hive, "alice", "open('/state/notes.md', 'w').write('kept')")
    assert written.returncode == 0, written.stderr
    deploy(hive, "alice", '[resources]\ndisk_max = "96M"\n', "alice needs room")
    assert disk_size(hive, "alice") > 64 << 20
    kept = plain_in_container(hive, "alice", "print(open('/state/notes.md').read())")
    assert kept.stdout == "kept\n"
    assert (state_dir(hive, "alice") / "disk.img").stat().st_size == 96 << 20


def test_an_agent_made_before_disks_keeps_its_plain_directories(
        container_hive: SandboxHive) -> None:
    hive = container_hive
    old = state_dir(hive, "old")
    for private in (old, old / "state", old / "claude"):
        private.mkdir(parents=True, mode=0o700)
    (old / "state" / "notes.md").write_text("from before")
    hive.call("spawn", name="old")
    seen = plain_in_container(hive, "old", "print(open('/state/notes.md').read())")
    assert seen.stdout == "from before\n", seen.stderr
    assert not (old / "disk.img").exists()
    assert "disk_max is not enforced" in hive.sandbox.journal("HIVE_AGENT=old")
