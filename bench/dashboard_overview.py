"""Dashboard benchmark: server time to render the overview (``GET /``) of a busy hive.

Starts a real daemon and a real dashboard process (``hive_dev.dashboard``: the
dashboard on a loopback TCP port, logged in through a real one-time code),
fills the hive over host.sock with 100 registered agents, 10,000 messages
among them and 1,000 pending approvals, then, in one run:

* the overview: ``GET /`` over HTTP from this process, one request at a
  time, timed from the request's write to the last byte of the page; every
  page is checked (status 200, the 1,000 approvals in the title's count);
* baseline (a): the ``agent_status`` call alone on host.sock (one connection
  kept open), the biggest of the calls the overview makes;
* baseline (b): the overview's five wire calls, one after another on that
  connection: what the page would cost with no concurrency and no rendering.

The ratios are the overview's percentiles over each baseline's. Target: the
overview's p99 at most 50 ms. Run by hand:
``.venv/bin/python bench/dashboard_overview.py [--quick]``.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # also runnable as ``python bench/dashboard_overview.py``
    sys.path.insert(0, str(REPO))

from bench.common import (  # noqa: E402
    BenchError,
    Spread,
    fmt_ms,
    machine,
    step,
    verdict,
)
from hive_c0re.client import Client  # noqa: E402
from hive_c0re.dashboard.hive import HiveClient  # noqa: E402
from hive_dev.dashboard import WebSession, running_dashboard  # noqa: E402

TARGET_P99_MS = 50.0
CONCURRENCY = 32  # requests in flight while the hive is filled


@dataclass
class Options:
    agents: int
    messages: int
    approvals: int
    samples: int
    warmup: int


@dataclass
class Timed(Spread):
    label: str
    latencies: list[float]


def parse_args(argv: Sequence[str] | None) -> Options:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smaller, shorter run")
    parser.add_argument("--agents", type=int, default=100)
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--approvals", type=int, default=1_000)
    parser.add_argument("--samples", type=int, help="measured requests each (default 300; "
                        "quick 50)")
    ns = parser.parse_args(argv)
    samples = ns.samples or (50 if ns.quick else 300)
    return Options(ns.agents, ns.messages, ns.approvals, samples,
                   warmup=10 if ns.quick else 30)


async def _bounded(calls: Sequence[Callable[[], Any]]) -> None:
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(call: Callable[[], Any]) -> None:
        async with gate:
            await call()

    await asyncio.gather(*(one(call) for call in calls))


async def fill(socket: Path, options: Options) -> list[str]:
    """Register the agents, send the messages, queue the approvals; the agents' names."""
    hive = HiveClient(socket)
    names = [f"a{i:03d}" for i in range(options.agents)]
    rng = random.Random(12)
    try:
        await _bounded([partial(hive.call, "register", name=n) for n in names])
        step(f"{len(names)} agents registered")
        await _bounded([partial(hive.call, "send", to=rng.choice(names), body=f"m {i} " * 8)
                        for i in range(options.messages)])
        step(f"{options.messages} messages sent")
        await _bounded([partial(hive.call, "request_spawn", name=f"p{i:04d}",
                                description=f"agent {i}, for the bench")
                        for i in range(options.approvals)])
        step(f"{options.approvals} approvals pending")
    finally:
        await hive.close()
    return names


def timed(label: str, call: Callable[[], None], options: Options) -> Timed:
    for _ in range(options.warmup):
        call()
    found: list[float] = []
    for _ in range(options.samples):
        began = time.perf_counter()
        call()
        found.append(time.perf_counter() - began)
    return Timed(label, found)


def overview(web: WebSession, approvals: int) -> Callable[[], None]:
    def get() -> None:
        page = web.get("/")
        if page.status != 200 or f"<title>({approvals}) hyperhive</title>" not in page.text:
            raise BenchError(f"the overview answered {page.status}: {page.text[:500]}")
    return get


def wire_calls(client: Client, every: bool) -> Callable[[], None]:
    since = time.time() - 600

    def call() -> None:
        client.call("agent_status")
        if every:
            client.call("pending")
            client.call("questions")
            client.call("events", since=since, limit=5000)
            client.call("kept_agents")
    return call


def report(options: Options, results: list[Timed], page_bytes: int) -> None:
    page, alone, calls = results
    print(f"dashboard overview: {options.agents} agents, {options.messages} messages, "
          f"{options.approvals} approvals; {machine()}; {options.samples} samples each")
    print(f"  page: {page_bytes:,} bytes")
    print(f"  {'':34} {'p50 ms':>8} {'p99 ms':>8}")
    for found in results:
        print(f"  {found.label:34} {fmt_ms(found.p50):>8} {fmt_ms(found.p99):>8}")
    for base in (alone, calls):
        print(f"  ratio overview / {base.label:17} p50 {page.p50 / base.p50:5.1f}x   "
              f"p99 {page.p99 / base.p99:5.1f}x")
    print(f"  target p99 <= {TARGET_P99_MS:.0f} ms: {fmt_ms(page.p99)} ms "
          f"{verdict(page.p99 * 1000 <= TARGET_P99_MS)}")


def run(options: Options) -> None:
    with running_dashboard() as dash:
        step("daemon and dashboard up; filling the hive")
        asyncio.run(fill(dash.daemon.host_socket, options))
        web = dash.login()
        get = overview(web, options.approvals)
        page_bytes = len(web.get("/").text.encode())
        with Client(dash.daemon.host_socket, timeout=30) as client:
            results = [timed("GET / (the overview)", get, options),
                       timed("(a) agent_status alone", wire_calls(client, False), options),
                       timed("(b) its 5 calls in a row", wire_calls(client, True), options)]
    report(options, results, page_bytes)


def main(argv: Sequence[str] | None = None) -> int:
    try:
        run(parse_args(argv))
    except (BenchError, RuntimeError) as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
