"""Root on the host never follows a container's path: attacked from inside real containers.

A container's root owns what it can write (``/state``, ``/root/.claude``,
``/run/hive``) and, before the fix, its whole root tree. Each test plants
symlinks to a host file the test owns (a canary standing in for
``/etc/shadow``), then drives every path that makes the daemon or nspawn touch
the container's files again, and checks that the canary is byte for byte,
mode and owner what it was, and that the hive still serves the operator.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from hive_c0re.errors import HiveError
from hive_dev.sandbox import Sandbox, SandboxHive, container_popen, in_container
from tests.sandbox.approval_support import deploy, state_dir
from tests.sandbox.test_containers import wait_reply

ETC_FILES = ("passwd", "group", "os-release", "hostname", "machine-id")
# A machine id the host might have: nspawn must never take it from a host file.
HOST_MACHINE_ID = "0123456789abcdef0123456789abcdef"
REBUILDS = 25
SOCKET_REBINDS = 8

PLANT_ETC = """
import json, os, subprocess
canary = ARGS
done = {}
for name in NAMES:
    path = "/etc/" + name
    # Peel off whatever is mounted there first, as a determined container would.
    subprocess.run(["umount", path], capture_output=True)
    try:
        os.unlink(path)
        os.symlink(canary + "/" + name, path)
        done[name] = "replaced"
    except OSError as exc:
        done[name] = exc.strerror
subprocess.run(["umount", "-l", "/tmp"], capture_output=True)
try:
    os.rmdir("/tmp")
    os.symlink(canary + "/tmp", "/tmp")
    done["tmp"] = "replaced"
except OSError as exc:
    done["tmp"] = exc.strerror
print(json.dumps(done))
"""

# Swap a directory and a symlink to the host's canary directory, as fast as the
# kernel allows, for as long as the container lives (or ``SECONDS``).
SWAPPER = """
import ctypes, os, time
libc = ctypes.CDLL(None, use_errno=True)
SYS_renameat2, AT_FDCWD, RENAME_EXCHANGE = 316, -100, 2
pairs = []
for top in ("/state/race", "/root/.claude/race"):
    os.makedirs(top, exist_ok=True)
    for n in range(PAIRS):
        d, link = f"{top}/d{n}", f"{top}/l{n}"
        if not os.path.lexists(d):
            os.mkdir(d)
            open(d + "/inside", "w").close()
        if not os.path.lexists(link):
            os.symlink(CANARY, link)
        pairs.append((d.encode(), link.encode()))
print("swapping", flush=True)
deadline = time.monotonic() + SECONDS
while time.monotonic() < deadline:
    for d, link in pairs:
        libc.syscall(SYS_renameat2, AT_FDCWD, d, AT_FDCWD, link, RENAME_EXCHANGE)
"""


@dataclass(frozen=True)
class Seen:
    data: bytes
    mode: int
    uid: int
    gid: int
    mtime_ns: int


def seen(path: Path) -> Seen:
    st = path.lstat()
    data = path.read_bytes() if path.is_file() else b""
    return Seen(data, st.st_mode, st.st_uid, st.st_gid, st.st_mtime_ns)


class Canaries:
    """Host files the test owns, standing in for /etc/shadow and friends."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.dir = sandbox.dir / "canary"
        self.dir.mkdir(mode=0o755)
        for name in ETC_FILES:
            text = f"{HOST_MACHINE_ID}\n" if name == "machine-id" else f"host {name}: secret\n"
            (self.dir / name).write_text(text)
            (self.dir / name).chmod(0o640)
        (self.dir / "tmp").mkdir(mode=0o700)
        (self.dir / "shadow").write_text("root:$6$secret:19000::::::\n")
        (self.dir / "shadow").chmod(0o640)
        self.before = self.snapshot()

    def snapshot(self) -> dict[str, Seen]:
        return {path.name: seen(path) for path in sorted(self.dir.iterdir())}

    def assert_untouched(self, after: str) -> None:
        now = self.snapshot()
        changed = {name: (self.before[name], now.get(name)) for name in self.before
                   if now.get(name) != self.before[name]}
        assert not changed, f"after {after}, host files changed: {changed}"


