"""CPU the claude CLI spends on one turn: warm (CLI alive), and first after a release.

The harness's own ``ClaudeSession`` (``hive_ag3nt.runner``) on the real claude CLI
bundled with claude-agent-sdk, its hive tools served by a real daemon
(``hive_dev.daemon.DaemonProcess``), the model the scripted Messages API stand-in in
its own process. Every turn is the one a broadcast asks of an agent in
``bench/scale.py``: a "ping" answered by the model calling ``send`` (one MCP call
over the SDK's control protocol), then a closing text: two model requests.

The events log is one per process (peewee's database proxy): every variant's events
land in the last variant's log, so only that CLI sees the harness write in its working
directory; ``quietcwd`` shows those writes cost the CLI nothing measurable.

CPU, not wall time (:class:`CpuMeter`: each CLI in a cpuacct group of its own where
the kernel has one, else clock ticks from ``/proc``), so a noisy machine moves the
numbers less. One CLI per variant, turns taken in turn (variant by variant,
round after round, each round starting at the next variant), so every variant sees the
same machine:

* ``old``: the CLI options and environment the harness gave before (the baseline);
* ``new``: what ``hive_ag3nt.runner`` gives now;
* with ``--knobs``, each of ``KNOBS`` alone on top of ``old``, to see what each does.

Printed per variant: the CPU of start + first turn, of turns 2-4 (what a broadcast
soon after spawn meets: the CLI's JIT is still cold), of the later (warm) turns,
and of a first turn after a release (start + resume + turn); the model requests per
turn; the ratio to ``old``; and the floor this implies for a broadcast to 50 agents
on this machine's cores (50 x CPU per turn / cores, the CLI alone).

Run by hand: ``.venv/bin/python bench/turn_cpu.py [--quick] [--knobs [NAME,...]] [--turns N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # also runnable as ``python bench/turn_cpu.py``
    sys.path.insert(0, str(REPO))

from bench.common import BenchError, fmt_ms, median, step  # noqa: E402
from hive_ag3nt.cli_memory import tree_rss_mib  # noqa: E402
from hive_ag3nt.runner import CLI_DEFAULTS, ClaudeSession  # noqa: E402

AGENTS = 50
PING, PONG = "ping", "pong"
IDLE_SECONDS = 20.0  # how long every CLI waits, alive, between the warm turns and releases
PLAIN = "hello"  # answered with a text alone: a turn of one model request
# What runner.CLI_DEFAULTS was before the CPU work: the baseline.
OLD_DEFAULTS = {
    "ENABLE_TOOL_SEARCH": "false",
    "CLAUDE_CODE_MAX_RETRIES": "2",
    "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
}
# What ``--knobs`` tries, each alone on top of the old settings: CLI environment
# variables (the CLI's documented ones, and a few it reads that looked like they could
# cut work in a turn), and two option changes that would lose what the agent needs
# (only to see what the system prompt and the tool schemas cost). Names are agent names.
KNOBS: dict[str, dict[str, str]] = {
    "telemetry": {"DISABLE_TELEMETRY": "1"},
    "errors": {"DISABLE_ERROR_REPORTING": "1"},
    "updater": {"DISABLE_AUTOUPDATER": "1"},
    "sidecalls": {"DISABLE_NON_ESSENTIAL_MODEL_CALLS": "1"},
    "costwarn": {"DISABLE_COST_WARNINGS": "1"},
    "attach": {"CLAUDE_CODE_DISABLE_ATTACHMENTS": "1"},
    "automem": {"CLAUDE_CODE_DISABLE_AUTO_MEMORY": "1"},
    "flags": {"CLAUDE_CODE_DISABLE_FEATURE_FLAGS": "1"},
    "skills": {"CLAUDE_CODE_DISABLE_BUNDLED_SKILLS": "1"},
    "bgtasks": {"CLAUDE_CODE_DISABLE_BACKGROUND_TASKS": "1", "CLAUDE_CODE_DISABLE_CRON": "1"},
    "checkpts": {"CLAUDE_CODE_DISABLE_FILE_CHECKPOINTING": "1"},
    "certs": {"CLAUDE_CODE_CERT_STORE": "bundled"},
    # A waiting CLI's 1 s timers: its config file's stat (inotify instead), Bun's GC.
    "cfgevents": {"CLAUDE_CODE_CONFIG_WATCH_EVENTS": "1"},
    "gctimer": {"BUN_GC_TIMER_DISABLE": "1"},
    "gc30s": {"BUN_GC_TIMER_INTERVAL": "30000"},
    "gcandcfg": {"BUN_GC_TIMER_DISABLE": "1", "CLAUDE_CODE_CONFIG_WATCH_EVENTS": "1"},
    # Bun's JavaScriptCore: no optimizing tiers (less JIT work, slower hot code).
    "noftl": {"BUN_JSC_useFTLJIT": "0"},
    "nodfg": {"BUN_JSC_useDFGJIT": "0"},
    # The optimizing tier 20 times later than JSC's default: less compiling early on.
    "lazyopt": {"BUN_JSC_thresholdForOptimizeAfterWarmUp": "20000",
                "BUN_JSC_thresholdForOptimizeAfterLongWarmUp": "20000",
                "BUN_JSC_thresholdForOptimizeSoon": "20000"},
}
OPTION_KNOBS: dict[str, dict[str, Any]] = {
    "plainsys": {"system_prompt": lambda options: options.system_prompt["append"]},
    "notools": {"tools": []},
    # A working directory the harness does not write to (the events log lives in /state).
    "quietcwd": {"cwd": lambda options: quiet_dir(Path(options.cwd))},
}


def quiet_dir(state: Path) -> str:
    work = state.parent / "work"
    work.mkdir(exist_ok=True)
    return str(work)


TICK = os.sysconf("SC_CLK_TCK")
CPUACCT = Path("/sys/fs/cgroup/cpuacct")  # cgroup v1's CPU accounting, where mounted


def ticks_cpu(pid: int) -> float:
    """Seconds of CPU of ``pid`` and every live process below it, reaped children and
    ended threads included, in clock ticks (10 ms)."""
    total, todo = 0.0, [pid]
    while todo:
        one = todo.pop()
        try:
            stat = Path(f"/proc/{one}/stat").read_text()
            tasks = list(Path(f"/proc/{one}/task").iterdir())
        except OSError:
            continue  # ended while we looked
        fields = stat.rsplit(")", 1)[1].split()
        total += sum(int(x) for x in fields[11:15]) / TICK  # utime stime cutime cstime
        for task in tasks:
            try:
                todo += [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                continue
    return total


class CpuMeter:
    """The CPU of each CLI's tree, in nanoseconds where the kernel's cpuacct can tell.

    Ticks step a turn's 40-60 ms in quarters, and a thread's own ``schedstat`` is gone
    once it ends (the CLI's GC and JIT helpers come and go). So each CLI is moved, when
    first measured, into a cpuacct group of its own (cgroup v1, as root), which counts
    every thread and child it ever has from then on; what it spent before counts in
    ticks. Without cpuacct it is ticks throughout, and the report says so.
    """

    def __init__(self) -> None:
        self.groups: dict[int, tuple[Path, float]] = {}  # pid: its group, ticks before it
        self.precise = CPUACCT.is_dir() and os.geteuid() == 0

    def seconds(self, pid: int) -> float:
        if not self.precise:
            return ticks_cpu(pid)
        if pid not in self.groups:
            group = CPUACCT / f"hyperhive-bench-{os.getpid()}-{pid}"
            group.mkdir()
            before = ticks_cpu(pid)
            (group / "cgroup.procs").write_text(f"{pid}\n")
            self.groups[pid] = group, before
        group, before = self.groups[pid]
        return before + int((group / "cpuacct.usage").read_text()) / 1e9

    def close(self) -> None:
        """Remove the groups (each CLI has ended by now: an empty group is removed)."""
        for group, _ in self.groups.values():
            with contextlib.suppress(OSError):
                group.rmdir()
        self.groups.clear()


@dataclass
class Variant:
    name: str
    env: dict[str, str]  # the CLI defaults this variant runs with (replacing runner's)
    overrides: dict[str, Any] = field(default_factory=dict)  # ClaudeAgentOptions fields
    session: ClaudeSession | None = None
    boot: float = 0.0  # start alone: connected, before any turn
    start: float = 0.0  # start + first turn
    turns: list[float] = field(default_factory=list)  # CPU of turn 2, 3, ...
    resumes: list[float] = field(default_factory=list)  # start + resume + turn
    harness: list[float] = field(default_factory=list)  # this process's CPU per warm turn
    plain: list[float] = field(default_factory=list)  # CPU of a warm one-request turn
    own: float = 0.0  # this process's CPU over the last turn
    idle: float = 0.0  # CPU seconds per second of the CLI, alive and waiting
    rss: tuple[float, float] = (0.0, 0.0)  # the CLI tree's MiB after the warm turns, after idle
    requests: list[int] = field(default_factory=list)  # model requests per turn
    sizes: list[int] = field(default_factory=list)  # bytes of system prompt + tools, each
    failures: list[str] = field(default_factory=list)

    @property
    def early(self) -> float:
        return median(self.turns[:3])

    @property
    def warm(self) -> float:
        return median(self.turns[3:] or self.turns)

    @property
    def one_request(self) -> float:
        return median(self.plain[3:] or self.plain)

    @property
    def resume(self) -> float:
        return median(self.resumes)


class Session(ClaudeSession):
    """The harness's session with a variant's CLI defaults in place of ``CLI_DEFAULTS``."""

    defaults: dict[str, str]  # set once made
    overrides: dict[str, Any]

    def options(self, *, resume: str | None) -> Any:
        options = super().options(resume=resume)
        options.env = {**self.defaults, **self.config.env,
                       "CLAUDE_CONFIG_DIR": str(self.config.paths.claude_config)}
        for name, value in self.overrides.items():
            setattr(options, name, value(options) if callable(value) else value)
        return options


class Bench:
    def __init__(self, root: Path, variants: list[Variant], turns: int, resumes: int) -> None:
        self.root = root
        self.variants = variants
        self.rounds = turns
        self.resume_rounds = resumes
        self.meter = CpuMeter()
        self._read = 0  # bytes of the stand-in's record read so far

    async def run(self) -> None:
        from hive_dev.fakes.messages_api import ApiProcess
        from hive_dev.fakes.script import Match, Reply, ToolCall, write_script
        from hive_dev.harness_support import daemon_process, register

        call = ToolCall("mcp__hive__send", {"to": "operator", "body": PONG}, id="toolu_pong")
        (self.root / "api").mkdir()
        script = write_script(self.root / "api" / "script.json", [
            Reply(text="sent", match=Match(tool_result_for=str(call.id)), times=None),
            Reply(tool_calls=[call], match=Match(last_user_contains=PING), times=None),
        ])
        with daemon_process() as daemon, ApiProcess(script, self.root / "api") as api:
            for v in self.variants:
                register(daemon, v.name)
                v.session = self._session(v, daemon, api.url)
            try:
                await self._turns(api)
            finally:
                for v in self.variants:
                    if v.session is not None:
                        await v.session.close()
                self.meter.close()

    def _session(self, v: Variant, daemon: Any, api_url: str) -> ClaudeSession:
        from hive_ag3nt.events import EventLog
        from hive_ag3nt.hive import HiveConnection
        from hive_ag3nt.paths import AgentPaths
        from hive_ag3nt.policy import Policy
        from hive_ag3nt.prompt import system_prompt
        from hive_ag3nt.runner import SessionConfig, bundled_cli
        from hive_ag3nt.tools import build_server
        from hive_dev.fakes.messages_api import cli_env

        root = self.root / v.name
        (root / "state").mkdir(parents=True)
        (root / "policy.json").write_text("{}")
        socket = daemon.agent_socket(v.name)
        paths = AgentPaths(state=root / "state", run=root, policy=root / "policy.json",
                           model_file=root / "state" / "hyperhive-model",
                           claude_config=root / "home" / ".claude", socket_override=socket)
        policy = Policy()
        env = cli_env(api_url, root / "home")
        env.pop("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC")  # the variant's defaults say
        env.pop("DISABLE_AUTOUPDATER")
        config = SessionConfig(name=v.name, policy=policy, paths=paths,
                               system_prompt=system_prompt(v.name, policy, "/state/notes.md"),
                               mcp_server=build_server(HiveConnection(socket)),
                               cli_path=bundled_cli(), env=env)
        session = Session(config, EventLog(root / "state" / "events.sqlite"),
                          lambda: policy.model)
        session.defaults, session.overrides = v.env, v.overrides
        return session

    async def _turn(self, v: Variant, api: Any, seq: int, prompt: str = PING) -> float:
        """One turn of ``v``; its CLI's CPU over the turn (from before it to after)."""
        assert v.session is not None
        await v.session.connect()
        pid = v.session.cli_pid()
        if pid is None:
            raise BenchError("the SDK does not tell the CLI's pid")
        self._new_requests(api)  # whatever came before this turn
        before = self.meter.seconds(pid)
        own = time.process_time()
        result = await v.session.turn(f"{prompt} {seq:04d} from the operator", "bench")
        v.own = time.process_time() - own
        if result.outcome.value != "ok":
            v.failures.append(f"turn {seq}: {result.outcome.value} {result.error}")
        made = self._new_requests(api)
        if prompt == PING:
            v.requests.append(len(made))
        v.sizes += [len(json.dumps([r.body.get("system"), r.body.get("tools")]))
                    for r in made if isinstance(r.body, dict)]
        return self.meter.seconds(pid) - before

    async def _idle(self) -> None:
        """Each CLI's CPU while it waits: in a broadcast, the waiting CLIs' share counts."""
        pids = {v.name: v.session.cli_pid() if v.session else None for v in self.variants}
        before = {name: self.meter.seconds(pid) for name, pid in pids.items() if pid is not None}
        warm = {name: tree_rss_mib(pid) or 0.0 for name, pid in pids.items() if pid is not None}
        await asyncio.sleep(IDLE_SECONDS)
        for v in self.variants:
            pid = pids[v.name]
            if pid is not None:
                v.idle = (self.meter.seconds(pid) - before[v.name]) / IDLE_SECONDS
                v.rss = (warm[v.name], tree_rss_mib(pid) or 0.0)

    def _rotated(self, seq: int) -> list[Variant]:
        """The variants, each round starting at another one: no variant is always first."""
        at = seq % len(self.variants)
        return self.variants[at:] + self.variants[:at]

    def _new_requests(self, api: Any) -> list[Any]:
        """The requests the stand-in recorded since the last call (its record only grows)."""
        from hive_dev.fakes.script import ApiRequest

        path: Path = api.record_path
        if not path.exists():
            return []
        with path.open("rb") as f:
            f.seek(self._read)
            data = f.read()
        complete = data[: data.rfind(b"\n") + 1]  # a line being written waits for next time
        self._read += len(complete)
        return [ApiRequest.from_dict(json.loads(line)) for line in complete.splitlines() if line]

    async def _turns(self, api: Any) -> None:
        step(f"{len(self.variants)} variants: start + first turn")
        for v in self.variants:
            assert v.session is not None
            await v.session.connect()
            pid = v.session.cli_pid()
            assert pid is not None
            v.boot = self.meter.seconds(pid)
            await self._turn(v, api, 0)
            v.start = self.meter.seconds(pid)
        step(f"{self.rounds} warm turns each, variant by variant")
        for seq in range(1, self.rounds + 1):
            for v in self._rotated(seq):
                v.turns.append(await self._turn(v, api, seq))
                v.harness.append(v.own)
                v.plain.append(await self._turn(v, api, seq, PLAIN))
        step(f"every CLI alive and waiting for {IDLE_SECONDS:g} s")
        await self._idle()
        step(f"{self.resume_rounds} releases, each followed by a turn")
        for seq in range(self.resume_rounds):
            for v in self._rotated(seq):
                assert v.session is not None
                if v.failures:
                    continue
                await v.session.release("idle")
                try:
                    await v.session.connect()
                except Exception as exc:  # a variant that cannot resume says so
                    v.failures.append(f"resume: {exc}")
                    continue
                pid = v.session.cli_pid()
                assert pid is not None
                await self._turn(v, api, 1000 + seq)
                v.resumes.append(self.meter.seconds(pid))


def report(variants: list[Variant], cores: int, precise: bool) -> None:
    base = variants[0]

    def ratio(value: float, of: float) -> str:
        return f"{value / of:.2f}×" if of else "n/a"

    how = "each CLI in a cpuacct group" if precise else "clock ticks: no cpuacct here"
    print(f"\nclaude CLI CPU (ms of the CLI's tree, medians; {how}; {cores} cores)")
    print("  start: connected, no turn yet; turns 2-4 and warm: a ping turn (two model requests,")
    print("  one MCP call); 1-req: a warm turn of one model request; resume: start + resume +")
    print("  turn after a release; KB/req: system prompt + tool schemas per request; idle: CPU")
    print(f"  of the CLI alive and waiting, ms per second ({IDLE_SECONDS:g} s); MiB: the CLI's RSS")
    print("  after the warm turns / after that wait")
    print(f"{'variant':10} {'start':>6} {'start+1st':>10} {'turns 2-4':>10} {'warm':>6} "
          f"{'1-req':>6} {'resume':>7} {'req/turn':>8} {'KB/req':>7} {'idle':>5} {'MiB':>9} "
          f"{'warm/old':>9} "
          f"{'resume/old':>11}")
    for v in variants:
        reqs = sum(v.requests) / len(v.requests) if v.requests else float("nan")
        kib = median(v.sizes) / 1024 if v.sizes else float("nan")
        print(f"{v.name:10} {fmt_ms(v.boot):>6} {fmt_ms(v.start):>10} {fmt_ms(v.early):>10} "
              f"{fmt_ms(v.warm):>6} {fmt_ms(v.one_request):>6} {fmt_ms(v.resume):>7} "
              f"{reqs:>8.2f} {kib:>7.1f} {v.idle * 1000:>5.1f} {v.rss[0]:>4.0f}/{v.rss[1]:<4.0f} "
              f"{ratio(v.warm, base.warm):>9} "
              f"{ratio(v.resume, base.resume):>11}")
    harness = median([t for v in variants for t in v.harness])
    print(f"\nharness side (this process: SDK, events log, hive tools), CPU per warm ping turn: "
          f"{fmt_ms(harness)} ms (median over all variants)")
    print(f"\nfloor of a broadcast to {AGENTS}: {AGENTS} x CPU per reply / {cores} cores "
          "(CLI alone; CLI + harness)")
    for v in variants:
        print(f"{v.name:10} soon after spawn {AGENTS * v.early / cores:5.2f} s; "
              f"{AGENTS * (v.early + harness) / cores:5.2f} s   "
              f"warm {AGENTS * v.warm / cores:5.2f} s; {AGENTS * (v.warm + harness) / cores:5.2f} s"
              f"   all released {AGENTS * v.resume / cores:5.2f} s")
    for v in variants:
        for failure in v.failures:
            print(f"FAILED {v.name}: {failure}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="fewer turns and releases")
    parser.add_argument("--knobs", nargs="?", const="", metavar="NAME,...",
                        help="also each of KNOBS and OPTION_KNOBS alone (or only those named)")
    parser.add_argument("--turns", type=int, help="warm turns per variant")
    parser.add_argument("--resumes", type=int, help="releases (each followed by a turn)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    turns = args.turns or (8 if args.quick else 20)
    resumes = args.resumes or (2 if args.quick else 5)
    variants = [Variant("old", OLD_DEFAULTS), Variant("new", dict(CLI_DEFAULTS))]
    if args.knobs is not None:
        wanted = set(args.knobs.split(",")) if args.knobs else set(KNOBS) | set(OPTION_KNOBS)
        variants += [Variant(name, {**OLD_DEFAULTS, **env}) for name, env in KNOBS.items()
                     if name in wanted]
        variants += [Variant(name, OLD_DEFAULTS, overrides)
                     for name, overrides in OPTION_KNOBS.items() if name in wanted]
    root = Path(tempfile.mkdtemp(prefix="hht", dir="/tmp"))
    try:
        bench = Bench(root, variants, turns, resumes)
        asyncio.run(bench.run())
    except BenchError as exc:
        print(f"turn_cpu: {exc}", file=sys.stderr)
        return 1
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    report(variants, os.cpu_count() or 1, bench.meter.precise)
    return 0


if __name__ == "__main__":
    sys.exit(main())
