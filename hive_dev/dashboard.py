"""A real daemon and a real dashboard process, and ways in through the real login.

Use::

    with running_dashboard() as dash:
        web = dash.login()                 # a logged-in HTTP session
        page = web.get("/")                # Answer(status, headers, text)
        web.post("/logout", {})            # the session's CSRF token is added
        with web.live() as stream:         # GET /live held open
            stream.topics_until({"inbox"}) # the SSE events' names seen meanwhile
        dash.call("agents")                # the operator's wire, for setting up
        with dash.browser() as browser:    # selenium Chrome, logged in, at /
            ...

Nothing is faked: the dashboard is ``python -m hive_c0re.dashboard`` on a
loopback TCP port it picks itself (it says which in its sd_notify STATUS, read
here from a notify socket of our own, as systemd would), and every login is
a one-time code from the daemon swapped at ``/login?code=``.
"""

from __future__ import annotations

import contextlib
import http.client
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from hive_c0re.client import Client
from hive_dev.daemon import DaemonProcess, running_daemon
from hive_dev.processes import end

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
COOKIE = "hive_session"
READY_TIMEOUT = 30.0
ADDRESS = re.compile(r"127\.0\.0\.1:(\d+)")


@dataclass(frozen=True)
class Answer:
    status: int
    headers: http.client.HTTPMessage
    text: str

    def header(self, name: str) -> str | None:
        return self.headers.get(name)


@dataclass
class WebSession:
    """A browser-like HTTP client of the dashboard: one cookie jar, no redirects followed
    (tests look at the 303s), the session's CSRF token added to every form posted."""

    port: int
    cookies: dict[str, str] = field(default_factory=dict)
    csrf: str = ""
    host: str = "127.0.0.1"

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: Mapping[str, str] | None = None, timeout: float = 30) -> Answer:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        sent = {"Host": f"{self.host}:{self.port}", **(headers or {})}
        if self.cookies:
            sent.setdefault("Cookie", "; ".join(f"{k}={v}" for k, v in self.cookies.items()))
        try:
            connection.request(method, path, body=body, headers=sent)
            response = connection.getresponse()
            text = response.read().decode(errors="replace")
        finally:
            connection.close()
        self._keep_cookies(response.headers)
        return Answer(response.status, response.headers, text)

    def _keep_cookies(self, headers: http.client.HTTPMessage) -> None:
        for line in headers.get_all("Set-Cookie") or ():
            jar: SimpleCookie = SimpleCookie(line)
            for name, morsel in jar.items():
                if morsel.value and morsel["max-age"] != "0":
                    self.cookies[name] = morsel.value
                else:
                    self.cookies.pop(name, None)

    @contextlib.contextmanager
    def live(self, last_event_id: str | None = None,
             path: str = "/live") -> Iterator[EventStream]:
        """``GET /live`` (or a page's ``sse-connect`` path) held open, with
        ``Last-Event-ID`` when given."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        headers = {"Host": f"{self.host}:{self.port}", "Accept": "text/event-stream",
                   "Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        if last_event_id is not None:
            headers["Last-Event-ID"] = last_event_id
        connection.request("GET", path, headers=headers)
        stream = EventStream(connection, connection.getresponse())
        try:
            yield stream
        finally:
            stream.close()

    def get(self, path: str, headers: Mapping[str, str] | None = None) -> Answer:
        return self.request("GET", path, headers=headers)

    def post(self, path: str, data: Mapping[str, str] | None = None,
             headers: Mapping[str, str] | None = None, csrf: bool = True) -> Answer:
        """A form post; ``csrf=False`` leaves the token out."""
        fields = {**({"csrf": self.csrf} if csrf else {}), **(data or {})}
        return self.request("POST", path, urlencode(fields).encode(), {
            "Content-Type": "application/x-www-form-urlencoded",
            "Origin": f"http://{self.host}:{self.port}", **(headers or {})})


@dataclass(frozen=True)
class SSEvent:
    event: str
    data: str
    id: str | None


class EventStream:
    """An open ``GET /live``: its events one by one, as a browser's EventSource reads them."""

    def __init__(self, connection: http.client.HTTPConnection,
                 response: http.client.HTTPResponse) -> None:
        self.connection = connection
        self.response = response
        self.status = response.status
        self.last_id: str | None = None

    def next(self, timeout: float = 10) -> SSEvent | None:
        """The next event (comments skipped), or None once the server ended the stream;
        TimeoutError when nothing came within ``timeout``."""
        sock = self.connection.sock
        assert sock is not None
        deadline = time.monotonic() + timeout
        fields: dict[str, str] = {}
        while True:
            # Per line: keep-alive comments must not stretch the wait past the deadline.
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no event within {timeout} s")
            sock.settimeout(left)
            line = self.response.readline()
            if not line:
                return None
            text = line.decode().rstrip("\r\n")
            if text == "" and fields:
                if "id" in fields:
                    self.last_id = fields["id"]
                return SSEvent(fields.get("event", "message"), fields.get("data", ""),
                               fields.get("id"))
            if text and not text.startswith(":"):
                key, _, value = text.partition(":")
                fields[key] = value.removeprefix(" ")

    def topics_until(self, wanted: set[str], timeout: float = 10) -> set[str]:
        """The topics seen until every one of ``wanted`` came, to the end of that batch
        (its event with an ``id``); AssertionError if the stream ended first."""
        seen: set[str] = set()
        deadline = time.monotonic() + timeout
        batch_ended = False
        while not (wanted <= seen and batch_ended):
            if time.monotonic() > deadline:
                raise AssertionError(f"never saw {sorted(wanted - seen)}; seen {sorted(seen)}")
            event = self.next(max(0.01, deadline - time.monotonic()))
            if event is None:
                raise AssertionError(f"the stream ended; seen {sorted(seen)}")
            seen.add(event.event)
            batch_ended = event.id is not None
        return seen

    def close(self) -> None:
        self.connection.close()


