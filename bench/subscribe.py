"""Status feed benchmark: change -> subscriber latency of ``subscribe_agent_status``.

Starts ``python -m hive_c0re serve`` in a fresh temp dir (mailboxes only, no
containers), registers agents over host.sock and, in one run:

* fan-out: N subscribers (default 1, 10, 100) hold ``subscribe_agent_status``;
  the operator toggles a random agent's pause mark (``set_paused``), one change
  at a time; latency runs from the write of ``set_paused`` to each subscriber's
  read of that agent's row showing the new mark (one process, one
  ``time.perf_counter``), and the p99 is over every subscriber of every change;
* the baseline: a polling client asking ``agent_status`` every second (from a
  random phase), as a status bar without the feed would; its latency runs from
  the change to the first poll answer that shows it.

Run by hand: ``.venv/bin/python bench/subscribe.py [--quick]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # also runnable as ``python bench/subscribe.py``
    sys.path.insert(0, str(REPO))

from bench.common import BenchError, median, percentile, step  # noqa: E402
from bench.wire_hive import Conn, Daemon, wait_ready  # noqa: E402

TARGET_P99_MS = 100.0  # the "within 100 ms", at 100 subscribers
POLL_INTERVAL = 1.0
AGENTS = [f"a{i:03d}" for i in range(10)]
ROW_TIMEOUT = 15.0


class Watcher:
    """One subscriber: the time it read each (agent, paused) row someone waits for."""

    def __init__(self, conn: Conn) -> None:
        self.conn = conn
        self.waiting: dict[tuple[str, bool], asyncio.Future[float]] = {}
        self.task: asyncio.Task[None] | None = None

    @classmethod
    async def open(cls, path: Path) -> Watcher:
        watcher = cls(await Conn.open(path))
        first = await watcher.conn.call("subscribe_agent_status")
        if set(first) != {"version", "ok"}:
            raise BenchError(f"subscribe_agent_status answered {first}")
        watcher.task = asyncio.get_running_loop().create_task(watcher.run())
        return watcher

    def expect(self, name: str, paused: bool) -> asyncio.Future[float]:
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self.waiting[(name, paused)] = future
        return future

    async def run(self) -> None:
        while True:
            line = await self.conn.reader.readline()
            read_at = time.perf_counter()
            if not line:
                raise BenchError("the daemon ended a subscription")
            [row] = json.loads(line)["agent_statuses"]
            future = self.waiting.pop((row["name"], row["paused"]), None)
            if future is not None and not future.done():
                future.set_result(read_at)

    async def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
        await self.conn.close()


@dataclass
class Fanout:
    subscribers: int  # those reading (a stalled one is beside them)
    latencies: list[float]  # seconds, one per subscriber per change
    round_trips: list[float]  # the set_paused request's own, one per change
    cpu_per_change: float  # the daemon's CPU seconds per change
    client_cpu_per_change: float  # this process's (the subscribers' and the operator's)
    rss_kb: int  # the daemon's RSS at the end of the phase
    stalled: bool = False  # a subscriber that never reads was beside them

    @property
    def label(self) -> str:
        return f"feed, {self.subscribers}" + (" + 1 stalled" if self.stalled else
                                               " subscriber(s)")


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def fanout(daemon: Daemon, host: Conn, n: int, changes: int, warmup: int,
                 paused: dict[str, bool]) -> Fanout:
    watchers = [await Watcher.open(daemon.paths.host_socket) for _ in range(n)]
    latencies: list[float] = []
    round_trips: list[float] = []
    cpu = client = 0.0
    try:
        for i in range(warmup + changes):
            if i == warmup:
                cpu, client = daemon.cpu_seconds(), time.process_time()
            name = random.choice(AGENTS)
            futures = [w.expect(name, not paused[name]) for w in watchers]
            began = time.perf_counter()
            paused[name] = not paused[name]
            await host.call("set_paused", name=name, paused=paused[name])
            answered = time.perf_counter()
            seen = await asyncio.wait_for(asyncio.gather(*futures), ROW_TIMEOUT)
            if i >= warmup:
                latencies += [at - began for at in seen]
                round_trips.append(answered - began)
            await asyncio.sleep(0.002)  # let every watcher go back to its read
        cpu = (daemon.cpu_seconds() - cpu) / changes
        client = (time.process_time() - client) / changes
        return Fanout(n, latencies, round_trips, cpu, client, rss_kb(daemon.pid))
    finally:
        for watcher in watchers:
            await watcher.close()


async def with_a_stalled_subscriber(daemon: Daemon, host: Conn, n: int, changes: int,
                                    warmup: int, flood: int,
                                    paused: dict[str, bool]) -> Fanout:
    """The fan-out to ``n`` subscribers beside one that subscribed and never reads, its
    socket filled first by ``flood`` changes nobody waits for."""
    reader, writer = await asyncio.open_unix_connection(str(daemon.paths.host_socket))
    try:
        writer.write(b'{"cmd":"subscribe_agent_status"}\n')
        await reader.readline()
        for i in range(flood):
            name = AGENTS[i % len(AGENTS)]
            paused[name] = not paused[name]
            await host.call("set_paused", name=name, paused=paused[name])
        phase = await fanout(daemon, host, n, changes, warmup, paused)
        phase.stalled = True
        return phase
    finally:
        writer.close()


async def poll(host_socket: Path, name: str, seen: list[tuple[float, bool]],
               stop: asyncio.Event) -> None:
    """``agent_status`` every POLL_INTERVAL from a random phase: (read time, paused)."""
    conn = await Conn.open(host_socket)
    try:
        await asyncio.sleep(random.uniform(0, POLL_INTERVAL))
        next_at = time.perf_counter()
        while not stop.is_set():
            answer = await conn.call("agent_status", name=name)
            seen.append((time.perf_counter(), bool(answer["agent_statuses"][0]["paused"])))
            next_at += POLL_INTERVAL
            await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
    finally:
        await conn.close()


async def polling_baseline(daemon: Daemon, host: Conn, changes: int,
                           paused: dict[str, bool]) -> list[float]:
    """The poller's detection latency of ``changes`` pause toggles of one agent."""
    name = AGENTS[0]
    seen: list[tuple[float, bool]] = []
    stop = asyncio.Event()
    poller = asyncio.get_running_loop().create_task(
        poll(daemon.paths.host_socket, name, seen, stop))
    made: list[tuple[float, bool]] = []
    await asyncio.sleep(1.5)
    for _ in range(changes):
        paused[name] = not paused[name]
        made.append((time.perf_counter(), paused[name]))
        await host.call("set_paused", name=name, paused=paused[name])
        # Longer than a poll period: every change is seen before the next one.
        await asyncio.sleep(random.uniform(1.1, 2.0))
    stop.set()
    await poller
    latencies = []
    for at, value in made:
        found = next((t for t, p in seen if t > at and p == value), None)
        if found is None:
            raise BenchError(f"the poller never saw the change at {at:.3f}")
        latencies.append(found - at)
    return latencies


