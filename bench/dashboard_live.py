"""Dashboard live benchmark: event committed -> DOM updated in a real browser, and RSS.

Starts a real daemon and a real dashboard process (``hive_dev.dashboard``: the
dashboard on a loopback port, logged in through a one-time code) and Debian's
headless chromium on ``/inbox``. Then, one message at a time, an agent sends to
the operator over its own socket (``send``); the page's MutationObserver stamps
the moment the message's row is in the inbox's DOM (``performance.timeOrigin +
performance.now()``, the same wall clock as this process's ``time.time()``),
and the latency runs from the send's return to that stamp: the daemon's event
feed, the dashboard's SSE fan-out, htmx fetching ``/fragments/inbox`` and
swapping it in. The baseline is the same change seen by a plain
``subscribe_events`` client on host.sock in this process: from the send's
return to the line that names the message.

Then the dashboard's RSS (``/proc/<pid>/status`` VmRSS): idle with one session
and no page open, with the inbox tab after the run, and with 10 open tabs (each
holding its ``/live`` stream), five to a chromium: a chromium holds 6 connections
per host over HTTP/1.1 and each tab's stream keeps one, so one browser loads only
so many tabs; the run counts how many and says so.

Run by hand: ``.venv/bin/python bench/dashboard_live.py [--quick]``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # also runnable as ``python bench/dashboard_live.py``
    sys.path.insert(0, str(REPO))

from bench.common import BenchError, fmt_ms, machine, percentile, step, verdict  # noqa: E402
from hive_c0re.client import Client  # noqa: E402
from hive_dev.dashboard import Dashboard, running_dashboard  # noqa: E402

TARGET_P99_MS = 150.0  # the "event committed -> DOM updated" target
TABS = 10
PER_BROWSER = 5  # tabs one chromium opens here: see tabs_one_browser_loads
PROBE_TABS = 8
TAB_LOAD_TIMEOUT = 15.0
SEEN_TIMEOUT = 10.0
SETTLE = 2.0  # seconds for tabs to open their streams before RSS is read

# Stamps, per wanted text, the first moment the inbox's DOM holds it.
OBSERVE = """
window.benchWant = null; window.benchSeen = {};
const look = () => {
  const want = window.benchWant, inbox = document.getElementById('inbox');
  if (want && !(want in window.benchSeen) && inbox && inbox.textContent.includes(want))
    window.benchSeen[want] = performance.timeOrigin + performance.now();
};
new MutationObserver(look).observe(document.body, {subtree: true, childList: true,
                                                   characterData: true});
"""


class FeedClient:
    """A plain ``subscribe_events`` client: when it read each stored message's id."""

    def __init__(self, path: Path) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(str(path))
        self.sock.sendall(json.dumps({"cmd": "subscribe_events"}).encode() + b"\n")
        self.lines = self.sock.makefile("rb")
        self.lines.readline()  # the backlog
        self.seen: dict[int, float] = {}
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        for line in self.lines:
            at = time.time()
            mail = json.loads(line).get("mail")
            if mail is not None:
                self.seen[int(mail["id"])] = at

    def close(self) -> None:
        self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        self.thread.join(timeout=5)


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def wait_for(check: Any, what: str) -> Any:
    deadline = time.monotonic() + SEEN_TIMEOUT
    while (found := check()) is None:
        if time.monotonic() > deadline:
            raise BenchError(f"gave up waiting for {what}")
        time.sleep(0.01)
    return found


def one_change(dash: Dashboard, driver: Any, feed: FeedClient, i: int) -> tuple[float, float]:
    """One message to the operator: (browser latency, wire client latency), seconds."""
    body = f"bench message {i:04d} ({time.monotonic_ns()})"
    driver.execute_script("window.benchWant = arguments[0]", body)
    with Client(dash.daemon.agent_socket("a1"), timeout=30) as agent:
        (sent_id,) = agent.call("send", to="operator", body=body)["ids"]
    returned = time.time()
    shown_ms = wait_for(lambda: driver.execute_script(
        "return window.benchSeen[arguments[0]] ?? null", body), f"message {i} in the DOM")
    wire_at = wait_for(lambda: feed.seen.get(int(sent_id)), f"message {i} on the feed")
    return float(shown_ms) / 1000 - returned, wire_at - returned


