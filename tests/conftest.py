"""Fixtures every kind of test may use: a daemon process, the scripted Messages API."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hive_ag3nt.runner import bundled_cli
from hive_dev.daemon import DaemonProcess, running_daemon
from hive_dev.fakes.messages_api import MessagesApi


@pytest.fixture(scope="module")
def daemon() -> Iterator[DaemonProcess]:
    """A daemon with no systemd under it, for the real harness and CLI beside it."""
    with running_daemon(manager_command="") as d:  # no manager container: it needs systemd
        yield d


@pytest.fixture
def api() -> Iterator[MessagesApi]:
    """The scripted Messages API the real claude CLI talks to."""
    if not Path(bundled_cli()).is_file():
        pytest.fail(f"the claude CLI bundled with claude-agent-sdk is missing at {bundled_cli()}")
    with MessagesApi() as server:
        yield server
