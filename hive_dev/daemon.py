"""A hive-c0re daemon as a plain child process, for tests that need no systemd."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from hive_c0re.client import Client
from hive_c0re.errors import Unreachable
from hive_dev.processes import end


class DaemonProcess:
    def __init__(self, **settings: str) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="hhd", dir="/tmp"))
        self.env = {
            **os.environ,
            "HYPERHIVE_STATE_DIR": str(self.root / "state"),
            "HYPERHIVE_RUNTIME_DIR": str(self.root / "run"),
            "HYPERHIVE_MANAGER_COMMAND": "",
            **{f"HYPERHIVE_{k.upper()}": v for k, v in settings.items()},
        }
        self._spawn()

    def _spawn(self) -> None:
        self.log = (self.root / "daemon.log").open("ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "hive_c0re", "serve"],
                                     env=self.env, stdout=self.log, stderr=self.log)
        self.wait_ready()

    def restart(self) -> None:
        """Stop the daemon and serve the same state again, as a restart by systemd would."""
        self.stop()
        self._spawn()

    @property
    def host_socket(self) -> Path:
        return self.root / "run" / "host.sock"

    def call_as_manager(self, verb: str, **args: Any) -> dict[str, Any]:
        """One request on the manager's socket."""
        with Client(self.root / "run" / "manager" / "hive.sock") as client:
            return client.call(verb, **args)

    def call_as_operator(self, verb: str, **args: Any) -> dict[str, Any]:
        """One request on host.sock."""
        with Client(self.host_socket) as client:
            return client.call(verb, **args)

    def agent_socket(self, name: str) -> Path:
        return self.root / "run" / "agents" / name / "hive.sock"

    def wait_ready(self, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with Client(self.host_socket, timeout=5) as client:
                    client.call("whoami")
                return
            except Unreachable:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError((self.root / "daemon.log").read_text()) from None
                time.sleep(0.02)

    def stop(self) -> int:
        code = end(self.proc, timeout=15)
        self.log.close()
        return code


@contextlib.contextmanager
def running_daemon(*, clean_exit: bool = False, **settings: str) -> Iterator[DaemonProcess]:
    """A daemon for as long as the ``with`` lasts; its files go with it.

    ``clean_exit``: the daemon must also stop with status 0 (its log says why not).
    """
    d = DaemonProcess(**settings)
    try:
        yield d
    finally:
        code = d.stop()
        log = (d.root / "daemon.log").read_text(errors="replace")
        shutil.rmtree(d.root, ignore_errors=True)
    if clean_exit and code != 0:
        raise AssertionError(f"the daemon exited with status {code}:\n{log}")
