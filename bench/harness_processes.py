"""The harness benchmark's processes: /proc readings, ``hive-ag3nt serve`` with its UI,
the import floors, and the two baselines (a kept-alive SDK client, one-shot ``claude -p``)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.common import BenchError, median
from hive_dev.processes import descendants, end, log_tail

REPO = Path(__file__).resolve().parent.parent
TURN_TIMEOUT = 60.0
READY_TIMEOUT = 60.0
# bench/harness.py, run again with --sdk-worker as the SDK client of baseline (b)
WORKER = Path(__file__).with_name("harness.py").resolve()


# -- /proc --------------------------------------------------------------------------


@dataclass(frozen=True)
class Mem:
    """From /proc/<pid>/status, in KiB (nan when the process is gone)."""

    rss: float
    anon: float
    file: float
    hwm: float

    @classmethod
    def of(cls, pid: int) -> Mem:
        values: dict[str, float] = {}
        try:
            text = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            text = ""
        for line in text.splitlines():
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "RssAnon", "RssFile", "VmHWM"):
                values[key] = float(rest.split()[0])
        nan = float("nan")
        return cls(values.get("VmRSS", nan), values.get("RssAnon", nan),
                   values.get("RssFile", nan), values.get("VmHWM", nan))


def is_claude(pid: int, cli: str) -> bool:
    """Still our claude CLI (not a recycled pid given to something else)?"""
    try:
        argv0 = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0", 1)[0]
    except OSError:
        return False
    return argv0.decode(errors="replace") == cli


def cli_rss(pid: int, cli: str) -> tuple[float, int]:
    """Summed VmRSS (KiB) of the claude CLI processes below ``pid``, and how many there are."""
    pids = [p for p in descendants(pid) if is_claude(p, cli)]
    return sum(Mem.of(p).rss for p in pids) if pids else float("nan"), len(pids)


def kill_ours(pids: Sequence[int], cli: str) -> None:
    for pid in pids:
        if is_claude(pid, cli):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


# -- the harness process ------------------------------------------------------------


class ServeProcess:
    """``python -m hive_ag3nt serve`` (with the UI) as a child; ended by its pid."""

    def __init__(self, env: dict[str, str], log: Path, cli: str) -> None:
        self.log_path = log
        self.cli = cli
        self._log = log.open("ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "hive_ag3nt", "serve"],
                                     env=env, stdin=subprocess.DEVNULL, stdout=self._log,
                                     stderr=self._log, cwd=REPO)
        self.seen: set[int] = set()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def check_alive(self) -> None:
        if self.proc.poll() is not None:
            raise BenchError(f"hive-ag3nt serve exited with {self.proc.returncode}:\n"
                             f"{self.log_tail()}")

    def cli_mem(self) -> tuple[float, int]:
        self.seen.update(descendants(self.pid))
        return cli_rss(self.pid, self.cli)

    def log_tail(self, lines: int = 20) -> str:
        return log_tail(self.log_path, lines, "(no harness log)")

    def close(self) -> None:
        """SIGTERM (the harness stops its CLI itself), SIGKILL after 20 s, then leftovers."""
        self.seen.update(descendants(self.pid))
        end(self.proc, timeout=20)
        kill_ours(sorted(self.seen), self.cli)
        self._log.close()


class Ui:
    """The harness's UI socket: ``/status`` and the ``/events`` stream, frames queued."""

    def __init__(self, socket: Path, secret: str) -> None:
        import aiohttp

        from hive_c0re.wire import UI_SECRET_HEADER as HEADER

        self.socket = socket
        self.session = aiohttp.ClientSession(connector=aiohttp.UnixConnector(path=str(socket)),
                                             headers={HEADER: secret})
        self.frames: asyncio.Queue[tuple[float, str, dict[str, Any]]] = asyncio.Queue()
        self.task: asyncio.Task[None] | None = None

    async def status(self) -> dict[str, Any]:
        async with self.session.get("http://agent/status") as response:
            answer: dict[str, Any] = await response.json()
            return answer

    async def listen(self) -> None:
        """Open ``/events``; frames arrive on ``self.frames`` stamped with perf_counter."""
        import aiohttp

        response = await self.session.get(
            "http://agent/events", timeout=aiohttp.ClientTimeout(total=None, sock_read=None))
        if response.status != 200:
            raise BenchError(f"GET /events answered {response.status}")

        async def pump() -> None:
            name = ""
            while line := await response.content.readline():
                arrived = time.perf_counter()
                text = line.decode().rstrip("\n")
                if text.startswith("event:"):
                    name = text[6:].strip()
                elif text.startswith("data:"):
                    self.frames.put_nowait((arrived, name, json.loads(text[5:])))

        self.task = asyncio.get_running_loop().create_task(pump())

    def drain(self) -> None:
        while not self.frames.empty():
            self.frames.get_nowait()

    async def next_event(self, kinds: set[str]) -> tuple[float, dict[str, Any]]:
        """The next ``event`` frame of one of ``kinds``, with its arrival time."""
        while True:
            if self.task is not None and self.task.done():
                self.task.result()
                raise BenchError("the /events stream ended")
            arrived, name, data = await asyncio.wait_for(self.frames.get(), TURN_TIMEOUT)
            if name == "event" and data.get("kind") in kinds:
                return arrived, data

    async def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.task
        await self.session.close()


# -- import floors ------------------------------------------------------------------

FLOORS = (
    ("python -c pass", "pass"),
    ("import hive_ag3nt.harness", "import hive_ag3nt.harness"),
    ("import claude_agent_sdk", "import claude_agent_sdk"),
    ("serve's imports (cli, service, ui.app, logs, claude_agent_sdk)",
     "import hive_ag3nt.cli, hive_ag3nt.service, hive_ag3nt.ui.app, hive_c0re.logs, "
     "claude_agent_sdk"),
)
FLOOR_PRINT = ("\nimport re\nprint(*[re.search(k + r':\\s+(\\d+)', open('/proc/self/status')"
               ".read()).group(1) for k in ('VmRSS', 'RssAnon')])")


