"""The hive the dashboard's whole flow runs in, and the browser's side of it.

The daemon and the dashboard are the installed units under the sandbox's
systemd, the dashboard's socket with a TCP listener added as the operator
would (a drop-in), on a free loopback port; the manager is the stand-in
answering mail in its container; alice runs the real harness and the real
claude CLI against the scripted Messages API.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hive_dev.dashboard import start_chromium
from hive_dev.fakes.messages_api import ApiProcess
from hive_dev.fakes.script import Match, Reply, ToolCall, write_script
from hive_dev.harness_support import container_env_file
from hive_dev.sandbox import (
    Sandbox,
    SandboxHive,
    children,
    container_process,
    containers_hive,
    in_container,
)
from tests.sandbox.test_dashboard_units import sandbox_dropin

# Where the screenshots go: the workdir, unless HYPERHIVE_SCREENSHOTS names a directory
# (HYPERHIVE_SCREENSHOTS=docs/screenshots renews the README's).
SCREENSHOTS = "HYPERHIVE_SCREENSHOTS"
HARNESS = "{python} -m hive_ag3nt serve"
PING = "ping from the dashboard"
PONG = "pong from alice, over the dashboard"
MARK = "window.hiveFlowMark = 'still this page'"
MARKED = "return window.hiveFlowMark === 'still this page'"

# The manager's side, run in its container: git in its proposed repo and its own socket.
MANAGER = """
import json, socket, subprocess, sys
def call(**request):
    s = socket.socket(socket.AF_UNIX)
    s.connect("/run/hive/hive.sock")
    s.sendall(json.dumps(request).encode() + b"\\n")
    return json.loads(s.makefile().readline())
step = json.loads(sys.argv[1]) if len(sys.argv) > 1 else ARGS
if step["do"] == "init":
    print(json.dumps(call(cmd="request_init_config", name=step["name"])))
else:
    repo = "/agents/" + step["name"]
    git = ["git", "-C", repo, "-c", "user.name=manager", "-c", "user.email=m@hive",
           "-c", "safe.directory=*"]
    with open(repo + "/agent.toml", "a") as toml:
        toml.write(step["line"] + "\\n")
    subprocess.run(git + ["commit", "-qam", step["message"]], check=True)
    sha = subprocess.run(git + ["rev-parse", "HEAD"], check=True, capture_output=True,
                         text=True).stdout.strip()
    print(json.dumps(call(cmd="request_apply_commit", agent=step["name"], sha=sha,
                          description=step["message"])))
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def manager_does(hive: SandboxHive, **step: str) -> dict[str, Any]:
    """One request of the manager, made from its container; the answer it got."""
    done = in_container(hive, "manager", MANAGER.replace("ARGS", repr(step)))
    assert done.returncode == 0, done.stderr
    answer: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    assert answer.get("ok"), answer
    return answer


def dashboard_units(hive: SandboxHive, port: int) -> str:
    """The dashboard's units started with a TCP listener on ``port``; its URL."""
    sandbox_dropin(hive)
    dropin = hive.sandbox.unit_dir / "hive-c0re-dashboard.socket.d"
    dropin.mkdir(exist_ok=True)
    (dropin / "tcp.conf").write_text(f"[Socket]\nListenStream=127.0.0.1:{port}\n")
    hive.sandbox.systemctl("daemon-reload")
    hive.sandbox.systemctl("start", "hive-c0re-dashboard.socket")
    return f"http://127.0.0.1:{port}"


def alice_script(workdir: Path) -> Path:
    pong = ToolCall("mcp__hive__send", {"to": "operator", "body": PONG}, id="toolu_pong")
    return write_script(workdir / "script.json", [
        Reply(tool_calls=[pong], match=Match(last_user_contains=PING,
                                              has_tool="mcp__hive__send")),
        Reply(text="answered", match=Match(tool_result_for="toolu_pong")),
    ])


