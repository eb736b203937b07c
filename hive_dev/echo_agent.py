"""A stand-in agent: it answers each message with ``<name> heard: <body>`` until SIGTERM.

Tests and benchmarks run it in an agent's (or the manager's) container in
place of the harness, through the hive's ``agent_command`` setting
(:data:`hive_dev.sandbox.ECHO`): it proves that mail reaches a process in the
container and that its answer comes back, without a model.
``python -m hive_dev.echo_agent [--socket PATH] [--wait SECONDS]``.

When the daemon goes away (a restart), it reconnects and takes back the mail
it had leased, so nothing is lost. A stop request ends a wait for mail at
once, but never a turn: the signal handler only sets a flag, and only the
wait is abandoned for it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
from pathlib import Path
from typing import Any

from hive_ag3nt.hive import HiveConnection
from hive_c0re.errors import HiveError, Unreachable
from hive_c0re.names import OPERATOR, SYSTEM
from hive_c0re.paths import agent_socket_in_container

log = logging.getLogger(__name__)

MAX_PAUSE = 2.0  # seconds between reconnection attempts, at most


async def run(socket: Path, wait: float, stop: asyncio.Event) -> None:
    """Answer mail on ``socket`` until ``stop`` is set, reconnecting when the hive goes away."""
    pause = 0.05
    while not stop.is_set():
        hive = HiveConnection(socket)
        try:
            await _session(hive, stop, wait)
        except Unreachable as exc:
            log.warning("hive unreachable (%s); reconnecting", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), pause)
            pause = min(pause * 2, MAX_PAUSE)
        finally:
            await hive.close()
    log.info("echo agent stopped")


async def _session(hive: HiveConnection, stop: asyncio.Event, wait: float) -> None:
    me = (await hive.call("whoami"))["name"]
    # Mail leased before a crash or a lost connection comes back, marked redelivered.
    requeued = (await hive.call("requeue_inflight"))["requeued"]
    log.info("%s: echo agent listening (%d requeued)", me, requeued, extra={"HIVE_AGENT": me})
    while not stop.is_set():
        found = await wait_for_mail(hive, stop, wait)
        for message in found:
            await _answer(hive, me, message)
        if found:
            await hive.call("ack_turn")


async def wait_for_mail(hive: HiveConnection, stop: asyncio.Event,
                        seconds: float) -> list[dict[str, Any]]:
    """Long-poll ``recv``; [] once ``stop`` is set, the poll abandoned.

    Mail an abandoned poll had leased is not lost: the next start requeues it.
    """
    recv = asyncio.ensure_future(hive.call("recv", wait_seconds=seconds))
    stopped = asyncio.ensure_future(stop.wait())
    await asyncio.wait({recv, stopped}, return_when=asyncio.FIRST_COMPLETED)
    stopped.cancel()
    if not recv.done():
        recv.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await recv
        return []
    return list(recv.result()["messages"])


async def _answer(hive: HiveConnection, me: str, message: dict[str, Any]) -> None:
    sender, number = message["from"], message["id"]
    fields = {"HIVE_AGENT": me, "HIVE_MESSAGE": number, "HIVE_FROM": sender}
    # Events from system are not conversation; and answering another agent's
    # reply would let two echo agents bounce one message between them forever.
    if sender == SYSTEM or (message["in_reply_to"] and sender != OPERATOR):
        log.info("%s: #%d from %s needs no answer", me, number, sender, extra=fields)
        return
    try:
        answer = await hive.call("send", to=sender, body=f"{me} heard: {message['body']}",
                                 in_reply_to=number)
    except Unreachable:
        raise
    except HiveError as exc:
        log.warning("%s: cannot answer #%d from %s: %s", me, number, sender, exc, extra=fields)
        return
    log.info("%s: answered #%d from %s with #%d", me, number, sender, answer["ids"][0],
             extra=fields)


async def _until_signalled(socket: Path, wait: float) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await run(socket, wait, stop)


def main(argv: list[str] | None = None) -> None:
    from hive_c0re import logs

    parser = argparse.ArgumentParser(prog="python -m hive_dev.echo_agent",
                                     description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--socket", type=Path, default=None,
                        help="agent socket [default: $HYPERHIVE_SOCKET or /run/hive/hive.sock]")
    parser.add_argument("--wait", type=float, default=60.0,
                        help="seconds each recv waits for mail (1 to 180) [default: 60]")
    args = parser.parse_args(argv)
    if not 1 <= args.wait <= 180:
        parser.error("--wait must be between 1 and 180")
    logs.setup("hive-ag3nt")
    try:
        asyncio.run(_until_signalled(args.socket or agent_socket_in_container(), args.wait))
    except HiveError as exc:
        raise SystemExit(f"echo agent: {exc}") from None


if __name__ == "__main__":
    main()
