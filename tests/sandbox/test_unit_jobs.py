"""Unit jobs under the sandbox's real systemd: the daemon's (over the manager's private
socket) and systemctl's, held to the same behaviour."""

from __future__ import annotations

import dataclasses
import json
import sys
from dataclasses import dataclass

import pytest

from hive_c0re.lifecycle.backend import Resources, Scope, Systemctl, SystemctlError
from hive_c0re.lifecycle.unitjobs import private_socket
from hive_dev.polling import wait_until
from hive_dev.sandbox import Sandbox
from tests.sandbox.test_backend_contract import SandboxSystemctl

UNITS = {
    "hh-runs.service": "[Service]\nExecStart=/bin/sleep infinity\n",
    "hh-fails.service": "[Service]\nType=oneshot\nExecStart=/bin/false\n",
    # Fails until {ok} exists, and restarts itself: two starts a minute, then refused
    # (a manual start too) until its failure is reset.
    "hh-limited.service": "[Unit]\nStartLimitIntervalSec=60\nStartLimitBurst=2\n"
                          "[Service]\nRestart=on-failure\nRestartSec=10ms\n"
                          "ExecStart=/bin/sh -c 'test -e {ok} && exec sleep infinity'\n",
    # A template, as the agents' unit is: its instances are loaded by the first call.
    "hh-agent@.service": "[Service]\nExecStart=/bin/sleep infinity\n",
}
# What `systemctl show` says of the three limits, set and unset.
LIMITS = ("MemoryMax", "CPUQuotaPerSecUSec", "TasksMax")

# BusSystemctl run where the daemon runs it: inside the manager's namespaces (its private
# socket hangs up on a peer from outside them).
INSIDE = """
import json, sys
from hive_c0re.lifecycle.backend import Resources, Scope, SystemctlError
from hive_c0re.lifecycle.unitjobs import BusSystemctl
jobs = BusSystemctl(Scope.USER, timeout=30, address=sys.argv[1] or None)
args = sys.argv[3:]
if sys.argv[2] == "set_limits":
    args = [args[0], Resources(**json.loads(args[1]))]
try:
    print(json.dumps({"value": getattr(jobs, sys.argv[2])(*args)}))
except SystemctlError as exc:
    print(json.dumps({"error": str(exc)}))
"""

# Many jobs in one process: each connection is closed after its job.
INSIDE_FDS = """
import os, sys
from hive_c0re.lifecycle.backend import Scope
from hive_c0re.lifecycle.unitjobs import BusSystemctl
jobs = BusSystemctl(Scope.USER, timeout=30)
def fds(): return len(os.listdir("/proc/self/fd"))
jobs.begin("start", sys.argv[1])
before = fds()
for _ in range(20):
    jobs.begin("restart", sys.argv[1])
    jobs.reset_failed(sys.argv[1])
print(before, fds())
"""


@dataclass(frozen=True)
class InsideBusSystemctl(Systemctl):
    """Each job a :class:`BusSystemctl` call by a Python in the sandbox's namespaces."""

    sandbox: Sandbox | None = None
    address: str = ""  # "": the scope's own socket, from the sandbox's environment

    def _call(self, method: str, *args: str) -> str | None:
        assert self.sandbox is not None
        done = self.sandbox.run(sys.executable, "-c", INSIDE, self.address, method, *args)
        answer = json.loads(done.stdout)
        if "error" in answer:
            raise SystemctlError(answer["error"])
        value: str | None = answer["value"]
        return value

    def begin(self, verb: str, unit: str) -> None:
        self._call("begin", verb, unit)

    def attempt(self, verb: str, unit: str) -> str | None:
        return self._call("attempt", verb, unit)

    def stop(self, unit: str) -> None:
        self._call("stop", unit)

    def set_limits(self, unit: str, resources: Resources) -> None:
        self._call("set_limits", unit, json.dumps(dataclasses.asdict(resources)))


@pytest.fixture(params=["bus", "systemctl"])
def jobs(request: pytest.FixtureRequest, sandbox: Sandbox) -> Systemctl:
    for name, text in UNITS.items():
        (sandbox.unit_dir / name).write_text(text.format(ok=sandbox.dir / "ok"))
    sandbox.systemctl("daemon-reload")
    if request.param == "bus":
        return InsideBusSystemctl(Scope.USER, sandbox=sandbox)
    return SandboxSystemctl(Scope.USER, timeout=30, sandbox=sandbox)


def test_start_restart_stop_run_their_jobs_to_the_end(jobs: Systemctl, sandbox: Sandbox) -> None:
    jobs.begin("start", "hh-runs.service")
    assert sandbox.show("hh-runs.service", "ActiveState") == "active"
    first = sandbox.show("hh-runs.service", "InvocationID")
    jobs.begin("restart", "hh-runs.service")
    # The restart's job ended only once the new process ran.
    assert sandbox.show("hh-runs.service", "ActiveState") == "active"
    assert sandbox.show("hh-runs.service", "InvocationID") not in ("", first)
    jobs.stop("hh-runs.service")
    assert sandbox.show("hh-runs.service", "ActiveState") == "inactive"


