"""Container benchmark: spawn and restart of real nspawn agents, to a reply on the wire.

Inside one :class:`hive_dev.sandbox.Sandbox` (a private ``systemd --user`` with
journald and D-Bus), with hive-c0re installed as socket-activated units and
configured like the ``container_hive`` test fixture, this measures for N agents
(default 10: ``b01``..``b10``; quick 3):

* spawn: the operator writes ``spawn`` on host.sock; as soon as the answer is
  read it sends the agent a message and long-polls its own ``inbox`` until the
  stand-in agent's echo (``<name> heard: <body>``) arrives. That echo proves a
  process inside the container connected to its socket and answered;
* restart: likewise from ``restart`` on host.sock to the echo of a message sent
  right after the answer.

Baseline in the same run, alternated with the measurements so that both share
the machine's noise: a bare ``systemd-nspawn`` with the agents' own command
line (:func:`hive_c0re.lifecycle.nspawn.nspawn_argv`, same flags and binds, a
fresh small root) running ``/bin/true``, as a transient unit of the sandbox's
user manager (``systemd-run --user --wait``, ``Delegate=yes`` as the agents'
template unit has).

It prints where the time goes, call by call: the old container's stop (restart),
nspawn's exec, the stand-in's first line of Python, its imports done, connected
(the stamps its "listening" line carries), the echo. The stand-in's modules
are compiled first where a container could not use their bytecode (as pip, Nix
or ``scripts/setup`` have it; ``--as-checked-out`` measures them as they are):
a container's Python cannot write any, and compiles such a module at every start.

Run by hand from the repository root, as root:
``.venv/bin/python -m bench.containers [--quick]``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # also runnable as ``python bench/containers.py``
    sys.path.insert(0, str(REPO))

from bench.common import BenchError, fmt_ms, machine, percentile, step, version_of  # noqa: E402
from bench.container_hive import REPLY_TIMEOUT, ContainerHive, SandboxOptions, sandbox_main  # noqa: E402
from hive_c0re.lifecycle import rootfs  # noqa: E402
from hive_c0re.lifecycle.backend import ContainerSpec  # noqa: E402
from hive_c0re.lifecycle.nspawn import nspawn_argv  # noqa: E402
from hive_dev import bytecode  # noqa: E402

# The bare containers' uid range: below the hive's default uid_base_start
# (0x70000000), so it never meets an agent's.
BARE_UID_BASE = 0x60000000
# The agents' template unit (hive_c0re/unit_files/hive-agent@.service) runs
# nspawn with these; the transient bare unit gets the same.
BARE_UNIT_PROPERTIES = ("Delegate=yes", "KillMode=mixed", "Type=simple")
# The stand-in agent (hive_dev.echo_agent) logs this once it has connected,
# asked whoami and requeued: read from the journal after the run, never polled.
# The line carries the monotonic clock at its process's start, once its imports
# were done and once connected (the container shares the host's monotonic clock).
CONNECTED_MARK = "echo agent listening"
STAMPS = re.compile(r"monotonic started ([\d.]+) imported ([\d.]+) connected ([\d.]+)")
# Programs the daemon runs, counted: each name on the daemon's PATH (git through
# HYPERHIVE_GIT) is a shim that logs its start (wall clock) and execs the real one.
# (mkfs.ext4 and the other disk tools run by their full paths: not counted.)
COUNTED = {"git": "/usr/bin/git", "systemctl": "/usr/bin/systemctl", "mount": "/usr/bin/mount"}
# The verb is the first word that is not an option (git's -c takes the next word).
SHIM = r"""#!/bin/bash
verb=""; skip=0
for word in "$@"; do
  if [ $skip = 1 ]; then skip=0; continue; fi
  case "$word" in -c) skip=1;; -*) ;; *) verb=$word; break;; esac
