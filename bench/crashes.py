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

With ``--pidfd both`` (the default) the daemon's ``crash_pidfd`` setting
alternates, off first, in blocks of ``--block`` kills (the daemon restarted
with the other value between blocks, the containers left running): the kills
with it off are the baseline of those with it on, in the same run.
``--cpu-load N`` runs N busy-looping processes on the host meanwhile, a load
under which systemd's own handling of a dead nspawn slows down.

A second baseline in the same run: the reference design's 10-second poll loop. One
random phase for the whole run (seeded: ``--seed``), ticks every 10 s; each
kill is detected at the first tick after it, plus (second column) the cost of
one poll pass, measured here as one ``systemctl --user show`` of the agents'
units between the kills.

Run by hand from the repository root, as root:
``.venv/bin/python -m bench.crashes [--quick] [--agents N] [--cpu-load N]``.
"""

from __future__ import annotations

import contextlib
import json
import random
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # also runnable as ``python bench/crashes.py``
    sys.path.insert(0, str(REPO))

from bench.common import BenchError, fmt_ms, step  # noqa: E402
from bench.container_hive import REPLY_TIMEOUT, ContainerHive, sandbox_main  # noqa: E402
from bench.crashes_results import (  # noqa: E402
    POLL_PERIOD,
    Kill,
    Options,
    Results,
    next_tick,
    parse_args,
    report,
    summary,
)
from hive_c0re.client import Client  # noqa: E402
from hive_c0re.errors import HiveError  # noqa: E402

# Beyond the daemon's reconcile pass (crash_reconcile_interval, 60 s by default):
# an event that has not come by then is not coming.
CRASH_TIMEOUT = 75.0
# What the crash watch itself reads of a unit (crashwatch._PROPS): one poll pass.
POLL_PROPS = "ActiveState,SubState,Result,ExecMainStatus,ExecMainCode,InvocationID"
# How the daemon's crash line ends when the pidfd told it (crashwatch.CrashWatch.report).
PIDFD_TOLD = "told by its pidfd"
STAMPS = "ExecMainExitTimestampMonotonic,InactiveEnterTimestampMonotonic,InvocationID"


# -- the bench ------------------------------------------------------------------------


class Bench(ContainerHive):
    """The container hive, plus a client on the manager's socket (where crashes arrive)."""

    def __init__(self) -> None:
        super().__init__()
        self.manager = Client(self.hive.manager_socket, timeout=30)  # connects on first call
        self.pidfd: bool | None = None  # the daemon's crash_pidfd, once this bench set it

    def set_pidfd(self, on: bool, agents: int) -> None:
        """Restart the daemon with ``crash_pidfd`` on or off (the containers keep running);
        back once it answers and, when on, follows every agent's main process."""
        dropin = self.box.unit_dir / "hive-c0re.service.d" / "crash-pidfd.conf"
        dropin.parent.mkdir(exist_ok=True)
        dropin.write_text("[Service]\nEnvironment=\"HYPERHIVE_CRASH_PIDFD="
                          f"{'yes' if on else 'no'}\"\n")
        self.box.systemctl("daemon-reload")
        self.box.systemctl("restart", "hive-c0re.service")
        self.hive.wait_active()
        for client in self.clients():
            client.close()  # the old daemon's connections; each reconnects on its next call
        self.call("whoami")
        self.await_pidfds(agents if on else 0)
        self.pidfd = on

    def await_pidfds(self, count: int, wait: float = 30) -> None:
        deadline = time.monotonic() + wait
        while (held := self.pidfds()) != count:
            if time.monotonic() > deadline:
                raise BenchError(f"the daemon holds {held} pidfds, not {count}")
            time.sleep(0.02)

    def pidfds(self) -> int:
        """The pidfds the daemon holds: the main processes its crash watch follows."""
        pid = self.hive.main_pid()
        done = self.box.run("sh", "-c", f"ls -l /proc/{pid}/fd | grep -c 'anon_inode:\\[pidfd'",
                            check=False)
        return int(done.stdout.strip() or 0)

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
        kill = Kill(agent, invocation, wall=time.time(), mono=time.monotonic(),
                    pidfd=self.pidfd)
        done = self.box.systemctl("kill", "--kill-whom=main", "-s", "KILL", self.unit(agent),
                                  check=False)
        kill.returned = time.time() - kill.wall
        if done.returncode != 0:
            raise BenchError(f"systemctl kill {agent} failed: {done.stderr.strip()}")
        event = self.await_crash(results, kill)
        kill.committed = float(event["_sent_at"]) - kill.wall
        stamps = self.down_stamps(agent)  # before `start` overwrites them
        if stamps.get("InvocationID") == invocation:
            for attr, prop in (("main_exited", "ExecMainExitTimestampMonotonic"),
                               ("unit_failed", "InactiveEnterTimestampMonotonic")):
                value = stamps.get(prop, "")
                if value.isdigit() and int(value):
                    setattr(kill, attr, int(value) / 1e6 - kill.mono)
        kill.poll_tick = next_tick(kill.wall, results.origin + results.phase)
        return kill

    def down_stamps(self, agent: str, wait: float = 10.0) -> dict[str, str]:
        """The kill's stamps once the unit is down: the event may come while systemd still
        ends the container's processes, and the unit's `failed` stamp is set after that."""
        deadline = time.monotonic() + wait
        while True:
            stamps = self.props(agent, f"{STAMPS},ActiveState")
            if stamps.get("ActiveState") != "deactivating" or time.monotonic() > deadline:
                return stamps
            time.sleep(0.02)

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
        marks: list[tuple[str, float, bool]] = []
        for line in self.box.journal("SYSLOG_IDENTIFIER=hive-c0re").splitlines():
            with contextlib.suppress(ValueError, KeyError, TypeError):
                entry = json.loads(line)
                message = entry.get("MESSAGE")
                if isinstance(message, str) and message.startswith("container of "):
                    agent = message.removeprefix("container of ").split(" ", 1)[0]
                    marks.append((agent, int(entry["__REALTIME_TIMESTAMP"]) / 1e6,
                                  message.endswith(PIDFD_TOLD)))
        for n, kill in enumerate(kills):
            # Up to the next kill of the same agent: journald's stamp may come after the
            # bench read the event (then it is no time for the column, still the path).
            until = next((k.wall for k in kills[n + 1:] if k.agent == kill.agent),
                         float("inf"))
            after = sorted((at - kill.wall, pidfd) for agent, at, pidfd in marks
                           if agent == kill.agent and kill.wall <= at < until)
            if after:
                kill.by_pidfd = after[0][1]
                if after[0][0] <= kill.read:
                    kill.logged = after[0][0]

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


