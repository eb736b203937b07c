"""An agent's story for ``hive-c0re logs NAME``: its journal and the hive's events, merged.

Two sources, one stream, oldest first, one timestamp per line:

- the journal (read here, on the host, like ``journalctl``): the daemon's lines
  about the agent (``HIVE_AGENT=NAME``: mail in and out, requests, refusals)
  and the agent's container unit (the harness: turns, tools, their outcome);
- the hive's event log (the host verb ``events``): spawns, starts, stops,
  crashes, approvals, questions.

The daemon writes the lines; this module only reads, merges and words them.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from hive_c0re.errors import InvalidInput

FIRST_WORDS = 60
AGENT_IDENTIFIER = "hive-agent-"
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhd])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_LEVELS = {0: "error", 1: "error", 2: "error", 3: "error", 4: "warning"}


def first_words(text: str, limit: int = FIRST_WORDS) -> str:
    """``text`` on one line, cut to ``limit`` characters with an ellipsis."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[:limit - 1].rstrip() + "…"


def parse_since(text: str, now: float | None = None) -> float:
    """A ``--since`` value as epoch seconds: ``10m``/``2h``/``1d``/``30s`` ago, an epoch
    number, or an ISO time (``2026-12-02 01:50``, local unless it names its zone)."""
    now = time.time() if now is None else now
    text = text.strip()
    duration = _DURATION.match(text)
    if duration:
        return now - float(duration.group(1)) * _UNITS[duration.group(2)]
    try:
        return float(text)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        raise InvalidInput(f"--since {text!r} is not a time",
                           hint="give 10m, 2h, 1d (ago), epoch seconds, or "
                                "an ISO time like 2026-12-02T01:50") from None


@dataclass(frozen=True, order=True)
class StoryLine:
    """One line of the story: when, from where (``hive``, ``agent``, ``event``), what."""

    at: float
    source: str
    text: str

    def as_dict(self) -> dict[str, Any]:
        return {"at": stamp(self.at), "source": self.source, "text": self.text}


def stamp(at: float) -> str:
    """The one timestamp of a line: local time, to the millisecond."""
    moment = datetime.fromtimestamp(at).astimezone()
    return moment.strftime("%Y-%m-%d %H:%M:%S.") + f"{moment.microsecond // 1000:03d}"


def render(line: StoryLine) -> str:
    return f"{stamp(line.at)}  {line.source:<5}  {line.text}"


def from_entry(entry: Mapping[str, Any], name: str) -> StoryLine:
    """A journal entry as a story line: the daemon's (``hive``) or the container's (``agent``)."""
    moment = entry.get("__REALTIME_TIMESTAMP")
    at = moment.timestamp() if isinstance(moment, datetime) else time.time()
    identifier = str(entry.get("SYSLOG_IDENTIFIER", ""))
    source = "agent" if identifier.startswith(AGENT_IDENTIFIER) else "hive"
    text = str(entry.get("MESSAGE", ""))
    # The harness starts its lines with its own name; in its own story that says nothing.
    text = text.removeprefix(f"{name}: ")
    level = _LEVELS.get(_priority(entry))
    return StoryLine(at, source, f"{level}: {text}" if level else text)


def _priority(entry: Mapping[str, Any]) -> int:
    try:
        return int(entry.get("PRIORITY", 6))
    except (TypeError, ValueError):
        return 6


