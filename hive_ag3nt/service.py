"""``hive-ag3nt serve``: the harness and its web UI in one event loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from typing import Any

from hive_ag3nt.egress import Egress
from hive_ag3nt.harness import Harness
from hive_ag3nt.paths import AgentPaths
from hive_ag3nt.runner import claude_cli_path
from hive_ag3nt.settings import HarnessSettings

log = logging.getLogger(__name__)


async def run(*, ui: bool = True, harness: Harness | None = None) -> None:
    """Serve until SIGTERM/SIGINT; mail in flight stays leased and comes back redelivered."""
    paths = AgentPaths.from_env()
    harness = harness or Harness(paths, HarnessSettings.load(), cli_path=claude_cli_path())
    # Before the first turn or login: every claude process gets the way out.
    egress = Egress(harness.paths.egress)
    harness.env.update(await egress.start())
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    runner: Any = None
    if ui:
        from hive_ag3nt.ui.app import start_ui

        runner = await start_ui(harness, paths.ui_socket)
    turns = loop.create_task(harness.run())
    stopped = loop.create_task(stop.wait())
    done, _ = await asyncio.wait({turns, stopped}, return_when=asyncio.FIRST_COMPLETED)
    if turns in done and turns.exception() is not None:
        log.error("turn loop failed: %s", turns.exception())
    stopped.cancel()
    turns.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await turns
    if runner is not None:
        await runner.cleanup()
    await harness.close()
    await egress.close()
    log.info("harness stopped")