def measure(dash: Dashboard, driver: Any, changes: int, warmup: int
            ) -> tuple[list[float], list[float]]:
    driver.get(dash.url + "/inbox")
    driver.execute_script(OBSERVE)
    time.sleep(0.5)  # the page's /live stream opens
    feed = FeedClient(dash.daemon.host_socket)
    browser: list[float] = []
    wire: list[float] = []
    try:
        for i in range(warmup + changes):
            seen, baseline = one_change(dash, driver, feed, i)
            if i >= warmup:
                browser.append(seen)
                wire.append(baseline)
            time.sleep(0.05)
    finally:
        feed.close()
    return browser, wire


def open_tabs(dash: Dashboard, driver: Any, count: int) -> None:
    for _ in range(count):
        driver.switch_to.new_window("tab")
        driver.get(dash.url + "/")


def tabs_one_browser_loads(dash: Dashboard, driver: Any, have: int) -> int:
    """How many tabs one browser holding ``have`` loads in all, trying up to PROBE_TABS:
    chromium keeps 6 connections per host over HTTP/1.1, and each tab's /live stream
    holds one for as long as the tab is open."""
    from selenium.common.exceptions import TimeoutException

    driver.set_page_load_timeout(TAB_LOAD_TIMEOUT)
    while have < PROBE_TABS:
        try:
            open_tabs(dash, driver, 1)
        except TimeoutException:
            return have
        have += 1
    return have


def with_tabs(dash: Dashboard, driver: Any, tabs: int) -> tuple[int, int]:
    """The dashboard's RSS with ``tabs`` open tabs (``driver`` holds one already), spread
    over browsers of PER_BROWSER tabs; and how many tabs one browser loads at most."""
    open_tabs(dash, driver, min(tabs, PER_BROWSER) - 1)
    with contextlib.ExitStack() as more:
        for left in range(tabs - PER_BROWSER, 0, -PER_BROWSER):
            extra = more.enter_context(dash.browser())
            open_tabs(dash, extra, min(left, PER_BROWSER) - 1)
        time.sleep(SETTLE)
        rss = rss_kb(dash.proc.pid)
    return rss, tabs_one_browser_loads(dash, driver, min(tabs, PER_BROWSER))


def report(browser: list[float], wire: list[float], rss: dict[str, int]) -> None:
    p99 = percentile(browser, 99)
    print(f"dashboard live: {machine()}, {len(browser)} messages to the operator")
    print(f"{'path':<44}{'p50 ms':>10}{'p99 ms':>10}")
    for label, values in (("send -> inbox row in chromium's DOM", browser),
                          ("send -> plain subscribe_events client", wire)):
        print(f"{label:<44}{fmt_ms(percentile(values, 50)):>10}"
              f"{fmt_ms(percentile(values, 99)):>10}")
    ratio = percentile(browser, 50) / max(percentile(wire, 50), 1e-9)
    print(f"browser / wire client at p50: {ratio:.1f}x")
    print(f"target p99 <= {TARGET_P99_MS:.0f} ms: {verdict(p99 * 1000 <= TARGET_P99_MS)}")
    print("dashboard RSS: " + ", ".join(f"{k} {v / 1024:.1f} MiB" for k, v in rss.items()))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="10 messages instead of 50")
    args = parser.parse_args()
    changes, warmup = (10, 2) if args.quick else (50, 5)
    try:
        with running_dashboard(clean_exit=False) as dash:
            dash.call("register", name="a1")
            dash.login()  # one session, as the idle dashboard has after a login
            rss = {"idle": rss_kb(dash.proc.pid)}
            step("chromium on /inbox")
            with dash.browser() as driver:
                browser, wire = measure(dash, driver, changes, warmup)
                rss["1 tab after the run"] = rss_kb(dash.proc.pid)
                step(f"{TABS} open tabs")
                rss[f"{TABS} tabs"], most = with_tabs(dash, driver, TABS)
    except (BenchError, OSError, RuntimeError) as error:
        print(f"dashboard_live: {error}", file=sys.stderr)
        return 1
    report(browser, wire, rss)
    print(f"dashboard tabs one chromium loads: {most}"
          + (f" (the next one waits for a connection past {TAB_LOAD_TIMEOUT:.0f} s)"
             if most < PROBE_TABS else f" (of {PROBE_TABS} tried)"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