@pytest.fixture
def canaries(sandbox: Sandbox) -> Canaries:
    return Canaries(sandbox)


def container_uuid(hive: SandboxHive, agent: str) -> str:
    """The machine id nspawn gave the container (``$container_uuid`` of its payload)."""
    done = in_container(hive, agent, "print(open('/proc/2/environ').read())")
    assert done.returncode == 0, done.stderr
    env = dict(item.partition("=")[::2] for item in done.stdout.split("\0") if "=" in item)
    return env["container_uuid"].replace("-", "")


def serves(hive: SandboxHive, agent: str, body: str) -> None:
    hive.call("send", to=agent, body=body)
    wait_reply(hive, f"{agent} heard: {body}")


def plant_etc(hive: SandboxHive, agent: str, canaries: Canaries) -> dict[str, str]:
    done = in_container(hive, agent, f"ARGS = {str(canaries.dir)!r}\nNAMES = {ETC_FILES!r}\n"
                        + PLANT_ETC)
    assert done.returncode == 0, done.stderr
    planted: dict[str, str] = json.loads(done.stdout)
    return planted


def test_etc_symlinks_planted_by_an_agent_never_reach_a_host_file(
        container_hive: SandboxHive, canaries: Canaries) -> None:
    hive = container_hive
    hive.call("spawn", name="alice")
    # Restarts after a crash are what the policy says: once, so the crash path reinstalls.
    deploy(hive, "alice", '[restart]\npolicy = "restart"\nburst = 5\n'
           "interval_seconds = 600\n", "restart alice if it dies")
    unit = "hive-agent@alice.service"

    def reinstall(how: str) -> None:
        planted = plant_etc(hive, "alice", canaries)
        if how == "rebuild":
            hive.call("rebuild", name="alice")
        elif how == "restart":
            hive.call("restart", name="alice")
        elif how == "crash":
            hive.sandbox.systemctl("kill", "--kill-whom=main", "-s", "KILL", unit)
            time.sleep(1)
            hive.wait_active(unit)
        else:  # the daemon restarts while the agent runs
            hive.sandbox.systemctl("restart", "hive-c0re.service")
            hive.wait_active()
        canaries.assert_untouched(f"{how} (planted: {planted})")
        assert container_uuid(hive, "alice") != HOST_MACHINE_ID, f"{how}: nspawn read the host's"
        serves(hive, "alice", f"still here after {how}")

    for how in ("rebuild", "restart", "crash", "daemon restart"):
        reinstall(how)


def test_the_manager_planting_etc_symlinks_reaches_no_host_file_at_daemon_start(
        canaries: Canaries, managed_hive: SandboxHive) -> None:
    hive = managed_hive
    hive.call("whoami")
    hive.wait_active("hive-agent@manager.service")
    planted = plant_etc(hive, "manager", canaries)
    # The daemon installs the manager's container at every start.
    hive.sandbox.systemctl("restart", "hive-c0re.service")
    hive.wait_active()
    hive.call("whoami")
    hive.wait_active("hive-agent@manager.service")
    hive.sandbox.systemctl("restart", "hive-agent@manager.service")
    hive.wait_active("hive-agent@manager.service")
    canaries.assert_untouched(f"daemon and manager restarts (planted: {planted})")
    assert container_uuid(hive, "manager") != HOST_MACHINE_ID
    serves(hive, "manager", "hello manager")