@dataclass
class Flow:
    """The hive, the dashboard's URL, the model stand-in and a logged-in chromium."""

    hive: SandboxHive
    url: str
    api: ApiProcess
    driver: Any
    shots: Path

    def go(self, path: str) -> None:
        self.driver.get(self.url + path)
        assert self.driver.current_url == self.url + path, self.driver.page_source

    def mark(self) -> None:
        """Tag this page's window: the tag is gone if anything reloads it."""
        self.driver.execute_script(MARK)

    def still_marked(self) -> bool:
        return bool(self.driver.execute_script(MARKED))

    def wait(self, check: Callable[[Any], Any], what: str, timeout: float = 60) -> Any:
        from selenium.common.exceptions import TimeoutException
        from selenium.webdriver.support.ui import WebDriverWait

        try:
            return WebDriverWait(self.driver, timeout, poll_frequency=0.02).until(check)
        except TimeoutException:
            raise AssertionError(f"gave up waiting for {what}:\n"
                                 f"{self.driver.page_source[:20000]}") from None

    def text(self, css: str) -> str:
        """The text of what ``css`` selects, read in one go (htmx may swap it meanwhile)."""
        return str(self.driver.execute_script(
            "return [...document.querySelectorAll(arguments[0])]"
            ".map(e => e.textContent).join('\\n')", css))

    def find(self, css: str) -> Any:
        """The element ``css`` selects, once it is there."""
        return self.wait(lambda d: (d.find_elements("css selector", css) or [None])[0], css)

    def click(self, css: str) -> None:
        """Click what ``css`` selects; the live feed may swap it in between (a page's
        stream first brings what changed since the page was rendered), so an element
        gone stale is looked up again."""
        from selenium.common.exceptions import StaleElementReferenceException

        def clicked(driver: Any) -> bool:
            found = driver.find_elements("css selector", css)
            try:
                if found:
                    found[0].click()
            except StaleElementReferenceException:
                return False
            return bool(found)

        self.wait(clicked, css)

    def click_until(self, css: str, done: Callable[[Any], Any], what: str,
                    attempts: int = 12) -> None:
        """Click ``css`` until ``done`` holds, looking again every 5 s.

        A live swap of the row under the pointer can swallow a click: the button
        clicked is replaced before its request goes out (seen once in CI, on the
        overview right after alice's turn). An operator clicks again; so does this.
        """
        from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
        from selenium.webdriver.support.ui import WebDriverWait

        for _ in range(attempts):
            found = self.driver.find_elements("css selector", css)
            try:
                if found:
                    found[0].click()
            except StaleElementReferenceException:
                continue
            try:
                WebDriverWait(self.driver, 5, poll_frequency=0.02).until(done)
                return
            except TimeoutException:
                continue
        raise AssertionError(f"gave up waiting for {what}:\n"
                             f"{self.driver.page_source[:20000]}")

    def submit(self, css: str) -> None:
        """Click the submit button of the form ``css`` names."""
        self.click(f"{css} button[type=submit]")

    def submit_and_load(self, css: str, path: str) -> None:
        """Submit the form ``css`` names and wait until the page it leads to, ``path``,
        has replaced this one: when this page is ``path`` too, the URL alone says
        nothing about which of the two is shown."""
        from selenium.webdriver.support import expected_conditions

        before = self.driver.find_element("css selector", "html")
        self.submit(css)
        self.wait(expected_conditions.staleness_of(before), "the form's answer to load")
        self.wait(lambda d: d.current_url == self.url + path, f"the form's answer at {path}")

    def screenshot(self, name: str) -> Path:
        self.shots.mkdir(parents=True, exist_ok=True)
        path = self.shots / f"{name}.png"
        self.driver.save_screenshot(str(path))
        return path


@contextlib.contextmanager
def flow(sandbox: Sandbox, workdir: Path) -> Iterator[Flow]:
    hive = containers_hive(sandbox, manager=True, HYPERHIVE_AGENT_COMMAND=HARNESS,
                           HYPERHIVE_AGENT_ENV_FILE=str(workdir / "agent.env"))
    with ApiProcess(alice_script(workdir), workdir) as api:
        container_env_file(workdir / "agent.env", api.url)
        hive.call("whoami")  # the daemon starts, and with it the manager's container
        hive.wait_active("hive-agent@manager.service", timeout=60)
        url = dashboard_units(hive, free_port())
        driver, profile = start_chromium()
        try:
            driver.get(f"{url}/login?code={hive.call('dashboard_code')['code']}")
            shots = Path(os.environ.get(SCREENSHOTS) or workdir / "screenshots")
            yield Flow(hive, url, api, driver, shots)
        finally:
            try:
                driver.quit()
            finally:
                shutil.rmtree(profile, ignore_errors=True)



def container_leader(hive: SandboxHive, agent: str) -> int:
    """The namespace-local pid of the first process in ``agent``'s container, nspawn's child."""
    container_process(hive, agent)  # until the container is fully set up
    nspawn = hive.sandbox.show(f"hive-agent@{agent}.service", "MainPID")
    return int(children(hive, nspawn)[0])