def fmt_ms(seconds: float) -> str:
    ms = seconds * 1000
    return f"{ms:,.0f}" if ms >= 100 else f"{ms:.2f}"


def report(phases: Sequence[Fanout], polled: list[float]) -> dict[str, Any]:
    print(f"\n{'':24} {'p50 ms':>9} {'p90 ms':>9} {'p99 ms':>9} {'max ms':>9} "
          f"{'samples':>8} {'CPU ms/change':>14} {'client CPU':>11} {'RSS MB':>7} "
          f"{'set_paused p50 ms':>18}")
    for p in phases:
        lat = p.latencies
        print(f"{p.label:24} {fmt_ms(median(lat)):>9} "
              f"{fmt_ms(percentile(lat, 90)):>9} {fmt_ms(percentile(lat, 99)):>9} "
              f"{fmt_ms(max(lat)):>9} {len(lat):>8} {1000 * p.cpu_per_change:>14.2f} "
              f"{1000 * p.client_cpu_per_change:>11.2f} "
              f"{p.rss_kb / 1024:>7.1f} {fmt_ms(median(p.round_trips)):>18}")
    print(f"{'poller, every 1 s':24} {fmt_ms(median(polled)):>9} "
          f"{fmt_ms(percentile(polled, 90)):>9} {fmt_ms(percentile(polled, 99)):>9} "
          f"{fmt_ms(max(polled)):>9} {len(polled):>8}")
    plain = [p for p in phases if not p.stalled]
    largest = plain[-1]
    p99 = percentile(largest.latencies, 99)
    print("\nratios (the poller's latency / the feed's, same run):")
    for p in plain:
        lat = p.latencies
        print(f"  {p.subscribers:>3} subscriber(s): poller p50 / feed p50 "
              f"{median(polled) / median(lat):,.0f}x, p99 / p99 "
              f"{percentile(polled, 99) / percentile(lat, 99):,.0f}x; feed p50 / the "
              f"change's own round trip p50 {median(lat) / median(p.round_trips):.1f}x")
    print(f"  p99 at {largest.subscribers} / p99 at {plain[0].subscribers}: "
          f"{p99 / percentile(plain[0].latencies, 99):.1f}x")
    for p in (p for p in phases if p.stalled):
        same = next((q for q in plain if q.subscribers == p.subscribers), None)
        if same is not None:
            print(f"  {p.subscribers} beside a stalled one / {p.subscribers} alone: p50 "
                  f"{median(p.latencies) / median(same.latencies):.2f}x, p99 "
                  f"{percentile(p.latencies, 99) / percentile(same.latencies, 99):.2f}x; "
                  f"RSS {p.rss_kb / 1024:.1f} MB")
    verdict = "PASS" if p99 * 1000 <= TARGET_P99_MS else "MISS"
    print(f"\ntarget: p99 at {largest.subscribers} subscribers <= {TARGET_P99_MS:.0f} ms: "
          f"{fmt_ms(p99)} ms {verdict}")
    return {"feed_p99_ms": {p.label: 1000 * percentile(p.latencies, 99) for p in phases},
            "feed_p50_ms": {p.label: 1000 * median(p.latencies) for p in phases},
            "poll_p50_ms": 1000 * median(polled), "poll_p99_ms": 1000 * percentile(polled, 99)}


