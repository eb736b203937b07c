"""The dashboard's units under a real systemd: hardened as measured, socket-activated,
and still the operator on host.sock."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from hive_dev.sandbox import REPO, Sandbox, SandboxHive
from hive_dev.unix_http import UnixHTTPConnection

SERVICE = "hive-c0re-dashboard.service"
EXPOSURE = re.compile(r"Overall exposure level for (\S+): ([0-9.]+) (\w+)")
# systemd-analyze's levels, best first; the dashboard must be OK or better.
GOOD_LEVELS = ("SAFE", "OK")


def exposure(sandbox: Sandbox, unit: str) -> tuple[float, str]:
    shown = sandbox.run("systemd-analyze", "security", "--user", "--no-pager", unit).stdout
    found = EXPOSURE.search(shown)
    assert found, shown
    return float(found[2]), found[3]


def sandbox_dropin(hive: SandboxHive) -> None:
    """What running in the test sandbox needs beyond the shipped unit, nothing looser:
    this interpreter lives under /root (ProtectHome hides it), the checkout with its
    .venv may sit under /tmp (a CI clone; PrivateTmp hides it), and the sandbox's
    runtime directory, with host.sock and systemd's notify socket, sits under /tmp
    too; each is bound back read-only, as /run and /usr are on a real host."""
    dropin = hive.sandbox.unit_dir / f"{SERVICE}.d"
    dropin.mkdir()
    python_home = Path(sys.base_prefix)
    (dropin / "sandbox.conf").write_text(
        "[Service]\n"
        "ProtectHome=tmpfs\n"
        f"BindReadOnlyPaths={python_home}\n"
        f"BindReadOnlyPaths={REPO}\n"
        "BindReadOnlyPaths=%t/hyperhive\n"
        "BindReadOnlyPaths=%t/systemd/notify\n")
    hive.sandbox.systemctl("daemon-reload")


def request(path: Path, method: str, target: str,
            headers: dict[str, str] | None = None,
            body: str | None = None) -> tuple[int, dict[str, str], str]:
    connection = UnixHTTPConnection(path)
    try:
        connection.request(method, target, body=body, headers=headers or {})
        answer = connection.getresponse()
        return answer.status, dict(answer.getheaders()), answer.read().decode()
    finally:
        connection.close()


def test_the_dashboard_unit_is_hardened_to_ok(hive: SandboxHive) -> None:
    score, level = exposure(hive.sandbox, SERVICE)
    daemon_score, daemon_level = exposure(hive.sandbox, "hive-c0re.service")
    print(f"\nsystemd-analyze security: {SERVICE} {score} {level}; "
          f"hive-c0re.service {daemon_score} {daemon_level}")
    assert level in GOOD_LEVELS, (score, level)
    assert score <= 2.5


def test_the_socket_starts_the_hardened_service_which_logs_in_through_host_sock(
        hive: SandboxHive) -> None:
    sandbox_dropin(hive)
    hive.sandbox.systemctl("start", "hive-c0re-dashboard.socket")
    door = hive.sandbox.runtime / "hyperhive" / "dashboard.sock"
    assert door.stat().st_mode & 0o777 == 0o600
    status, _, page = request(door, "GET", "/login")
    assert status == 200 and "hive-c0re dashboard login" in page
    # The login is a wire request the hardened service makes on host.sock.
    code = hive.call("dashboard_code")["code"]
    status, headers, _ = request(door, "GET", f"/login?code={code}")
    assert status == 303 and headers["Location"] == "/", headers
    cookie = headers["Set-Cookie"].split(";", 1)[0]
    assert "HttpOnly" in headers["Set-Cookie"] and "SameSite=Strict" in headers["Set-Cookie"]
    [session] = hive.call("dashboard_sessions")["sessions"]
    token = cookie.split("=", 1)[1]
    csrf = hive.call("dashboard_session", token=token)["session"]["csrf"]
    status, headers, _ = request(door, "POST", "/logout", body=f"csrf={csrf}", headers={
        "Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"})
    assert status == 303 and headers["Location"] == "/login"
    assert hive.call("dashboard_sessions")["sessions"] == [], session
    assert hive.active(SERVICE) == "active"


def test_the_running_dashboard_holds_no_capability_and_filters_syscalls(
        hive: SandboxHive) -> None:
    sandbox_dropin(hive)
    hive.sandbox.systemctl("start", "hive-c0re-dashboard.socket")
    request(hive.sandbox.runtime / "hyperhive" / "dashboard.sock", "GET", "/login")
    hive.wait_active(SERVICE)
    pid = hive.sandbox.show(SERVICE, "MainPID")
    status = dict(line.split(":\t", 1) for line in
                  hive.sandbox.run("cat", f"/proc/{pid}/status").stdout.splitlines()
                  if ":\t" in line)
    assert int(status["CapEff"], 16) == 0 and int(status["CapBnd"], 16) == 0, status
    assert status["NoNewPrivs"].strip() == "1"
    assert status["Seccomp"].strip() == "2"  # a filter, not strict mode
