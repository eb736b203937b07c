"""Harness benchmark: per-turn overhead and memory of a real ``hive-ag3nt serve``.

Starts a real daemon (``hive_dev.daemon.DaemonProcess``), the scripted Messages API
stand-in in its own process (``hive_dev.fakes.messages_api.ApiProcess``, every
request answered at once with the same short text) and ``python -m hive_ag3nt serve`` with its web
UI, as in production, on the real claude CLI bundled with claude-agent-sdk.
All in one run, so every ratio compares numbers taken on the same (shared,
noisy) machine:

* turn time through the harness: the operator's ``send`` to the ``turn_end``
  event on the UI's ``/events`` stream, and to the daemon's ack, against two
  bare uses of the same CLI and stand-in with a prompt of the same size:
  (a) one ``claude -p PROMPT --output-format json`` process per turn and
  (b) a ``ClaudeSDKClient`` kept alive in its own process, ``query`` +
  ``receive_response`` per turn; the three alternate turn by turn;
* idle RSS of the harness process (before any turn and after all of them),
  beside import floors and the bare SDK client process of (b);
* RSS per turn over many turns: the slope over the second half.

Run by hand: ``.venv/bin/python bench/harness.py [--quick]``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import sqlite3
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # also runnable as ``python bench/harness.py``
    sys.path.insert(0, str(REPO))

from bench.common import BenchError, step  # noqa: E402
from bench.harness_processes import (  # noqa: E402
    FLOORS,
    READY_TIMEOUT,
    TURN_TIMEOUT,
    Mem,
    SdkWorker,
    ServeProcess,
    Ui,
    measure_floors,
    oneshot_turn,
    sdk_worker,
)
from bench.harness_results import (  # noqa: E402
    FLOOR_RUNS,
    HarnessTurn,
    Options,
    Results,
    parse_args,
    report,
)

if TYPE_CHECKING:
    from hive_ag3nt.hive import HiveConnection
    from hive_dev.daemon import DaemonProcess
    from hive_dev.fakes.script import ApiRequest

AGENT = "ben"
BODY_CHARS = 200  # every prompt carries a body of this many characters
REPLY_TEXT = "ok, noted."
SETTLE = 2.0  # seconds of quiet before an idle RSS sample
IDLE_SAMPLES = 5
GAP = 0.02  # pause after a harness turn's ack, so its next recv is parked
METHODS = ("harness", "sdk", "oneshot")


# -- the run ------------------------------------------------------------------------


def body(tag: str, seq: int) -> str:
    head = f"{tag} turn {seq:04d}: "
    return head + ("lorem ipsum " * BODY_CHARS)[: BODY_CHARS - len(head)]


@dataclass(frozen=True)
class Baseline:
    """The bare baselines, ready: (b) the SDK worker, (a) one ``claude -p`` per turn."""

    worker: SdkWorker
    oneshot_argv: list[str]
    oneshot_env: dict[str, str]


async def start_baselines(root: Path, api_url: str) -> Baseline:
    """The bare baselines: same CLI, stand-in, model, system prompt, tools and prompt size.

    Their homes and working directories go under ``root``.
    """
    from hive_ag3nt.policy import Policy
    from hive_ag3nt.prompt import system_prompt
    from hive_ag3nt.runner import CLI_DEFAULTS, bundled_cli
    from hive_dev.fakes.messages_api import cli_env

    cli = bundled_cli()
    policy = Policy()
    append = system_prompt(AGENT, policy, "/state/notes.md")
    tools = list(policy.allowed_tools)
    env_a = {**os.environ, **CLI_DEFAULTS, **cli_env(api_url, root / "home-a")}
    env_b = {**CLI_DEFAULTS, **cli_env(api_url, root / "home-b")}
    for name in ("work-a", "work-b"):
        (root / name).mkdir()
    oneshot_argv = [cli, "--output-format", "json", "--model", policy.model,
                    "--append-system-prompt", append, "--tools", ",".join(tools),
                    "--setting-sources="]
    step("starting the SDK worker (baseline b)")
    worker = await SdkWorker.start(
        {"cli_path": cli, "env": env_b, "model": policy.model, "cwd": str(root / "work-b"),
         "append": append, "tools": tools, "allowed_tools": [t for t in tools if t != "Bash"]},
        root / "sdk-worker.log")
    return Baseline(worker, oneshot_argv, env_a)


class Bench:
    def __init__(self, opts: Options, root: Path, daemon: DaemonProcess, results: Results) -> None:
        self.opts = opts
        self.root = root
        self.daemon = daemon
        self.results = results
        self.harness: ServeProcess | None = None
        self.worker: SdkWorker | None = None
        self.ui: Ui | None = None
        self.harness_count = 0

    async def run(self) -> None:
        from hive_ag3nt.hive import HiveConnection
        from hive_dev.fakes.messages_api import ApiProcess
        from hive_dev.fakes.script import Reply, write_script

        (self.root / "api").mkdir()
        script = write_script(self.root / "api" / "script.json",
                              [Reply(text=REPLY_TEXT, times=None)])
        # Its own process: the bench's own work (reading /events) never delays an answer.
        with ApiProcess(script, self.root / "api") as api:
            harness = await self._start_harness(api.url)
            baseline = await self._start_baselines(api.url)
            op = HiveConnection(self.daemon.host_socket)
            try:
                await self._alternate(op, baseline)
                await self._memory_turns(op, harness)
            finally:
                await op.close()
            self.results.acks = self._acks([t.message_id for t in self.results.harness_turns])
            self._count_requests(api.requests())

    async def _start_harness(self, api_url: str) -> ServeProcess:
        """``hive-ag3nt serve`` for the agent, idle; its RSS before any turn taken."""
        from hive_ag3nt.runner import bundled_cli
        from hive_c0re.client import Client
        from hive_dev.harness_support import agent_paths, serve_env

        with Client(self.daemon.host_socket) as host:
            host.call("register", name=AGENT)
        agent_dir = self.root / "agent"
        agent_dir.mkdir()
        paths = agent_paths(agent_dir, self.daemon.agent_socket(AGENT))
        step(f"starting hive-ag3nt serve (UI on {paths.ui_socket})")
        self.harness = harness = ServeProcess(serve_env(paths, api_url),
                                              self.root / "harness.log", bundled_cli())
        self.results.harness_pid = harness.pid
        await self._wait_idle(paths.ui_socket)
        assert self.ui is not None
        await self.ui.listen()
        step(f"idle RSS before any turn ({SETTLE:g} s settle, {IDLE_SAMPLES} samples)")
        self.results.idle_before = await self._idle_samples(harness.pid)
        return harness

    async def _start_baselines(self, api_url: str) -> Baseline:
        self.worker = (baseline := await start_baselines(self.root, api_url)).worker
        return baseline

    async def _alternate(self, op: HiveConnection, baseline: Baseline) -> None:
        """The three methods turn by turn, each starting a round in turn; then the
        SDK worker's memory, and it ends."""
        results, worker = self.results, baseline.worker
        total = self.opts.warmup + self.opts.turns
        step(f"turns: {self.opts.warmup} warm-up + {self.opts.turns} measured per method, "
             "alternating harness / SDK client / claude -p")
        for seq in range(total):
            measured = seq >= self.opts.warmup
            shift = seq % len(METHODS)
            for method in METHODS[shift:] + METHODS[:shift]:
                if method == "harness":
                    turn = await self._harness_turn(op, seq)
                    if measured:
                        results.harness_turns.append(turn)
                elif method == "sdk":
                    took = await worker.turn(_prompt(body("B", seq)))
                    if measured:
                        results.sdk.append(took)
                else:
                    took = await oneshot_turn(baseline.oneshot_argv, _prompt(body("A", seq)),
                                              baseline.oneshot_env, self.root / "work-a")
                    if measured:
                        results.oneshot.append(took)
                await asyncio.sleep(GAP)
        results.sdk_turns_done = total
        results.sdk_worker = Mem.of(worker.pid)
        results.sdk_cli, _ = worker.cli_mem()
        await worker.close()
        self.worker = None

    async def _memory_turns(self, op: HiveConnection, harness: ServeProcess) -> None:
        """Harness turns up to ``mem_turns`` in all, then its idle RSS again."""
        left = self.opts.mem_turns - self.harness_count
        step(f"memory: {left} more harness turns ({self.opts.mem_turns} in all)")
        seq = self.opts.warmup + self.opts.turns
        while self.harness_count < self.opts.mem_turns:
            await self._harness_turn(op, seq)
            seq += 1
        step(f"idle RSS after {self.harness_count} turns")
        self.results.idle_after = await self._idle_samples(harness.pid)
        self.results.idle_after_cli, _ = harness.cli_mem()

    def _count_requests(self, requests: list[ApiRequest]) -> None:
        """The stand-in's model calls by method (each prompt says whose it is)."""
        calls = [c for c in requests if c.is_messages]
        for tag, method in (("H", "harness"), ("B", "sdk"), ("A", "oneshot")):
            self.results.requests[method] = sum(
                1 for c in calls if f"{tag} turn " in c.last_user_text)
        self.results.requests["other"] = len(calls) - sum(self.results.requests.values())

    async def _wait_idle(self, socket: Path) -> None:
        from hive_dev.harness_support import UI_SECRET

        assert self.harness is not None
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            self.harness.check_alive()
            if self.ui is None:
                self.ui = Ui(socket, UI_SECRET)
            with contextlib.suppress(OSError, Exception):  # not listening yet
                if (await self.ui.status()).get("state") == "idle":
                    return
            if time.monotonic() > deadline:
                raise BenchError(f"the harness was not idle within {READY_TIMEOUT:.0f} s:\n"
                                 f"{self.harness.log_tail()}")
            await asyncio.sleep(0.05)

    async def _idle_samples(self, pid: int) -> list[Mem]:
        await asyncio.sleep(SETTLE)
        samples = []
        for _ in range(IDLE_SAMPLES):
            samples.append(Mem.of(pid))
            await asyncio.sleep(0.2)
        return samples

    async def _harness_turn(self, op: Any, seq: int) -> HarnessTurn:
        """Operator send -> turn_end on /events; then wait for the ack and sample RSS."""
        assert self.harness is not None and self.ui is not None
        ui = self.ui
        ui.drain()
        sent_wall = time.time()
        started = time.perf_counter()
        (message_id,) = (await op.call("send", to=AGENT, body=body("H", seq)))["ids"]
        stamps: dict[str, float] = {}
        try:
            while True:
                arrived, event = await ui.next_event({"turn_start", "result", "turn_end"})
                stamps[str(event["kind"])] = float(event["at"])
                if event["kind"] == "turn_end":
                    break
        except TimeoutError:
            self.harness.check_alive()
            raise BenchError(f"harness turn {seq} did not end in {TURN_TIMEOUT:.0f} s:\n"
                             f"{self.harness.log_tail()}") from None
        if event.get("status") != "ok":
            raise BenchError(f"harness turn {seq} ended {event.get('status')}: "
                             f"{event.get('error')}")
        to_end = arrived - started
        deadline = time.monotonic() + TURN_TIMEOUT
        while True:  # the ack follows turn_end within milliseconds
            await asyncio.sleep(0.005)
            agent = (await op.call("agent_status", name=AGENT))["agent"]
            if (agent["unread"], agent["in_flight"]) == (0, 0):
                break
            if time.monotonic() > deadline:
                raise BenchError(f"harness turn {seq}: its mail was never acked")
        await asyncio.sleep(GAP)
        self.harness_count += 1
        cli_kib, _ = self.harness.cli_mem()
        self.results.per_turn.append((self.harness_count, Mem.of(self.harness.pid), cli_kib))
        return HarnessTurn(int(message_id), sent_wall, to_end, stamps.get("turn_start", 0.0),
                           stamps.get("result", 0.0), stamps["turn_end"])

    def _acks(self, ids: list[int]) -> dict[int, tuple[float, float, float]]:
        broker = Path(self.daemon.root) / "state" / "broker.sqlite"
        db = sqlite3.connect(f"file:{broker}?mode=ro", uri=True)
        try:
            found: dict[int, tuple[float, float, float]] = {}
            for message_id, sent, leased, acked in db.execute(
                    "SELECT id, sent_at, leased_at, acked_at FROM message"
                    f" WHERE id IN ({','.join('?' * len(ids))})", ids):
                if leased is None or acked is None:
                    raise BenchError(f"message #{message_id} was not acked")
                found[int(message_id)] = (float(sent), float(leased), float(acked))
            return found
        finally:
            db.close()

    async def close(self) -> None:
        if self.worker is not None:
            await self.worker.close()
        if self.ui is not None:
            await self.ui.close()
        if self.harness is not None:
            self.harness.close()


