"""The pidfd watch: how a process ended, read from its zombie, and what the crash watch
makes of it. Real child processes; the crash watch on the in-memory backend."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from hive_c0re.daemon.pidwatch import (
    Exit,
    Followed,
    PidWatch,
    exit_of,
    exit_through,
    has_exited,
    in_cgroup,
    open_pidfd,
    parse_stat,
)
from tests.unit.hive_c0re.test_crash_judge import UNIT, Watched, state

SLEEPER = [sys.executable, "-c", "import time; time.sleep(60)"]


def test_the_stat_fields_are_counted_from_the_last_parenthesis() -> None:
    fields = ["Z", *[str(n) for n in range(4, 52)], "137"]
    stat = parse_stat("42 (a) b (c) " + " ".join(fields) + "\n")
    assert (stat.state, stat.start_time, stat.exit_code) == ("Z", 22, 137)


@pytest.mark.parametrize(("status", "told"), [
    (9, Exit(signal=9, code=None)), (0x80 | 11, Exit(signal=11, code=None, core=True)),
    (3 << 8, Exit(signal=None, code=3)), (0, Exit(signal=None, code=0))])
def test_a_wait_status_says_signal_core_or_code(status: int, told: Exit) -> None:
    assert exit_of(status) == told


def ended(argv: list[str], how: signal.Signals | None) -> Exit | None:
    """Follow a real child through its pidfd until it ends (killed by ``how``, or by
    itself); what the watch told. The child stays a zombie until the end: not reaped."""
    told: list[Exit | None] = []
    child = subprocess.Popen(argv)

    async def main() -> None:
        fd = open_pidfd(child.pid)
        done = asyncio.Event()

        def on_exit(main: Followed, status: Exit | None) -> None:
            told.append(status)
            done.set()

        watch = PidWatch(on_exit)
        watch.follow(asyncio.get_running_loop(),
                     Followed(agent="alice", unit=UNIT, invocation="i1", pid=child.pid, fd=fd))
        if how is not None:
            child.send_signal(how)
        await asyncio.wait_for(done.wait(), 30)
        # Not followed any more, nor again for this invocation: its main process is gone.
        assert UNIT not in watch.followed and watch.following(UNIT) == "i1"
        child.wait()

    asyncio.run(main())
    (status,) = told
    return status


def test_a_killed_child_is_told_killed_by_its_signal() -> None:
    assert ended(SLEEPER, signal.SIGKILL) == Exit(signal=9, code=None)


def test_a_child_that_exits_is_told_by_its_code() -> None:
    assert ended([sys.executable, "-c", "raise SystemExit(3)"], None) == Exit(signal=None, code=3)


def test_a_clean_exit_is_not_told() -> None:
    assert ended([sys.executable, "-c", "pass"], None) is None


def test_a_reaped_process_is_not_told_its_pid_may_be_another_s() -> None:
    child = subprocess.Popen(SLEEPER)
    fd = open_pidfd(child.pid)
    try:
        child.kill()
        child.wait()  # reaped, as systemd would have
        assert exit_through(fd, child.pid) is None
    finally:
        os.close(fd)


def test_a_pidfd_tells_an_exit_before_the_reaping() -> None:
    child = subprocess.Popen(SLEEPER)
    fd = open_pidfd(child.pid)
    try:
        assert not has_exited(fd)
        child.kill()
        os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOWAIT)  # dead, not reaped
        assert has_exited(fd)
    finally:
        child.wait()
        os.close(fd)


def test_a_forgotten_process_leaves_no_reader_and_no_fd() -> None:
    child = subprocess.Popen(SLEEPER)

    async def main() -> None:
        fd = open_pidfd(child.pid)
        loop = asyncio.get_running_loop()
        watch = PidWatch(lambda main, status: None)
        watch.follow(loop, Followed(agent="alice", unit=UNIT, invocation="i1", pid=child.pid,
                                    fd=fd))
        watch.forget(UNIT)
        child.kill()
        child.wait()
        assert loop.remove_reader(fd) is False
        with pytest.raises(OSError):
            os.fstat(fd)

    asyncio.run(main())


def exited(watched: Watched, status: Exit | None, invocation: str = "i1") -> None:
    async def main() -> None:
        watched.watch._exited(Followed(agent="alice", unit=UNIT, invocation=invocation,
                                       pid=1, fd=-1), status)
        await asyncio.gather(*watched.watch._tasks)

    asyncio.run(main())


@pytest.fixture
def watched(tmp_path: Path) -> Watched:
    return Watched(tmp_path)


def test_a_kill_told_by_the_pidfd_is_a_crash_told_once(watched: Watched) -> None:
    exited(watched, Exit(signal=9, code=None))
    assert watched.bench.mail.events == [("container_crash", "alice", {
        "unit": UNIT, "active_state": "deactivating", "result": "signal", "exit_status": 9,
        "exit_code": "killed", "invocation": "i1", "journal": [f"{UNIT} said bye"]})]
    watched.crash("i1")  # systemd's word on the same incident, later
    assert watched.kinds() == ["container_crash"]
    watched.bench.close()


def test_systemd_s_word_on_a_crash_told_early_changes_the_status_row_once(
        watched: Watched) -> None:
    # The event's row was built while systemd still said active: its word is news.
    rows: list[str] = []
    watched.watch.on_status = rows.append
    exited(watched, Exit(signal=9, code=None))
    assert rows == []
    watched.crash("i1")
    assert rows == ["alice"]
    watched.crash("i1")
    assert rows == ["alice"] and watched.kinds() == ["container_crash"]
    watched.bench.close()


def test_a_core_dump_is_told_as_systemd_words_it(watched: Watched) -> None:
    exited(watched, Exit(signal=11, code=None, core=True))
    (event,) = watched.bench.mail.events
    assert (event[2]["result"], event[2]["exit_code"]) == ("core-dump", "dumped")
    watched.bench.close()


@pytest.mark.parametrize("status", [None, Exit(signal=None, code=1),
                                    Exit(signal=signal.SIGTERM, code=None)])
def test_what_the_pidfd_cannot_tell_is_left_to_systemd(watched: Watched,
                                                        status: Exit | None) -> None:
    exited(watched, status)
    assert watched.kinds() == []
    watched.crash("i1")  # systemd's word decides
    assert watched.kinds() == ["container_crash"]
    watched.bench.close()


def test_an_exit_the_pidfd_cannot_tell_has_the_unit_read_at_once(watched: Watched) -> None:
    # Reaped by systemd before the daemon looked: systemd has judged it, no signal yet.
    watched.bench.backend.crash("alice")
    watched.systemctl.states[UNIT] = state(invocation="i1", result="signal")
    exited(watched, None)
    assert watched.kinds() == ["container_crash"]
    assert watched.bench.mail.events[0][2]["active_state"] == "failed"
    watched.bench.close()


def test_a_kill_while_the_daemon_stops_the_agent_is_not_a_crash(watched: Watched) -> None:
    async def main() -> None:
        async with watched.bench.lifecycle.lock("alice"):
            watched.watch._exited(Followed(agent="alice", unit=UNIT, invocation="i1",
                                           pid=1, fd=-1), Exit(signal=9, code=None))

    asyncio.run(main())
    assert watched.kinds() == []
    watched.bench.close()


def test_the_watch_lets_go_of_a_unit_systemd_takes_down(tmp_path: Path) -> None:
    w = Watched(tmp_path)
    pids = PidWatch(lambda main, status: None)
    child = subprocess.Popen(SLEEPER)

    async def main() -> None:
        pids.follow(asyncio.get_running_loop(),
                    Followed(agent="alice", unit=UNIT, invocation="i0", pid=child.pid,
                             fd=open_pidfd(child.pid)))
        w.watch.pids = pids
        await w.watch._follow("alice", state(active="deactivating", invocation="i0",
                                             result="success"))
        child.kill()
        child.wait()

    asyncio.run(main())
    assert pids.following(UNIT) is None
    w.bench.close()


def own_cgroup() -> str:
    lines = Path("/proc/self/cgroup").read_text().splitlines()
    found = [path for _, kind, path in (line.split(":", 2) for line in lines)
             if kind in ("", "name=systemd")]
    return found[0]


def test_a_process_is_in_its_own_cgroup_and_those_above_it_only() -> None:
    mine = own_cgroup()
    assert in_cgroup(os.getpid(), mine)
    assert in_cgroup(os.getpid(), "/")
    assert not in_cgroup(os.getpid(), mine.rstrip("/") + "/elsewhere.service")
    assert not in_cgroup(os.getpid(), mine.rstrip("/") + "-x")
    assert not in_cgroup(os.getpid(), "")


def test_a_cgroup_named_like_another_unit_inside_a_container_is_not_that_unit(
        tmp_path: Path) -> None:
    (tmp_path / "7").mkdir()
    (tmp_path / "7" / "cgroup").write_text(
        "4:memory:/a.slice/hive-agent@alice.service\n"
        "1:name=systemd:/a.slice/hive-agent@bob.service/payload/a.slice/"
        "hive-agent@alice.service\n"
        "0::/a.slice/hive-agent@bob.service/payload/a.slice/hive-agent@alice.service\n")
    assert not in_cgroup(7, "/a.slice/hive-agent@alice.service", proc=tmp_path)
    assert in_cgroup(7, "/a.slice/hive-agent@bob.service", proc=tmp_path)
    assert not in_cgroup(8, "/a.slice/hive-agent@bob.service", proc=tmp_path)  # no such pid
