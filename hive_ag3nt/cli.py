"""``hive-ag3nt``: the harness that runs inside an agent's container."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from hive_ag3nt import __version__
from hive_c0re.errors import HiveGroup


def _client(socket: Path | None) -> Any:
    from hive_c0re.paths import agent_socket_in_container
    from hive_c0re.wire import Client

    return Client(socket or agent_socket_in_container())


@click.group(cls=HiveGroup)
@click.version_option(__version__, prog_name="hive-ag3nt")
def cli() -> None:
    """The agent harness: runs Claude turns on the mail that reaches this container."""


@cli.command()
@click.option("--no-ui", is_flag=True, help="do not serve the web UI on /run/hive/ui.sock")
def serve(no_ui: bool) -> None:
    """Run the turn loop (and the agent's web UI) until SIGTERM."""
    import asyncio

    from hive_ag3nt.service import run
    from hive_c0re import logs

    logs.setup("hive-ag3nt")
    asyncio.run(run(ui=not no_ui))


@cli.command()
def settings() -> None:
    """Every harness setting: its variable, default and meaning."""
    from dataclasses import fields

    from hive_ag3nt.settings import HELP, HarnessSettings

    for f in fields(HarnessSettings):
        click.echo(f"HYPERHIVE_{f.name.upper()}  (default {f.default})\n    {HELP[f.name]}")


@cli.group(hidden=True)
@click.option("--socket", type=click.Path(path_type=Path), envvar="HYPERHIVE_SOCKET",
              help="agent socket [default: /run/hive/hive.sock]")
@click.pass_context
def debug(ctx: click.Context, socket: Path | None) -> None:
    """Talk to this agent's socket by hand (operations only)."""
    ctx.obj = socket


@debug.command("send")
@click.argument("to")
@click.argument("body", metavar="BODY|-")
@click.option("--reply-to", type=int)
@click.pass_obj
def debug_send(socket: Path | None, to: str, body: str, reply_to: int | None) -> None:
    """Send BODY (stdin for '-') as this agent; prints the new ids as JSON."""
    text = sys.stdin.read() if body == "-" else body
    with _client(socket) as client:
        answer = client.call("send", to=to, body=text, in_reply_to=reply_to)
    click.echo(json.dumps({"ids": answer["ids"]}))


@debug.command("recv")
@click.option("--wait", type=click.FloatRange(0, 180), default=0.0, help="0 peeks")
@click.option("--max", "limit", type=click.IntRange(1, 32), default=32)
@click.option("--ack", is_flag=True, help="ack the leased mail at once")
@click.pass_obj
def debug_recv(socket: Path | None, wait: float, limit: int, ack: bool) -> None:
    """Lease this agent's mail (--wait 0 peeks); prints it as JSON."""
    with _client(socket) as client:
        found = client.call("recv", wait_seconds=wait, max=limit)["messages"]
        if ack and wait > 0:
            client.call("ack_turn")
    click.echo(json.dumps({"messages": found}, ensure_ascii=False))


class _EchoStopped(Exception):
    """SIGTERM or SIGINT arrived while the echo agent was waiting for mail."""


class _EchoStop:
    """A stop request interrupts a wait for mail at once, but never a turn."""

    def __init__(self) -> None:
        import signal

        self.requested = False
        self.waiting = False
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._handle)

    def _handle(self, signum: int, frame: object) -> None:
        self.requested = True
        if self.waiting:
            raise _EchoStopped

    def wait_for_mail(self, client: Any, seconds: float) -> list[dict[str, Any]]:
        """Long-poll ``recv``; an empty list once a stop was requested."""
        try:
            self.waiting = True
            if self.requested:
                return []
            return list(client.call("recv", wait_seconds=seconds)["messages"])
        except _EchoStopped:
            return []
        finally:
            self.waiting = False


def _echo_answer(client: Any, me: str, message: dict[str, Any]) -> None:
    import logging

    from hive_c0re.errors import HiveError, Unreachable
    from hive_c0re.names import OPERATOR, SYSTEM

    log = logging.getLogger("hive_ag3nt.echo")
    sender, number = message["from"], message["id"]
    fields = {"HIVE_AGENT": me, "HIVE_MESSAGE": number, "HIVE_FROM": sender}
    # Events from system are not conversation; and answering another agent's
    # reply would let two echo agents bounce one message between them forever.
    if sender == SYSTEM or (message["in_reply_to"] and sender != OPERATOR):
        log.info("%s: #%d from %s needs no answer", me, number, sender, extra=fields)
        return
    try:
        ids = client.call("send", to=sender, body=f"{me} heard: {message['body']}",
                          in_reply_to=number)["ids"]
    except Unreachable:
        raise
    except HiveError as exc:
        log.warning("%s: cannot answer #%d from %s: %s", me, number, sender, exc, extra=fields)
        return
    log.info("%s: answered #%d from %s with #%d", me, number, sender, ids[0], extra=fields)


@debug.command("echo", hidden=True)
@click.option("--wait", type=click.FloatRange(1, 180), default=60.0, show_default=True,
              help="seconds each recv waits for mail")
@click.pass_obj
def debug_echo(socket: Path | None, wait: float) -> None:
    """Stand in for an agent: answer each message with '<name> heard: <body>' until SIGTERM.

    When the daemon goes away (a restart), it reconnects and takes back the
    mail it had leased, so nothing is lost.
    """
    import logging
    import time

    from hive_c0re import logs
    from hive_c0re.errors import HiveError, Unreachable

    logs.setup("hive-ag3nt")
    log = logging.getLogger("hive_ag3nt.echo")
    stop = _EchoStop()
    pause = 0.05
    while not stop.requested:
        try:
            with _client(socket) as client:
                _echo_session(client, stop, wait)
        except _EchoStopped:
            break  # a stop that landed between two statements of a wait
        except Unreachable as exc:
            log.warning("hive unreachable (%s); reconnecting", exc)
            time.sleep(pause)
            pause = min(pause * 2, 2.0)
            continue
        except HiveError as exc:
            raise click.ClickException(str(exc)) from None
    log.info("echo agent stopped")


def _echo_session(client: Any, stop: _EchoStop, wait: float) -> None:
    import logging

    log = logging.getLogger("hive_ag3nt.echo")
    me = client.call("whoami")["name"]
    # Mail leased before a crash or a lost connection comes back, marked redelivered.
    requeued = client.call("requeue_inflight")["requeued"]
    log.info("%s: echo agent listening (%d requeued)", me, requeued, extra={"HIVE_AGENT": me})
    while not stop.requested:
        found = stop.wait_for_mail(client, wait)
        for message in found:
            _echo_answer(client, me, message)
        if found:
            client.call("ack_turn")


def main() -> None:
    cli(prog_name="hive-ag3nt")
