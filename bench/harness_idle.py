"""Harness idle benchmark: what the idle release and the CLI's growth bound cost a turn.

A real daemon, the scripted Messages API stand-in in its own process and two
``python -m hive_ag3nt serve`` processes (with their UIs) on the real claude CLI,
as ``bench/harness.py`` sets them up:

* ``wen`` never releases its CLI (``cli_idle_release`` 0) and has the growth
  bound on (``cli_max_rss_mib``, ``--max-rss-mib``);
* ``ren`` releases it after ``--release`` seconds without a turn; each of its
  measured turns waits until its CLI is gone, so every one is a first turn
  after a release (it resumes the session).

In one run, turn by turn in a rotating order so background load hits all alike:

1. a warm turn of ``wen`` (its CLI alive) against (b) a bare ``ClaudeSDKClient``
   kept alive in its own process; target <= 1.2x;
2. the first turn of ``ren`` after a release against (a) a one-shot
   ``claude -p``, which starts a CLI every turn too; target <= 1.2x;
3. then ``wen`` alone to ``--mem-turns`` turns: its CLI's RSS after the last
   against after turn 20, the growth bound on; target within 20%.

Run by hand: ``.venv/bin/python bench/harness_idle.py [--quick]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # also runnable as ``python bench/harness_idle.py``
    sys.path.insert(0, str(REPO))

from bench.common import BenchError, fmt_ms, machine, median, percentile, step, verdict  # noqa: E402
from bench.harness import (  # noqa: E402
    REPLY_TEXT,
    Baseline,
    _prompt,
    body,
    start_baselines,
    start_daemon,
)
from bench.harness_processes import (  # noqa: E402
    READY_TIMEOUT,
    TURN_TIMEOUT,
    ServeProcess,
    Ui,
    oneshot_turn,
)

if TYPE_CHECKING:
    from hive_ag3nt.hive import HiveConnection
    from hive_dev.daemon import DaemonProcess

WARM, RELEASED = "wen", "ren"
TARGET_WARM = 1.2  # warm turn over bare SDK client
TARGET_RELEASED = 1.2  # first turn after a release over one-shot claude -p
TARGET_GROWTH = 0.20  # CLI RSS after the last turn vs after REFERENCE_TURN
REFERENCE_TURN = 20
RELEASE_GRACE = 15.0  # seconds past the release before a turn goes ahead without one
GAP = 0.02


@dataclass
class Options:
    quick: bool
    turns: int
    mem_turns: int
    release: float
    max_rss_mib: int
    json: Path | None


def parse_args(argv: Sequence[str] | None) -> Options:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer turns (about 40 s)")
    parser.add_argument("--turns", type=int, help="measured turns per method (15; quick 6)")
    parser.add_argument("--mem-turns", type=int, help="wen's turns in all (200; quick 60)")
    parser.add_argument("--release", type=float, default=2.0,
                        help="ren's idle release, seconds (default 2)")
    parser.add_argument("--max-rss-mib", type=int, default=256,
                        help="wen's CLI growth bound, MiB (default 256: above a fresh CLI's "
                             "~200 MiB, so the bound acts within the run)")
    parser.add_argument("--json", type=Path, metavar="FILE",
                        help="also write the headline numbers to FILE as JSON")
    ns = parser.parse_args(argv)
    quick = bool(ns.quick)
    turns = max(2, ns.turns if ns.turns is not None else (6 if quick else 15))
    mem = ns.mem_turns if ns.mem_turns is not None else (60 if quick else 200)
    return Options(quick, turns, max(mem, REFERENCE_TURN + 1, turns + 2),
                   max(0.1, float(ns.release)), max(0, int(ns.max_rss_mib)), ns.json)


@dataclass
class Agent:
    """One harness process, its UI stream, and what its CLI did."""

    name: str
    serve: ServeProcess
    ui: Ui
    turns: int = 0
    releases_seen: int = 0  # "release" records on /events
    cli_pids: list[int] = field(default_factory=list)  # every CLI seen, in order
    cli_rss: list[tuple[int, float]] = field(default_factory=list)  # (turn, KiB) after each

    def note_cli(self) -> None:
        from bench.harness_processes import is_claude
        from hive_dev.processes import descendants

        for pid in descendants(self.serve.pid):
            if is_claude(pid, self.serve.cli) and pid not in self.cli_pids:
                self.cli_pids.append(pid)


@dataclass
class Results:
    warm: list[float] = field(default_factory=list)
    sdk: list[float] = field(default_factory=list)
    released: list[float] = field(default_factory=list)
    released_for_real: int = 0  # of those, turns that came after the CLI was gone
    oneshot: list[float] = field(default_factory=list)
    agents: dict[str, Agent] = field(default_factory=dict)


class Bench:
    def __init__(self, opts: Options, root: Path, daemon: DaemonProcess) -> None:
        self.opts, self.root, self.daemon = opts, root, daemon
        self.results = Results()

    async def start_agent(self, name: str, api_url: str, **settings: str) -> Agent:
        from hive_ag3nt.runner import bundled_cli
        from hive_c0re.client import Client
        from hive_dev.harness_support import UI_SECRET, agent_paths, serve_env

        with Client(self.daemon.host_socket) as host:
            host.call("register", name=name)
        (self.root / name).mkdir()
        paths = agent_paths(self.root / name, self.daemon.agent_socket(name))
        serve = ServeProcess(serve_env(paths, api_url, **settings),
                             self.root / f"{name}.log", bundled_cli())
        agent = Agent(name, serve, Ui(paths.ui_socket, UI_SECRET))
        self.results.agents[name] = agent
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            serve.check_alive()
            with contextlib.suppress(Exception):  # not listening yet
                if (await agent.ui.status()).get("state") == "idle":
                    break
            if time.monotonic() > deadline:
                raise BenchError(f"{name} was not idle within {READY_TIMEOUT:.0f} s:\n"
                                 f"{serve.log_tail()}")
            await asyncio.sleep(0.05)
        await agent.ui.listen()
        return agent

    async def turn(self, op: HiveConnection, agent: Agent, tag: str) -> float:
        """Operator send -> turn_end on /events; then until the ack, and the CLI's RSS."""
        agent.releases_seen += self.releases_queued(agent.ui)
        agent.turns += 1
        started = time.perf_counter()
        await op.call("send", to=agent.name, body=body(tag, agent.turns))
        try:
            while True:
                arrived, event = await agent.ui.next_event({"turn_end", "release"})
                if event["kind"] == "release":
                    agent.releases_seen += 1
                    continue
                break
        except TimeoutError:
            agent.serve.check_alive()
            raise BenchError(f"{agent.name}'s turn {agent.turns} did not end:\n"
                             f"{agent.serve.log_tail()}") from None
        if event.get("status") != "ok":
            raise BenchError(f"{agent.name}'s turn ended {event.get('status')}: "
                             f"{event.get('error')}")
        took = arrived - started
        deadline = time.monotonic() + TURN_TIMEOUT
        while True:  # the ack follows turn_end within milliseconds
            await asyncio.sleep(0.005)
            row = (await op.call("agent_status", name=agent.name))["agent"]
            if (row["unread"], row["in_flight"]) == (0, 0):
                break
            if time.monotonic() > deadline:
                raise BenchError(f"{agent.name}'s turn {agent.turns}: its mail was never acked")
        agent.note_cli()
        agent.cli_rss.append((agent.turns, agent.serve.cli_mem()[0]))
        await asyncio.sleep(GAP)
        return took

    @staticmethod
    def releases_queued(ui: Ui) -> int:
        """Empty the frames that came between turns, counting the ``release`` records."""
        found = 0
        while not ui.frames.empty():
            _, name, data = ui.frames.get_nowait()
            found += name == "event" and data.get("kind") == "release"
        return found

    async def await_release(self, agent: Agent) -> bool:
        """Until ``agent`` holds no CLI; False when none went within the grace."""
        deadline = time.monotonic() + self.opts.release + RELEASE_GRACE
        while agent.serve.cli_mem()[1]:
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.05)
        return True

    async def run(self) -> Results:
        from hive_ag3nt.hive import HiveConnection
        from hive_dev.fakes.messages_api import ApiProcess
        from hive_dev.fakes.script import Reply, write_script

        (self.root / "api").mkdir()
        script = write_script(self.root / "api" / "script.json",
                              [Reply(text=REPLY_TEXT, times=None)])
        with ApiProcess(script, self.root / "api") as api:
            step("starting wen (no release, growth bound on) and ren (released when idle)")
            warm = await self.start_agent(WARM, api.url, cli_idle_release="0",
                                          cli_max_rss_mib=str(self.opts.max_rss_mib))
            released = await self.start_agent(RELEASED, api.url,
                                              cli_idle_release=f"{self.opts.release:g}")
            baseline = await start_baselines(self.root, api.url)
            op = HiveConnection(self.daemon.host_socket)
            try:
                await self.alternate(op, warm, released, baseline)
                await baseline.worker.close()
                await self.grow(op, warm)
            finally:
                await op.close()
                await baseline.worker.close()
        return self.results

    async def alternate(self, op: HiveConnection, warm: Agent, released: Agent,
                        baseline: Baseline) -> None:
        results = self.results
        total = 2 + self.opts.turns  # two warm-up rounds: the first turn starts each CLI
        step(f"{total} rounds: wen / SDK client / ren after its release / claude -p")
        for seq in range(total):
            measured = seq >= 2
            gone = await self.await_release(released) if seq else True
            order = ["warm", "sdk", "released", "oneshot"]
            shift = seq % len(order)
            for method in order[shift:] + order[:shift]:
                if method == "warm":
                    took = await self.turn(op, warm, "W")
                    if measured:
                        results.warm.append(took)
                elif method == "sdk":
                    took = await baseline.worker.turn(_prompt(body("B", seq)))
                    if measured:
                        results.sdk.append(took)
                elif method == "released":
                    gone = gone and not released.serve.cli_mem()[1]
                    took = await self.turn(op, released, "R")
                    if measured:
                        results.released.append(took)
                        results.released_for_real += int(gone)
                else:
                    took = await oneshot_turn(baseline.oneshot_argv, _prompt(body("A", seq)),
                                              baseline.oneshot_env, self.root / "work-a")
                    if measured:
                        results.oneshot.append(took)
                await asyncio.sleep(GAP)

    async def grow(self, op: HiveConnection, warm: Agent) -> None:
        step(f"wen alone to {self.opts.mem_turns} turns (growth bound "
             f"{self.opts.max_rss_mib} MiB)")
        while warm.turns < self.opts.mem_turns:
            await self.turn(op, warm, "W")

    async def close(self) -> None:
        for agent in self.results.agents.values():
            await agent.ui.close()
            agent.serve.close()