class Dashboard:
    """The dashboard child process over a :class:`DaemonProcess`."""

    def __init__(self, daemon: DaemonProcess, **env: str) -> None:
        self.daemon = daemon
        self.root = Path(tempfile.mkdtemp(prefix="hhdash", dir="/tmp"))
        self.unix_socket = self.root / "dashboard.sock"
        self.log_path = self.root / "dashboard.log"
        self.port = self._spawn(env)

    def _spawn(self, env: Mapping[str, str]) -> int:
        notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        notify.bind(str(self.root / "notify"))
        notify.settimeout(READY_TIMEOUT)
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "hive_c0re.dashboard", "--unix", str(self.unix_socket),
                 "--listen", "127.0.0.1:0", "--socket", str(self.daemon.host_socket)],
                env={**self.daemon.env, "NOTIFY_SOCKET": str(self.root / "notify"), **env},
                stdout=log, stderr=log)
        try:
            return self._wait_ready(notify)
        finally:
            notify.close()

    def _wait_ready(self, notify: socket.socket) -> int:
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                message = notify.recv(4096).decode()
            except TimeoutError:
                break
            found = ADDRESS.search(message)
            if "READY=1" in message and found:
                return int(found.group(1))
        self.stop()
        raise RuntimeError(f"the dashboard did not start:\n{self.log}")

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def call(self, verb: str, **args: Any) -> dict[str, Any]:
        """One operator request on the daemon's host.sock."""
        with Client(self.daemon.host_socket, timeout=30) as client:
            return client.call(verb, **args)

    def as_agent(self, who: str, verb: str, /, **args: Any) -> dict[str, Any]:
        """One request on ``who``'s own socket (``manager``: the manager's)."""
        path = (self.daemon.root / "run" / "manager" / "hive.sock" if who == "manager"
                else self.daemon.agent_socket(who))
        with Client(path, timeout=30) as client:
            return client.call(verb, **args)

    def code(self) -> str:
        """A fresh one-time login code, as ``hive-c0re dashboard login`` gets it."""
        return str(self.call("dashboard_code")["code"])

    def session(self) -> WebSession:
        """An HTTP client with no session yet."""
        return WebSession(self.port)

    def login(self) -> WebSession:
        """A logged-in HTTP client: a fresh code swapped at /login, its CSRF token known."""
        web = self.session()
        answer = web.get(f"/login?code={self.code()}")
        if answer.status != 303 or COOKIE not in web.cookies:
            raise AssertionError(f"login failed: {answer.status} {answer.text}")
        web.csrf = str(self.call("dashboard_session", token=web.cookies[COOKIE])
                       ["session"]["csrf"])
        return web

    @contextlib.contextmanager
    def browser(self) -> Iterator[Any]:
        """Headless chromium, logged in through a fresh code, showing ``/``."""
        driver, profile = start_chromium()
        try:
            driver.get(f"{self.url}/login?code={self.code()}")
            yield driver
        finally:
            try:
                driver.quit()
            finally:
                shutil.rmtree(profile, ignore_errors=True)

    def stop(self) -> int:
        """SIGTERM, as systemd stops it; its exit status."""
        return end(self.proc, timeout=15)


def start_chromium() -> tuple[Any, Path]:
    """Debian's chromium under selenium (no sandbox: tests run as root), and its profile."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = Path(tempfile.mkdtemp(prefix="hhchrome", dir="/tmp"))
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu",
                     "--disable-dev-shm-usage", "--window-size=1280,1500",
                     "--hide-scrollbars", f"--user-data-dir={profile}"):
        options.add_argument(argument)
    return webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER))), profile


@contextlib.contextmanager
def running_dashboard(*, clean_exit: bool = True, env: Mapping[str, str] | None = None,
                      **settings: str) -> Iterator[Dashboard]:
    """A daemon (with ``settings``) and a dashboard over it for as long as the ``with``
    lasts; ``env`` goes to the dashboard alone. With ``clean_exit`` the dashboard must
    also end with status 0 on SIGTERM (its log says why not)."""
    with running_daemon(clean_exit=False, **settings) as daemon:
        dash = Dashboard(daemon, **(env or {}))
        try:
            yield dash
        finally:
            code = dash.stop()
            log = dash.log
            shutil.rmtree(dash.root, ignore_errors=True)
        if clean_exit and code != 0:
            raise AssertionError(f"the dashboard exited with status {code}:\n{log}")


__all__ = ["Answer", "Dashboard", "EventStream", "SSEvent", "WebSession", "running_dashboard"]


def manager_git(repo: Path, *args: str) -> str:
    """git as the manager runs it in its proposed repo (a tree the daemon never runs git
    in); its output."""
    done = subprocess.run(["git", "-C", str(repo), "-c", "safe.directory=*",
                           "-c", "user.name=manager", "-c", "user.email=manager@hive", *args],
                          capture_output=True, text=True, check=True)
    return done.stdout.strip()
