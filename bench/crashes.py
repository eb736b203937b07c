"""Crash benchmark: a container killed from outside → ``container_crash`` in the manager's inbox.

Inside one :class:`hive_dev.sandbox.Sandbox` (a private ``systemd --user`` with
journald and D-Bus), with hive-c0re installed like the ``container_hive`` test
fixture, this spawns a few agents (default 3: ``c01``..``c03``; quick 2) with
the default, report-only restart policy and kills them round-robin, 20 kills
(quick 5), one at a time:

* ``systemctl --user kill --kill-whom=main -s KILL hive-agent@<name>.service``
  inside the sandbox, as ``tests/sandbox/test_crashes.py`` does;
* the manager's inbox (``recv`` on the manager socket) is read until the
  ``container_crash`` event of exactly that unit invocation arrives;
* the detection latency is the message's ``sent_at`` (the daemon's wall clock
  when it stored the message) minus the wall clock just before the kill;
* then the operator ``start``s the agent and waits for its echo before the next
  kill, so every kill hits an agent that is up and answering.

Baseline in the same run: the reference design's 10-second poll loop. One
random phase for the whole run (seeded: ``--seed``), ticks every 10 s; each
kill is detected at the first tick after it, plus (second column) the cost of
one poll pass, measured here as one ``systemctl --user show`` of the agents'
units between the kills.

Run by hand from the repository root, as root:
``.venv/bin/python -m bench.crashes [--quick]``.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import random
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # also runnable as ``python bench/crashes.py``
    sys.path.insert(0, str(REPO))

from bench.common import BenchError, fmt_ms, percentile, step  # noqa: E402
from bench.container_hive import REPLY_TIMEOUT, ContainerHive, SandboxOptions, sandbox_main  # noqa: E402
from hive_c0re.errors import HiveError  # noqa: E402
from hive_c0re.wire import Client  # noqa: E402

TARGET_P99 = 0.5  # seconds, kill → container_crash committed
POLL_PERIOD = 10.0  # seconds: the reference design's poll loop
# Beyond the daemon's reconcile pass (crash_reconcile_interval, 60 s by default):
# an event that has not come by then is not coming.
CRASH_TIMEOUT = 75.0
# What the crash watch itself reads of a unit (crashwatch._PROPS): one poll pass.
POLL_PROPS = "ActiveState,SubState,Result,ExecMainStatus,ExecMainCode,InvocationID"
STAMPS = "ExecMainExitTimestampMonotonic,InactiveEnterTimestampMonotonic,InvocationID"


# -- numbers --------------------------------------------------------------------------


def next_tick(at: float, origin: float, period: float = POLL_PERIOD) -> float:
    """Seconds from ``at`` to the first tick of a loop ticking at ``origin + k * period``."""
    return (origin - at) % period


@dataclass
class Kill:
    """One kill; times in seconds after ``wall`` (the wall clock just before the kill)."""

    agent: str
    invocation: str  # the unit's InvocationID when it was killed
    wall: float  # time.time() just before the kill command was run
    mono: float  # time.monotonic() at the same moment (systemd's stamps are on it)
    returned: float = 0.0  # the kill command (nsenter + systemctl kill) returned
    main_exited: float | None = None  # systemd saw nspawn die (ExecMainExitTimestamp)
    unit_failed: float | None = None  # the unit entered `failed` (InactiveEnterTimestamp)
    logged: float | None = None  # the daemon's "container of X crashed" line (journald's stamp)
    committed: float = 0.0  # the event's sent_at: the detection latency
    read: float = 0.0  # the bench read the event from the manager's inbox
    poll_tick: float = 0.0  # the reference loop's first tick after the kill

    @property
    def daemon_share(self) -> float | None:
        """From the unit entering `failed` to the event's commit: the crash watch's part."""
        return None if self.unit_failed is None else self.committed - self.unit_failed

    @property
    def announce_share(self) -> float | None:
        """From the daemon's crash log line to the commit: ``Hive.announce``'s part."""
        return None if self.logged is None else self.committed - self.logged


@dataclass
class Results:
    kills: list[Kill] = field(default_factory=list)
    poll_pass: list[float] = field(default_factory=list)  # nsenter + systemctl show
    nsenter: list[float] = field(default_factory=list)  # nsenter + /bin/true, alternated
    phase: float = 0.0  # the reference loop's phase, seconds after the origin
    origin: float = 0.0  # wall clock: the reference loop ticks at origin + phase + k·10 s
    other_events: list[str] = field(default_factory=list)  # not the crash we waited for
    extra_crashes: list[dict[str, Any]] = field(default_factory=list)

    @property
    def pass_cost(self) -> float:
        """One poll pass, less the cost of entering the sandbox (never below 0)."""
        return max(0.0, percentile(self.poll_pass, 50) - percentile(self.nsenter, 50))

    def column(self, attr: str) -> list[float]:
        values = (getattr(k, attr) for k in self.kills)
        return [v for v in values if v is not None]

    def reference(self, with_pass: bool) -> list[float]:
        extra = self.pass_cost if with_pass else 0.0
        return [k.poll_tick + extra for k in self.kills]


# -- the bench ------------------------------------------------------------------------


class Bench(ContainerHive):
    """The container hive, plus a client on the manager's socket (where crashes arrive)."""

    def __init__(self) -> None:
        super().__init__()
        self.manager = Client(self.hive.manager_socket, timeout=30)  # connects on first call

    def clients(self) -> list[Client]:
        # No recv is parked on either connection here: every call is blocking.
        return [self.manager, self.op]

    def unit(self, agent: str) -> str:
        return f"hive-agent@{agent}.service"

    def props(self, agent: str, names: str) -> dict[str, str]:
        done = self.box.systemctl("show", self.unit(agent), "-p", names)
        return dict(line.partition("=")[::2] for line in done.stdout.splitlines())

    # -- the operator side --------------------------------------------------------

    def echo(self, agent: str, after: str) -> None:
        """Send ``agent`` a message; long-poll the operator's inbox until its echo."""
        self.seq += 1
        body = f"{after} {self.seq}"
        self.call("send", to=agent, body=body)
        self.await_echo(agent, body, time.monotonic() + REPLY_TIMEOUT, after, self.daemon_log)

    # -- the manager side ---------------------------------------------------------

    def manager_events(self, wait: float) -> list[dict[str, Any]]:
        """One ``recv`` on the manager socket: the system events it hands out, with sent_at."""
        try:
            batch = self.manager.call("recv", wait_seconds=wait)["messages"]
            if batch:
                self.manager.call("ack_turn")
        except HiveError as exc:
            raise BenchError(f"manager recv: {exc}\n{self.daemon_log()}") from None
        events = []
        for message in batch:
            if message.get("from") != "system":
                self.unexpected.append(str(message.get("body")))
                continue
            with contextlib.suppress(ValueError, TypeError):
                event = json.loads(message["body"])
                if isinstance(event, dict):
                    events.append({**event, "_sent_at": float(message["sent_at"])})
        return events

    def drain(self, results: Results, wait: float = 0.5) -> None:
        """Read the manager's inbox until it stays empty for ``wait`` seconds."""
        while True:
            events = self.manager_events(wait)
            if not events:
                return
            self.note(results, events)

    def note(self, results: Results, events: Sequence[dict[str, Any]]) -> None:
        for event in events:
            if event.get("event") == "container_crash":
                results.extra_crashes.append(event)
            else:
                results.other_events.append(f"{event.get('event')}:{event.get('agent')}")

    def await_crash(self, results: Results, kill: Kill) -> dict[str, Any]:
        deadline = time.monotonic() + CRASH_TIMEOUT
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise BenchError(f"no container_crash for {kill.agent} ({kill.invocation}) "
                                 f"within {CRASH_TIMEOUT:.0f} s:\n{self.daemon_log()}")
            events = self.manager_events(min(remaining, 10.0))
            read = time.time()
            found = None
            for event in events:
                if (event.get("event") == "container_crash" and event.get("agent") == kill.agent
                        and event.get("invocation") == kill.invocation and found is None):
                    found = event
                else:
                    self.note(results, [event])
            if found is not None:
                kill.read = read - kill.wall
                return found

    # -- one kill -----------------------------------------------------------------

    def kill(self, results: Results, agent: str) -> Kill:
        invocation = self.props(agent, "InvocationID").get("InvocationID", "")
        if not invocation:
            raise BenchError(f"{self.unit(agent)} has no InvocationID: is it up?")
        kill = Kill(agent, invocation, wall=time.time(), mono=time.monotonic())
        done = self.box.systemctl("kill", "--kill-whom=main", "-s", "KILL", self.unit(agent),
                                  check=False)
        kill.returned = time.time() - kill.wall
        if done.returncode != 0:
            raise BenchError(f"systemctl kill {agent} failed: {done.stderr.strip()}")
        event = self.await_crash(results, kill)
        kill.committed = float(event["_sent_at"]) - kill.wall
        stamps = self.props(agent, STAMPS)  # before `start` overwrites them
        if stamps.get("InvocationID") == invocation:
            for attr, prop in (("main_exited", "ExecMainExitTimestampMonotonic"),
                               ("unit_failed", "InactiveEnterTimestampMonotonic")):
                value = stamps.get(prop, "")
                if value.isdigit() and int(value):
                    setattr(kill, attr, int(value) / 1e6 - kill.mono)
        kill.poll_tick = next_tick(kill.wall, results.origin + results.phase)
        return kill

    def revive(self, agent: str) -> None:
        """The operator's ``start``, then an echo: the agent is back and answering."""
        self.call("start", name=agent)
        self.echo(agent, "start")

    def fill_logged(self, kills: Sequence[Kill]) -> None:
        """Each kill's first "container of <agent> crashed" daemon line after it.

        The crash watch logs it after reading the unit and its journal lines and
        before ``announce`` stores the event. The stamp is journald's receive time
        (the line comes over the native protocol, so it lags the send only a little).
        """
        marks: list[tuple[str, float]] = []
        for line in self.box.journal("SYSLOG_IDENTIFIER=hive-c0re").splitlines():
            with contextlib.suppress(ValueError, KeyError, TypeError):
                entry = json.loads(line)
                message = entry.get("MESSAGE")
                if isinstance(message, str) and message.startswith("container of "):
                    agent = message.removeprefix("container of ").split(" ", 1)[0]
                    marks.append((agent, int(entry["__REALTIME_TIMESTAMP"]) / 1e6))
        for kill in kills:
            after = sorted(at - kill.wall for agent, at in marks
                           if agent == kill.agent and at >= kill.wall)
            if after and after[0] <= kill.read:
                kill.logged = after[0]

    # -- the baseline's poll pass ----------------------------------------------------

    def poll_pass(self, agents: Sequence[str]) -> float:
        """One ``systemctl --user show`` of every agent's unit, entered from the host."""
        units = [self.unit(a) for a in agents]
        started = time.monotonic()
        self.box.systemctl("show", *units, "-p", POLL_PROPS)
        return time.monotonic() - started

    def bare_nsenter(self) -> float:
        started = time.monotonic()
        self.box.run("true")
        return time.monotonic() - started


