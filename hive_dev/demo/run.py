"""The two ways to run the demo, and what both do once the hive's units are in place.

Every unit, file and process the demo makes is registered on an
:class:`~contextlib.ExitStack` as soon as it exists, so it goes at exit:
after the tour or the shell, on a failure, and on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from hive_c0re import units
from hive_dev.demo import dashboard, host, rendering, sandbox_cgroup, shell, tour
from hive_dev.demo.credentials import choose
from hive_dev.demo.hive import PYTHON, REPO, Hive, Site, say

SANDBOX = REPO / "scripts" / "hive-sandbox"
# scripts/hive-sandbox names its cgroup after its pid (outside the namespace).
SANDBOX_CGROUP = re.compile(r"^[^:]*:[^:]*:/hive-sandbox-(?P<pid>\d+)", re.MULTILINE)
STOPPING = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
INTERRUPTED = 130  # the exit status after Ctrl-C, SIGTERM or SIGHUP
SANDBOX_END_TIMEOUT = 60.0  # seconds for the namespace to wind down after its shell


def run_hive(hive: Hive, stack: contextlib.ExitStack, dashboard_port: int | None = None) -> bool:
    """Bring the hive up (and its dashboard on ``dashboard_port``), show it (a shell on a
    terminal, else the tour), tear it down; the result is the tour's (a shell always
    succeeds)."""
    stack.callback(hive.down)
    hive.site.export()
    hive.up()
    if dashboard_port is not None:
        dashboard.start(hive.site, dashboard_port)
    ok = True
    if sys.stdin.isatty():
        if dashboard_port is not None:
            show_login()
        shell.interactive(hive)
    else:
        ok = tour.run(hive)
        if dashboard_port is not None:
            ok = dashboard_tour(dashboard_port) and ok
    say("tearing the hive down")
    return ok


def show_login() -> None:
    say("hive-c0re dashboard login   (open the URL in a browser within 60 s; run it again "
        "for a new code):")
    print(dashboard.login_line(), flush=True)


def dashboard_tour(port: int) -> bool:
    """The login URL, swapped for a session over HTTP as a browser would, and the
    overview's problem count; False if the login or the overview failed."""
    say("hive-c0re dashboard login:")
    line = dashboard.login_line()
    print(line, flush=True)
    count = dashboard.problem_count(port, line)
    if count is None:
        print("demo: FAILED: the dashboard's login or its overview did not answer",
              file=sys.stderr, flush=True)
        return False
    say(f"logged in with that code over HTTP: the overview shows {count} "
        f"problem{'' if count == 1 else 's'} waiting on you")
    return True


def on_host(work: Path) -> int:
    hive = Hive(Site.system(work), choose(os.environ))
    with contextlib.ExitStack() as stack:
        host.install(hive, stack)
        return 0 if run_hive(hive, stack) else 1


def in_sandbox(work: Path) -> int:
    """Run this module again inside scripts/hive-sandbox, wait for it to end, and exit as
    it did."""
    say("no systemd as PID 1 here: running the hive in a private sandbox")
    argv = [str(SANDBOX), str(work / "sandbox"), "--",
            str(PYTHON), "-m", "hive_dev.demo", "inside", str(work)]
    # Ctrl-C and SIGTERM reach the demo inside too, which tears its hive down; the
    # sandbox's end ends what is left. Meanwhile this side only waits.
    with _waiting_through(STOPPING):
        sandbox = subprocess.Popen(argv, cwd=REPO)
        status = sandbox.wait()
        left = sandbox_cgroup.remove(sandbox.pid, SANDBOX_END_TIMEOUT)
    if left:
        print(f"demo: the sandbox's cgroups stay: {' '.join(map(str, left))}",
              file=sys.stderr, flush=True)
    if status < 0:  # the sandbox's shell ended by a signal
        return INTERRUPTED
    return status or (1 if left else 0)


def inside_sandbox(work: Path) -> int:
    """Inside scripts/hive-sandbox: a private systemd user manager, its journal and bus;
    the environment (XDG_RUNTIME_DIR, ...) comes from the sandbox."""
    site = Site.user(work)
    hive = Hive(site, choose(os.environ))
    pid = sandbox_pid(Path("/proc/self/cgroup").read_text())
    say(f"sandbox: pid {pid}, cgroup hive-sandbox-{pid}")
    with contextlib.ExitStack() as stack:
        units.install(site.unit_dir, rendering.daemon_exec(PYTHON))
        dropins = site.unit_dir / f"{site.hive_unit}.service.d"
        dropins.mkdir(exist_ok=True)
        port = dashboard.pick_port()
        (dropins / rendering.DROPIN).write_text(rendering.sandbox_service_dropin(
            site.unit_dir, site.agent_env, dashboard.url(port)))
        dashboard.install_in_sandbox(site, port)
        return 0 if run_hive(hive, stack, port) else 1


def sandbox_pid(cgroups: str) -> str:
    found = SANDBOX_CGROUP.search(cgroups)
    return found["pid"] if found else "?"


@contextlib.contextmanager
def _waiting_through(signals: tuple[signal.Signals, ...]) -> Iterator[None]:
    # A handler, not SIG_IGN: the child gets the default disposition back at exec.
    previous = {signum: signal.signal(signum, lambda signum, frame: None) for signum in signals}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
