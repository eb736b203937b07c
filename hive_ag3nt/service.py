"""``hive-ag3nt serve``: the harness and its web UI in one event loop."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import signal
import socket
from typing import Any

from hive_ag3nt.activity import StateReporter
from hive_ag3nt.egress import Egress
from hive_ag3nt.harness import Harness
from hive_ag3nt.hive import HiveConnection
from hive_ag3nt.paths import AgentPaths
from hive_ag3nt.runner import bundled_cli, claude_cli_path
from hive_ag3nt.separation import hand_over, model_side, separate
from hive_ag3nt.settings import HarnessSettings
from hive_ag3nt.ui.door import UiDoor
from hive_c0re.errors import HiveError

log = logging.getLogger(__name__)


def build_harness(**extra: Any) -> Harness:
    """The harness ``serve`` runs, its model's side on its own uid when the settings say so.

    ``extra`` goes to :class:`Harness` (the manager's prompt and argument rewrites).
    """
    paths = AgentPaths.from_env()
    settings = HarnessSettings.load()
    cli, env = claude_cli_path(), dict[str, str]()
    if settings.model_uid:
        # Before the Harness opens its events log: that file must already be root's.
        separate(paths, settings.model_uid)
        cli, env = model_side(settings.model_uid, cli or bundled_cli())
    harness = Harness(paths, settings, cli_path=cli, env=env, **extra)
    if settings.model_uid and paths.model_owned:
        harness.before_turn.append(functools.partial(hand_over, paths, settings.model_uid))
    return harness


async def _start_app(harness: Harness, sock: socket.socket) -> Any:
    from hive_ag3nt.ui.app import start_ui

    return await start_ui(harness, harness.paths.ui_socket, sock=sock)


async def run(*, ui: bool = True, harness: Harness | None = None) -> None:
    """Serve until SIGTERM/SIGINT; mail in flight stays leased and comes back redelivered."""
    harness = harness or build_harness()
    paths = harness.paths
    # Before the first turn or login: every claude process gets the way out.
    egress = Egress(paths.egress)
    harness.env.update(await egress.start())
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    door: UiDoor | None = None
    if ui:  # listening now; its app is imported and started at its first connection
        door = UiDoor(harness, functools.partial(_start_app, harness))
        try:
            door.open()
        except HiveError as exc:  # the turns go on; only the operator's door stays shut
            log.error("the web UI is not served: %s", exc)
            door = None
    reporter = StateReporter(harness, HiveConnection(paths.socket))
    turns = loop.create_task(harness.run())
    stopped = loop.create_task(stop.wait())
    done, _ = await asyncio.wait({turns, stopped}, return_when=asyncio.FIRST_COMPLETED)
    if turns in done and turns.exception() is not None:
        log.error("turn loop failed: %s", turns.exception())
    stopped.cancel()
    turns.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await turns
    if door is not None:
        await door.close()
    await reporter.close()
    await harness.close()
    await egress.close()
    log.info("harness stopped")
