"""A real browser on an agent's UI, for tests: Debian's chromium driven by selenium, and a
TCP door to the UI's unix socket that adds the agent's secret (as the dashboard's proxy does).
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from hive_c0re.wire import UI_SECRET_HEADER as HEADER

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
# Headers that belong to one hop, not to the request or answer carried over it.
HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "content-length", "host",
                 "content-encoding", "upgrade"})
WAIT = 30.0  # seconds the page gets to show what a test waits for


def missing() -> str | None:
    """Why no browser test can run here, or None."""
    for path, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not path.exists():
            return f"{path} is missing: scripts/setup installs the Debian package {package}"
    return None


@asynccontextmanager
async def tcp_door(socket: Path, secret: str) -> AsyncIterator[str]:
    """``http://127.0.0.1:PORT/``: every request carried to the UI on ``socket``, with
    ``secret`` added; answers stream back as they come (the live panel's SSE)."""
    connector = aiohttp.UnixConnector(path=str(socket))
    async with aiohttp.ClientSession(connector=connector, base_url="http://localhost",
                                     auto_decompress=False) as upstream:
        async def carry(request: web.Request) -> web.StreamResponse:
            headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP}
            async with upstream.request(request.method, request.path_qs,
                                        headers={**headers, HEADER: secret},
                                        data=await request.read()) as answer:
                response = web.StreamResponse(status=answer.status, headers={
                    k: v for k, v in answer.headers.items() if k.lower() not in HOP})
                await response.prepare(request)
                async for chunk in answer.content.iter_any():
                    await response.write(chunk)
                return response

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", carry)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5,
                               handler_cancellation=True)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        try:
            yield f"http://127.0.0.1:{runner.addresses[0][1]}/"
        finally:
            await runner.cleanup()


def start_browser(profile: Path) -> Any:
    """Headless chromium (no sandbox: tests run as root) at a fixed window size."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu",
                     "--disable-dev-shm-usage", "--window-size=1280,1500",
                     "--hide-scrollbars", f"--user-data-dir={profile}"):
        options.add_argument(argument)
    return webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))


def wait_for(browser: Any, condition: Callable[[Any], Any], what: str) -> Any:
    """What ``condition(browser)`` gives once it is truthy; fail saying ``what`` if never."""
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        return WebDriverWait(browser, WAIT, poll_frequency=0.1).until(condition)
    except TimeoutException:
        raise AssertionError(f"the page never showed {what}") from None


def close(browser: Any, profile: Path) -> None:
    try:
        browser.quit()
    finally:
        shutil.rmtree(profile, ignore_errors=True)
