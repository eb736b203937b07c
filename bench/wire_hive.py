"""The wire benchmark's hive: a daemon process, asyncio clients, long-polling receivers."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.common import BenchError
from hive_c0re.paths import Paths
from hive_dev.processes import end, log_tail

RECV_WAIT = 30
DELIVERY_TIMEOUT = 15.0
READ_LIMIT = 1 << 20


# -- the daemon ---------------------------------------------------------------------


def _proc_cpu_seconds(pid: int) -> float:
    """utime + stime of ``pid`` from /proc (clock-tick resolution)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


class Daemon:
    """One ``hive-c0re serve`` subprocess with its own state and runtime dirs."""

    def __init__(self, root: Path, profile: Path | None = None) -> None:
        self.root = root
        self.profile = profile
        self.paths = Paths(state=root / "s", runtime=root / "r")  # where the daemon puts them
        self.log_path = root / "daemon.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.started = 0.0  # perf_counter at spawn

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def cpu_seconds(self) -> float:
        return _proc_cpu_seconds(self.pid)

    def start(self) -> None:
        env = dict(os.environ)
        for var in ("HYPERHIVE_SOCKET", "NOTIFY_SOCKET", "LISTEN_PID", "LISTEN_FDS",
                    "LISTEN_FDNAMES", "WATCHDOG_USEC", "WATCHDOG_PID", "JOURNAL_STREAM"):
            env.pop(var, None)
        env["HYPERHIVE_STATE_DIR"] = str(self.paths.state)
        env["HYPERHIVE_RUNTIME_DIR"] = str(self.paths.runtime)
        # Mailboxes only: no manager container, so no disk is mounted on this host.
        env["HYPERHIVE_MANAGER_COMMAND"] = ""
        if len(str(self.paths.agent_socket("a12345678"))) >= 108:
            raise BenchError(f"temp dir {self.root} is too long for unix socket paths")
        argv = [sys.executable, "-m", "hive_c0re", "serve"]
        if self.profile is not None:
            # cProfile writes its stats when serve returns, i.e. after our SIGTERM.
            argv[1:1] = ["-m", "cProfile", "-o", str(self.profile)]
        self.started = time.perf_counter()
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                argv,
                env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            )

    def log_tail(self, lines: int = 20) -> str:
        return log_tail(self.log_path, lines, "(no daemon log)")

    def check_alive(self) -> None:
        if self.proc is not None and self.proc.poll() is not None:
            raise BenchError(f"hive-c0re exited with {self.proc.returncode}:\n{self.log_tail()}")

    def stop(self) -> None:
        """Stop our daemon by its pid: SIGTERM, then SIGKILL if it does not go."""
        if self.proc is not None:
            end(self.proc, timeout=10)


# -- a small asyncio client -----------------------------------------------------------


