from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from hive_ag3nt.runner import bundled_cli
from tests.daemon import DaemonProcess
from tests.fakes.messages_api import MessagesApi
from tests.sandbox import Sandbox, SandboxHive, can_run, containers_hive

pytestmark = pytest.mark.sandbox


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    reason = can_run()
    if reason is not None:
        pytest.fail(f"the integration tests need a sandboxed systemd: {reason}")
    box = Sandbox()
    try:
        yield box
    finally:
        box.close()


@pytest.fixture
def hive(sandbox: Sandbox) -> SandboxHive:
    """A socket-activated hive-c0re under the sandbox's systemd (started on first use)."""
    return SandboxHive(sandbox)


@pytest.fixture
def container_hive(sandbox: Sandbox) -> SandboxHive:
    """A hive whose agents run as real nspawn containers under the sandbox's systemd."""
    return containers_hive(sandbox)


@pytest.fixture
def managed_hive(sandbox: Sandbox) -> SandboxHive:
    """A container hive with its manager's container, the stand-in answering as the manager."""
    return containers_hive(sandbox, manager=True)


@pytest.fixture(scope="module")
def daemon() -> Iterator[DaemonProcess]:
    """A daemon with no systemd under it, for the real harness and CLI beside it."""
    d = DaemonProcess(manager_command="")  # no manager container: it needs systemd
    yield d
    d.stop()
    shutil.rmtree(d.root, ignore_errors=True)


@pytest.fixture
def api() -> Iterator[MessagesApi]:
    """The scripted Messages API the real claude CLI talks to."""
    if not Path(bundled_cli()).is_file():
        pytest.fail(f"the claude CLI bundled with claude-agent-sdk is missing at {bundled_cli()}")
    with MessagesApi() as server:
        yield server
