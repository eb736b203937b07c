"""``hive-ag3nt``'s commands (its entry point is :func:`hive_ag3nt.cli.main`)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from hive_ag3nt import __version__
from hive_c0re.command import HiveGroup


def _client(socket: Path | None) -> Any:
    from hive_c0re.client import Client
    from hive_c0re.paths import agent_socket_in_container

    return Client(socket or agent_socket_in_container())


@click.group(cls=HiveGroup)
@click.version_option(__version__, prog_name="hive-ag3nt")
def cli() -> None:
    """The agent harness: runs Claude turns on the mail that reaches this container."""


@cli.command()
@click.option("--no-ui", is_flag=True, help="do not serve the web UI on /run/hive/ui.sock")
def serve(no_ui: bool) -> None:
    """Run the turn loop (and the agent's web UI) until SIGTERM."""
    from hive_ag3nt.start import serve_agent

    serve_agent("hive-ag3nt", ui=not no_ui)


@cli.command()
def settings() -> None:
    """Every harness setting: its variable, default and meaning."""
    from hive_ag3nt.settings import HARNESS_SETTINGS

    for setting in HARNESS_SETTINGS:
        click.echo(f"{setting.env}  (default {setting.default})\n    {setting.help}")


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

