"""The hive the container benchmarks drive: one sandbox, agents in real nspawn containers."""

from __future__ import annotations

import contextlib
from typing import Any

from bench.common import BenchError
from hive_c0re.errors import HiveError
from hive_c0re.wire import Client
from hive_dev.sandbox import Sandbox, SandboxHive


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
            )
            self.op: Client = self.hive.client(timeout=30)
        except BaseException:
            self.box.close()
            raise

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

    def daemon_log(self, lines: int = 15) -> str:
        done = self.box.run("journalctl", "--no-pager", "-n", str(lines), "-o", "cat",
                            "SYSLOG_IDENTIFIER=hive-c0re", check=False)
        return done.stdout.strip()
