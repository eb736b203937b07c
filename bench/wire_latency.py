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

import asyncio
import json
import random
import shutil
import sqlite3
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # also runnable as ``python bench/wire_latency.py``
    sys.path.insert(0, str(REPO))

from bench.common import BenchError, step  # noqa: E402
from bench.wire_hive import DELIVERY_TIMEOUT, Conn, Daemon, Hive, Hub, wait_ready  # noqa: E402
from bench.wire_results import (  # noqa: E402
    POLL_INTERVAL,
    FloorResult,
    LatencyResult,
    Options,
    PollingResult,
    Results,
    ThroughputResult,
    parse_args,
    report,
    summary,
)
from hive_c0re.broker.migrations import MIGRATIONS  # noqa: E402

# -- phase 1: wake latency -------------------------------------------------------------


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


async def open_senders(hive: Hive, operators: int, agents: int,
                       rng: random.Random) -> list[tuple[str, Conn]]:
    """Connections to send on: ``operators`` on host.sock, ``agents`` on random agents'."""
    conns: list[tuple[str, Conn]] = []
    for _ in range(operators):
        conns.append(("operator", await Conn.open(hive.daemon.paths.host_socket)))
    names = sorted(hive.receivers)
    for name in rng.sample(names, min(len(names), agents)):
        conns.append((name, await Conn.open(hive.daemon.paths.agent_socket(name))))
    return conns


async def all_delivered(hive: Hive, sent: int, deadline: float) -> None:
    """Until the receivers have had every one of the ``sent`` throughput messages."""
    while hive.hub.throughput_delivered < sent:
        hive.check_receivers()
        if time.perf_counter() > deadline:
            raise BenchError(f"only {hive.hub.throughput_delivered} of {sent} throughput "
                             f"messages were delivered")
        await asyncio.sleep(0.002)


async def measure_throughput(hive: Hive, seconds: float, senders: int,
                             rng: random.Random) -> ThroughputResult:
    """Concurrent senders for ``seconds``; throughput counts until the last delivery."""
    names = sorted(hive.receivers)
    operator_senders = max(1, senders // 4)
    conns = await open_senders(hive, operator_senders, senders - operator_senders, rng)
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
    await all_delivered(hive, sent, send_done + DELIVERY_TIMEOUT)
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


def _poll_once(db: sqlite3.Connection, recipient: str, after: int) -> list[tuple[int, str]]:
    rows = db.execute(
        "SELECT id, body FROM message WHERE recipient = ? AND acked_at IS NULL"
        " AND leased_at IS NULL AND id > ? ORDER BY id",
        (recipient, after),
    ).fetchall()
    return [(int(r[0]), str(r[1])) for r in rows]


class Pollers:
    """The reference design's agents: each polls broker.sqlite (read-only) every 5 s,
    from a random phase of its period, as independently started agents would."""

    def __init__(self, broker: Path, samples: int) -> None:
        self.broker = broker
        self.samples = samples
        self.sent_at: dict[int, float] = {}
        self.latencies: list[float] = []
        self.done = asyncio.Event()

    async def poll(self, name: str, phase: float) -> None:
        db = sqlite3.connect(f"file:{self.broker}?mode=ro", uri=True,
                             isolation_level=None, check_same_thread=False)
        try:
            last_id = 0
            start = time.perf_counter() + phase
            tick = 0
            while not self.done.is_set():
                await asyncio.sleep(max(0.0, start + tick * POLL_INTERVAL - time.perf_counter()))
                tick += 1
                seen = time.perf_counter()
                for row_id, body in _poll_once(db, name, last_id):
                    last_id = max(last_id, row_id)
                    self.latencies.append(seen - self.sent_at[int(body[2:])])
                if len(self.latencies) >= self.samples:
                    self.done.set()
        finally:
            db.close()


async def measure_polling(hive: Hive, samples: int, spread: float, pollers: int,
                          rng: random.Random) -> PollingResult:
    """Agents without a receiver, read by :class:`Pollers`. A send's latency is the
    operator's write of ``send`` to the first poll that returns the row."""
    names = [f"p{i:03d}" for i in range(1, pollers + 1)]
    for name in names:
        await hive.host.call("register", name=name)
    polls = Pollers(hive.daemon.paths.broker, samples)
    tasks = [asyncio.get_running_loop().create_task(polls.poll(n, rng.uniform(0, POLL_INTERVAL)))
             for n in names]
    for seq in range(samples):
        await asyncio.sleep(rng.uniform(0, 2 * spread / samples))
        polls.sent_at[seq] = time.perf_counter()
        await hive.host.call("send", to=rng.choice(names), body=f"P {seq}")
    try:
        await asyncio.wait_for(polls.done.wait(), POLL_INTERVAL + DELIVERY_TIMEOUT)
    except TimeoutError:
        raise BenchError(f"pollers saw {len(polls.latencies)} of {samples} messages") from None
    finally:
        polls.done.set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return PollingResult(pollers, polls.latencies)


# -- baseline (b): raw sqlite floor -----------------------------------------------------

# The daemon's own message table and inbox index (migration 1), nothing else of the store;
# without PRAGMA foreign_keys its REFERENCES costs an insert nothing.
FLOOR_SCHEMA = tuple(statement for statement in MIGRATIONS[0].statements
                     if "TABLE message" in statement or "INDEX message_inbox" in statement)


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


def main(argv: Sequence[str] | None = None) -> int:
    opts = parse_args(argv, __doc__)
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