@contextlib.contextmanager
def cpu_load(count: int) -> Iterator[None]:
    """``count`` busy-looping processes on the host, ended (by pid) afterwards."""
    busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]
    try:
        yield
    finally:
        for proc in busy:
            proc.kill()
            proc.wait()


def warm_up(bench: Bench, results: Results, agent: str) -> None:
    """One kill, not measured: the first report loads the journal reader, the first start
    after a crash warms whatever it touches."""
    step(f"warm-up: kill and start {agent}")
    others, extras = len(results.other_events), len(results.extra_crashes)
    bench.drain(results)
    warm = Kill(agent, bench.props(agent, "InvocationID")["InvocationID"],
                wall=time.time(), mono=time.monotonic())
    bench.box.systemctl("kill", "--kill-whom=main", "-s", "KILL", bench.unit(agent))
    bench.await_crash(results, warm)
    bench.revive(agent)
    bench.drain(results)
    # What the warm-up brought (a start's events) is not the measured kills'.
    del results.other_events[others:]
    del results.extra_crashes[extras:]


def run(opts: Options, bench: Bench) -> Results:
    names = [f"c{i:02d}" for i in range(1, opts.agents + 1)]
    results = Results()
    step("activating hive-c0re (whoami on host.sock)")
    bench.call("whoami")
    for name in names:
        step(f"spawning {name}")
        bench.call("spawn", name=name)
        bench.echo(name, "spawn")
    results.origin = time.time()
    results.phase = random.Random(opts.seed).uniform(0, POLL_PERIOD)
    with cpu_load(opts.cpu_load):
        for i, mode in enumerate(schedule(opts)):
            if mode is not bench.pidfd:
                step(f"daemon restarted with crash_pidfd {'yes' if mode else 'no'}")
                bench.set_pidfd(mode, len(names))
                warm_up(bench, results, names[0])
            measure_kill(bench, results, opts, names, i)
    # A late duplicate report of any kill would land here.
    bench.drain(results, wait=2.0)
    bench.fill_logged(results.kills)
    if bench.unexpected:
        step(f"{len(bench.unexpected)} unexpected message(s): {bench.unexpected[:3]}")
    return results


def schedule(opts: Options) -> list[bool]:
    """The crash_pidfd setting of each kill: ``opts.kills`` with each, in alternating blocks."""
    modes = opts.pidfd
    total = opts.kills * len(modes)
    return [modes[(i // opts.block) % len(modes)] for i in range(total)]


def measure_kill(bench: Bench, results: Results, opts: Options, names: Sequence[str],
                 i: int) -> None:
    agent = names[i % len(names)]
    # The poll pass's cost, alternated with bare nsenter, in the quiet before the kill.
    if i % 2 == 0:
        results.nsenter.append(bench.bare_nsenter())
    results.poll_pass.append(bench.poll_pass(names))
    if i % 2 == 1:
        results.nsenter.append(bench.bare_nsenter())
    if bench.pidfd:
        bench.await_pidfds(len(names))  # the restarted agent's main process is followed
    kill = bench.kill(results, agent)
    results.kills.append(kill)
    step(f"kill {i + 1}/{opts.kills * len(opts.pidfd)} {agent}: "
         f"returned {fmt_ms(kill.returned)} ms, failed {fmt_ms(kill.unit_failed)} ms, "
         f"committed {fmt_ms(kill.committed)} ms; "
         f"10 s poll tick {fmt_ms(kill.poll_tick)} ms")
    bench.revive(agent)
    bench.drain(results)


def main(argv: Sequence[str] | None = None) -> int:
    opts = parse_args(argv, __doc__)
    return sandbox_main("crashes", Bench, lambda bench: run(opts, bench),
                        lambda results: report(opts, results),
                        lambda results: summary(opts, results), opts.json)


if __name__ == "__main__":
    sys.exit(main())