done
printf '%s %s %s\n' "$EPOCHREALTIME" "{name}" "$verb" >> {log}
exec {real} "$@"
"""
# Its lines start with logging's asctime, in the container's local time: UTC,
# as its root has no /etc/localtime and the unit sets no TZ.
LOGGED_AT = re.compile(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),(\d{3}) ")


# -- numbers --------------------------------------------------------------------------


@dataclass
class Sample:
    """One lifecycle call, all times in seconds after the call was written."""

    agent: str
    sent: float  # time.monotonic() when the call was written (systemd and journald share it)
    returned: float  # the call's answer was read
    replied: float  # the echo of the follow-up message was read from the inbox
    unit_started: float | None = None  # nspawn exec'd (ExecMainStartTimestampMonotonic)
    sent_wall: float = 0.0  # time.time() when the call was written (the shims' clock)
    ran: list[str] = field(default_factory=list)  # "git clone", ...: run before nspawn started
    connected: float | None = None  # the agent logged that it is connected (journal)
    stopped: float | None = None  # restart: the old container's unit was inactive
    python_started: float | None = None  # the stand-in's first line of Python ran
    imported: float | None = None  # the stand-in's imports were done


@dataclass
class Phase:
    name: str  # "spawn" or "restart"
    samples: list[Sample] = field(default_factory=list)
    bare: list[float] = field(default_factory=list)  # bare nspawn runs alternated with them

    def column(self, attr: str) -> list[float]:
        values = (getattr(s, attr) for s in self.samples)
        return [v for v in values if v is not None]

    @property
    def bare_p50(self) -> float:
        return percentile(self.bare, 50)

    @property
    def reply_p50(self) -> float:
        return percentile(self.column("replied"), 50)


def logged_at(message: str, entry: Mapping[str, Any]) -> float:
    """When a stdout line was written, in monotonic seconds.

    journald stamps a line when it reads the stream, which lags under load
    (past the echo it led to); the line's own asctime does not. The entry's
    realtime and monotonic stamps (the same instant) convert between clocks.
    Without a plausible asctime, journald's stamp it is.
    """
    received = int(entry["__MONOTONIC_TIMESTAMP"]) / 1e6
    found = LOGGED_AT.match(message)
    if found is None:
        return received
    wall = datetime.strptime(found[1], "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC).timestamp()
    wall += int(found[2]) / 1000
    written = wall - (int(entry["__REALTIME_TIMESTAMP"]) / 1e6 - received)
    return written if received - 2.0 <= written <= received + 0.001 else received


# The modules the stand-in imports, listed by a fresh interpreter.
IMPORTED_BY_STAND_IN = ("import sys, hive_dev.echo_agent, hive_c0re.logs\n"
                        "print('\\n'.join(m.__file__ for m in list(sys.modules.values())"
                        " if getattr(m, '__file__', None)))")


def without_bytecode() -> list[str]:
    """The stand-in's modules a container's Python compiles at every start
    (:mod:`hive_dev.bytecode`): their ``.pyc`` is missing, stale, or unreadable to it."""
    done = subprocess.run([sys.executable, "-c", IMPORTED_BY_STAND_IN], capture_output=True,
                          text=True, check=True, cwd=REPO)
    modules = [Path(name) for name in done.stdout.split() if name.endswith(".py")]
    return [str(source) for source in bytecode.unusable(modules)]


def ready_bytecode(compile_missing: bool) -> int:
    """Compile what the stand-in's container would compile at every start, as an installed
    hive has it (pip and Nix compile at install; ``scripts/setup`` in a checkout); how many."""
    # This checkout's only: the interpreter's own tree is its installer's to compile.
    missing = ([m for m in without_bytecode() if Path(m).is_relative_to(REPO)]
               if compile_missing else [])
    if missing:
        step(f"compiling the bytecode of {len(missing)} of the stand-in's modules, readable "
             "by its containers (--as-checked-out: measure them as they are)")
        bytecode.compile_readable(Path(m) for m in missing)
    return len(missing)


# -- the bench ------------------------------------------------------------------------


class Bench(ContainerHive):
    """The container hive, plus the bare nspawn runs of the baseline."""

    units = ("hive-agent@*.service", "bench-bare-*")

    def __init__(self, count: bool = False) -> None:
        self.count = count
        self.shims: Path | None = None
        super().__init__()
        self.bare_runs = 0

    def environment(self) -> dict[str, str]:
        if not self.count:
            return {}
        self.shims = self.box.dir / "shims"
        self.shims.mkdir()
        for name, real in COUNTED.items():
            shim = self.shims / name
            shim.write_text(SHIM.format(name=name, log=self.shims / "ran.log", real=real))
            shim.chmod(0o755)
        return {"HYPERHIVE_GIT": str(self.shims / "git"),
                "PATH": f"{self.shims}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:"
                        "/sbin:/bin"}

    def programs_ran(self, since: float, until: float) -> list[str]:
        """What the daemon ran between two wall-clock times, in order ("git clone", ...)."""
        if self.shims is None:
            return []
        log = self.shims / "ran.log"
        found = []
        for line in (log.read_text().splitlines() if log.exists() else []):
            stamp, _, what = line.partition(" ")
            with contextlib.suppress(ValueError):
                if since <= float(stamp) <= until:
                    found.append(what.strip())
        return found

    def lifecycle(self, verb: str, agent: str) -> Sample:
        """``verb`` on host.sock, then a message; until that message's echo is read."""
        self.seq += 1
        body = f"{verb} {self.seq}"
        sent_wall = time.time()
        sent = time.monotonic()
        self.call(verb, name=agent)
        returned = time.monotonic()
        self.call("send", to=agent, body=body)
        replied = self.await_echo(agent, body, sent + REPLY_TIMEOUT, verb,
                                  lambda: self.agent_log(agent))
        unit = f"hive-agent@{agent}.service"
        started = self._since(sent, self.box.show(unit, "ExecMainStartTimestampMonotonic"))
        stopped = self._since(sent, self.box.show(unit, "InactiveEnterTimestampMonotonic"))
        ran = self.programs_ran(sent_wall, sent_wall + (started or returned - sent))
        return Sample(agent, sent, returned - sent, replied - sent, unit_started=started,
                      sent_wall=sent_wall, ran=ran, stopped=stopped)

    @staticmethod
    def _since(sent: float, microseconds: str) -> float | None:
        """A unit's monotonic timestamp property in seconds after ``sent``; None if before."""
        if not microseconds.isdigit() or not int(microseconds):
            return None
        after = int(microseconds) / 1e6 - sent
        return after if after >= 0 else None

    def agent_log(self, agent: str, lines: int = 15) -> str:
        done = self.box.run("journalctl", "--no-pager", "-n", str(lines), "-o", "cat",
                            f"SYSLOG_IDENTIFIER=hive-agent-{agent}", check=False)
        return done.stdout.strip()

    def connected_marks(self, agent: str) -> list[tuple[float, float | None, float | None]]:
        """(connected, python started, imports done) in monotonic seconds, each time
        ``agent``'s stand-in logged that it connected; the last two when its line says."""
        marks: list[tuple[float, float | None, float | None]] = []
        for line in self.box.journal(f"SYSLOG_IDENTIFIER=hive-agent-{agent}").splitlines():
            with contextlib.suppress(ValueError, KeyError, TypeError):
                entry = json.loads(line)
                message = entry.get("MESSAGE")
                if not isinstance(message, str) or CONNECTED_MARK not in message:
                    continue
                stamps = STAMPS.search(message)
                if stamps is None:
                    marks.append((logged_at(message, entry), None, None))
                else:
                    marks.append((float(stamps[3]), float(stamps[1]), float(stamps[2])))
        return sorted(marks)

    def fill_connected(self, phases: Sequence[Phase]) -> None:
        """Each sample's first connected mark after its call (and before its echo)."""
        samples = [s for phase in phases for s in phase.samples]
        marks = {agent: self.connected_marks(agent) for agent in {s.agent for s in samples}}
        for sample in samples:
            after = [m for m in marks[sample.agent] if m[0] >= sample.sent]
            if after and after[0][0] - sample.sent <= sample.replied + 0.001:  # asctime: ms
                connected, python, imported = after[0]
                sample.connected = connected - sample.sent
                sample.python_started = None if python is None else python - sample.sent
                sample.imported = None if imported is None else imported - sample.sent

    # -- the baseline -------------------------------------------------------------

    def bare_nspawn(self) -> float:
        """Seconds for ``systemd-run --user --wait`` of the agents' nspawn argv with /bin/true."""
        self.bare_runs += 1
        n = self.bare_runs
        top = self.box.dir / "bare" / f"{n:03d}"
        dirs = {part: top / part for part in ("run", "state", "claude", "policy")}
        for path in dirs.values():
            path.mkdir(parents=True)
        for part in ("run", "state", "claude"):
            os.chown(dirs[part], BARE_UID_BASE, BARE_UID_BASE)
        dirs["policy"].chmod(0o755)
        root = rootfs.build_tree(top / "roots", f"bare{n}", BARE_UID_BASE)
        rootfs.write_etc(top / "roots", f"bare{n}")
        spec = ContainerSpec(
            name=f"bare{n}", runtime_dir=dirs["run"], state_dir=dirs["state"],
            claude_dir=dirs["claude"], policy_dir=dirs["policy"], command=["/bin/true"],
            uid_base=BARE_UID_BASE,
            environment={"HYPERHIVE_AGENT": f"bare{n}", "HOME": "/root"},
        )
        argv = ["systemd-run", "--user", "--wait", "--quiet", "--collect",
                f"--unit=bench-bare-{n}"]
        for prop in BARE_UNIT_PROPERTIES:
            argv += ["-p", prop]
        rootfs.make_mount_points(root, nspawn_argv(spec, root))
        argv += ["--", *nspawn_argv(spec, root)]
        started = time.monotonic()
        done = self.box.run(*argv, check=False)
        elapsed = time.monotonic() - started
        if done.returncode != 0:
            raise BenchError(f"bare nspawn failed ({done.returncode}): {done.stderr.strip()}")
        shutil.rmtree(top, ignore_errors=True)  # untimed: the uid-owned tree goes now
        return elapsed