def test_stopping_what_systemd_has_no_file_for_is_done(jobs: Systemctl) -> None:
    jobs.stop("hh-never-written.service")


def test_a_failed_start_says_so_and_where_to_look(jobs: Systemctl) -> None:
    with pytest.raises(SystemctlError, match=r"^start of hh-fails.service failed: ") as failed:
        jobs.begin("start", "hh-fails.service")
    if isinstance(jobs, InsideBusSystemctl):
        assert "the job ended 'failed' (the unit's result: exit-code)" in str(failed.value)
        assert "journalctl --user -u hh-fails.service" in str(failed.value)


def test_a_start_refused_by_the_start_limit_is_reset_and_tried_again(
        jobs: Systemctl, sandbox: Sandbox) -> None:
    jobs.attempt("start", "hh-limited.service")
    wait_until(lambda: sandbox.show("hh-limited.service", "ActiveState") == "failed",
               "hh-limited to give up restarting")
    sandbox.run("touch", str(sandbox.dir / "ok"))  # it would run now, but for its start limit
    assert jobs.attempt("start", "hh-limited.service") is not None
    assert sandbox.show("hh-limited.service", "ActiveState") == "failed"
    jobs.begin("start", "hh-limited.service")  # reset-failed, then once more
    assert sandbox.show("hh-limited.service", "ActiveState") == "active"


def limits(sandbox: Sandbox, unit: str) -> dict[str, str]:
    done = sandbox.systemctl("show", unit, *(f"--property={key}" for key in LIMITS))
    return dict(line.split("=", 1) for line in done.stdout.split())


def test_limits_are_set_and_reset_on_a_template_instance_not_loaded_yet(
        jobs: Systemctl, sandbox: Sandbox) -> None:
    jobs.set_limits("hh-agent@a.service", Resources(memory_max="2G", cpu_quota="150%",
                                                     tasks_max=512))
    assert limits(sandbox, "hh-agent@a.service") == {
        "MemoryMax": str(2 << 30), "CPUQuotaPerSecUSec": "1.500000s", "TasksMax": "512"}
    jobs.set_limits("hh-agent@a.service", Resources(memory_max="infinity"))
    assert limits(sandbox, "hh-agent@a.service") == dict.fromkeys(LIMITS, "infinity")
    jobs.set_limits("hh-agent@b.service", Resources(memory_max="512M", tasks_max=7))
    assert limits(sandbox, "hh-agent@b.service") == {
        "MemoryMax": str(512 << 20), "CPUQuotaPerSecUSec": "infinity", "TasksMax": "7"}
    # For this boot only: drop-ins under the runtime directory, none beside the unit files.
    control = "systemd/user.control/hh-agent@a.service.d"
    assert (sandbox.runtime / control).is_dir()
    assert not (sandbox.unit_dir.parent / "user.control").exists()


def test_limits_of_a_unit_systemd_has_no_file_for_are_refused(jobs: Systemctl) -> None:
    with pytest.raises(SystemctlError, match=r"hh-never-written\.service.* not found"):
        jobs.set_limits("hh-never-written.service", Resources(tasks_max=5))


def test_a_manager_out_of_reach_is_a_clear_error(sandbox: Sandbox) -> None:
    jobs = InsideBusSystemctl(Scope.USER, sandbox=sandbox,
                              address=str(sandbox.dir / "no-such-socket"))
    with pytest.raises(SystemctlError, match=r"start of hh-runs.service failed: cannot reach "
                                             r"systemd at .*no-such-socket"):
        jobs.begin("start", "hh-runs.service")
    with pytest.raises(SystemctlError, match=r"stop of hh-runs\.service failed: cannot reach"):
        jobs.stop("hh-runs.service")
    with pytest.raises(SystemctlError, match=r"setting the limits of hh-agent@a\.service "
                                             r"failed: cannot reach"):
        jobs.set_limits("hh-agent@a.service", Resources())


def test_the_daemons_jobs_leave_no_connection_open(sandbox: Sandbox) -> None:
    (sandbox.unit_dir / "hh-runs.service").write_text(UNITS["hh-runs.service"])
    sandbox.systemctl("daemon-reload")
    done = sandbox.run(sys.executable, "-c", INSIDE_FDS, "hh-runs.service")
    before, after = (int(word) for word in done.stdout.split())
    assert after == before, done.stdout


def test_the_private_socket_is_the_one_systemctl_uses(sandbox: Sandbox) -> None:
    assert private_socket(Scope.SYSTEM) == "/run/systemd/private"
    assert private_socket(Scope.USER, sandbox.env) == str(sandbox.runtime / "systemd" / "private")
    assert (sandbox.runtime / "systemd" / "private").is_socket()
