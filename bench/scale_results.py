"""The scale benchmark's options, what it measures, and the report printed from that."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from bench.common import Spread, fmt_ms, machine, median, percentile, verdict
from bench.container_hive import SandboxOptions
from bench.crashes_results import Kill
from bench.scale_memory import KIB, Unit
from hive_c0re.lifecycle.agents import ENV_KEY

TARGET_RELEASED_MIB = 90.0  # an idle agent after release, its whole cgroup
TARGET_HIVE_GIB = 5.0  # 50 idle agents in all
TARGET_BROADCAST_P99 = 2.0  # seconds, every reply of a broadcast to all
TARGET_CRASH_P99 = 0.05  # seconds, kill -> container_crash committed, under load
HIVE_OF = 50  # the hive the totals' target speaks of
MIB = 1024.0
CORES = os.cpu_count() or 1


@dataclass
class Options(SandboxOptions):
    release: float  # HYPERHIVE_CLI_IDLE_RELEASE handed to every container
    max_rss_mib: int | None  # HYPERHIVE_CLI_MAX_RSS_MIB, if given
    container_env: dict[str, str]  # more of every container's environment (--env)
    kills: int
    broadcasts: int
    singles: int
    bare: int
    min_available_mib: int


def parse_args(argv: Sequence[str] | None, doc: str | None) -> Options:
    parser = SandboxOptions.parser(doc, "10 agents, fewer kills and broadcasts",
                                   "agents s01.. to spawn (default 50; quick 10)")
    parser.add_argument("--release", type=float, default=45.0,
                        help="the agents' idle release, seconds (default 45: longer than "
                             "the readings with the CLIs alive take; 0 = never)")
    parser.add_argument("--max-rss-mib", type=int,
                        help="the agents' CLI growth bound, MiB (default: the harness's)")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                        help="one more variable of every container's environment (and so "
                             "of the harness and its CLI), repeatable: to try a CLI knob")
    parser.add_argument("--kills", type=int, help="kills alone and under load (10; quick 5)")
    parser.add_argument("--broadcasts", type=int,
                        help="broadcasts with the CLIs alive (default 2; quick 1)")
    parser.add_argument("--min-available-mib", type=int, default=3072,
                        help="stop spawning when the host's MemAvailable drops below this "
                             "(default 3072): the host is shared")
    common, ns = SandboxOptions.parse(parser, argv, agents=50, quick_agents=10)

    def pick(value: int | None, full: int, quick: int) -> int:
        return max(1, value if value is not None else (quick if common.quick else full))

    env = dict(item.partition("=")[::2] for item in ns.env)
    if bad := [name for name in env if not ENV_KEY.fullmatch(name)]:
        parser.error(f"--env takes NAME=VALUE with NAME in [A-Z_][A-Z0-9_]* (the hive's "
                     f"rule for an agent's environment), not {', '.join(map(repr, bad))}")
    return Options(**asdict(common), release=max(0.0, float(ns.release)),
                   max_rss_mib=ns.max_rss_mib, container_env=env, kills=pick(ns.kills, 10, 5),
                   broadcasts=pick(ns.broadcasts, 2, 1), singles=5, bare=pick(None, 5, 3),
                   min_available_mib=int(ns.min_available_mib))


# -- numbers --------------------------------------------------------------------------


@dataclass
class Snapshot:
    """Every unit's processes at one moment, and the daemon's open fds."""

    label: str
    units: dict[str, Unit]
    cli: str
    daemon_fds: int
    available: float  # the host's MemAvailable, KiB

    @property
    def agents(self) -> list[Unit]:
        """The agents' units that have processes (a killed one has none)."""
        return [u for n, u in sorted(self.units.items())
                if n.startswith("hive-agent@") and u.procs]

    def per_agent(self, attr: str, kind: str | None = None) -> list[float]:
        return [u.total(attr, kind, self.cli) for u in self.agents]

    def total(self, attr: str) -> float:
        """Every process of the hive (the daemon's unit and every agent's), KiB."""
        return sum(u.total(attr) for u in self.units.values())

    @property
    def current(self) -> float | None:
        """Summed memory.current, when every unit has it (cgroup v2 with memory)."""
        values = [u.current for u in self.units.values()]
        return None if not values or None in values else sum(v for v in values if v)

    @property
    def daemon_rss(self) -> float:
        unit = self.units.get("hive-c0re.service")
        return unit.total("rss", "daemon", self.cli) if unit else float("nan")

    @property
    def clis(self) -> int:
        return sum(u.count("cli", self.cli) for u in self.agents)


@dataclass
class Broadcast(Spread):
    label: str
    latencies: list[float]  # per reply: the daemon's sent_at after the send
    last_read: float  # the bench read the last reply
    clis_alive: int  # claude CLIs in the agents' containers at the send
    cpu: dict[str, float] = field(default_factory=dict)  # seconds spent meanwhile, by kind