# -- the run --------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> tuple[SandboxOptions, bool, bool]:
    parser = SandboxOptions.parser(__doc__, "3 agents instead of 10",
                                   "agents b01.. to spawn (default 10; quick 3)")
    parser.add_argument("--count-programs", action="store_true",
                        help="count the programs the daemon runs before nspawn starts "
                             "(through logging shims, which slow each one a little)")
    parser.add_argument("--as-checked-out", action="store_true",
                        help="leave the stand-in's bytecode as it is (by default what the "
                             "containers could not use is compiled first)")
    opts, ns = SandboxOptions.parse(parser, argv, agents=10, quick_agents=3)
    return opts, bool(ns.count_programs), not ns.as_checked_out


def measure(bench: Bench, phase: Phase, verb: str, names: Sequence[str]) -> None:
    """Alternate: bare nspawn then ``verb``, then the other way round, and so on."""
    for i, name in enumerate(names):
        bare_first = i % 2 == 0
        if bare_first:
            phase.bare.append(bench.bare_nspawn())
        sample = bench.lifecycle(verb, name)
        phase.samples.append(sample)
        if not bare_first:
            phase.bare.append(bench.bare_nspawn())
        step(f"{verb} {name}: returned {fmt_ms(sample.returned)} ms, "
             f"echo {fmt_ms(sample.replied)} ms; bare nspawn {fmt_ms(phase.bare[-1])} ms")