def _prompt(text: str) -> str:
    """The harness's prompt for one operator message of ``text`` (same size for all)."""
    from hive_ag3nt.prompt import mail_prompt

    return mail_prompt([{"id": 1000, "from": "operator", "body": text}])


def main(argv: Sequence[str] | None = None) -> int:
    opts = parse_args(argv, __doc__)
    if isinstance(opts, str):  # the SDK worker of baseline (b)
        asyncio.run(sdk_worker(json.loads(opts)))
        return 0
    from hive_ag3nt.runner import bundled_cli

    if not Path(bundled_cli()).is_file():
        print(f"harness bench: the claude CLI bundled with claude-agent-sdk is missing at "
              f"{bundled_cli()}", file=sys.stderr)
        return 1
    started = time.perf_counter()
    root = Path(tempfile.mkdtemp(prefix="hhb.", dir="/tmp"))
    results = Results()
    daemon: DaemonProcess | None = None
    try:
        step(f"import floors ({len(FLOORS)} x {FLOOR_RUNS} interpreters)")
        results.floors = measure_floors(FLOOR_RUNS)
        daemon = start_daemon()
        asyncio.run(bench(opts, root, daemon, results))
        summary = report(opts, results)
        if opts.json is not None:
            opts.json.write_text(json.dumps(summary, indent=2) + "\n")
        print(f"(took {time.perf_counter() - started:.0f} s)")
    except BenchError as exc:
        print(f"harness bench: {exc}", file=sys.stderr)
        return 1
    finally:
        clean_up(opts, root, daemon)
    return 0


def start_daemon() -> DaemonProcess:
    from hive_dev.daemon import DaemonProcess

    step("starting hive-c0re")
    try:
        return DaemonProcess(manager_command="")
    except RuntimeError as exc:
        raise BenchError(f"hive-c0re did not start: {exc}") from None


async def bench(opts: Options, root: Path, daemon: DaemonProcess, results: Results) -> None:
    running = Bench(opts, root, daemon, results)
    try:
        await running.run()
    finally:
        await running.close()


def clean_up(opts: Options, root: Path, daemon: DaemonProcess | None) -> None:
    """Stop the daemon; remove both temp dirs, unless --keep keeps them (said on stderr)."""
    if daemon is not None:
        daemon.stop()
    if opts.keep:
        print(f"kept {root}" + (f" and {daemon.root}" if daemon is not None else ""),
              file=sys.stderr)
        return
    shutil.rmtree(root, ignore_errors=True)
    if daemon is not None:
        shutil.rmtree(daemon.root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