@dataclass
class Results:
    release: float
    bare: list[float] = field(default_factory=list)
    kills_alone: list[Kill] = field(default_factory=list)
    kills_loaded: list[Kill] = field(default_factory=list)
    spawn_calls: list[float] = field(default_factory=list)
    spawn_all: float = float("nan")
    stopped: str = ""
    snapshots: list[Snapshot] = field(default_factory=list)
    singles: list[float] = field(default_factory=list)
    broadcasts: list[Broadcast] = field(default_factory=list)
    released_after: float | None = None
    unexpected: list[str] = field(default_factory=list)
    missed: list[str] = field(default_factory=list)  # kills no container_crash reported

    def snap(self, label: str) -> Snapshot | None:
        return next((s for s in self.snapshots if s.label == label), None)

    def replies(self, label: str) -> list[float]:
        return [v for b in self.broadcasts if b.label == label for v in b.latencies]

    @property
    def agents(self) -> int:
        first = self.snap("idle, CLI alive")
        return len(first.agents) if first else 0


def committed(kills: Sequence[Kill]) -> list[float]:
    return [k.committed for k in kills]


# A kill's steps, seconds after it: systemd saw nspawn die, the unit was `failed` (the
# container's other processes ended), the event was committed.
STAGES = ("nspawn exited", "unit failed", "commit")


def stages(kills: Sequence[Kill], stage: str) -> list[float]:
    found: dict[str, list[float | None]] = {
        "nspawn exited": [k.main_exited for k in kills],
        "unit failed": [k.unit_failed for k in kills], "commit": [*committed(kills)]}
    return [v for v in found[stage] if v is not None]


# -- the report -------------------------------------------------------------------------


def mib(kib: float | None) -> str:
    return "n/a" if kib is None or kib != kib else f"{kib / MIB:,.1f}"


def report(opts: Options, results: Results) -> None:
    print()
    print(f"hive of {results.agents} agents ({'quick' if opts.quick else 'full'}), real "
          f"harness and claude CLI in nspawn, stand-in model; {machine()}; idle release "
          f"{opts.release:g} s" + (f", CLI bound {opts.max_rss_mib} MiB"
                                   if opts.max_rss_mib else ""))
    if opts.container_env:
        print("  every container's environment also: "
              + " ".join(f"{k}={v}" for k, v in opts.container_env.items()))
    if results.stopped:
        print(f"  {results.stopped}")
    report_memory(results)
    report_times(results)
    report_targets(results)
    for missed in results.missed:
        print(f"\nMISSED crash report: {missed}")
    if results.unexpected:
        print(f"\n{len(results.unexpected)} unexpected inbox message(s): "
              f"{results.unexpected[:5]}")


def report_memory(results: Results) -> None:
    print()
    print("memory, MiB (smaps_rollup of every process in each unit's cgroup; RSS counts a "
          "shared page in each process, PSS splits it among them)")
    head = (f"{'':<22} {'agents':>6} {'CLIs':>5} {'agent RSS p50':>13} {'agent PSS p50':>13} "
            f"{'CLI RSS p50':>11} {'harness RSS':>11} {'hive RSS':>9} {'hive PSS':>9} "
            f"{'mem.current':>11} {'daemon RSS':>10} {'fds':>5} {'host avail':>10}")
    print(head)
    print("-" * len(head))
    for snap in results.snapshots:
        clis = [v for v in snap.per_agent("rss", "cli") if v]
        print(f"{snap.label:<22} {len(snap.agents):>6} {snap.clis:>5} "
              f"{mib(median(snap.per_agent('rss'))):>13} {mib(median(snap.per_agent('pss'))):>13} "
              f"{mib(median(clis) if clis else None):>11} "
              f"{mib(median(snap.per_agent('rss', 'harness'))):>11} "
              f"{mib(snap.total('rss')):>9} {mib(snap.total('pss')):>9} {mib(snap.current):>11} "
              f"{mib(snap.daemon_rss):>10} {snap.daemon_fds:>5} {mib(snap.available):>10}")
    if results.release > 0:
        after = ("never (no agent released its CLI)" if results.released_after is None
                 else f"{results.released_after:.0f} s after the broadcasts settled")
        print(f"every CLI released: {after}")


def report_times(results: Results) -> None:
    print()
    print("times, ms: p50 / p99 / max")
    rows: list[tuple[str, Sequence[float]]] = [
        ("bare nspawn /bin/true", results.bare),
        ("spawn call (pipelined)", results.spawn_calls),
        ("single reply", results.singles),
        *((label, results.replies(label)) for label in
          ("broadcast, CLIs alive", "broadcast, after release")),
        *((f"crash -> {stage}, {label}", stages(kills, stage)) for label, kills in
          (("alone", results.kills_alone), ("loaded", results.kills_loaded))
          for stage in STAGES),
    ]
    for label, values in rows:
        if values:
            print(f"  {label:<30} {fmt_ms(percentile(values, 50)):>8} / "
                  f"{fmt_ms(percentile(values, 99)):>8} / {fmt_ms(max(values)):>8}  "
                  f"(n={len(values)})")
    for cast in results.broadcasts:
        print(f"  {cast.label}: {cast.clis_alive} CLI(s) alive at the send, last reply read "
              f"after {fmt_ms(cast.last_read)} ms")
        replies = max(1, len(cast.latencies))
        spent = ", ".join(f"{kind} {fmt_ms(cast.cpu[kind] / replies)}"
                          for kind in sorted(cast.cpu, key=lambda k: -cast.cpu[k]))
        total = sum(cast.cpu.values())
        print(f"    CPU per reply, ms: {spent}; in all {total:.1f} s of CPU, at least "
              f"{total / CORES:.1f} s of wall time on {CORES} core(s)")
    print(f"  spawn all {results.agents}, first call -> last pong read: "
          f"{results.spawn_all:.1f} s ({fmt_ms(results.spawn_all / max(1, results.agents))} ms "
          "per agent)")