def run(opts: SandboxOptions, bench: Bench) -> tuple[Phase, Phase]:
    names = [f"b{i:02d}" for i in range(1, opts.agents + 1)]
    step("activating hive-c0re (whoami on host.sock)")
    bench.call("whoami")
    # Not measured: the first spawn writes the template unit, the first runs
    # warm the page cache; b00 stays up beside the measured agents.
    step("warm-up: bare nspawn, spawn and restart of b00")
    bench.bare_nspawn()
    bench.lifecycle("spawn", "b00")
    bench.lifecycle("restart", "b00")
    spawn, restart = Phase("spawn"), Phase("restart")
    measure(bench, spawn, "spawn", names)
    measure(bench, restart, "restart", names)
    bench.fill_connected([spawn, restart])
    if bench.unexpected:
        step(f"{len(bench.unexpected)} unexpected inbox message(s): {bench.unexpected[:3]}")
    return spawn, restart


TARGETS = {"spawn": 2.0, "restart": 1.5}  # x bare nspawn, spawn/restart -> echo p50
COLUMNS = (("returned", "call returned"), ("stopped", "old one stopped"),
           ("unit_started", "nspawn started"), ("python_started", "python started"),
           ("imported", "imports done"), ("connected", "agent connected"),
           ("replied", "echo received"))
