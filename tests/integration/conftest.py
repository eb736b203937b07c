from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.sandbox import Sandbox, SandboxHive, can_run

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
    return SandboxHive(
        sandbox,
        HYPERHIVE_SYSTEMD_SCOPE="user",
        HYPERHIVE_UNIT_DIR=str(sandbox.unit_dir),
        HYPERHIVE_APPLY_SETTLE_SECONDS="1",
    )
