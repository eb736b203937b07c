"""What the operator CLI prints: rich tables for people, JSON for scripts."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping
from typing import Any

import click


def emit_json(payload: Any) -> None:
    click.echo(json.dumps(payload, indent=2, sort_keys=True, ensure_ascii=False))


def _console() -> Any:
    from rich.console import Console

    return Console()


def agents_table(agents: Iterable[Mapping[str, Any]]) -> None:
    from rich.table import Table

    table = Table(title="agents", title_justify="left")
    for column in ("name", "listening", "unread", "in flight", "may send to"):
        table.add_column(column)
    for agent in agents:
        table.add_row(
            agent["name"],
            "yes" if agent.get("listening") else "[red]no[/red]",
            str(agent["unread"]),
            str(agent["in_flight"]),
            ", ".join(agent["allowed_recipients"]) or "anyone",
        )
    _console().print(table)


def agent_detail(agent: Mapping[str, Any]) -> None:
    from rich.table import Table

    table = Table(show_header=False, box=None)
    for key in ("name", "socket", "listening", "unread", "in_flight", "allowed_recipients"):
        value = agent[key]
        if isinstance(value, list):
            value = ", ".join(value) or "anyone"
        table.add_row(f"[bold]{key}[/bold]", str(value))
    _console().print(table)


def message(m: Mapping[str, Any]) -> None:
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(m["sent_at"]))
    reply = f" (reply to #{m['in_reply_to']})" if m.get("in_reply_to") else ""
    redelivered = " [redelivered]" if m.get("redelivered") else ""
    click.echo(f"#{m['id']} {stamp} {m['from']} → {m['to']}{reply}{redelivered}")
    for line in str(m["body"]).splitlines() or [""]:
        click.echo(f"    {line}")


def note(text: str) -> None:
    click.echo(text)


def error(text: str, hint: str | None) -> None:
    click.secho(f"error: {text}", fg="red", err=True)
    if hint:
        click.echo(f"hint: {hint}", err=True)


def approvals_table(found: Iterable[Mapping[str, Any]]) -> None:
    from rich.table import Table

    table = Table(title="approvals", title_justify="left")
    for column in ("id", "agent", "kind", "commit", "status", "description / note"):
        table.add_column(column)
    for a in found:
        table.add_row(str(a["id"]), a["agent"], a["kind"], (a["sha"] or "")[:12], a["status"],
                      a["note"] or a["description"] or "")
    _console().print(table)


def approval_outcome(a: Mapping[str, Any]) -> None:
    tail = f": {a['note']}" if a.get("note") else ""
    click.echo(f"#{a['id']} ({a['kind']} for {a['agent']}) is {a['status']}{tail}")
