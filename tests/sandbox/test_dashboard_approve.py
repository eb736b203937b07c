"""Approving from /approvals deploys the commit the operator was shown: real containers.

The hive runs under the sandbox's systemd with real nspawn containers; the
dashboard is its real process (hive_dev.dashboard) on that hive's host.sock,
logged in with a real one-time code. The manager's part is played on its
socket and in its proposed repo, as in test_approvals.py.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from hive_dev.daemon import DaemonProcess
from hive_dev.dashboard import Dashboard
from hive_dev.sandbox import SandboxHive
from tests.sandbox.approval_support import applied_dir, git, manager, propose

SONNET = 'model = "sonnet"\n'


@dataclass(frozen=True)
class HostDoor:
    """What a Dashboard reads of its daemon: where host.sock is, and the environment."""

    host_socket: Path
    env: dict[str, str]


@contextlib.contextmanager
def dashboard_of(hive: SandboxHive) -> Iterator[Dashboard]:
    door = HostDoor(hive.host_socket, dict(os.environ))
    # The dashboard process needs no more of its daemon than HostDoor holds.
    dash = Dashboard(cast(DaemonProcess, door))
    try:
        yield dash
    finally:
        dash.stop()
        shutil.rmtree(dash.root, ignore_errors=True)


def test_approving_the_shown_sha_deploys_it_and_the_history_says_so(
        container_hive: SandboxHive) -> None:
    hive = container_hive
    hive.call("spawn", name="alice")
    pinned = propose(hive, "alice", SONNET, "alice gets sonnet")
    asked = manager(hive, "request_apply_commit", agent="alice", sha=pinned,
                    description="alice gets sonnet")["approval"]
    with dashboard_of(hive) as dash:
        web = dash.login()
        page = web.get("/approvals").text
        shown = re.search(rf'action="/approvals/{asked["id"]}/approve".*?name="sha" '
                          r'value="([0-9a-f]{40})"', page, re.S)
        assert shown and shown.group(1) == pinned, page
        assert re.search(r'<tr class="line line-added">\s*<td class="no"></td>\s*'
                         r'<td class="no">1</td>\s*<td class="code"><code>.*sonnet', page), page
        done = web.post(f"/approvals/{asked['id']}/approve", {"sha": shown.group(1)})
        assert done.status == 303 and done.header("Location") == "/approvals", done.text
        history = web.get("/approvals").text
    assert git(applied_dir(hive, "alice"), "rev-parse", "main") == pinned
    row = re.search(rf'<tr id="history-{asked["id"]}">.*?</tr>', history, re.S)
    assert row, history
    assert "state-deployed" in row.group(0) and f"deployed/{asked['id']}" in row.group(0)
    assert f'id="approval-{asked["id"]}"' not in history
