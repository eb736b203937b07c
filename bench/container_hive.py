"""The hive the container benchmarks drive: one sandbox, agents in real nspawn containers."""

from __future__ import annotations

import argparse
import contextlib
import json
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from bench.common import BenchError, step
from hive_c0re.client import Client
from hive_c0re.errors import HiveError
from hive_dev.sandbox import Sandbox, SandboxHive, can_run

REPLY_TIMEOUT = 60.0  # seconds from a lifecycle call to the agent's echo, before we give up


@dataclass
class SandboxOptions:
    """What every container benchmark is asked: how long a run, how many agents, JSON out."""

    quick: bool
    agents: int
    json: Path | None

    @staticmethod
    def parser(doc: str | None, quick: str, agents: str) -> argparse.ArgumentParser:
        """A benchmark's parser with these options; it adds its own."""
        parser = argparse.ArgumentParser(description=doc.split("\n\n")[0] if doc else None)
        parser.add_argument("--quick", action="store_true", help=quick)
        parser.add_argument("--agents", type=int, help=agents)
        parser.add_argument("--json", type=Path, metavar="FILE",
                            help="also write the summary numbers to FILE as JSON")
        return parser

    @classmethod
    def parse(cls, parser: argparse.ArgumentParser, argv: Sequence[str] | None, *,
              agents: int, quick_agents: int) -> tuple[SandboxOptions, argparse.Namespace]:
        """These options from ``argv``, and the namespace for the benchmark's own."""
        ns = parser.parse_args(argv)
        quick = bool(ns.quick)
        count = int(ns.agents) if ns.agents is not None else (quick_agents if quick else agents)
        if not 1 <= count <= 99:
            parser.error("--agents takes 1 to 99")
        return SandboxOptions(quick=quick, agents=count, json=ns.json), ns


class ContainerHive:
    """A hive like the ``container_hive`` test fixture, with an operator client."""

    # Units of the sandbox's manager to stop before the namespace ends.
    units: tuple[str, ...] = ("hive-agent@*.service",)

    def __init__(self) -> None:
        self.box = Sandbox()
        self.seq = 0
        self.unexpected: list[str] = []
        try:
            self.hive = SandboxHive(
                self.box,
                HYPERHIVE_SYSTEMD_SCOPE="user",
                HYPERHIVE_UNIT_DIR=str(self.box.unit_dir),
                HYPERHIVE_APPLY_SETTLE_SECONDS="1",
                **self.environment(),
            )
            self.op: Client = self.hive.client(timeout=30)
        except BaseException:
            self.box.close()
            raise

    def environment(self) -> dict[str, str]:
        """More of the daemon's environment (a benchmark's own); ``self.box`` is up."""
        return {}

    def clients(self) -> list[Client]:
        return [self.op]

    def close(self) -> None:
        for client in self.clients():
            with contextlib.suppress(Exception):
                client.close()
        # Stop the containers through their manager first, so the namespace's
        # end does not have to kill them; then the sandbox removes everything.
        with contextlib.suppress(Exception):
            self.box.run("systemctl", "--user", "stop", *self.units, check=False, timeout=60)
        self.box.close()

    def call(self, cmd: str, **args: Any) -> dict[str, Any]:
        try:
            return self.op.call(cmd, **args)
        except HiveError as exc:
            raise BenchError(f"{cmd} {args}: {exc}\n{self.daemon_log()}") from None

    def await_echo(self, agent: str, body: str, deadline: float, after: str,
                   log: Callable[[], str]) -> float:
        """Long-poll the operator's inbox until the stand-in agent's echo of ``body``;
        return when (monotonic) it was read. Other mail is kept in ``unexpected``."""
        want = f"{agent} heard: {body}"
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise BenchError(f"no echo from {agent} within {REPLY_TIMEOUT:.0f} s of "
                                 f"{after}:\n{log()}")
            messages = self.call("inbox", wait_seconds=min(remaining, 30.0))["messages"]
            replied = time.monotonic()
            bodies = [str(m.get("body")) for m in messages]
            self.unexpected += [b for b in bodies if b != want]
            if want in bodies:
                return replied

    def daemon_log(self, lines: int = 15) -> str:
        done = self.box.run("journalctl", "--no-pager", "-n", str(lines), "-o", "cat",
                            "SYSLOG_IDENTIFIER=hive-c0re", check=False)
        return done.stdout.strip()


Bench = TypeVar("Bench", bound=ContainerHive)
Measured = TypeVar("Measured")


def sandbox_main(name: str, make: Callable[[], Bench], measure: Callable[[Bench], Measured],
                 report: Callable[[Measured], object],
                 summary: Callable[[Measured], dict[str, Any]], json_path: Path | None) -> int:
    """A container benchmark from start to end: 0 when it ran, 1 when it could not.

    The sandbox (and every container in it) is gone before the report is printed.
    """
    reason = can_run()
    if reason is not None:
        print(f"{name}: the sandbox cannot run here: {reason}", file=sys.stderr)
        return 1
    started = time.monotonic()
    try:
        step("starting the sandbox (systemd --user, journald, D-Bus)")
        bench = make()
        try:
            measured = measure(bench)
        finally:
            step("stopping containers and removing the sandbox")
            bench.close()
        report(measured)
        if json_path is not None:
            json_path.write_text(json.dumps(summary(measured), indent=2) + "\n")
        print(f"(took {time.monotonic() - started:.0f} s)")
    except (BenchError, RuntimeError, subprocess.SubprocessError, OSError) as exc:
        print(f"{name}: {exc}", file=sys.stderr)
        return 1
    return 0