@contextlib.contextmanager
def swapping(hive: SandboxHive, agent: str, canary: Path, seconds: float,
             pairs: int = 16, code: str = SWAPPER) -> Iterator[None]:
    """A swapper running inside ``agent``'s container (until it or the container ends)."""
    code = f"PAIRS = {pairs}\nCANARY = {str(canary)!r}\nSECONDS = {seconds}\n" + code
    proc = container_popen(hive, agent, code, stdout=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "swapping", "the swapper did not start"
        yield
    finally:
        proc.kill()  # the outer nsenter; the swapper itself ends with its deadline or container
        proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def test_a_directory_swapped_for_a_symlink_mid_chown_never_reowns_a_host_file(
        container_hive: SandboxHive, canaries: Canaries) -> None:
    hive = container_hive
    hive.call("spawn", name="alice")
    shadow = canaries.dir / "shadow"
    failed: list[str] = []
    for attempt in range(REBUILDS):
        # Each rebuild hands /state and /root/.claude over again, while the swapper
        # runs; the restart that follows ends the swapper, so start a new one each time.
        with swapping(hive, "alice", canaries.dir, seconds=30):
            try:
                hive.call("rebuild", name="alice")
            except HiveError as exc:
                failed.append(exc.message)
                hive.wait_active("hive-agent@alice.service")
        canaries.assert_untouched(f"rebuild {attempt + 1}")
    assert seen(shadow) == canaries.before["shadow"]
    assert failed == [], f"rebuilds that failed under the race: {failed}"
    owner = hive.call("agent_status", name="alice")["agent"]["uid_base"]
    # The swapped entries themselves were handed over (they are the container's).
    # On the agent's disk, mounted in the sandbox's mount namespace.
    race = state_dir(hive, "alice") / "disk" / "state" / "race"
    owners = hive.sandbox.run("find", str(race), "-mindepth", "1", "-maxdepth", "1",
                              "-printf", "%U\n").stdout.split()
    assert owners and set(owners) == {str(owner)}
    serves(hive, "alice", "still here after the race")


# Whenever the daemon binds the agent's socket, move it away and put a symlink to the
# host's canary in its place, before the daemon sets the socket's mode and owner.
SOCKET_SWAPPER = """
import os, time
print("swapping", flush=True)
deadline = time.monotonic() + SECONDS
while time.monotonic() < deadline and not os.path.exists("/run/hive/stop"):
    try:
        os.rename("/run/hive/hive.sock", "/run/hive/taken")
        os.symlink(CANARY + "/shadow", "/run/hive/hive.sock")
    except OSError:
        pass
"""


def test_a_socket_swapped_for_a_symlink_never_passes_its_mode_or_owner_on(
        container_hive: SandboxHive, canaries: Canaries) -> None:
    hive = container_hive
    hive.call("spawn", name="alice")
    hive.call("spawn", name="bob")
    refused: list[str] = []
    for attempt in range(SOCKET_REBINDS):
        with swapping(hive, "alice", canaries.dir, seconds=30, code=SOCKET_SWAPPER):
            try:
                hive.call("rebuild", name="alice")
            except HiveError as exc:
                refused.append(exc.message)
        canaries.assert_untouched(f"rebind {attempt + 1}")
        # Whatever alice does to its own socket, the operator and bob are served.
        serves(hive, "bob", f"bob after rebind {attempt + 1}")
    # Left alone, alice gets a good socket again.
    (hive.agent_socket("alice").parent / "stop").touch()
    time.sleep(1)
    hive.agent_socket("alice").unlink(missing_ok=True)
    hive.call("rebuild", name="alice")
    serves(hive, "alice", "alice after the race")


def test_a_file_the_host_keeps_0600_in_a_bound_checkout_is_unreadable_inside(
        container_hive: SandboxHive) -> None:
    hive = container_hive
    hive.call("spawn", name="alice")
    # The checkout (and its venv) is bound read-only so the harness can run from it.
    secret = Path(sys.prefix) / f".hhs-secret-{os.getpid()}"
    secret.write_text("ANTHROPIC_API_KEY=sk-host-only\n")
    secret.chmod(0o600)
    try:
        done = in_container(hive, "alice", f"print(open({str(secret)!r}).read())")
        assert "sk-host-only" not in done.stdout
        assert "Permission denied" in done.stderr, done.stderr
        visible = in_container(hive, "alice", f"import os; print(os.path.exists({str(secret)!r}))")
        assert visible.stdout == "True\n"  # the same path: the bind is there, its 0600 holds
    finally:
        secret.unlink()