async def run(args: argparse.Namespace, root: Path) -> dict[str, Any]:
    daemon = Daemon(root, profile=args.profile)
    daemon.start()
    try:
        step(f"daemon ready in {await wait_ready(daemon):.2f} s")
        host = await Conn.open(daemon.paths.host_socket)
        for name in AGENTS:
            await host.call("register", name=name)
        paused = dict.fromkeys(AGENTS, False)
        phases = []
        for n in args.subscribers:
            step(f"{args.changes} changes to {n} subscriber(s)")
            phases.append(await fanout(daemon, host, n, args.changes, args.warmup, paused))
        step(f"{args.changes} changes to 10 subscribers beside one that never reads "
             f"(its socket filled by {args.flood} changes first)")
        phases.append(await with_a_stalled_subscriber(daemon, host, 10, args.changes,
                                                      args.warmup, args.flood, paused))
        step(f"polling baseline: {args.poll_changes} changes, agent_status every "
             f"{POLL_INTERVAL:g} s")
        polled = await polling_baseline(daemon, host, args.poll_changes, paused)
        await host.close()
        return report(phases, polled)
    finally:
        daemon.stop()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer changes (about 20 s)")
    parser.add_argument("--subscribers", type=int, nargs="+", default=[1, 10, 100])
    parser.add_argument("--json", type=Path, help="write the headline numbers here")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir")
    parser.add_argument("--profile", type=Path, help="run the daemon under cProfile, "
                        "writing its stats here (the numbers are then not comparable)")
    args = parser.parse_args(argv)
    args.changes, args.warmup, args.poll_changes, args.flood = (
        (60, 5, 6, 1000) if args.quick else (300, 20, 20, 2000))
    root = Path(tempfile.mkdtemp(prefix="hhs.", dir="/tmp"))
    try:
        numbers = asyncio.run(run(args, root))
    except BenchError as exc:
        print(f"subscribe benchmark could not run: {exc}", file=sys.stderr)
        return 1
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    if args.json is not None:
        args.json.write_text(json.dumps(numbers, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