# -- the report -------------------------------------------------------------------------


def rss_after(agent: Agent, turn: int) -> float:
    return next((kib for n, kib in agent.cli_rss if n == turn), float("nan"))


def rows(opts: Options, results: Results) -> list[tuple[str, float, float, bool | None]]:
    """(target, this run's figure, baseline, met); times in seconds, memory in KiB.

    Without a release in the run, the second target was not measured (None)."""
    warm, grown = median(results.warm), results.agents[WARM]
    released = median(results.released)
    last, ref = rss_after(grown, grown.turns), rss_after(grown, REFERENCE_TURN)
    return [
        ("warm turn <= 1.2x bare SDK client (p50)", warm, median(results.sdk),
         warm <= TARGET_WARM * median(results.sdk)),
        ("turn after release <= 1.2x claude -p (p50)", released, median(results.oneshot),
         released <= TARGET_RELEASED * median(results.oneshot)
         if results.released_for_real else None),
        (f"CLI RSS after {grown.turns} turns within 20% of after {REFERENCE_TURN}", last, ref,
         abs(last / ref - 1) <= TARGET_GROWTH),
    ]


def report(opts: Options, results: Results) -> dict[str, Any]:
    print()
    print(f"hive-ag3nt idle release and growth bound ({'quick' if opts.quick else 'full'}): "
          f"{machine()}; ren's release {opts.release:g} s, wen's bound {opts.max_rss_mib} MiB")
    print()
    print(f"{'turn, ms':<44}{'p50':>8}{'p90':>8}{'max':>8}")
    for label, values in (("wen: warm (CLI alive), send -> turn_end", results.warm),
                          ("(b) SDK client kept alive", results.sdk),
                          ("ren: first turn after a release", results.released),
                          ("(a) claude -p one-shot", results.oneshot)):
        print(f"{label:<44}{fmt_ms(median(values)):>8}{fmt_ms(percentile(values, 90)):>8}"
              f"{fmt_ms(max(values)):>8}")
    ren, wen = results.agents[RELEASED], results.agents[WARM]
    print(f"ren: {results.released_for_real} of {len(results.released)} measured turns came "
          f"after its CLI was gone; {len(ren.cli_pids)} CLI processes in all; "
          f"{ren.releases_seen} 'release' records on /events")
    if not results.released_for_real:
        print("  (no release happened: ren's turns are warm turns, the harness keeps its CLI)")
    print()
    print(f"wen's CLI RSS, MiB, every {max(1, wen.turns // 10)} turns ({len(wen.cli_pids)} CLI "
          f"processes in all: {len(wen.cli_pids) - 1} restart(s) by the bound)")
    every = max(1, wen.turns // 10)
    print("  " + ", ".join(f"{n}: {kib / 1024:.0f}" for n, kib in wen.cli_rss
                           if n % every == 0 or n == REFERENCE_TURN))
    print()
    head = f"{'target':<52}{'this run':>12}{'baseline':>12}{'ratio':>8}"
    print(head)
    print("-" * (len(head) + 6))
    found = rows(opts, results)
    for name, value, base, met in found:
        shown = ((f"{fmt_ms(value)} ms", f"{fmt_ms(base)} ms") if "turn <=" in name
                 or "release <=" in name else (f"{value / 1024:.1f} MiB", f"{base / 1024:.1f} MiB"))
        said = "n/a" if met is None else verdict(met)
        print(f"{name:<52}{shown[0]:>12}{shown[1]:>12}{value / base:>7.2f}x  {said}")
    return {"quick": opts.quick, "release": opts.release, "max_rss_mib": opts.max_rss_mib,
            "targets": [{"target": n, "value": v, "baseline": b, "met": m}
                        for n, v, b, m in found],
            "released_for_real": results.released_for_real,
            "wen_cli_processes": len(wen.cli_pids), "ren_cli_processes": len(ren.cli_pids)}


def main(argv: Sequence[str] | None = None) -> int:
    opts = parse_args(argv)
    from hive_ag3nt.runner import bundled_cli

    if not Path(bundled_cli()).is_file():
        print(f"harness_idle: the claude CLI bundled with claude-agent-sdk is missing at "
              f"{bundled_cli()}", file=sys.stderr)
        return 1
    started = time.perf_counter()
    root = Path(tempfile.mkdtemp(prefix="hhb.", dir="/tmp"))
    daemon: DaemonProcess | None = None
    try:
        daemon = start_daemon()
        results = asyncio.run(bench(opts, root, daemon))
        summary = report(opts, results)
        if opts.json is not None:
            opts.json.write_text(json.dumps(summary, indent=2) + "\n")
        print(f"(took {time.perf_counter() - started:.0f} s)")
    except BenchError as exc:
        print(f"harness_idle: {exc}", file=sys.stderr)
        return 1
    finally:
        if daemon is not None:
            daemon.stop()
            shutil.rmtree(daemon.root, ignore_errors=True)
        shutil.rmtree(root, ignore_errors=True)
    return 0


async def bench(opts: Options, root: Path, daemon: DaemonProcess) -> Results:
    running = Bench(opts, root, daemon)
    try:
        return await running.run()
    finally:
        await running.close()


if __name__ == "__main__":
    sys.exit(main())