def target_rows(results: Results) -> list[tuple[str, float, str, float, str, bool | None]]:
    """(target, figure, unit, baseline, baseline's name, met or None for information)."""
    rows: list[tuple[str, float, str, float, str, bool | None]] = []
    alive, released = results.snap("idle, CLI alive"), results.snap("idle, after release")
    if alive is not None and released is not None:
        agent = median(released.per_agent("rss")) / MIB
        rows.append(("idle agent after release <= 90 MiB (RSS)", agent, "MiB",
                     median(alive.per_agent("rss")) / MIB, "idle, CLI alive",
                     agent <= TARGET_RELEASED_MIB))
        scale = HIVE_OF / max(1, len(released.agents))
        hive = released.total("pss") * scale / MIB / KIB
        rows.append((f"{HIVE_OF} idle agents <= 5 GiB (PSS, x{scale:.1f})", hive, "GiB",
                     alive.total("pss") * scale / MIB / KIB, "idle, CLI alive",
                     hive <= TARGET_HIVE_GIB))
    single = median(results.singles)
    for label in ("broadcast, CLIs alive", "broadcast, after release"):
        replies = results.replies(label)
        if replies:
            p99 = percentile(replies, 99)
            rows.append((f"{label}: p99 <= 2 s", p99, "s", single, "single reply p50",
                         p99 <= TARGET_BROADCAST_P99))
    loaded, alone = committed(results.kills_loaded), committed(results.kills_alone)
    if loaded:
        p99 = percentile(loaded, 99)
        rows.append(("crash -> commit p99 <= 50 ms, loaded", p99, "s",
                     percentile(alone, 99), "p99, one agent up", p99 <= TARGET_CRASH_P99))
    if results.bare and results.agents:
        rows.append(("spawn all, per agent", results.spawn_all / results.agents, "s",
                     median(results.bare), "bare nspawn p50", None))
    one, end = results.snap("one agent"), results.snap("at the end")
    if one is not None and end is not None:
        rows.append(("daemon RSS", end.daemon_rss / MIB, "MiB", one.daemon_rss / MIB,
                     "one agent", None))
        rows.append(("daemon fds", float(end.daemon_fds), "", float(one.daemon_fds),
                     "one agent", None))
    return rows


def figure(value: float, unit: str) -> str:
    if unit == "s":
        return f"{fmt_ms(value)} ms"
    return f"{value:,.2f} {unit}".strip() if unit else f"{value:.0f}"


def report_targets(results: Results) -> None:
    print()
    head = f"{'target':<44} {'this run':>12} {'baseline':>12} {'ratio':>7}  {'':<4}  baseline is"
    print(head)
    print("-" * len(head))
    for name, value, unit, base, base_name, met in target_rows(results):
        ratio = value / base if base else float("nan")
        print(f"{name:<44} {figure(value, unit):>12} {figure(base, unit):>12} {ratio:>6.2f}x  "
              f"{'info' if met is None else verdict(met):<4}  {base_name}")


def summary(opts: Options, results: Results) -> dict[str, Any]:
    """The headline numbers: times in seconds, memory in KiB."""
    return {
        "quick": opts.quick, "agents": results.agents, "release": opts.release,
        "targets": [{"target": n, "value": v, "unit": u, "baseline": b, "baseline_is": bn,
                     "met": m} for n, v, u, b, bn, m in target_rows(results)],
        "snapshots": [{"label": s.label, "agent_rss_p50": median(s.per_agent("rss")),
                       "agent_pss_p50": median(s.per_agent("pss")), "hive_rss": s.total("rss"),
                       "hive_pss": s.total("pss"), "clis": s.clis, "daemon_rss": s.daemon_rss,
                       "daemon_fds": s.daemon_fds} for s in results.snapshots],
        "spawn_all": results.spawn_all, "bare_nspawn": results.bare,
        "singles": results.singles,
        "broadcasts": [{"label": b.label, "p50": b.p50, "p99": b.p99,
                        "clis_alive": b.clis_alive, "cpu": b.cpu} for b in results.broadcasts],
        "crash_alone": committed(results.kills_alone),
        "crash_loaded": committed(results.kills_loaded), "missed_crashes": results.missed,
        "crash_stages": {label: {stage: stages(kills, stage) for stage in STAGES}
                         for label, kills in (("alone", results.kills_alone),
                                              ("loaded", results.kills_loaded))},
    }

