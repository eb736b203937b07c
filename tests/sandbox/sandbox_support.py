"""The sandboxed systemd as a context: for the per-test fixture and module-wide ones."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest

from hive_dev.sandbox import Sandbox, can_run


@contextlib.contextmanager
def sandboxed() -> Iterator[Sandbox]:
    """A private systemd for the ``with`` block; the test fails (never skips) without one."""
    reason = can_run()
    if reason is not None:
        pytest.fail(f"the integration tests need a sandboxed systemd: {reason}")
    box = Sandbox()
    try:
        yield box
    finally:
        box.close()
