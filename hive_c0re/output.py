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
    keys = ("name", "socket", "listening", "socket_error", "unread", "in_flight",
            "allowed_recipients")
    for key in keys:
        value = agent.get(key)
        if key == "socket_error" and not value:
            continue
        if isinstance(value, list):
            value = ", ".join(value) or "anyone"
        table.add_row(f"[bold]{key}[/bold]", str(value))
    _console().print(table)


def message(m: Mapping[str, Any]) -> None:
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(m["sent_at"]))
    reply = f" (reply to #{m['in_reply_to']})" if m.get("in_reply_to") else ""
    redelivered = " [redelivered]" if m.get("redelivered") else ""
    state = f" [{m['state']}]" if m.get("state") else ""
    click.echo(f"#{m['id']} {stamp} {m['from']} → {m['to']}{reply}{redelivered}{state}")
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


def time_left(seconds: float) -> str:
    """A countdown for people: 1h 05m, 4m 10s, 12s."""
    if seconds <= 0:
        return "due now"
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


def _options(q: Mapping[str, Any]) -> str:
    if not q["options"]:
        return "(free text)"
    return " | ".join(q["options"]) + (" (several)" if q["multi"] else "")


def questions_table(found: Iterable[Mapping[str, Any]], *, show_all: bool) -> None:
    from rich.markup import escape
    from rich.table import Table

    now = time.time()
    table = Table(title="questions", title_justify="left")
    columns = ["id", "from", "to", "question", "options", "time left", "answer"]
    for column in columns if show_all else columns[:2] + columns[3:6]:
        table.add_column(column)
    for q in found:
        left = time_left(q["deadline"] - now) if q["status"] == "open" else q["status"]
        row = [str(q["id"]), q["asker"], q["target"], escape(q["question"]),
               escape(_options(q)), left, escape(q["answer"] or "")]
        table.add_row(*(row if show_all else row[:2] + row[3:6]))
    _console().print(table)
