"""The harness benchmark's options, what it measures, and the report printed from that."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.common import fmt_ms, machine, median, percentile, verdict
from bench.harness_processes import Mem

TARGET_IDLE_MIB = 60.0
TARGET_SLOPE_KIB = 5.0  # KiB per turn over the second half
TARGET_GROWTH = 0.10  # RSS after the last turn vs after the reference turn
FLOOR_RUNS = 3


@dataclass
class Options:
    quick: bool
    turns: int
    warmup: int
    mem_turns: int
    sample_every: int
    reference_turn: int
    keep: bool
    json: Path | None


def parse_args(argv: Sequence[str] | None, doc: str | None) -> Options | str:
    """The options, or the SDK worker's config when run as baseline (b)'s worker."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0] if doc else None)
    parser.add_argument("--quick", action="store_true", help="a ~35 s smoke run")
    parser.add_argument("--turns", type=int,
                        help="measured turns per method (default 30; quick 10)")
    parser.add_argument("--warmup", type=int,
                        help="unmeasured turns per method first (default 3; quick 2)")
    parser.add_argument("--mem-turns", type=int,
                        help="harness turns in all, for the memory slope (default 200; quick 40)")
    parser.add_argument("--sample-every", type=int,
                        help="rows of the RSS table, every N turns (default 20; quick 5)")
    parser.add_argument("--keep", action="store_true", help="keep the temp dirs (logs)")
    parser.add_argument("--json", type=Path, metavar="FILE",
                        help="also write the headline numbers to FILE as JSON")
    parser.add_argument("--sdk-worker", metavar="CONFIG", help=argparse.SUPPRESS)
    ns = parser.parse_args(argv)
    if ns.sdk_worker:
        return str(ns.sdk_worker)
    quick = bool(ns.quick)

    def pick(value: int | None, full: int, smoke: int) -> int:
        return value if value is not None else (smoke if quick else full)

    turns = max(1, pick(ns.turns, 30, 10))
    warmup = max(1, pick(ns.warmup, 3, 2))  # the harness's first turn starts its CLI
    mem_turns = max(pick(ns.mem_turns, 200, 40), warmup + turns)
    return Options(quick=quick, turns=turns, warmup=warmup, mem_turns=mem_turns,
                   sample_every=max(1, pick(ns.sample_every, 20, 5)),
                   reference_turn=max(1, mem_turns // 5), keep=bool(ns.keep), json=ns.json)


@dataclass
class HarnessTurn:
    message_id: int
    sent_wall: float  # time.time() just before the send
    to_end: float  # send -> turn_end frame read from /events (bench perf_counter)
    start_at: float  # the harness's own stamps (time.time())
    result_at: float
    end_at: float


@dataclass
class Results:
    floors: list[tuple[str, float, float]] = field(default_factory=list)
    idle_before: list[Mem] = field(default_factory=list)
    idle_after: list[Mem] = field(default_factory=list)
    idle_after_cli: float = float("nan")
    harness_turns: list[HarnessTurn] = field(default_factory=list)  # measured ones
    sdk: list[float] = field(default_factory=list)
    oneshot: list[float] = field(default_factory=list)
    acks: dict[int, tuple[float, float, float]] = field(default_factory=dict)  # sent, leased, acked
    per_turn: list[tuple[int, Mem, float]] = field(default_factory=list)  # turn, harness, CLI KiB
    sdk_worker: Mem | None = None
    sdk_cli: float = float("nan")
    sdk_turns_done: int = 0
    requests: dict[str, int] = field(default_factory=dict)
    harness_pid: int = 0

    def leased(self, turn: HarnessTurn) -> float:
        return self.acks[turn.message_id][1]

    def acked(self, turn: HarnessTurn) -> float:
        return self.acks[turn.message_id][2]


# -- numbers ----------------------------------------------------------------------


def slope(points: Sequence[tuple[float, float]]) -> float:
    """Least-squares slope of y over x."""
    if len(points) < 2:
        return float("nan")
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    if sxx == 0:
        return float("nan")
    return sum((x - mx) * (y - my) for x, y in points) / sxx


def mib(kib: float) -> str:
    return "n/a" if kib != kib else f"{kib / 1024:.1f}"


# -- the report ---------------------------------------------------------------------


def report(opts: Options, results: Results) -> dict[str, Any]:
    """Print everything; return the headline numbers for --json."""
    print()
    print(f"hive-ag3nt harness benchmark ({'quick' if opts.quick else 'full'}): "
          f"{machine()}; "
          f"harness pid {results.harness_pid}")
    turn = turn_times(opts, results)
    idle = idle_rss(results)
    per_turn = rss_per_turn(opts, results)
    targets(idle, per_turn, opts.reference_turn)
    return {"quick": opts.quick, "turn": turn, "idle_kib": idle, "per_turn": per_turn,
            "requests": results.requests}


def turn_times(opts: Options, results: Results) -> dict[str, Any]:
    """Section 1: the turn table, where the harness's time goes, the ratios."""
    turns = results.harness_turns
    to_end = [t.to_end for t in turns]
    to_ack = [results.acked(t) - t.sent_wall for t in turns]
    print()
    print(f"1. turn time, stand-in API answering at once ({len(turns)} measured turns per "
          f"method after {opts.warmup} warm-up, alternating)")
    header = f"{'':44}{'p50 ms':>8}{'p90 ms':>8}{'max ms':>8}"
    print(header)
    print("-" * len(header))
    for label, values in (("harness: send -> turn_end on /events", to_end),
                          ("harness: send -> ack (daemon's acked_at)", to_ack),
                          ("(b) SDK client kept alive: query+response", results.sdk),
                          ("(a) claude -p one-shot process", results.oneshot)):
        print(f"{label:44}{fmt_ms(median(values)):>8}{fmt_ms(percentile(values, 90)):>8}"
              f"{fmt_ms(max(values) if values else float('nan')):>8}")
    print()
    own = turn_parts(results)
    in_session = median([t.result_at - t.start_at for t in turns])
    h_end, h_ack = median(to_end), median(to_ack)
    sdk, one = median(results.sdk), median(results.oneshot)
    print()
    print("  requests to the stand-in: " + ", ".join(
        f"{k} {v}" for k, v in results.requests.items()))
    turn_ratios(h_end, h_ack, sdk, one, in_session)
    return {"harness_to_turn_end_p50": h_end, "harness_to_ack_p50": h_ack,
            "sdk_client_p50": sdk, "oneshot_p50": one, "harness_sdk_part_p50": in_session,
            "harness_own_work_p50": own,
            "ratio_end_sdk": h_end / sdk, "ratio_ack_sdk": h_ack / sdk,
            "ratio_end_oneshot": h_end / one, "ratio_ack_oneshot": h_ack / one,
            "count": len(turns)}


def turn_parts(results: Results) -> float:
    """Print the p50 of each part of a harness turn; return the harness's own share."""
    turns = results.harness_turns
    print("  where the harness's time goes (p50 of each part, ms; wall clocks of bench, "
          "daemon and harness):")
    parts = [
        ("send -> leased (daemon wakes the recv)",
         [results.leased(t) - t.sent_wall for t in turns]),
        ("leased -> turn_start (harness)", [t.start_at - results.leased(t) for t in turns]),
        ("turn_start -> result (the SDK turn, in the harness)",
         [t.result_at - t.start_at for t in turns]),
        ("result -> turn_end (harness)", [t.end_at - t.result_at for t in turns]),
        ("turn_end -> acked (harness + daemon)", [results.acked(t) - t.end_at for t in turns]),
        ("turn_end stamped -> read on /events (SSE)",
         [t.to_end - (t.end_at - t.sent_wall) for t in turns]),
    ]
    for label, values in parts:
        print(f"    {label:52}{fmt_ms(median(values)):>8}")
    own = median([(t.start_at - results.leased(t)) + (t.end_at - t.result_at)
                  + (results.acked(t) - t.end_at) for t in turns])
    print(f"    {'harness-side work outside the SDK turn (3 parts above)':52}{fmt_ms(own):>8}")
    return own


def turn_ratios(h_end: float, h_ack: float, sdk: float, one: float, in_session: float) -> None:
    print("  ratios (p50):")
    print(f"    harness send->turn_end / (b) SDK client: {fmt_ms(h_end)} / {fmt_ms(sdk)} ms = "
          f"{h_end / sdk:.2f}x  (+{fmt_ms(h_end - sdk)} ms per turn)")
    print(f"    harness send->ack      / (b) SDK client: {fmt_ms(h_ack)} / {fmt_ms(sdk)} ms = "
          f"{h_ack / sdk:.2f}x  (+{fmt_ms(h_ack - sdk)} ms per turn)")
    print(f"    harness send->turn_end / (a) claude -p:  {fmt_ms(h_end)} / {fmt_ms(one)} ms = "
          f"{h_end / one:.2f}x")
    print(f"    harness send->ack      / (a) claude -p:  {fmt_ms(h_ack)} / {fmt_ms(one)} ms = "
          f"{h_ack / one:.2f}x")
    print(f"    SDK turn inside the harness / (b): {fmt_ms(in_session)} / {fmt_ms(sdk)} ms = "
          f"{in_session / sdk:.2f}x")


def idle_rss(results: Results) -> dict[str, Any]:
    """Section 2: the harness idle, its CLI, the bare SDK client, the import floors."""
    before = median([m.rss for m in results.idle_before])
    after = median([m.rss for m in results.idle_after])
    hwm = max((m.hwm for m in results.idle_after), default=float("nan"))
    turns = len(results.per_turn)
    print()
    print("2. idle RSS (MiB; VmRSS, with RssAnon = private heap in brackets)")
    print(f"  harness process, before any turn (no CLI yet): {mib(before)} "
          f"[{mib(median([m.anon for m in results.idle_before]))}]")
    print(f"  harness process, idle after {turns} turns: {mib(after)} "
          f"[{mib(median([m.anon for m in results.idle_after]))}], peak VmHWM {mib(hwm)}")
    print(f"  its claude CLI child (not the harness's), idle after {turns} turns:"
          f" {mib(results.idle_after_cli)}")
    if results.sdk_worker is not None:
        print(f"  (b) bare SDK client process after {results.sdk_turns_done} turns: "
              f"{mib(results.sdk_worker.rss)} [{mib(results.sdk_worker.anon)}]; its CLI child "
              f"{mib(results.sdk_cli)}")
    print("  floors (fresh interpreters, median of "
          f"{FLOOR_RUNS}):")
    for label, rss, anon in results.floors:
        print(f"    {label:66}{mib(rss):>7} [{mib(anon)}]")
    sdk_rss = results.sdk_worker.rss if results.sdk_worker is not None else float("nan")
    print(f"  ratios: harness idle / `import hive_ag3nt.harness` = "
          f"{before / results.floors[1][1]:.2f}x; harness idle / bare SDK client process = "
          f"{before / sdk_rss:.2f}x")
    return {"before": before, "after": after, "after_cli": results.idle_after_cli,
            "sdk_client": sdk_rss, "floors": {label: rss for label, rss, _ in results.floors}}


def rss_per_turn(opts: Options, results: Results) -> dict[str, Any]:
    """Section 3: RSS sampled after each turn, its slope over the second half, its growth."""
    per_turn = results.per_turn
    half = opts.mem_turns // 2
    h_slope = slope([(float(n), m.rss) for n, m, _ in per_turn if n > half])
    c_slope = slope([(float(n), c) for n, _, c in per_turn if n > half and c == c])
    ref = {n: m for n, m, _ in per_turn}[opts.reference_turn].rss
    last = per_turn[-1][1].rss
    growth = last / ref - 1
    print()
    print(f"3. RSS per turn over {len(per_turn)} harness turns (MiB, sampled after each "
          "turn's ack)")
    print(f"  {'turn':>6}{'harness':>10}{'anon':>8}{'CLI':>8}")
    for n, m, c in per_turn:
        if n % opts.sample_every == 0 or n in (1, opts.reference_turn, len(per_turn)):
            print(f"  {n:>6}{mib(m.rss):>10}{mib(m.anon):>8}{mib(c):>8}")
    print(f"  slope over turns {half + 1}..{len(per_turn)} (least squares, every turn): "
          f"harness {h_slope:+.2f} KiB/turn; CLI child {c_slope:+.1f} KiB/turn")
    print(f"  harness after turn {len(per_turn)} / after turn {opts.reference_turn}: "
          f"{mib(last)} / {mib(ref)} MiB = {growth:+.1%}")
    return {"slope_kib": h_slope, "cli_slope_kib": c_slope, "growth": growth,
            "turns": len(per_turn)}


def targets(idle: dict[str, Any], per_turn: dict[str, Any], reference_turn: int) -> None:
    before, after = idle["before"], idle["after"]
    h_slope, growth, turns = per_turn["slope_kib"], per_turn["growth"], per_turn["turns"]
    idle_ok = max(before, after) <= TARGET_IDLE_MIB * 1024
    flat_ok = h_slope < TARGET_SLOPE_KIB and abs(growth) <= TARGET_GROWTH
    print()
    print("targets")
    print(f"  harness idle RSS <= {TARGET_IDLE_MIB:g} MiB: before {mib(before)}, after "
          f"{mib(after)} MiB  {verdict(idle_ok)}")
    print(f"  flat per turn (slope < {TARGET_SLOPE_KIB:g} KiB/turn and turn {turns} "
          f"within {TARGET_GROWTH:.0%} of turn {reference_turn}): {h_slope:+.2f} KiB/turn, "
          f"{growth:+.1%}  {verdict(flat_ok)}")