# -- the run --------------------------------------------------------------------------


@dataclass
class Options(SandboxOptions):
    kills: int
    seed: int


def parse_args(argv: Sequence[str] | None = None) -> Options:
    parser = SandboxOptions.parser(__doc__, "5 kills of 2 agents",
                                   "agents c01.. to kill in turn (default 3; quick 2)")
    parser.add_argument("--kills", type=int, help="measured kills (default 20; quick 5)")
    parser.add_argument("--seed", type=int, default=1,
                        help="seed of the reference poll loop's phase (default 1)")
    common, ns = SandboxOptions.parse(parser, argv, agents=3, quick_agents=2)
    kills = int(ns.kills) if ns.kills is not None else (5 if common.quick else 20)
    if kills < 1:
        parser.error("--kills takes 1 or more")
    return Options(**asdict(common), kills=kills, seed=int(ns.seed))


def run(opts: Options, bench: Bench) -> Results:
    names = [f"c{i:02d}" for i in range(1, opts.agents + 1)]
    results = Results()
    step("activating hive-c0re (whoami on host.sock)")
    bench.call("whoami")
    for name in names:
        step(f"spawning {name}")
        bench.call("spawn", name=name)
        bench.echo(name, "spawn")
    # Not measured: the first report loads the journal reader, the first start
    # after a crash warms whatever it touches.
    step(f"warm-up: kill and start {names[0]}")
    bench.drain(results)
    warm = Kill(names[0], bench.props(names[0], "InvocationID")["InvocationID"],
                wall=time.time(), mono=time.monotonic())
    bench.box.systemctl("kill", "--kill-whom=main", "-s", "KILL", bench.unit(names[0]))
    bench.await_crash(results, warm)
    bench.revive(names[0])
    bench.drain(results)
    results.other_events.clear()
    results.extra_crashes.clear()

    results.origin = time.time()
    results.phase = random.Random(opts.seed).uniform(0, POLL_PERIOD)
    for i in range(opts.kills):
        agent = names[i % len(names)]
        # The poll pass's cost, alternated with bare nsenter, in the quiet before the kill.
        if i % 2 == 0:
            results.nsenter.append(bench.bare_nsenter())
        results.poll_pass.append(bench.poll_pass(names))
        if i % 2 == 1:
            results.nsenter.append(bench.bare_nsenter())
        kill = bench.kill(results, agent)
        results.kills.append(kill)
        step(f"kill {i + 1}/{opts.kills} {agent}: returned {fmt_ms(kill.returned)} ms, "
             f"failed {fmt_ms(kill.unit_failed)} ms, committed {fmt_ms(kill.committed)} ms; "
             f"10 s poll tick {fmt_ms(kill.poll_tick)} ms")
        bench.revive(agent)
        bench.drain(results)
    # A late duplicate report of any kill would land here.
    bench.drain(results, wait=2.0)
    bench.fill_logged(results.kills)
    if bench.unexpected:
        step(f"{len(bench.unexpected)} unexpected message(s): {bench.unexpected[:3]}")
    return results


