"""The crash watch's pidfd of each container's main process: sooner than systemd, never
louder.

To show which path told a crash, the tests freeze one side with SIGSTOP: the sandbox's
``systemd --user`` (then only the pidfd can tell, systemd cannot even reap nspawn), or
the daemon (then systemd reaps nspawn before the daemon looks, and its signals tell).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from hive_dev.sandbox import SandboxHive
from hive_dev.subscriber import Subscriber
from tests.sandbox.test_crashes import crashes, manager_mail, until_down

UNIT = "hive-agent@alice.service"


def pidfds(hive: SandboxHive) -> int:
    """How many pidfds the daemon holds (its fds that link to ``anon_inode:[pidfd]``)."""
    pid = hive.main_pid()
    done = hive.sandbox.run("sh", "-c", f"ls -l /proc/{pid}/fd | grep -c 'anon_inode:\\[pidfd\\]'",
                            check=False)
    return int(done.stdout.strip() or 0)


def followed(hive: SandboxHive, count: int = 1, wait: float = 20) -> None:
    """Until the daemon follows ``count`` main processes."""
    deadline = time.monotonic() + wait
    while pidfds(hive) != count:
        assert time.monotonic() < deadline, f"the daemon holds {pidfds(hive)} pidfds"
        time.sleep(0.05)


def spawned(hive: SandboxHive) -> None:
    hive.call("spawn", name="alice")
    followed(hive)
    manager_mail(hive, wait=1)  # the spawn's own events


def main_and_manager(hive: SandboxHive) -> tuple[int, int]:
    """nspawn's pid and its parent's (the sandbox's systemd --user), inside the sandbox."""
    main = int(hive.sandbox.show(UNIT, "MainPID"))
    stat = hive.sandbox.run("cat", f"/proc/{main}/stat").stdout
    return main, int(stat[stat.rindex(")") + 1:].split()[1])


@contextmanager
def stopped(hive: SandboxHive, pid: int) -> Iterator[None]:
    hive.sandbox.run("kill", "-STOP", str(pid))
    try:
        yield
    finally:
        hive.sandbox.run("kill", "-CONT", str(pid))


def test_a_killed_nspawn_is_reported_by_its_pidfd_while_systemd_cannot_and_once(
        container_hive: SandboxHive) -> None:
    hive = container_hive
    spawned(hive)
    invocation = hive.sandbox.show(UNIT, "InvocationID")
    main, manager = main_and_manager(hive)
    with stopped(hive, manager):
        hive.sandbox.run("kill", "-KILL", str(main))
        (crash,) = crashes(manager_mail(hive))
    assert crash["agent"] == "alice" and crash["invocation"] == invocation
    assert crash["result"] == "signal" and crash["exit_code"] == "killed"
    assert crash["exit_status"] == 9 and crash["active_state"] == "deactivating"
    # systemd, running again, tells the same incident: it is not told twice.
    assert until_down(hive, UNIT) == "failed"
    assert crashes(manager_mail(hive, wait=3)) == []
    assert pidfds(hive) == 0


def test_a_status_subscriber_sees_a_crash_told_early_as_failed_once_systemd_knows(
        container_hive: SandboxHive) -> None:
    # The row built for the event may have read the unit while systemd still said active.
    hive = container_hive
    hive.call("whoami")
    subscriber = Subscriber(hive.host_socket, timeout=60)
    try:
        spawned(hive)
        main, manager = main_and_manager(hive)
        with stopped(hive, manager):
            hive.sandbox.run("kill", "-KILL", str(main))
            (crash,) = crashes(manager_mail(hive))
        assert crash["active_state"] == "deactivating"  # told by the pidfd
        subscriber.until("alice", running=False, failed=True)
    finally:
        subscriber.close()


def test_a_crash_reaped_before_the_daemon_looks_is_told_by_systemd(
        container_hive: SandboxHive) -> None:
    hive = container_hive
    spawned(hive)
    invocation = hive.sandbox.show(UNIT, "InvocationID")
    with stopped(hive, hive.main_pid()):
        hive.sandbox.systemctl("kill", "--kill-whom=main", "-s", "KILL", UNIT)
        assert until_down(hive, UNIT) == "failed"  # reaped: the pidfd's zombie is gone
    (crash,) = crashes(manager_mail(hive))
    assert crash["invocation"] == invocation and crash["active_state"] == "failed"
    assert crash["result"] == "signal" and crash["exit_status"] == 9
    assert crashes(manager_mail(hive, wait=3)) == []


def test_an_operator_systemctl_stop_is_not_a_crash(container_hive: SandboxHive) -> None:
    hive = container_hive
    spawned(hive)
    hive.sandbox.systemctl("stop", UNIT)
    assert crashes(manager_mail(hive, wait=4)) == []
    assert pidfds(hive) == 0


def test_a_restart_the_daemon_runs_is_not_a_crash_and_follows_the_new_process(
        container_hive: SandboxHive) -> None:
    hive = container_hive
    spawned(hive)
    before = hive.sandbox.show(UNIT, "MainPID")
    hive.call("restart", name="alice")
    assert crashes(manager_mail(hive, wait=4)) == []
    assert hive.sandbox.show(UNIT, "MainPID") != before
    followed(hive)
    hive.call("stop", name="alice")
    assert crashes(manager_mail(hive, wait=4)) == []
    followed(hive, count=0)
