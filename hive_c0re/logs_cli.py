"""The body of ``hive-c0re logs NAME [-f] [--since TIME]`` (registered in cli.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from hive_c0re import output, story
from hive_c0re.client import Client


def _emit(line: story.StoryLine, *, as_json: bool) -> None:
    """A line for people, or a compact JSON object on a line (the CLI's stream convention)."""
    output.stream(line.as_dict(), lambda _: click.echo(story.render(line)), as_json=as_json)


@click.command()
@click.argument("name")
@click.option("--follow", "-f", is_flag=True, help="then print each new line (Ctrl-C ends)")
@click.option("--since", metavar="TIME",
              help="only lines from TIME on: 10m, 2h, 1d (ago), epoch seconds or an ISO time")
@click.pass_obj
def logs(obj: Any, name: str, follow: bool, since: str | None) -> None:
    """Show agent NAME's story, oldest first, one timestamp a line.

    Mail in and out, turns and the tools they called, lifecycle and crashes:
    the journal (the daemon's lines about NAME and its container's) merged
    with the hive's events.
    """
    show_logs(obj.client, name, follow=follow, since=since, as_json=obj.as_json)


def show_logs(client: Callable[[], Client], name: str, *, follow: bool, since: str | None,
              as_json: bool) -> None:
    """Print ``name``'s story oldest first; with ``follow``, then each new line until Ctrl-C.

    The daemon answers the events (and names the agent's unit); the journal is read
    here, with this user's rights, as journalctl would read it.
    """
    start = story.parse_since(since) if since is not None else None
    with client() as hive:
        found = story.Story(name, hive.call, start)
        try:
            for line in found.so_far():
                _emit(line, as_json=as_json)
            if not follow:
                return
            click.echo(f"waiting for more of {name}'s log (Ctrl-C ends)", err=True)
            while True:
                for line in found.next_lines():
                    _emit(line, as_json=as_json)
        except KeyboardInterrupt:
            click.echo("", err=True)  # the shell's prompt on a line of its own, after the ^C
        finally:
            found.close()
