"""The status feed with real containers: three subscribers see a start, a pause and a crash.

Each change is made by a request (or a kill from outside, as the crash watch
tests do); every subscriber must then get that agent's row saying so. The
latency from the change to each subscriber's read is printed, never asserted
(bench/subscribe.py measures it).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest

from hive_dev.sandbox import SandboxHive
from hive_dev.subscriber import ORIGINAL_KEYS, Subscriber


@pytest.fixture
def subscribers(container_hive: SandboxHive) -> Iterator[list[Subscriber]]:
    container_hive.call("whoami")  # the daemon is up before anyone subscribes
    found = [Subscriber(container_hive.host_socket, timeout=60) for _ in range(3)]
    yield found
    for subscriber in found:
        subscriber.close()


def seen_by_all(subscribers: list[Subscriber], change: Callable[[], object], what: str,
                **wanted: object) -> None:
    """Make ``change``; every subscriber must get alice's row with ``wanted``."""
    began = time.perf_counter()
    change()
    done = time.perf_counter()
    for subscriber in subscribers:
        row = subscriber.until("alice", **wanted)
        assert set(row) >= ORIGINAL_KEYS, row
        print(f"{what}: seen {1000 * (subscriber.read_at - began):.1f} ms after the request "
              f"began, {1000 * (subscriber.read_at - done):+.1f} ms after it returned")


def test_three_subscribers_see_a_start_a_pause_and_a_crash(
        container_hive: SandboxHive, subscribers: list[Subscriber]) -> None:
    hive = container_hive
    seen_by_all(subscribers, lambda: hive.call("spawn", name="alice"), "spawn", running=True)
    seen_by_all(subscribers, lambda: hive.call("stop", name="alice"), "stop", running=False,
                failed=False)
    seen_by_all(subscribers, lambda: hive.call("start", name="alice"), "start", running=True)
    seen_by_all(subscribers, lambda: hive.call("set_paused", name="alice", paused=True),
                "pause", paused=True, running=True)
    seen_by_all(subscribers, lambda: hive.call("set_paused", name="alice", paused=False),
                "resume", paused=False)
    seen_by_all(subscribers, lambda: hive.sandbox.systemctl(
        "kill", "--kill-whom=main", "-s", "KILL", "hive-agent@alice.service"),
        "crash", running=False, failed=True)
