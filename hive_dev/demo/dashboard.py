"""The demo's dashboard: its shipped, hardened units on a loopback TCP port, and a login.

In the sandbox the units are the ones ``hive-c0re install-units`` writes, with
two drop-ins: the TCP listener an operator adds (``ListenStream=127.0.0.1:7000``,
or a free port when 7000 is taken), and what the sandbox's paths need beyond
the shipped hardening (its runtime directory sits under /tmp, which PrivateTmp
hides, and an interpreter under /root, which ProtectHome hides; each is bound
back read-only). A browser on this machine can open it; the login URL is what
``hive-c0re dashboard login`` prints.
"""

from __future__ import annotations

import http.client
import re
import socket
import subprocess
import sys
from pathlib import Path

from hive_dev.demo.hive import REPO, Site, say

PORT = 7000  # the shipped drop-in's port, when it is free here
SOCKET = "hive-c0re-dashboard.socket"
SERVICE = "hive-c0re-dashboard.service"
COOKIE = "hive_session"
PROBLEMS = re.compile(r'id="problem-count"[^>]*data-count="(\d+)"')
LOGIN_URL = re.compile(r"http://\S+/login\?code=\S+")


def pick_port() -> int:
    """7000 if nothing listens there, else a free loopback port."""
    for wanted in (PORT, 0):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", wanted))
            except OSError:
                continue
            return int(probe.getsockname()[1])
    raise OSError("no free loopback port for the dashboard")


def url(port: int) -> str:
    return f"http://127.0.0.1:{port}"


def socket_dropin(port: int) -> str:
    return f"[Socket]\nListenStream=127.0.0.1:{port}\n"


def sandbox_service_dropin() -> str:
    binds = dict.fromkeys((Path(sys.base_prefix), REPO))  # each once, in order
    return "".join(("[Service]\n", "ProtectHome=tmpfs\n",
                    *(f"BindReadOnlyPaths={path}\n" for path in binds),
                    "BindReadOnlyPaths=%t/hyperhive\n",
                    "BindReadOnlyPaths=%t/systemd/notify\n"))


def install_in_sandbox(site: Site, port: int) -> None:
    """The drop-ins beside the shipped units (``units.install`` wrote those)."""
    for unit, text in ((SOCKET, socket_dropin(port)), (SERVICE, sandbox_service_dropin())):
        dropins = site.unit_dir / f"{unit}.d"
        dropins.mkdir(exist_ok=True)
        (dropins / "demo.conf").write_text(text)


def start(site: Site, port: int) -> None:
    site.systemctl.run("daemon-reload")
    site.systemctl.run("start", SOCKET)
    say(f"the dashboard listens on {url(port)} ({SOCKET}, hardened {SERVICE})")


def login_line() -> str:
    """``hive-c0re dashboard login``'s output: a URL with a fresh one-time code."""
    done = subprocess.run([sys.executable, "-m", "hive_c0re", "dashboard", "login"],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return f"(hive-c0re dashboard login failed: {done.stderr.strip()})"
    return done.stdout.strip()


def problem_count(port: int, login: str) -> int | None:
    """Log in over HTTP with the code in ``login`` (as a browser would), then read the
    overview's problem count; None if the login or the page failed."""
    found = LOGIN_URL.search(login)
    if found is None:
        return None
    path = found.group(0).removeprefix(url(port))
    status, headers, _ = _get(port, path, "")
    cookie = next((c.split(";", 1)[0] for c in headers if c.startswith(f"{COOKIE}=")), "")
    if status != 303 or not cookie:
        return None
    status, _, page = _get(port, "/", cookie)
    counted = PROBLEMS.search(page)
    return int(counted.group(1)) if status == 200 and counted else None


def _get(port: int, path: str, cookie: str) -> tuple[int, list[str], str]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", path, headers={"Cookie": cookie} if cookie else {})
        answer = connection.getresponse()
        return answer.status, answer.headers.get_all("Set-Cookie") or [], answer.read().decode()
    finally:
        connection.close()
