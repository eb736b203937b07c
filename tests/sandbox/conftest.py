"""Fixtures of the tests that need a real, sandboxed systemd and real containers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from hive_dev.sandbox import Sandbox, SandboxHive, containers_hive
from tests.sandbox.sandbox_support import sandboxed

pytestmark = pytest.mark.sandbox


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with sandboxed() as box:
        yield box


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
