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

from hive_c0re import vocabulary as words

Data = Mapping[str, Any]
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


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


_STYLE = {"crashed": "red", "failed": "red", "unknown": "red", "paused": "yellow",
          "needs-login": "yellow", "rate-limited": "yellow", "stopped": "dim",
          "destroyed": "dim", "stopping": "dim"}
# The desired state each state word agrees with; any other is shown next to it.
_AGREES = {"running": {"idle", "idle (released)", "thinking", "compacting", "rate-limited",
                       "paused", "needs-login", "starting"},
           "stopped": {"stopped", "stopping"}, "destroyed": {"destroyed"}, "none": {"mailbox"}}


def desired_if_differs(row: Mapping[str, Any]) -> str:
    """The desired state when the agent is not in it (``running`` for a crashed one), else ''."""
    desired = str(row.get("desired", ""))
    return "" if row.get("state") in _AGREES.get(desired, set()) else desired


def state_cell(row: Mapping[str, Any]) -> str:
    state = str(row.get("state", "unknown"))
    style = _STYLE.get(state)
    return f"[{style}]{state}[/{style}]" if style else state


def agents_table(agents: Iterable[Mapping[str, Any]]) -> None:
    from rich.table import Table

    table = Table(title="agents", title_justify="left")
    for column in ("name", "state", "uptime", "desired", "unread", "in flight", "may send to"):
        table.add_column(column)
    for agent in agents:
        table.add_row(agent["name"], state_cell(agent), words.uptime(agent.get("started_at")),
                      desired_if_differs(agent) or "", str(agent["unread"]),
                      str(agent["in_flight"]), words.names(agent["allowed_recipients"]))
    _console().print(table)


_DETAIL = ("name", "state", "desired", "started_at", "uptime", "running", "failed", "paused",
           "stopping", "needs_login", "needs_update", "deployed_sha", "active_model", "turn",
           "socket", "listening", "socket_error", "unread", "in_flight", "allowed_recipients")


def agent_detail(agent: Mapping[str, Any]) -> None:
    from rich.table import Table

    table = Table(show_header=False, box=None)
    shown = {**agent, "uptime": words.uptime(agent.get("started_at")),
             "started_at": _local(agent.get("started_at"))}
    for key in _DETAIL:
        found = shown.get(key)
        if key in ("socket_error", "stopping") and not found:
            continue  # not the case: said by leaving it out
        table.add_row(f"[bold]{words.label(key)}[/bold]",
                      state_cell(shown) if key == "state" else words.value(found))
    _console().print(table)


def _local(stamp: str | None) -> str | None:
    """An RFC 3339 time as the operator's local time (the one format for people)."""
    if not stamp:
        return None
    from datetime import datetime

    return datetime.fromisoformat(stamp).astimezone().strftime(TIME_FORMAT)


def message(m: Mapping[str, Any]) -> None:
    stamp = time.strftime(TIME_FORMAT, time.localtime(m["sent_at"]))
    reply = f" (reply to #{m['in_reply_to']})" if m.get("in_reply_to") else ""
    redelivered = " [redelivered]" if m.get("redelivered") else ""
    state = f" [{m['state']}]" if m.get("state") else ""
    click.echo(f"#{m['id']} {stamp} {m['from']} → {m['to']}{reply}{redelivered}{state}")
    for line in str(m["body"]).splitlines() or [""]:
        click.echo(f"    {line}")


def note(text: str) -> None:
    click.echo(text)


def waiting(text: str) -> None:
    """A stream's opening line, on stderr: stdout stays the stream's (JSON for scripts)."""
    click.echo(text, err=True)


def interrupted() -> None:
    """Ctrl-C ended a stream: end the terminal's ``^C`` line so the prompt starts clean."""
    click.echo("", err=True)


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
    detail = f"{a['kind']} for {a['agent']}" + (f": {a['note']}" if a.get("note") else "")
    note(words.result_line(f"#{a['id']}", str(a["status"]), detail))


def time_left(seconds: float) -> str:
    """A countdown for people: 1h 05m, 4m 10s, 12s (the vocabulary's durations)."""
    return "due now" if seconds <= 0 else words.duration(seconds)


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
    note(words.result_line(name, "registered", f"its socket is {agent['socket']}"))


def unregistered(data: Data) -> None:
    note(words.result_line(data["unregistered"], "unregistered", "its mail is kept"))


def paused(agent: Data, *, changed: bool) -> None:
    verb = "paused" if agent["paused"] else "resumed"
    already = "it already was" if agent["paused"] else "it was not paused"
    note(words.result_line(agent["name"], verb, None if changed else already))


_PAST = {"spawn": "spawned", "start": "started", "stop": "stopped", "restart": "restarted",
         "rebuild": "rebuilt"}


def lifecycle_done(agent: Data, *, name: str, verb: str) -> None:
    stays = "it stays stopped" if verb == "rebuild" and agent.get("desired") == "stopped" else None
    note(words.result_line(name, _PAST[verb], stays))


def destroyed(data: Data) -> None:
    kept = "its state is purged" if data["purged"] else "its state is kept"
    note(words.result_line(data["destroyed"], "destroyed", kept))


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
    note(words.result_line(f"#{question['id']}", "answered",
                           f"{question['asker']} is told: {question['answer']}"))


def sent(data: Data) -> None:
    """One line per recipient: which id it got, and whether it is only queued."""
    for d in data["delivered"]:
        state = d.get("state")
        if state is None or state in words.TAKES_MAIL:
            note(words.result_line(d["to"], f"sent #{d['id']}"))
        else:
            note(words.result_line(d["to"], f"queued #{d['id']}",
                                   words.state_phrase(d["to"], state)))


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
        click.echo(f"{row['option']}  ({row['env']}, default {words.value(row['default'])})"
                   f"\n    {row['help']}")


def written(data: Data) -> None:
    note(words.result_line(", ".join(data["written"]), "written",
                           "now: systemctl daemon-reload"))


def dashboard_login(data: Data) -> None:
    note(str(data["url"]))
    note(f"it logs one browser in; the code works once, until {_local(data['expires_at'])}"
         " (60 s)")


def dashboard_sessions(data: Data) -> None:
    from rich.markup import escape
    from rich.table import Table

    if not data["sessions"]:
        note("no browser is logged in (hive-c0re dashboard login makes a login URL)")
        return
    table = Table(title="dashboard sessions", title_justify="left")
    for column in ("id", "logged in", "last seen", "browser"):
        table.add_column(column)
    for s in data["sessions"]:
        # The browser's own User-Agent: its text, never rich's markup.
        table.add_row(str(s["id"]), _local(s["created_at"]), _local(s["last_seen"]),
                      escape(s["user_agent"] or ""))
    _console().print(table)


def dashboard_logout(data: Data) -> None:
    ended = ", ".join(f"#{i}" for i in data["revoked"])
    note(words.result_line(ended, "logged out") if ended else "no session was logged in")


def status_change(row: Data) -> None:
    """One line per change of an agent's status (``agents --follow``)."""
    state = "gone" if row.get("registered") is False else str(row.get("state", "unknown"))
    marks = [label for key, label in (("paused", "paused"), ("needs_update", "needs update"))
             if row.get(key) and state not in ("gone", key)]
    click.echo(f"{time.strftime('%H:%M:%S')} " + words.result_line(
        str(row.get("name")), state, ", ".join(marks) or None))
