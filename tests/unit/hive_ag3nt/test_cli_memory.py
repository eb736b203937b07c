"""The CLI's memory as the growth bound reads it: a real process tree from /proc.

(The pid from the SDK's transport is the real CLI's in tests/integration/test_harness_release.py.)
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator

import pytest

from hive_ag3nt.cli_memory import tree_rss_mib
from hive_dev.processes import descendants, end

# A parent that holds ~64 MiB and starts a child holding ~32 MiB, then waits.
PARENT = """
import subprocess, sys, time
held = bytearray(64 << 20)
child = subprocess.Popen([sys.executable, "-c",
    "import sys, time; held = bytearray(32 << 20); print(flush=True); time.sleep(60)"],
    stdout=subprocess.PIPE)
child.stdout.readline()
print(flush=True)
time.sleep(60)
"""


@pytest.fixture
def tree() -> Iterator[subprocess.Popen[bytes]]:
    parent = subprocess.Popen([sys.executable, "-c", PARENT], stdout=subprocess.PIPE)
    try:
        assert parent.stdout is not None
        parent.stdout.readline()  # both hold their memory now
        yield parent
    finally:
        children = descendants(parent.pid)
        end(parent, 5)
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def test_a_tree_counts_every_process_below_the_cli(tree: subprocess.Popen[bytes]) -> None:
    (child,) = descendants(tree.pid)
    whole, below = tree_rss_mib(tree.pid), tree_rss_mib(child)
    assert whole is not None and below is not None
    assert below >= 32
    assert whole >= below + 64


def test_a_gone_process_has_no_size() -> None:
    done = subprocess.Popen([sys.executable, "-c", "pass"])
    done.wait()
    assert tree_rss_mib(done.pid) is None