COLUMNS = (("returned", "kill returned"), ("main_exited", "nspawn exited"),
           ("unit_failed", "unit failed"), ("logged", "crash logged"),
           ("committed", "event committed"), ("read", "event read"),
           ("daemon_share", "failed→commit"), ("announce_share", "logged→commit"))


def report(opts: Options, results: Results) -> bool:
    systemd = subprocess.run(["systemctl", "--version"], capture_output=True, text=True,
                             check=False).stdout.split("\n", 1)[0]
    ours = results.column("committed")
    tick, with_pass = results.reference(False), results.reference(True)
    print()
    print(f"hive-c0re crash detection benchmark ({'quick' if opts.quick else 'full'}): "
          f"{len(results.kills)} kills of {opts.agents} agent(s), python "
          f"{platform.python_version()}, {os.cpu_count()} cpu(s), {systemd or 'systemd ?'}")
    print("times in ms from the wall clock just before `systemctl kill` (SIGKILL to nspawn)")
    print()
    print(f"{'':<16}  {'p50':>7}  {'p90':>7}  {'p99':>7}  {'max':>7}")
    for attr, label in COLUMNS:
        values = results.column(attr)
        print(f"{label:<16}  " + "  ".join(f"{fmt_ms(percentile(values, p)):>7}"
                                           for p in (50, 90, 99)) +
              f"  {fmt_ms(max(values, default=float('nan'))):>7}")
    print()
    print("per kill (ms): agent returned/exited/failed/logged/committed, "
          "then the 10 s poll's tick delay")
    for kill in results.kills:
        print(f"  {kill.agent} {fmt_ms(kill.returned)}/{fmt_ms(kill.main_exited)}/"
              f"{fmt_ms(kill.unit_failed)}/{fmt_ms(kill.logged)}/{fmt_ms(kill.committed)}"
              f"  tick {fmt_ms(kill.poll_tick)}")
    print()
    print(f"reference: a {POLL_PERIOD:.0f} s poll loop, phase {results.phase:.3f} s "
          f"(seed {opts.seed}), on the same kill times")
    print(f"  one poll pass (systemctl show of {opts.agents} unit(s)): "
          f"{fmt_ms(percentile(results.poll_pass, 50))} ms with nsenter, "
          f"{fmt_ms(percentile(results.nsenter, 50))} ms bare nsenter "
          f"-> {fmt_ms(results.pass_cost)} ms per pass")
    for label, ref in (("tick only", tick), ("tick + pass", with_pass)):
        p50, p99 = percentile(ref, 50), percentile(ref, 99)
        print(f"  {label:<12} p50 {fmt_ms(p50):>6} ms  p99 {fmt_ms(p99):>6} ms   "
              f"reference / ours: p50 {p50 / percentile(ours, 50):,.0f}x, "
              f"p99 {p99 / percentile(ours, 99):,.0f}x")
    if results.extra_crashes:
        print(f"  !! {len(results.extra_crashes)} container_crash event(s) beyond one per kill: "
              + ", ".join(f"{e.get('agent')} {e.get('invocation')}"
                          for e in results.extra_crashes))
    else:
        print("  exactly one container_crash per kill, none extra")
    print()
    p99 = percentile(ours, 99)
    passed = p99 <= TARGET_P99
    print(f"target: p99 kill -> container_crash committed <= {fmt_ms(TARGET_P99)} ms: "
          f"{fmt_ms(p99)} ms {'PASS' if passed else 'MISS'}")
    return passed