def measure_floors(runs: int) -> list[tuple[str, float, float]]:
    """(label, VmRSS KiB, RssAnon KiB): medians of ``runs`` fresh interpreters each."""
    found = []
    for label, code in FLOORS:
        rss: list[float] = []
        anon: list[float] = []
        for _ in range(runs):
            proc = subprocess.run([sys.executable, "-c", code + FLOOR_PRINT], cwd=REPO,
                                  capture_output=True, text=True, check=False)
            if proc.returncode != 0:
                raise BenchError(f"{label}: {proc.stderr.strip()[-500:]}")
            a, b = proc.stdout.split()
            rss.append(float(a))
            anon.append(float(b))
        found.append((label, median(rss), median(anon)))
    return found


# -- baseline (b): a kept-alive ClaudeSDKClient in its own process ----------------------


async def sdk_worker(config: dict[str, Any]) -> None:
    """The worker's side: connect once, then one turn per prompt line on stdin.

    Imports nothing of the project: its RSS is the floor of a bare SDK client.
    """
    from claude_agent_sdk import ClaudeAgentOptions, ClaudeSDKClient, ResultMessage

    options = ClaudeAgentOptions(
        tools=config["tools"], allowed_tools=config["allowed_tools"],
        system_prompt={"type": "preset", "preset": "claude_code", "append": config["append"]},
        model=config["model"], cwd=config["cwd"], cli_path=config["cli_path"],
        setting_sources=[], env=config["env"])
    client = ClaudeSDKClient(options)
    await client.connect()
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    out = sys.stdout
    out.write(json.dumps({"ready": True}) + "\n")
    out.flush()
    try:
        while line := await reader.readline():
            await client.query(json.loads(line)["prompt"])
            answer: dict[str, Any] = {"ok": False, "error": "the CLI ended without a result"}
            async for message in client.receive_response():
                if isinstance(message, ResultMessage):
                    answer = {"ok": not message.is_error, "error": message.result
                              if message.is_error else None}
            out.write(json.dumps(answer) + "\n")
            out.flush()
    finally:
        await client.disconnect()


class SdkWorker:
    """``bench/harness.py --sdk-worker CONFIG``: the bench side."""

    def __init__(self, proc: asyncio.subprocess.Process, cli: str, log: Path) -> None:
        self.proc = proc
        self.cli = cli
        self.log = log
        self.seen: set[int] = set()

    @classmethod
    async def start(cls, config: dict[str, Any], log: Path) -> SdkWorker:
        with log.open("ab") as err:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, str(WORKER), "--sdk-worker", json.dumps(config),
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=err,
                cwd=REPO)
        worker = cls(proc, str(config["cli_path"]), log)
        try:
            line = await asyncio.wait_for(worker._stdout.readline(), READY_TIMEOUT)
        except TimeoutError:
            line = b""
        if not line or not json.loads(line).get("ready"):
            await worker.close()
            raise BenchError(f"the SDK worker did not start:\n{worker.log_tail()}")
        return worker

    @property
    def _stdout(self) -> asyncio.StreamReader:
        assert self.proc.stdout is not None
        return self.proc.stdout

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log_tail(self, lines: int = 20) -> str:
        return log_tail(self.log, lines, "(no worker log)")

    async def turn(self, prompt: str) -> float:
        assert self.proc.stdin is not None
        self.seen.update(descendants(self.pid))
        started = time.perf_counter()
        self.proc.stdin.write(json.dumps({"prompt": prompt}).encode() + b"\n")
        await self.proc.stdin.drain()
        try:
            line = await asyncio.wait_for(self._stdout.readline(), TURN_TIMEOUT)
        except TimeoutError:
            raise BenchError(f"an SDK turn took over {TURN_TIMEOUT:.0f} s") from None
        elapsed = time.perf_counter() - started
        if not line:
            raise BenchError(f"the SDK worker died:\n{self.log_tail()}")
        answer = json.loads(line)
        if not answer.get("ok"):
            raise BenchError(f"an SDK turn failed: {answer.get('error')}")
        return elapsed

    def cli_mem(self) -> tuple[float, int]:
        self.seen.update(descendants(self.pid))
        return cli_rss(self.pid, self.cli)

    async def close(self) -> None:
        self.seen.update(descendants(self.pid))
        if self.proc.returncode is None:
            if self.proc.stdin is not None:
                self.proc.stdin.close()  # EOF: the worker disconnects its CLI and exits
            try:
                await asyncio.wait_for(self.proc.wait(), 20)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        kill_ours(sorted(self.seen), self.cli)


# -- baseline (a): one claude -p process per turn -------------------------------------


async def oneshot_turn(argv: list[str], prompt: str, env: dict[str, str], cwd: Path) -> float:
    started = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(
        argv[0], "-p", prompt, *argv[1:], env=env, cwd=cwd,
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    try:
        out, err = await asyncio.wait_for(proc.communicate(), TURN_TIMEOUT)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise BenchError(f"claude -p took over {TURN_TIMEOUT:.0f} s") from None
    elapsed = time.perf_counter() - started
    try:
        result = json.loads(out)
    except ValueError:
        result = {}
    if proc.returncode != 0 or result.get("is_error") is not False:
        raise BenchError(f"claude -p failed ({proc.returncode}): "
                         f"{out.decode(errors='replace')[:300]} "
                         f"{err.decode(errors='replace')[:300]}")
    return elapsed
