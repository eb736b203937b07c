"""The wire benchmark's options, what it measures, and the report printed from that."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.common import Spread, fmt_ms, machine, median, percentile, verdict
from bench.wire_hive import Daemon

TARGET_P99_MS = 5.0  # at 100 agents
TARGET_MSG_S = 2000.0
TARGET_FLOOR_RATIO = 10.0
POLL_INTERVAL = 5.0  # the reference design's polling period


# -- numbers --------------------------------------------------------------------------


def fmt_us(seconds: float) -> str:
    return f"{seconds * 1e6:,.1f} µs"


@dataclass
class LatencyResult(Spread):
    agents: int
    latencies: list[float]
    send_rtts: list[float]


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


@dataclass
class PollingResult(Spread):
    pollers: int
    latencies: list[float]


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


def parser_for(doc: str | None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0] if doc else None)
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
    return parser


def parse_args(argv: Sequence[str] | None, doc: str | None) -> Options:
    """The options; a quick run's defaults where ``--quick`` is given and a value is not."""
    parser = parser_for(doc)
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


def report(opts: Options, daemon: Daemon, results: Results) -> None:
    floor, polling, tp = results.floor, results.polling, results.throughput
    assert floor is not None and polling is not None and tp is not None
    print()
    print(f"hive-c0re wire benchmark ({'quick' if opts.quick else 'full'}): "
          f"{machine()}, "
          f"daemon answered whoami {fmt_ms(results.ready)} ms after its spawn")
    print()
    report_baselines(floor, polling)
    print()
    report_latency(results.latency, floor, polling)
    print()
    report_throughput(tp, floor)
    print()
    report_targets(results.latency, tp, floor)
    report_ratios(results.latency[-1], tp, floor, polling)
    print(f"daemon pid {daemon.pid}, log {daemon.log_path}"
          + ("" if opts.keep else " (removed)"))


def report_baselines(floor: FloorResult, polling: PollingResult) -> None:
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


def report_latency(latency: Sequence[LatencyResult], floor: FloorResult,
                   polling: PollingResult) -> None:
    header = (f"{'agents':>6}  {'sends':>5}  {'p50 ms':>7}  {'p90 ms':>7}  {'p99 ms':>7}  "
              f"{'max ms':>7}  {'send rtt p50':>12}  {'polling p50 / p50':>17}  "
              f"{'p50 / floor':>11}")
    print("send -> recv wake latency (operator send to a random long-polling agent)")
    print(header)
    print("-" * len(header))
    for lat in latency:
        print(f"{lat.agents:>6}  {len(lat.latencies):>5}  {fmt_ms(lat.p50):>7}  "
              f"{fmt_ms(percentile(lat.latencies, 90)):>7}  {fmt_ms(lat.p99):>7}  "
              f"{fmt_ms(max(lat.latencies)):>7}  "
              f"{fmt_ms(percentile(lat.send_rtts, 50)) + ' ms':>12}  "
              f"{polling.p50 / lat.p50:>16,.0f}x  {lat.p50 / floor.per_op:>10,.1f}x")


def report_throughput(tp: ThroughputResult, floor: FloorResult) -> None:
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


def report_targets(latency: Sequence[LatencyResult], tp: ThroughputResult,
                   floor: FloorResult) -> None:
    at_100 = next((lat for lat in latency if lat.agents == 100), None)
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


def report_ratios(largest: LatencyResult, tp: ThroughputResult, floor: FloorResult,
                  polling: PollingResult) -> None:
    print("ratios")
    print(f"  polling p50 / our p50 ({largest.agents} agents): "
          f"{fmt_ms(polling.p50)} ms / {fmt_ms(largest.p50)} ms = "
          f"{polling.p50 / largest.p50:,.0f}x")
    print(f"  our per-message cost / floor per-op cost: {tp.per_message / floor.per_op:.1f}x "
          f"wall; {tp.daemon_cpu / tp.sent / floor.cpu_per_op:.1f}x in CPU time "
          f"(daemon CPU per message / floor CPU per op: the ratio least moved by other load)")


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