def summary(opts: Options, results: Results) -> dict[str, Any]:
    """The headline numbers, in seconds, and every kill."""
    ours = results.column("committed")
    return {
        "quick": opts.quick, "agents": opts.agents, "seed": opts.seed,
        **{attr: {"p50": percentile(results.column(attr), 50),
                  "p99": percentile(results.column(attr), 99),
                  "max": max(results.column(attr), default=float("nan"))}
           for attr, _ in COLUMNS},
        "reference": {
            "period": POLL_PERIOD, "phase": results.phase, "pass_cost": results.pass_cost,
            "tick_p50": percentile(results.reference(False), 50),
            "tick_p99": percentile(results.reference(False), 99),
            "ratio_p50": percentile(results.reference(False), 50) / percentile(ours, 50),
            "ratio_p99": percentile(results.reference(False), 99) / percentile(ours, 99),
        },
        "target_p99": TARGET_P99,
        "pass": percentile(ours, 99) <= TARGET_P99,
        "extra_crashes": len(results.extra_crashes),
        "kills": [{**asdict(k), "daemon_share": k.daemon_share,
                   "announce_share": k.announce_share} for k in results.kills],
    }


def main(argv: Sequence[str] | None = None) -> int:
    opts = parse_args(argv)
    return sandbox_main("crashes", Bench, lambda bench: run(opts, bench),
                        lambda results: report(opts, results),
                        lambda results: summary(opts, results), opts.json)


if __name__ == "__main__":
    sys.exit(main())
