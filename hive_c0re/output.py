"""What the operator CLI prints: rich tables for people, JSON for scripts.

A command returns a :class:`Result`; :func:`render` prints it once, one way. With
``--json`` every command prints one JSON document, an object (a list it found
sits under a named key); a stream (``inbox --follow``) prints one compact
object per line instead, as each item arrives.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import click

Data = Mapping[str, Any]


@dataclass(frozen=True)
class Result:
    """What a command found: ``data`` is its JSON document, ``show`` prints it for people."""

    data: Data
    show: Callable[[Data], None]
    exit_code: int = 0


def render(result: Result, *, as_json: bool) -> None:
    if as_json:
        emit_json(result.data)
    else:
        result.show(result.data)


def stream(item: Data, show: Callable[[Data], None], *, as_json: bool) -> None:
    """One item of a stream: a compact JSON object on a line of its own, or ``show``."""
    if as_json:
        click.echo(json.dumps(item, sort_keys=True, ensure_ascii=False))
    else:
        show(item)


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
            agent["name"] + (" [yellow](paused)[/yellow]" if agent.get("paused") else ""),
            "yes" if agent.get("listening") else "[red]no[/red]",
            str(agent["unread"]),
            str(agent["in_flight"]),
            ", ".join(agent["allowed_recipients"]) or "anyone",
        )
    _console().print(table)


def agent_detail(agent: Mapping[str, Any]) -> None:
    from rich.table import Table

    table = Table(show_header=False, box=None)
    keys = ("name", "desired", "running", "failed", "paused", "stopping", "needs_login",
            "needs_update", "deployed_sha", "active_model", "turn", "socket", "listening",
            "socket_error", "unread", "in_flight", "allowed_recipients")
    for key in keys:
        value = agent.get(key)
        if value is None or (key in ("socket_error", "stopping") and not value):
            continue  # unknown or not the case: said by leaving it out
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


# -- what each command shows people: one function per command, given its data ----------


def agents(data: Data) -> None:
    if data["agents"]:
        agents_table(data["agents"])
    else:
        note("no agents registered (try: hive-c0re register NAME)")


def registered(agent: Data, *, name: str) -> None:
    note(f"registered {name}: {agent['socket']}")


def unregistered(data: Data) -> None:
    note(f"unregistered {data['unregistered']}")


def paused(agent: Data, *, changed: bool) -> None:
    if changed:
        note(f"{agent['name']}: {'paused' if agent['paused'] else 'resumed'}")
    else:
        note(f"{agent['name']}: {'already paused' if agent['paused'] else 'was not paused'}")


def lifecycle_done(agent: Data, *, name: str, verb: str) -> None:
    note(f"{name}: {verb} done (desired: {agent['desired']})")


def destroyed(data: Data) -> None:
    kept = " and purged its state" if data["purged"] else "; its state is kept"
    note(f"destroyed {data['destroyed']}{kept}")


def approvals(data: Data, *, show_all: bool) -> None:
    if data["approvals"]:
        approvals_table(data["approvals"])
    else:
        note("no pending requests" if not show_all else "no requests yet")


def questions(data: Data, *, show_all: bool) -> None:
    if data["questions"]:
        questions_table(data["questions"], show_all=show_all)
    else:
        note("no open questions" if not show_all else "no questions yet")


def answered(question: Data) -> None:
    note(f"#{question['id']} answered: {question['answer']} ({question['asker']} is told)")


def sent(data: Data) -> None:
    note("sent: " + ", ".join(f"#{i}" for i in data["ids"]))


def inbox(data: Data) -> None:
    for m in data["messages"]:
        message(m)
    if not data["messages"]:
        note("inbox is empty")


def mail(data: Data, *, name: str) -> None:
    for m in reversed(data["messages"]):
        message(m)
    if not data["messages"]:
        note(f"{name} has been sent nothing")


def ui_door(data: Data) -> None:
    click.echo(f"{data['socket']}\n{data['secret']}")


def settings(data: Data) -> None:
    for row in data["settings"]:
        click.echo(f"{row['option']}  ({row['env']}, default {row['default']})\n    {row['help']}")


def written(data: Data) -> None:
    note("wrote " + ", ".join(data["written"]) + "; now: systemctl daemon-reload")