# The phases of a call, each from one mark to the next (p50 of the per-call spans).
PHASES = (("call", "stopped", "stop of the old container"),
          ("stopped", "unit_started", "start job, to nspawn's exec"),
          ("call", "unit_started", "call to nspawn's exec (the daemon's part)"),
          ("unit_started", "python_started", "nspawn's exec to the stand-in's first line"),
          ("python_started", "imported", "the stand-in's imports"),
          ("imported", "connected", "connect, whoami, requeue_inflight"),
          ("connected", "replied", "to the echo read by the operator"))


def print_programs(spawn: Phase, restart: Phase) -> None:
    """``--count-programs``: what the daemon ran before nspawn started, per call."""
    print("  programs the daemon ran between the call and 'nspawn started' (mean per call; "
          "mkfs.ext4 runs by its full path, uncounted)")
    for phase in (spawn, restart):
        counts = Counter(word for s in phase.samples for word in s.ran)
        total = sum(counts.values()) / max(len(phase.samples), 1)
        kinds = ", ".join(f"{what} {n / len(phase.samples):.1f}"
                          for what, n in sorted(counts.items(), key=lambda kv: -kv[1]))
        print(f"    {phase.name:<8} {total:.1f} in all: {kinds}")


def span(sample: Sample, start: str, end: str) -> float | None:
    """Seconds from mark ``start`` (``call``: the call written) to mark ``end``."""
    begin = 0.0 if start == "call" else getattr(sample, start)
    finish = getattr(sample, end)
    return None if begin is None or finish is None else finish - begin


def print_phases(spawn: Phase, restart: Phase) -> None:
    """Where the time goes: p50 of each span between marks, per phase."""
    print(f"where the time goes (ms, p50 of each call's span): {'':<28}"
          f"{spawn.name:>9} {restart.name:>9}")
    for start, end, label in PHASES:
        cells = []
        for phase in (spawn, restart):
            values = [v for v in (span(s, start, end) for s in phase.samples) if v is not None]
            cells.append(fmt_ms(percentile(values, 50)) if values else "n/a")
        print(f"  {label:<76}{cells[0]:>9} {cells[1]:>9}")