class Conn:
    """One connection to one socket; one request in flight at a time."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 label: str) -> None:
        self.reader = reader
        self.writer = writer
        self.label = label

    @classmethod
    async def open(cls, path: Path) -> Conn:
        reader, writer = await asyncio.open_unix_connection(str(path), limit=READ_LIMIT)
        return cls(reader, writer, str(path))

    def write(self, request: dict[str, Any]) -> None:
        self.writer.write(json.dumps(request, separators=(",", ":")).encode() + b"\n")

    async def read(self) -> dict[str, Any]:
        line = await self.reader.readline()
        if not line:
            raise BenchError(f"{self.label}: connection closed by the daemon")
        answer: dict[str, Any] = json.loads(line)
        if not answer.get("ok"):
            raise BenchError(f"{self.label}: {answer.get('error')} ({answer.get('code')})")
        return answer

    async def call(self, cmd: str, **args: Any) -> dict[str, Any]:
        self.write({"cmd": cmd, **args})
        return await self.read()

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(OSError):
            await self.writer.wait_closed()


READY_TIMEOUT = 20.0


async def wait_ready(daemon: Daemon) -> float:
    """Poll host.sock with whoami until it answers; return seconds since the spawn."""
    started = daemon.started
    while True:
        daemon.check_alive()
        try:
            conn = await Conn.open(daemon.paths.host_socket)
        except OSError:
            pass
        else:
            try:
                answer = await asyncio.wait_for(conn.call("whoami"), 5)
                if answer.get("name") != "operator":
                    raise BenchError(f"whoami on host.sock answered {answer}")
                return time.perf_counter() - started
            finally:
                await conn.close()
        if time.perf_counter() - started > READY_TIMEOUT:
            raise BenchError(f"host.sock did not answer within {READY_TIMEOUT:.0f} s:\n"
                             f"{daemon.log_tail()}")
        await asyncio.sleep(0.02)


# -- receivers ----------------------------------------------------------------------

# (agent name, messages, perf_counter when the answer was read)
DeliveryHook = Callable[[str, list[dict[str, Any]], float], None]


class Receiver:
    """An agent's long-poll loop: recv (wait 30 s), and ack_turn after each delivery.

    Receivers live for the whole run: a client that hangs up while its recv is
    parked in the daemon would still get mail leased to it (see the README).
    """

    def __init__(self, name: str, conn: Conn, hook: DeliveryHook) -> None:
        self.name = name
        self.conn = conn
        self.hook = hook
        self.armed = asyncio.Event()  # set while a recv is written and unanswered
        self.delivered = 0
        self.task: asyncio.Task[None] | None = None

    async def run(self) -> None:
        while True:
            self.conn.write({"cmd": "recv", "wait_seconds": RECV_WAIT})
            self.armed.set()
            answer = await self.conn.read()
            arrived = time.perf_counter()
            self.armed.clear()
            messages: list[dict[str, Any]] = answer["messages"]
            if messages:
                self.delivered += len(messages)
                self.hook(self.name, messages, arrived)
                await self.conn.call("ack_turn")


class Hub:
    """Routes deliveries by body prefix: 'L <seq>' latency, 'T <n>' throughput."""

    def __init__(self) -> None:
        self.latency_waiters: dict[int, asyncio.Future[float]] = {}
        self.throughput_delivered = 0
        self.throughput_last = 0.0
        self.unexpected = 0

    def deliver(self, name: str, messages: list[dict[str, Any]], arrived: float) -> None:
        for message in messages:
            body = str(message["body"])
            if body.startswith("L "):
                waiter = self.latency_waiters.pop(int(body[2:]), None)
                if waiter is not None and not waiter.done():
                    waiter.set_result(arrived)
            elif body.startswith("T "):
                self.throughput_delivered += 1
                self.throughput_last = arrived
            else:
                self.unexpected += 1


@dataclass
class Hive:
    daemon: Daemon
    host: Conn
    hub: Hub
    receivers: dict[str, Receiver] = field(default_factory=dict)

    async def add_agents(self, names: Sequence[str]) -> None:
        for name in names:
            await self.host.call("register", name=name)
            conn = await Conn.open(self.daemon.paths.agent_socket(name))
            receiver = Receiver(name, conn, self.hub.deliver)
            receiver.task = asyncio.get_running_loop().create_task(receiver.run())
            self.receivers[name] = receiver
        # Let every new receiver park its first recv.
        await asyncio.wait_for(asyncio.gather(*(r.armed.wait() for r in self.receivers.values())),
                               DELIVERY_TIMEOUT)
        await asyncio.sleep(0.05)

    def check_receivers(self) -> None:
        for receiver in self.receivers.values():
            if receiver.task is not None and receiver.task.done():
                receiver.task.result()  # re-raises what killed it

    async def close(self) -> None:
        for receiver in self.receivers.values():
            if receiver.task is not None:
                receiver.task.cancel()
        await asyncio.gather(*(r.task for r in self.receivers.values() if r.task is not None),
                             return_exceptions=True)
        for receiver in self.receivers.values():
            await receiver.conn.close()
        await self.host.close()
