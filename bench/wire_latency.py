"""Wire benchmark: send -> recv wake latency and sustained throughput of a real hive-c0re.

Starts ``python -m hive_c0re serve`` in a fresh temp dir, registers agents over
host.sock and measures, all in one run so that every ratio compares numbers
taken on the same (shared, noisy) machine:

* wake latency: for N agents (default 1, 10, 100) each long-polling ``recv`` on
  its own socket, the operator sends to a random agent one message at a time;
  latency is the operator's write of ``send`` to the recipient's read of the
  ``recv`` answer (one process, one ``time.perf_counter``);
* sustained throughput: several concurrent senders (operator and agents) send
  to random agents while every receiver drains (``recv`` then ``ack_turn``);
* baseline (a): the reference design's 5-second polling loop, as readers of
  the same ``broker.sqlite`` that SELECT their unread rows every 5 s;
* baseline (b): a raw sqlite floor, one INSERT + one SELECT of a message row in
  a WAL file with synchronous=NORMAL through the sqlite3 module.

Run by hand: ``.venv/bin/python bench/wire_latency.py [--quick]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import shutil
import sqlite3
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # also runnable as ``python bench/wire_latency.py``
    sys.path.insert(0, str(REPO))

from bench.common import BenchError, Spread, fmt_ms, median, percentile, step, verdict  # noqa: E402
from bench.wire_hive import DELIVERY_TIMEOUT, Conn, Daemon, Hive, Hub, wait_ready  # noqa: E402
from hive_c0re.broker.migrations import MIGRATIONS  # noqa: E402

TARGET_P99_MS = 5.0  # at 100 agents
TARGET_MSG_S = 2000.0
TARGET_FLOOR_RATIO = 10.0
POLL_INTERVAL = 5.0  # the reference design's polling period


# -- numbers --------------------------------------------------------------------------


def fmt_us(seconds: float) -> str:
    return f"{seconds * 1e6:,.1f} µs"


# -- phase 1: wake latency -------------------------------------------------------------


@dataclass
class LatencyResult(Spread):
    agents: int
    latencies: list[float]
    send_rtts: list[float]


async def measure_latency(hive: Hive, count: int, warmup: int, gap: float,
                          rng: random.Random, seq_start: int) -> LatencyResult:
    """Operator sends to random agents one at a time; each waits for its delivery."""
    names = sorted(hive.receivers)
    latencies: list[float] = []
    rtts: list[float] = []
    loop = asyncio.get_running_loop()
    for i in range(warmup + count):
        hive.check_receivers()
        name = rng.choice(names)
        receiver = hive.receivers[name]
        # The previous delivery's ack_turn and next recv must be on the wire first,
        # then a short gap lets the daemon park that recv.
        await asyncio.wait_for(receiver.armed.wait(), DELIVERY_TIMEOUT)
        await asyncio.sleep(gap)
        seq = seq_start + i
        waiter: asyncio.Future[float] = loop.create_future()
        hive.hub.latency_waiters[seq] = waiter
        sent = time.perf_counter()
        await hive.host.call("send", to=name, body=f"L {seq}")
        answered = time.perf_counter()
        try:
            arrived = await asyncio.wait_for(waiter, DELIVERY_TIMEOUT)
        except TimeoutError:
            hive.daemon.check_alive()
            raise BenchError(f"message L {seq} to {name} was not delivered in "
                             f"{DELIVERY_TIMEOUT:.0f} s") from None
        if i >= warmup:
            latencies.append(arrived - sent)
            rtts.append(answered - sent)
    return LatencyResult(len(names), latencies, rtts)


# -- phase 2: sustained throughput -------------------------------------------------------


@dataclass
class ThroughputResult:
    agents: int
    senders: int
    operator_senders: int
    sent: int
    send_seconds: float  # first send to last send answer
    total_seconds: float  # first send to last delivery
    daemon_cpu: float
    client_cpu: float

    @property
    def sent_per_s(self) -> float:
        return self.sent / self.send_seconds

    @property
    def delivered_per_s(self) -> float:
        return self.sent / self.total_seconds

    @property
    def per_message(self) -> float:
        return self.total_seconds / self.sent


async def measure_throughput(hive: Hive, seconds: float, senders: int,
                             rng: random.Random) -> ThroughputResult:
    """Concurrent senders for ``seconds``; throughput counts until the last delivery."""
    names = sorted(hive.receivers)
    operator_senders = max(1, senders // 4)
    conns: list[tuple[str, Conn]] = []
    for _ in range(operator_senders):
        conns.append(("operator", await Conn.open(hive.daemon.paths.host_socket)))
    for name in rng.sample(names, min(len(names), senders - operator_senders)):
        conns.append((name, await Conn.open(hive.daemon.paths.agent_socket(name))))
    counts = [0] * len(conns)
    hub = hive.hub
    hub.throughput_delivered = 0

    async def sender(index: int, identity: str, conn: Conn, stop_at: float) -> None:
        local = random.Random(rng.random())
        targets = [n for n in names if n != identity]
        while time.perf_counter() < stop_at:
            await conn.call("send", to=local.choice(targets), body=f"T {index}")
            counts[index] += 1

    cpu0 = hive.daemon.cpu_seconds()
    client0 = time.process_time()
    started = time.perf_counter()
    await asyncio.gather(*(sender(i, ident, conn, started + seconds)
                           for i, (ident, conn) in enumerate(conns)))
    send_done = time.perf_counter()
    sent = sum(counts)
    deadline = send_done + DELIVERY_TIMEOUT
    while hub.throughput_delivered < sent:
        hive.check_receivers()
        if time.perf_counter() > deadline:
            raise BenchError(f"only {hub.throughput_delivered} of {sent} throughput messages "
                             f"were delivered")
        await asyncio.sleep(0.002)
    cpu1 = hive.daemon.cpu_seconds()
    client1 = time.process_time()
    for _, conn in conns:
        await conn.close()
    return ThroughputResult(
        agents=len(names), senders=len(conns), operator_senders=operator_senders, sent=sent,
        send_seconds=send_done - started, total_seconds=hub.throughput_last - started,
        daemon_cpu=cpu1 - cpu0, client_cpu=client1 - client0,
    )


# -- baseline (a): the reference design's 5-second polling loop -------------------------


@dataclass
class PollingResult(Spread):
    pollers: int
    latencies: list[float]


def _poll_once(db: sqlite3.Connection, recipient: str, after: int) -> list[tuple[int, str]]:
    rows = db.execute(
        "SELECT id, body FROM message WHERE recipient = ? AND acked_at IS NULL"
        " AND leased_at IS NULL AND id > ? ORDER BY id",
        (recipient, after),
    ).fetchall()
    return [(int(r[0]), str(r[1])) for r in rows]


async def measure_polling(hive: Hive, samples: int, spread: float, pollers: int,
                          rng: random.Random) -> PollingResult:
    """Agents without a receiver, read by 5 s pollers of broker.sqlite (read-only).

    Each poller starts at a random phase of its period, as independently started
    agents would. A send's latency is the operator's write of ``send`` to the
    first poll that returns the row.
    """
    names = [f"p{i:03d}" for i in range(1, pollers + 1)]
    for name in names:
        await hive.host.call("register", name=name)
    sent_at: dict[int, float] = {}
    latencies: list[float] = []
    done = asyncio.Event()

    async def poller(name: str, phase: float) -> None:
        db = sqlite3.connect(f"file:{hive.daemon.paths.broker}?mode=ro", uri=True,
                             isolation_level=None, check_same_thread=False)
        try:
            last_id = 0
            start = time.perf_counter() + phase
            tick = 0
            while not done.is_set():
                await asyncio.sleep(max(0.0, start + tick * POLL_INTERVAL - time.perf_counter()))
                tick += 1
                seen = time.perf_counter()
                for row_id, body in _poll_once(db, name, last_id):
                    last_id = max(last_id, row_id)
                    seq = int(body[2:])
                    latencies.append(seen - sent_at[seq])
                if len(latencies) >= samples:
                    done.set()
        finally:
            db.close()

    tasks = [asyncio.get_running_loop().create_task(poller(n, rng.uniform(0, POLL_INTERVAL)))
             for n in names]
    for seq in range(samples):
        await asyncio.sleep(rng.uniform(0, 2 * spread / samples))
        sent_at[seq] = time.perf_counter()
        await hive.host.call("send", to=rng.choice(names), body=f"P {seq}")
    try:
        await asyncio.wait_for(done.wait(), POLL_INTERVAL + DELIVERY_TIMEOUT)
    except TimeoutError:
        raise BenchError(f"pollers saw {len(latencies)} of {samples} messages") from None
    finally:
        done.set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return PollingResult(pollers, latencies)


# -- baseline (b): raw sqlite floor -----------------------------------------------------

# The daemon's own message table and inbox index (migration 1), nothing else of the store;
# without PRAGMA foreign_keys its REFERENCES costs an insert nothing.
FLOOR_SCHEMA = tuple(statement for statement in MIGRATIONS[0].statements
                     if "TABLE message" in statement or "INDEX message_inbox" in statement)


@dataclass
class FloorResult:
    ops: int
    batch_costs: list[float]  # wall seconds per op, one per batch, in the order taken
    batch_cpu: list[float]  # this thread's CPU seconds per op, likewise

    @property
    def per_op(self) -> float:
        return median(self.batch_costs)

    @property
    def cpu_per_op(self) -> float:
        return median(self.batch_cpu)


class Floor:
    """INSERT one message row (autocommit) then SELECT it back by id: one op.

    Batches are taken at several points of the run (between phases, while the
    daemon is idle) so that the floor sees the same background load as the
    numbers it is compared with; the first batch only warms up.
    """

    def __init__(self, path: Path, ops: int) -> None:
        self.ops = ops
        self.costs: list[float] = []
        self.cpu: list[float] = []
        self.db = sqlite3.connect(str(path), isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        for statement in FLOOR_SCHEMA:
            self.db.execute(statement)
        self._batch()

    def _batch(self) -> tuple[float, float]:
        db = self.db
        started = time.perf_counter()
        cpu_started = time.thread_time()
        for i in range(self.ops):
            row_id = db.execute(
                "INSERT INTO message (sender, recipient, body, sent_at) VALUES (?, ?, ?, ?)",
                ("operator", "a001", f"T {i}", time.time()),
            ).lastrowid
            db.execute("SELECT id, sender, recipient, body, in_reply_to, sent_at"
                       " FROM message WHERE id = ?", (row_id,)).fetchone()
        return ((time.perf_counter() - started) / self.ops,
                (time.thread_time() - cpu_started) / self.ops)

    def sample(self, batches: int = 2) -> None:
        for _ in range(batches):
            wall, cpu = self._batch()
            self.costs.append(wall)
            self.cpu.append(cpu)

    def result(self) -> FloorResult:
        return FloorResult(self.ops, list(self.costs), list(self.cpu))

    def close(self) -> None:
        self.db.close()


# -- the run --------------------------------------------------------------------------


@dataclass
class Options:
    quick: bool
    agent_counts: list[int]
    messages: int
    warmup: int
    gap: float
    seconds: float
    senders: int
    poll_samples: int
    poll_spread: float
    pollers: int
    floor_ops: int
    seed: int
    keep: bool
    json: Path | None
    profile: Path | None


def parse_args(argv: Sequence[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="a ~15 s smoke run")
    parser.add_argument("--agents", default="1,10,100",
                        help="agent counts for the latency phase (default 1,10,100)")
    parser.add_argument("--messages", type=int, help="measured sends per agent count "
                        "(default 400; quick 100)")
    parser.add_argument("--warmup", type=int, help="unmeasured sends first (default 20; quick 10)")
    parser.add_argument("--gap-ms", type=float, default=1.0,
                        help="pause before each latency send, so the target's recv is parked")
    parser.add_argument("--seconds", type=float,
                        help="throughput phase length (default 5; quick 2)")
    parser.add_argument("--senders", type=int, default=8,
                        help="concurrent sender connections, a quarter of them the operator's")
    parser.add_argument("--poll-samples", type=int,
                        help="sends measured against the 5 s polling loop, 0 skips it "
                        "(default 20; quick 5)")
    parser.add_argument("--poll-spread", type=float,
                        help="seconds those sends are spread over (default 15; quick 4)")
    parser.add_argument("--pollers", type=int, default=4, help="polling agents")
    parser.add_argument("--floor-ops", type=int,
                        help="raw sqlite ops per floor batch; 2 batches are taken between "
                        "phases (default 5000; quick 2000)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (daemon log)")
    parser.add_argument("--json", type=Path, metavar="FILE",
                        help="also write the summary numbers to FILE as JSON")
    parser.add_argument("--profile", type=Path, metavar="FILE",
                        help="run the daemon under cProfile and write its stats to FILE "
                        "(slows the daemon: the numbers are then not comparable)")
    ns = parser.parse_args(argv)
    quick = bool(ns.quick)

    def pick(value: Any, full: Any, smoke: Any) -> Any:
        return value if value is not None else (smoke if quick else full)

    counts = sorted({int(part) for part in str(ns.agents).split(",") if part.strip()})
    if not counts or counts[0] < 1 or counts[-1] > 999:
        parser.error("--agents takes counts between 1 and 999")
    return Options(
        quick=quick, agent_counts=counts,
        messages=int(pick(ns.messages, 400, 100)), warmup=int(pick(ns.warmup, 20, 10)),
        gap=float(ns.gap_ms) / 1000, seconds=float(pick(ns.seconds, 5.0, 2.0)),
        senders=max(2, int(ns.senders)), poll_samples=int(pick(ns.poll_samples, 20, 5)),
        poll_spread=float(pick(ns.poll_spread, 15.0, 4.0)), pollers=max(1, int(ns.pollers)),
        floor_ops=int(pick(ns.floor_ops, 5000, 2000)), seed=int(ns.seed), keep=bool(ns.keep),
        json=ns.json, profile=ns.profile.resolve() if ns.profile is not None else None,
    )


@dataclass
class Results:
    ready: float = 0.0
    latency: list[LatencyResult] = field(default_factory=list)
    throughput: ThroughputResult | None = None
    polling: PollingResult | None = None
    floor: FloorResult | None = None


async def run(opts: Options, daemon: Daemon, floor: Floor, results: Results) -> None:
    rng = random.Random(opts.seed)
    results.ready = await wait_ready(daemon)
    hive = Hive(daemon, await Conn.open(daemon.paths.host_socket), Hub())
    try:
        seq = 0
        floor.sample()
        for count in opts.agent_counts:
            have = len(hive.receivers)
            step(f"registering agents {have + 1}..{count}")
            await hive.add_agents([f"a{i:03d}" for i in range(have + 1, count + 1)])
            step(f"latency with {count} agent(s): {opts.messages} sends")
            results.latency.append(
                await measure_latency(hive, opts.messages, opts.warmup, opts.gap, rng, seq))
            seq += opts.messages + opts.warmup
            floor.sample()
        step(f"throughput: {opts.senders} senders for {opts.seconds:g} s")
        results.throughput = await measure_throughput(hive, opts.seconds, opts.senders, rng)
        floor.sample()
        if opts.poll_samples > 0:
            step(f"polling baseline: {opts.poll_samples} sends over ~{opts.poll_spread:g} s, "
                 f"{POLL_INTERVAL:g} s loop")
            results.polling = await measure_polling(hive, opts.poll_samples, opts.poll_spread,
                                                    opts.pollers, rng)
        else:
            results.polling = PollingResult(0, [])
        if hive.hub.unexpected:
            raise BenchError(f"{hive.hub.unexpected} deliveries with an unexpected body")
    finally:
        await hive.close()


def report(opts: Options, daemon: Daemon, results: Results) -> None:
    floor = results.floor
    polling = results.polling
    tp = results.throughput
    assert floor is not None and polling is not None and tp is not None
    print()
    print(f"hive-c0re wire benchmark ({'quick' if opts.quick else 'full'}): "
          f"python {platform.python_version()}, {os.cpu_count()} cpu(s), "
          f"daemon answered whoami {fmt_ms(results.ready)} ms after its spawn")
    print()
    print(f"raw sqlite floor (WAL, synchronous=NORMAL, INSERT + SELECT one row): "
          f"{fmt_us(floor.per_op)} per op ({fmt_us(floor.cpu_per_op)} CPU)")
    print(f"  median of {len(floor.batch_costs)} batches x {floor.ops} ops taken between "
          f"phases: {', '.join(f'{c * 1e6:.1f}' for c in floor.batch_costs)} µs")
    if polling.latencies:
        print(f"polling baseline ({POLL_INTERVAL:g} s loop, {polling.pollers} pollers, "
              f"{len(polling.latencies)} sends): p50 {fmt_ms(polling.p50)} ms, "
              f"p99 {fmt_ms(polling.p99)} ms")
    else:
        print("polling baseline: not measured (--poll-samples 0)")
    print()
    header = (f"{'agents':>6}  {'sends':>5}  {'p50 ms':>7}  {'p90 ms':>7}  {'p99 ms':>7}  "
              f"{'max ms':>7}  {'send rtt p50':>12}  {'polling p50 / p50':>17}  "
              f"{'p50 / floor':>11}")
    print("send -> recv wake latency (operator send to a random long-polling agent)")
    print(header)
    print("-" * len(header))
    for lat in results.latency:
        print(f"{lat.agents:>6}  {len(lat.latencies):>5}  {fmt_ms(lat.p50):>7}  "
              f"{fmt_ms(percentile(lat.latencies, 90)):>7}  {fmt_ms(lat.p99):>7}  "
              f"{fmt_ms(max(lat.latencies)):>7}  "
              f"{fmt_ms(percentile(lat.send_rtts, 50)) + ' ms':>12}  "
              f"{polling.p50 / lat.p50:>16,.0f}x  {lat.p50 / floor.per_op:>10,.1f}x")
    print()
    print(f"sustained throughput: {tp.agents} agents draining, {tp.senders} sender connections "
          f"({tp.operator_senders} operator, {tp.senders - tp.operator_senders} agents), "
          f"{tp.send_seconds:.1f} s")
    print(f"  {tp.sent:,} messages: {tp.sent_per_s:,.0f} sends/s answered, "
          f"{tp.delivered_per_s:,.0f} msg/s delivered end to end")
    print(f"  per message: {fmt_us(tp.per_message)} wall = "
          f"{tp.per_message / floor.per_op:,.1f}x the floor; daemon CPU "
          f"{fmt_us(tp.daemon_cpu / tp.sent)} ({tp.daemon_cpu / tp.total_seconds:.0%} of a core), "
          f"bench client CPU {fmt_us(tp.client_cpu / tp.sent)} "
          f"({tp.client_cpu / tp.total_seconds:.0%} of a core)")
    print()

    largest = results.latency[-1]
    at_100 = next((lat for lat in results.latency if lat.agents == 100), None)
    floor_ratio = tp.per_message / floor.per_op
    print("targets")
    if at_100 is not None:
        print(f"  p99 wake latency at 100 agents <= {TARGET_P99_MS:g} ms: "
              f"{fmt_ms(at_100.p99)} ms  {verdict(at_100.p99 * 1000 <= TARGET_P99_MS)}")
    else:
        print(f"  p99 wake latency at 100 agents <= {TARGET_P99_MS:g} ms: not measured "
              f"(--agents has no 100)")
    print(f"  throughput >= {TARGET_MSG_S:,.0f} msg/s: {tp.delivered_per_s:,.0f} msg/s  "
          f"{verdict(tp.delivered_per_s >= TARGET_MSG_S)}")
    print(f"  per-message time <= {TARGET_FLOOR_RATIO:g}x raw sqlite floor: "
          f"{fmt_us(tp.per_message)} / {fmt_us(floor.per_op)} = {floor_ratio:.1f}x  "
          f"{verdict(floor_ratio <= TARGET_FLOOR_RATIO)}")
    print("ratios")
    print(f"  polling p50 / our p50 ({largest.agents} agents): "
          f"{fmt_ms(polling.p50)} ms / {fmt_ms(largest.p50)} ms = "
          f"{polling.p50 / largest.p50:,.0f}x")
    print(f"  our per-message cost / floor per-op cost: {floor_ratio:.1f}x wall; "
          f"{tp.daemon_cpu / tp.sent / floor.cpu_per_op:.1f}x in CPU time "
          f"(daemon CPU per message / floor CPU per op: the ratio least moved by other load)")
    print(f"daemon pid {daemon.pid}, log {daemon.log_path}"
          + ("" if opts.keep else " (removed)"))


def summary(opts: Options, results: Results) -> dict[str, Any]:
    """The headline numbers, in seconds and messages per second."""
    assert results.floor is not None and results.throughput is not None
    tp = results.throughput
    polling = results.polling
    return {
        "quick": opts.quick,
        "latency": {str(lat.agents): {"p50": lat.p50, "p99": lat.p99,
                                      "send_rtt_p50": percentile(lat.send_rtts, 50),
                                      "count": len(lat.latencies)}
                    for lat in results.latency},
        "throughput": {"msg_per_s": tp.delivered_per_s, "sends_per_s": tp.sent_per_s,
                       "per_message": tp.per_message, "sent": tp.sent,
                       "daemon_cpu_per_message": tp.daemon_cpu / tp.sent,
                       "client_cpu_per_message": tp.client_cpu / tp.sent},
        "polling": ({"p50": polling.p50, "p99": polling.p99, "count": len(polling.latencies)}
                    if polling is not None and polling.latencies else None),
        "floor_per_op": results.floor.per_op,
        "floor_cpu_per_op": results.floor.cpu_per_op,
    }


def main(argv: Sequence[str] | None = None) -> int:
    opts = parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="hhb.", dir="/tmp"))
    daemon = Daemon(root, opts.profile)
    results = Results()
    started = time.perf_counter()
    try:
        floor = Floor(root / "floor.sqlite", opts.floor_ops)  # before the daemon: warm-up
        step(f"starting hive-c0re in {root}")
        daemon.start()
        try:
            asyncio.run(run(opts, daemon, floor, results))
            floor.sample()
        finally:
            floor.close()
        results.floor = floor.result()
        report(opts, daemon, results)
        if opts.json is not None:
            opts.json.write_text(json.dumps(summary(opts, results), indent=2) + "\n")
        print(f"(took {time.perf_counter() - started:.0f} s)")
    except BenchError as exc:
        print(f"wire_latency: {exc}", file=sys.stderr)
        return 1
    finally:
        daemon.stop()
        if opts.keep:
            print(f"kept {root}", file=sys.stderr)
        else:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
