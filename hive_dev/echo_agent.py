"""A stand-in agent: it answers each message with ``<name> heard: <body>`` until SIGTERM.

Tests and benchmarks run it in an agent's (or the manager's) container in
place of the harness, through the hive's ``agent_command`` setting
(:data:`hive_dev.sandbox.ECHO`): it proves that mail reaches a process in the
container and that its answer comes back, without a model.
``python -m hive_dev.echo_agent [--socket PATH] [--wait SECONDS]``.

When the daemon goes away (a restart), it reconnects and takes back the mail
it had leased, so nothing is lost. A stop request ends a wait for mail at
once, but never a turn: the signal handler sets a flag, and interrupts only a
wait (a long poll, or the pause before a reconnection).

It is blocking, on :class:`hive_c0re.client.Client`, and imports little: what
the container benchmark measures is the hive's part of a spawn, and an
asyncio stand-in more than doubled the Python start it adds to that
(``bench/containers.py`` prints the phases). Its line "echo agent listening"
carries the monotonic clock (the host's and the container's) at the process's
start, once its imports were done, and once it was connected.
"""

from __future__ import annotations

import time

STARTED = time.monotonic()  # before any other import: the interpreter is up

import contextlib  # noqa: E402
import logging  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from pathlib import Path  # noqa: E402
from types import FrameType  # noqa: E402
from typing import Any  # noqa: E402

from hive_c0re.client import Client  # noqa: E402
from hive_c0re.errors import HiveError, Unreachable  # noqa: E402
from hive_c0re.names import OPERATOR, SYSTEM  # noqa: E402
from hive_c0re.paths import agent_socket_in_container  # noqa: E402

IMPORTED = time.monotonic()

log = logging.getLogger(__name__)

MAX_PAUSE = 2.0  # seconds between reconnection attempts, at most
TIMEOUT = 30.0  # seconds an answer may take, past a recv's own wait
DEFAULT_WAIT = 60.0  # seconds each recv waits for mail


class Stopped(Exception):
    """Raised into a wait by the stop signal."""


class Stop:
    """The stop request: a flag the signal handler sets, and raises into a wait only."""

    def __init__(self) -> None:
        self.requested = False
        self._waiting = False

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        self.requested = True
        if self._waiting:
            self._waiting = False
            raise Stopped

    @contextlib.contextmanager
    def interruptible(self) -> Iterator[None]:
        """A wait the stop signal ends at once (it raises :class:`Stopped` out of it)."""
        self._waiting = True
        try:
            if self.requested:  # set before the wait began
                raise Stopped
            yield
        finally:
            self._waiting = False


def run(socket: Path, wait: float, stop: Stop) -> None:
    """Answer mail on ``socket`` until a stop, reconnecting when the hive goes away."""
    pause = 0.05
    while not stop.requested:
        hive = Client(socket, timeout=TIMEOUT)
        try:
            _session(hive, stop, wait)
        except Unreachable as exc:
            log.warning("hive unreachable (%s); reconnecting", exc)
            with contextlib.suppress(Stopped), stop.interruptible():
                time.sleep(pause)
            pause = min(pause * 2, MAX_PAUSE)
        except Stopped:
            pass
        finally:
            hive.close()
    log.info("echo agent stopped")


def _session(hive: Client, stop: Stop, wait: float) -> None:
    me = hive.call("whoami")["name"]
    # Mail leased before a crash or a lost connection comes back, marked redelivered.
    requeued = hive.call("requeue_inflight")["requeued"]
    log.info("%s: echo agent listening (%d requeued; monotonic started %.6f imported %.6f "
             "connected %.6f)", me, requeued, STARTED, IMPORTED, time.monotonic(),
             extra={"HIVE_AGENT": me})
    while not stop.requested:
        found = wait_for_mail(hive, stop, wait)
        for message in found:
            _answer(hive, me, message)
        if found:
            hive.call("ack_turn")


def wait_for_mail(hive: Client, stop: Stop, seconds: float) -> list[dict[str, Any]]:
    """Long-poll ``recv``; a stop abandons the poll (raising :class:`Stopped`).

    Mail an abandoned poll had leased is not lost: the next start requeues it.
    """
    with stop.interruptible():
        answer = hive.call("recv", wait_seconds=seconds)
    return list(answer["messages"])


def _answer(hive: Client, me: str, message: dict[str, Any]) -> None:
    sender, number = message["from"], message["id"]
    fields = {"HIVE_AGENT": me, "HIVE_MESSAGE": number, "HIVE_FROM": sender}
    # Events from system are not conversation; and answering another agent's
    # reply would let two echo agents bounce one message between them forever.
    if sender == SYSTEM or (message["in_reply_to"] and sender != OPERATOR):
        log.info("%s: #%d from %s needs no answer", me, number, sender, extra=fields)
        return
    try:
        answer = hive.call("send", to=sender, body=f"{me} heard: {message['body']}",
                           in_reply_to=number)
    except Unreachable:
        raise
    except HiveError as exc:
        log.warning("%s: cannot answer #%d from %s: %s", me, number, sender, exc, extra=fields)
        return
    log.info("%s: answered #%d from %s with #%d", me, number, sender, answer["ids"][0],
             extra=fields)


def parse(argv: list[str]) -> tuple[Path | None, float]:
    """``--socket`` and ``--wait``; argparse is imported only for a command line that has
    words (a container runs the stand-in with none)."""
    if not argv:
        return None, DEFAULT_WAIT
    import argparse

    parser = argparse.ArgumentParser(prog="python -m hive_dev.echo_agent",
                                     description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--socket", type=Path, default=None,
                        help="agent socket [default: $HYPERHIVE_SOCKET or /run/hive/hive.sock]")
    parser.add_argument("--wait", type=float, default=DEFAULT_WAIT,
                        help="seconds each recv waits for mail (1 to 180) [default: 60]")
    args = parser.parse_args(argv)
    if not 1 <= args.wait <= 180:
        parser.error("--wait must be between 1 and 180")
    return args.socket, args.wait


def main(argv: list[str] | None = None) -> None:
    from hive_c0re import logs

    socket, wait = parse(sys.argv[1:] if argv is None else argv)
    logs.setup("hive-ag3nt")
    stop = Stop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, stop)
    try:
        run(socket or agent_socket_in_container(), wait, stop)
    except HiveError as exc:
        raise SystemExit(f"echo agent: {exc}") from None


if __name__ == "__main__":
    main()
