"""subscribe_agent_status against a real daemon: rows per change, and a reader that never reads.

No containers: registering and unregistering an agent changes its row
(``listening``, ``registered``), which is enough to flood the feed.
"""

from __future__ import annotations

import itertools
import json
import select
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from hive_c0re.client import Client
from hive_dev.daemon import DaemonProcess, running_daemon
from hive_dev.subscriber import ORIGINAL_KEYS, Subscriber

FLOOD = 10_000
NAMES = [f"f{i:02d}" for i in range(20)]
# Measured: about 0.1 MB. A queue of the 10k rows for the stalled subscriber would pass it.
RSS_GROWTH_BOUND_KB = 8 * 1024


@pytest.fixture
def hive() -> Iterator[DaemonProcess]:
    with running_daemon(manager_command="") as d:
        yield d


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_every_subscriber_gets_a_row_with_the_original_keys_per_change(
        hive: DaemonProcess) -> None:
    subscribers = [Subscriber(hive.host_socket) for _ in range(3)]
    with Client(hive.host_socket) as client:
        client.call("register", name="alice")
        for subscriber in subscribers:
            row = subscriber.until("alice", listening=True)
            assert set(row) >= ORIGINAL_KEYS
            assert row["running"] is False and row["paused"] is False
            assert row["parent"] is None
        client.call("unregister", name="alice")
        for subscriber in subscribers:
            row = subscriber.until("alice", registered=False)
            assert set(row) >= ORIGINAL_KEYS
    for subscriber in subscribers:
        subscriber.close()


def test_a_subscription_reads_no_further_requests(hive: DaemonProcess) -> None:
    subscriber = Subscriber(hive.host_socket)
    subscriber.sock.sendall(b'{"cmd":"whoami"}\n')
    with Client(hive.host_socket) as client:
        client.call("register", name="bob")
    # The next frame is bob's row, not an answer to whoami.
    assert subscriber.row()["name"] == "bob"
    subscriber.close()


def flood(path: Path, pid: int, samples: list[int], reads: list[int],
          read: Callable[[], int]) -> None:
    """FLOOD changes: every name registered, then unregistered, again and again; the
    daemon's RSS and the rows the reader had read so far, every 1,000 changes."""
    with Client(path) as client:
        for i in range(FLOOD // 2):
            name = NAMES[i % len(NAMES)]
            client.call("register", name=name)
            client.call("unregister", name=name)
            if i % 500 == 0:
                samples.append(rss_kb(pid))
                reads.append(read())


def test_a_subscriber_that_never_reads_stalls_nobody_and_costs_a_bounded_memory(
        hive: DaemonProcess) -> None:
    pid = hive.proc.pid
    stalled = Subscriber(hive.host_socket, receive_buffer=4096)
    reader = Subscriber(hive.host_socket)
    flood_done = threading.Event()
    read = 0

    def drain() -> None:
        nonlocal read
        while True:
            row = reader.row()
            read += 1
            if flood_done.is_set() and row["name"] == "last":
                return

    draining = threading.Thread(target=drain)
    draining.start()
    baseline = rss_kb(pid)
    samples: list[int] = []
    reads: list[int] = []
    flood(hive.host_socket, pid, samples, reads, lambda: read)
    flood_done.set()
    with Client(hive.host_socket) as client:
        client.call("register", name="last")
    draining.join(timeout=60)
    assert not draining.is_alive(), "the reading subscriber stopped getting rows"
    # It was served all through the flood while the other did not read at all: rows
    # came in most stretches of 1,000 changes (not a speed: a row coalesces each
    # agent's changes, so a slower reader reads fewer).
    served = sum(later > earlier for earlier, later in itertools.pairwise(reads))
    assert served >= len(reads) // 2, reads
    assert max(samples) - baseline < RSS_GROWTH_BOUND_KB, (baseline, samples)
    # The stalled one, once it reads, is served each agent's latest state.
    latest: dict[str, dict[str, Any]] = {}
    stalled_read = 0
    while "last" not in latest:
        row = stalled.row()
        latest[row["name"]] = row
        stalled_read += 1
    # It missed what changed while its socket was full (what it got was a socket's worth).
    assert stalled_read < read // 2, (stalled_read, read)
    assert {name: latest[name]["registered"] for name in NAMES} == dict.fromkeys(NAMES, False)
    assert latest["last"]["listening"] is True
    stalled.close()
    reader.close()


def follow(hive: DaemonProcess, *flags: str) -> subprocess.Popen[str]:
    """``hive-c0re [flags] agents --follow`` as a process of its own, as an operator runs it."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "hive_c0re", "--socket", str(hive.host_socket), *flags,
         "agents", "--follow"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return proc


def wait_subscribed(hive: DaemonProcess, proc: subprocess.Popen[str], name: str) -> str:
    """Register ``name`` until the follower prints a line about it (it may not be
    subscribed yet at the first try); return that line."""
    assert proc.stdout is not None
    with Client(hive.host_socket) as client:
        for _ in range(120):
            client.call("register", name=name)  # each (re)register is a change of its row
            if select.select([proc.stdout], [], [], 0.5)[0]:
                line = proc.stdout.readline()
                assert name in line, line
                return line
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else "ended"
    raise AssertionError("agents --follow printed nothing")


def stop_with_ctrl_c(proc: subprocess.Popen[str]) -> tuple[int, str]:
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=30)
    return proc.returncode, err


@pytest.mark.parametrize("as_json", [False, True])
def test_agents_follow_prints_a_line_per_change_and_ends_on_ctrl_c(
        hive: DaemonProcess, as_json: bool) -> None:
    proc = follow(hive, *(["--json"] if as_json else []))
    try:
        line = wait_subscribed(hive, proc, "carol")
        if as_json:
            row = json.loads(line)
            assert row["name"] == "carol" and set(row) >= ORIGINAL_KEYS
        else:
            assert "carol: mailbox" in line  # a registered name: a mailbox, no container
    finally:
        code, err = stop_with_ctrl_c(proc)
    assert code == 0, err
    assert "Traceback" not in err