def event_words(kind: str, data: Mapping[str, Any]) -> str:
    """A hive event in the operator's words: ``destroyed, state kept``."""
    words: dict[str, Callable[[], str]] = {
        "spawned": lambda: f"spawned (uid base {data.get('uid_base')})",
        "rebuilt": lambda: "rebuilt and started" if data.get("started") else "rebuilt",
        "destroyed": lambda: ("destroyed, state purged" if data.get("purged")
                              else "destroyed, state kept"),
        "container_crash": lambda: (f"container crashed: {data.get('result')} "
                                    f"(exit status {data.get('exit_status')})"),
        "restart_limit": lambda: "restart limit reached: no more automatic restarts",
        "approval": lambda: f"approval #{data.get('id')} {data.get('status')}",
        "approval_resolved": lambda: f"approval #{data.get('id')} {data.get('status')}",
        "needs_login": lambda: "needs a Claude login",
        "logged_in": lambda: "logged in to Claude",
    }
    if kind in words:
        return words[kind]()
    if kind.startswith(("question_", "reminder_")):
        thing, _, what = kind.partition("_")
        return f"{thing} #{data.get('id')} {what}"
    extra = ", ".join(f"{k}={v}" for k, v in data.items() if not isinstance(v, list | dict))
    return f"{kind} ({extra})" if extra else kind


def from_event(event: Mapping[str, Any]) -> StoryLine:
    data = event.get("data") or {}
    return StoryLine(float(event["at"]), "event", event_words(str(event["kind"]), data))


class JournalStory:
    """The journal entries of one agent: the daemon's about it, and its container unit's."""

    def __init__(self, name: str, unit: str | None, since: float | None,
                 uid_base: int | None = None) -> None:
        from systemd import journal

        self.name = name
        self.reader = journal.Reader()
        self.reader.add_match(HIVE_AGENT=name)
        for field in ("_SYSTEMD_UNIT", "_SYSTEMD_USER_UNIT") if unit else ():
            self.reader.add_disjunction()
            self.reader.add_match(**{field: unit})
        self.reader.add_disjunction()
        self.reader.add_match(SYSLOG_IDENTIFIER=AGENT_IDENTIFIER + name)
        if uid_base is not None:
            # The egress knows an agent by its uid range; its refusals and failures
            # (not each forwarded call) belong in the story. Same field: any of them.
            self.reader.add_disjunction()
            self.reader.add_match(HIVE_UID_BASE=str(uid_base))
            self.reader.add_match(*(f"PRIORITY={p}" for p in range(5)))
        if since is None:
            self.reader.seek_head()
        else:
            self.reader.seek_realtime(since)

    def lines(self) -> list[StoryLine]:
        """Every entry not read yet, but the daemon's lines of events: those come from the
        event log, with their data."""
        found = []
        while entry := self.reader.get_next():
            if "HIVE_EVENT" not in entry:
                found.append(from_entry(entry, self.name))
        return found

    def wait(self, seconds: float) -> None:
        self.reader.wait(seconds)

    def close(self) -> None:
        self.reader.close()


EventSource = Callable[..., dict[str, Any]]


class Story:
    """The merged story: what has happened, then (``follow``) what happens next."""

    def __init__(self, name: str, call: EventSource, since: float | None) -> None:
        self.name = name
        self.call = call
        self.since = since
        self.last_event = 0
        first = self._events(since=since)
        self.journal = JournalStory(name, first.get("unit"), since, first.get("uid_base"))
        self._pending = [from_event(e) for e in self._take(first)]

    def _events(self, **args: Any) -> dict[str, Any]:
        return self.call("events", name=self.name, **args)

    def _take(self, answer: Mapping[str, Any]) -> list[dict[str, Any]]:
        found = list(answer.get("events", ()))
        if found:
            self.last_event = max(self.last_event, *(int(e["id"]) for e in found))
        return found

    def so_far(self) -> list[StoryLine]:
        """Everything up to now, oldest first."""
        lines = sorted([*self._pending, *self.journal.lines()])
        self._pending = []
        return lines

    def next_lines(self, wait: float = 1.0) -> list[StoryLine]:
        """What came since the last call, after waiting up to ``wait`` for the journal."""
        self.journal.wait(wait)
        events = self._take(self._events(after=self.last_event))
        return sorted([*(from_event(e) for e in events), *self.journal.lines()])

    def follow(self) -> Iterator[StoryLine]:
        """The story so far, then each new line as it comes, until interrupted."""
        yield from self.so_far()
        while True:
            yield from self.next_lines()

    def close(self) -> None:
        self.journal.close()
