"""Fixtures of the tests that need a real, sandboxed systemd and real containers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from hive_dev.sandbox import Sandbox, SandboxHive, can_run, containers_hive

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
