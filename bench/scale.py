"""Scale benchmark: a hive of 50 agents on one host, with the real harness in real containers.

Inside one :class:`hive_dev.sandbox.Sandbox` (a private ``systemd --user`` with
journald and D-Bus), hive-c0re runs as the ``container_hive`` test fixture
installs it, and every agent runs ``hive-ag3nt serve`` (with its UI, as in
production) in its own ``systemd-nspawn`` container on the real claude CLI;
only the model is the scripted stand-in (``hive_dev.fakes.messages_api``),
which answers a ``ping`` with a ``send`` of ``pong`` to the operator. The
harness settings reach the containers through the operator's agent
environment file, the way an operator sets them for every agent
(``HYPERHIVE_CLI_IDLE_RELEASE``, short here, so the run sees releases).

In one run, each figure beside the baseline taken in the same run:

* crash → ``container_crash`` committed with one agent up (baseline), then
  under the load of the whole hive;
* spawn of all N agents, pipelined: every spawn followed by a ``ping``; done
  when every agent's ``pong`` is read. Baseline: bare ``systemd-nspawn
  /bin/true`` runs with the agents' command line (``bench/containers.py``);
* memory of every unit's cgroup, idle with the CLIs alive and idle after the
  release; the daemon's RSS and open fds;
* single replies (baseline), then a broadcast answered by all, with the CLIs
  alive and then after the release (every agent's first turn after it).

Run by hand from the repository root, as root:
``.venv/bin/python -m bench.scale [--quick] [--agents N]``.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # also runnable as ``python bench/scale.py``
    sys.path.insert(0, str(REPO))

from bench import containers, crashes  # noqa: E402
from bench.common import BenchError, fmt_ms, step  # noqa: E402
from bench.container_hive import sandbox_main  # noqa: E402
from bench.crashes_results import Kill  # noqa: E402
from bench.crashes_results import Results as KillResults  # noqa: E402
from bench.scale_memory import (  # noqa: E402
    KIB,
    Unit,
    cpu_by_kind,
    fd_count,
    mem_available,
    read_units,
)
from bench.scale_results import (  # noqa: E402
    Broadcast,
    Options,
    Results,
    Snapshot,
    parse_args,
    report,
    summary,
)
from hive_ag3nt.runner import bundled_cli  # noqa: E402
from hive_dev.fakes.messages_api import ApiProcess  # noqa: E402
from hive_dev.fakes.script import Match, Reply, ToolCall, write_script  # noqa: E402
from hive_dev.harness_support import container_env_file  # noqa: E402
from hive_dev.processes import descendants  # noqa: E402
from hive_dev.sandbox import container_process  # noqa: E402

HARNESS = "{python} -m hive_ag3nt serve"
PING, PONG = "ping", "pong"
PONG_CALL = ToolCall("mcp__hive__send", {"to": "operator", "body": PONG}, id="toolu_pong")
SPAWN_TIMEOUT = 600.0  # seconds for every agent of a pipelined spawn to answer
REPLY_TIMEOUT = 180.0  # seconds for a broadcast's last reply
SETTLE = 3.0  # seconds of quiet before a memory reading
RELEASE_GRACE = 60.0  # seconds past the idle release before we say there was none
# An agent with its CLI alive holds about 200 MiB of its own (PSS) and 280 MiB RSS.
AGENT_ESTIMATE_MIB = 256
BASE_AGENT = "k00"  # the crash baseline's one agent, destroyed before the others come


def cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def script(path: Path) -> Path:
    """Every ping answered by a send of pong to the operator, then a closing text."""
    return write_script(path, [
        Reply(text="sent", match=Match(tool_result_for=str(PONG_CALL.id)), times=None),
        Reply(tool_calls=[PONG_CALL], match=Match(last_user_contains=PING), times=None),
    ])


class Bench(crashes.Bench, containers.Bench):
    """The container hive with the real harness, the manager's socket (crash events) and
    the bare nspawn runs of the spawn baseline."""

    def __init__(self, opts: Options) -> None:
        self.opts = opts
        self.work = Path(tempfile.mkdtemp(prefix="hhc", dir="/tmp"))
        self.api: ApiProcess | None = None
        self.cli = bundled_cli()
        self.names: list[str] = []
        super().__init__()

    def environment(self) -> dict[str, str]:
        return {"HYPERHIVE_AGENT_COMMAND": HARNESS,
                "HYPERHIVE_AGENT_ENV_FILE": str(self.work / "agent.env")}

    def start_model(self) -> None:
        """The stand-in model, and the environment file every container gets."""
        self.api = ApiProcess(script(self.work / "script.json"), self.work).__enter__()
        env = container_env_file(self.work / "agent.env", self.api.url)
        extra = {"HYPERHIVE_CLI_IDLE_RELEASE": f"{self.opts.release:g}",
                 **self.opts.container_env}
        if self.opts.max_rss_mib is not None:
            extra["HYPERHIVE_CLI_MAX_RSS_MIB"] = str(self.opts.max_rss_mib)
        with env.open("a") as out:
            out.writelines(f"{k}={v}\n" for k, v in extra.items())

    def close(self) -> None:
        try:
            super().close()
        finally:
            if self.api is not None:
                self.api.__exit__(None, None, None)
            shutil.rmtree(self.work, ignore_errors=True)

    # -- mail -------------------------------------------------------------------

    def pongs(self, agents: set[str], sent_wall: float, timeout: float) -> dict[str, tuple[float,
                                                                                         float]]:
        """Until every one of ``agents`` has sent its pong: agent -> (committed, read), seconds
        after ``sent_wall`` (the daemon's ``sent_at``, the bench's read)."""
        found: dict[str, tuple[float, float]] = {}
        deadline = time.monotonic() + timeout
        while len(found) < len(agents):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                missing = sorted(agents - set(found))
                raise BenchError(f"no pong from {len(missing)} agent(s) within {timeout:.0f} s: "
                                 f"{missing[:10]}\n{self.daemon_log()}")
            messages = self.call("inbox", wait_seconds=min(remaining, 30.0))["messages"]
            read = time.time() - sent_wall
            for message in messages:
                sender = str(message.get("from"))
                if message.get("body") == PONG and sender in agents and sender not in found:
                    found[sender] = (float(message["sent_at"]) - sent_wall, read)
                elif sender != "operator":  # a broadcast reaches its sender's inbox too
                    self.unexpected.append(f"{sender}: {message.get('body')}")
        return found

    def ping(self, to: str) -> float:
        """``ping`` to one agent or ``*``; the wall clock just before the send."""
        self.seq += 1
        sent = time.time()
        self.call("send", to=to, body=f"{PING} {self.seq}")
        return sent

    def settle(self, timeout: float = 120.0, quiet: float = SETTLE) -> None:
        """Until no agent has unread or leased mail, then ``quiet`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            rows = self.call("agent_status")["agent_statuses"]
            busy = [r["name"] for r in rows if r["name"] in self.names
                    and (r.get("unread") or r.get("in_flight"))]
            if not busy:
                break
            if time.monotonic() > deadline:
                raise BenchError(f"agents still busy after {timeout:.0f} s: {busy[:10]}")
            time.sleep(0.2)
        time.sleep(quiet)

    def try_kill(self, kills: KillResults, agent: str, results: Results) -> Kill | None:
        """A kill as ``crashes.py`` makes it; None, and why in ``results.missed``, when no
        ``container_crash`` came (the run goes on: a missed report is a finding too)."""
        try:
            return self.kill(kills, agent)
        except BenchError as exc:
            state = self.props(agent, "ActiveState,Result,InvocationID")
            results.missed.append(f"{agent}: {str(exc).splitlines()[0]} (unit now {state})")
            step(f"missed: {results.missed[-1]}")
            return None

    # -- processes --------------------------------------------------------------

    def hive_units(self) -> dict[str, Unit]:
        names = ["hive-c0re.service", *(f"hive-agent@{n}.service" for n in self.names)]
        return read_units(self.box, names)

    def snapshot(self, label: str) -> Snapshot:
        units = self.hive_units()
        daemon = units.get("hive-c0re.service", Unit("hive-c0re.service"))
        main = next((p for p in daemon.procs if p.runs(self.cli) == "daemon"), None)
        return Snapshot(label, units, self.cli,
                        daemon_fds=fd_count(main.pid) if main is not None else -1,
                        available=mem_available())

    def cpu(self) -> dict[str, float]:
        """CPU seconds so far of the hive's processes by kind, and the stand-in model's."""
        model = [pid for pid in descendants(os.getpid())
                 if b"hive_dev.fakes.messages_api" in cmdline(pid)]
        return cpu_by_kind(self.hive_units().values(), self.cli, model)

    def await_release(self) -> float | None:
        """Seconds until no agent's container holds a claude CLI; None if that never came."""
        started = time.monotonic()
        deadline = started + self.opts.release + RELEASE_GRACE
        while time.monotonic() < deadline:
            alive = [u for u in self.hive_units().values() if u.count("cli", self.cli)]
            if not alive:
                return time.monotonic() - started
            time.sleep(1.0)
        return None


# -- phases -------------------------------------------------------------------------


def crash_baseline(bench: Bench, results: Results, kills: KillResults, count: int) -> list[Kill]:
    """Kills of the one agent up, each followed by a start and a reply."""
    bench.names = [BASE_AGENT]
    bench.call("spawn", name=BASE_AGENT)
    bench.pongs({BASE_AGENT}, bench.ping(BASE_AGENT), REPLY_TIMEOUT)
    done = []
    for i in range(count + 1):  # the first kill warms the crash watch's path, unmeasured
        kill = bench.try_kill(kills, BASE_AGENT, results)
        step(f"baseline kill {i}/{count} of {BASE_AGENT}: committed "
             f"{fmt_ms(kill.committed if kill else None)} ms")
        if i and kill is not None:
            done.append(kill)
        bench.call("start", name=BASE_AGENT)
        bench.pongs({BASE_AGENT}, bench.ping(BASE_AGENT), REPLY_TIMEOUT)
        bench.drain(kills)
    results.snapshots.append(bench.snapshot("one agent"))
    bench.call("destroy", name=BASE_AGENT)
    bench.names = []
    return done


def spawn_all(bench: Bench, results: Results) -> None:
    """Every spawn followed at once by a ping; until every pong is read."""
    guard = bench.opts.min_available_mib * KIB
    started = time.time()
    for n in range(1, bench.opts.agents + 1):
        # What the agents still to come will take once all their CLIs run, on top.
        need = guard + (bench.opts.agents - n + 1) * AGENT_ESTIMATE_MIB * KIB
        if mem_available() < need:
            results.stopped = (f"stopped at {len(bench.names)} agents: MemAvailable below "
                               f"{bench.opts.min_available_mib} MiB + {AGENT_ESTIMATE_MIB} "
                               "MiB for each agent still to come")
            step(results.stopped)
            break
        name = f"s{n:02d}"
        called = time.time()
        bench.call("spawn", name=name)
        results.spawn_calls.append(time.time() - called)
        bench.names.append(name)
        bench.ping(name)
        if n % 10 == 0:
            step(f"spawned {n}")
    found = bench.pongs(set(bench.names), started, SPAWN_TIMEOUT)
    results.spawn_all = max(read for _, read in found.values())


def broadcast(bench: Bench, label: str) -> Broadcast:
    """A ping to ``*``; until every agent's pong, and what CPU each kind of process spent."""
    before = bench.cpu()
    alive = sum(u.count("cli", bench.cli) for u in bench.hive_units().values())
    sent = bench.ping("*")
    found = bench.pongs(set(bench.names), sent, REPLY_TIMEOUT)
    # Processes that ended meanwhile (a released CLI) are missed: there are none during one.
    spent = {k: v - before.get(k, 0.0) for k, v in bench.cpu().items()}
    measured = Broadcast(label, [committed for committed, _ in found.values()],
                         max(read for _, read in found.values()), alive, spent)
    step(f"{label} ({alive} CLIs alive): p50 {fmt_ms(measured.p50)} ms, "
         f"p99 {fmt_ms(measured.p99)} ms")
    return measured


def singles(bench: Bench, count: int) -> list[float]:
    """One ping to one agent at a time (the rest idle): the broadcast's baseline."""
    took = []
    for name in bench.names[:count]:
        sent = bench.ping(name)
        took.append(bench.pongs({name}, sent, REPLY_TIMEOUT)[name][0])
        bench.settle(timeout=60, quiet=0.2)
    return took


def crashes_under_load(bench: Bench, results: Results, kills: KillResults,
                       count: int) -> list[Kill]:
    """Kills of distinct agents while the rest of the hive is up; none is started again."""
    done = []
    for name in bench.names[-count:]:
        container_process(bench.hive, name)  # it is up, its harness running
        kill = bench.try_kill(kills, name, results)
        if kill is not None:
            done.append(kill)
        step(f"kill under load of {name}: committed "
             f"{fmt_ms(kill.committed if kill else None)} ms")
        bench.drain(kills)
    bench.fill_logged(done)
    told = [k.by_pidfd for k in done]
    step(f"crashes under load told by the pidfd (crash_pidfd): {told.count(True)} of "
         f"{len(told)}, by systemd: {told.count(False)}, no crash line: {told.count(None)}")
    return done


def run(opts: Options, bench: Bench) -> Results:
    results = Results(release=opts.release)
    kills = KillResults()
    step("activating hive-c0re; the stand-in model")
    bench.call("whoami")
    bench.start_model()
    step(f"bare nspawn baseline ({opts.bare} runs)")
    bench.bare_nspawn()  # warms the page cache, unmeasured
    results.bare = [bench.bare_nspawn() for _ in range(opts.bare)]
    step(f"crash baseline: {opts.kills} kills of the one agent up")
    results.kills_alone = crash_baseline(bench, results, kills, opts.kills)
    step(f"spawning {opts.agents} agents, each pinged at once")
    spawn_all(bench, results)
    # Agents spawned first may have released their CLI while the others came: one
    # broadcast, unmeasured, brings every CLI up before the readings of the CLIs alive.
    broadcast(bench, "warm-up broadcast")
    bench.settle()
    results.snapshots.append(bench.snapshot("idle, CLI alive"))
    step("single replies (baseline of the broadcast)")
    results.singles = singles(bench, opts.singles)
    for _ in range(opts.broadcasts):
        results.broadcasts.append(broadcast(bench, "broadcast, CLIs alive"))
        bench.settle(quiet=0.5)
    results.snapshots.append(bench.snapshot("after the broadcasts"))
    if opts.release > 0:
        step(f"waiting for the idle release ({opts.release:g} s)")
        results.released_after = bench.await_release()
        bench.settle()
        results.snapshots.append(bench.snapshot("idle, after release"))
        results.broadcasts.append(broadcast(bench, "broadcast, after release"))
        bench.settle()
    step(f"crashes under the hive's load: {opts.kills} kills")
    results.kills_loaded = crashes_under_load(bench, results, kills,
                                              min(opts.kills, len(bench.names)))
    results.snapshots.append(bench.snapshot("at the end"))
    # A broadcast reaches the manager's inbox too, which the crash phases read.
    results.unexpected = [u for u in bench.unexpected if not u.startswith(PING)]
    return results


def main(argv: Sequence[str] | None = None) -> int:
    opts = parse_args(argv, __doc__)
    return sandbox_main("scale", lambda: Bench(opts), lambda bench: run(opts, bench),
                        lambda results: report(opts, results),
                        lambda results: summary(opts, results), opts.json)


if __name__ == "__main__":
    sys.exit(main())