def report(opts: SandboxOptions, spawn: Phase, restart: Phase, compiled: int = 0) -> None:
    nspawn = version_of("systemd-nspawn") or "systemd-nspawn ?"
    print()
    print(f"hive-c0re container benchmark ({'quick' if opts.quick else 'full'}): "
          f"{opts.agents} agents, {machine()}, {nspawn}")
    print("times in ms from writing the call on host.sock; p50 / max over the agents")
    print()
    head = f"{'phase':<8}" + "".join(f" {label:>15}" for _, label in COLUMNS)
    head += f" {'bare nspawn':>15}"
    print(head)
    print("-" * len(head))
    for phase in (spawn, restart):
        row = f"{phase.name:<8}"
        for attr, _ in COLUMNS:
            values = phase.column(attr)
            cell = (f"{fmt_ms(percentile(values, 50))} / {fmt_ms(max(values))}"
                    if values else "n/a")
            row += f" {cell:>15}"
        row += f" {fmt_ms(phase.bare_p50) + ' / ' + fmt_ms(max(phase.bare)):>15}"
        print(row)
    print()
    print_phases(spawn, restart)
    print()
    print("per agent (ms): call returned, nspawn started, python started, agent connected, "
          "echo received")
    for phase in (spawn, restart):
        cells = [f"{s.agent} {fmt_ms(s.returned)}/{fmt_ms(s.unit_started)}/"
                 f"{fmt_ms(s.python_started)}/{fmt_ms(s.connected)}/{fmt_ms(s.replied)}"
                 for s in phase.samples]
        print(f"  {phase.name:<8} " + ", ".join(cells))
    if any(s.ran for phase in (spawn, restart) for s in phase.samples):
        print_programs(spawn, restart)
    print(f"  bare nspawn /bin/true (spawn phase): {', '.join(fmt_ms(b) for b in spawn.bare)}")
    print(f"  bare nspawn /bin/true (restart phase): "
          f"{', '.join(fmt_ms(b) for b in restart.bare)}")
    print()
    missing = without_bytecode()
    if missing:
        print(f"bytecode: {len(missing)} of the stand-in's modules have no .pyc a container can "
              "use, and are compiled at every start (scripts/setup compiles them): "
              + ", ".join(Path(m).relative_to(REPO).as_posix() if Path(m).is_relative_to(REPO)
                          else m for m in missing))
    else:
        print("bytecode: every module the stand-in imports has a .pyc a container can use"
              + (f" ({compiled} compiled before the run)" if compiled else ""))
    print()
    print("ratios (each against the bare nspawn runs alternated with that phase)")
    for phase in (spawn, restart):
        ratio = phase.reply_p50 / phase.bare_p50
        target = TARGETS[phase.name]
        print(f"  {phase.name} -> echo p50 / bare nspawn p50: {fmt_ms(phase.reply_p50)} ms / "
              f"{fmt_ms(phase.bare_p50)} ms = {ratio:.1f}x "
              f"(target <= {target}x: {'PASS' if ratio <= target else 'MISS'})")
    print("  'nspawn started': the unit's ExecMainStartTimestampMonotonic; 'old one stopped': "
          "its InactiveEnterTimestampMonotonic; 'python started', 'imports done', 'agent "
          f"connected': the monotonic stamps in the stand-in's '{CONNECTED_MARK}' log line "
          "(connected: after whoami and requeue_inflight)")


def summary(opts: SandboxOptions, spawn: Phase, restart: Phase) -> dict[str, Any]:
    """The headline numbers, in seconds."""
    out: dict[str, Any] = {"quick": opts.quick, "agents": opts.agents}
    for phase in (spawn, restart):
        out[phase.name] = {
            **{attr: {"p50": percentile(phase.column(attr), 50),
                      "max": max(phase.column(attr), default=float("nan"))}
               for attr, _ in COLUMNS},
            "bare_nspawn": {"p50": phase.bare_p50, "max": max(phase.bare)},
            "ratio_echo_to_bare": phase.reply_p50 / phase.bare_p50,
            "spans": {f"{start}->{end}": percentile(
                [v for v in (span(s, start, end) for s in phase.samples) if v is not None], 50)
                for start, end, _ in PHASES},
            "programs_before_nspawn": sum(len(s.ran) for s in phase.samples)
            / max(len(phase.samples), 1),
        }
    return out


def main(argv: Sequence[str] | None = None) -> int:
    opts, count, compile_missing = parse_args(argv)
    compiled: list[int] = []

    def make() -> Bench:
        compiled.append(ready_bytecode(compile_missing))
        return Bench(count)

    return sandbox_main("containers", make, lambda bench: run(opts, bench),
                        lambda phases: report(opts, *phases, compiled=sum(compiled)),
                        lambda phases: summary(opts, *phases), opts.json)


if __name__ == "__main__":
    sys.exit(main())
