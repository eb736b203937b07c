"""The words the operator reads: one rendering per concept, for every command.

The CLI renders through these functions only; hive-c0re(1)'s VOCABULARY
section is generated from :data:`CONCEPTS` and :data:`STATES` (scripts/gen-man),
and tests/unit/test_vocabulary.py holds the two together. Light on imports:
every CLI call loads it.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import datetime

# An agent's state column (``state`` in its status row, chosen by
# hive_c0re.daemon.status.agent_state), word by word.
STATES = {
    "idle": "running, waiting for mail",
    "idle (released)": "running, waiting for mail; its claude CLI was ended to save memory "
                       "and the next turn resumes the conversation",
    "thinking": "running a turn: mail is leased to it and not yet acked",
    "compacting": "running, folding its conversation into a summary to free context",
    "rate-limited": "running; the model refused a turn for a rate limit, retried when "
                    "it lifts",
    "paused": "running; no new turn starts until hive-c0re resume",
    "needs-login": "running, but its model needs a login before it can take a turn",
    "starting": "its container is starting",
    "stopping": "its container is stopping (or waits for its turn to end, then stops)",
    "stopped": "its container is down; its mail waits for the next start",
    "crashed": "its container was killed by a signal while it was wanted running",
    "failed": "its container exited with an error, or failed to start",
    "destroyed": "its container is removed, its state kept: spawn revives it",
    "mailbox": "a mailbox without a container (never spawned, or the manager "
               "without manager_command)",
    "unknown": "its container's unit could not be read (the daemon's log says why)",
}
# States in which a message is taken by a running agent (or read off its mailbox) at
# once; to any other, ``send`` says it is only queued.
TAKES_MAIL = frozenset({"idle", "idle (released)", "thinking", "mailbox"})

# Concept → how people read it (JSON keeps the wire's own values and key names).
CONCEPTS = (
    ("true / false", "yes / no"),
    ("an empty allowed-recipients list", "anyone"),
    ("a value not known or not set", "-"),
    ("a key with an underscore (in_flight)", "words with spaces (in flight)"),
    ("a time", "local YYYY-MM-DD HH:MM:SS; in JSON RFC 3339 UTC"),
    ("how long a container has run", "uptime: 45s, 3m 10s, 2h 05m, 3d 04h"),
    ("the result of an action", "SUBJECT: PAST-TENSE VERB[; DETAIL], e.g. "
                                "carol: stopped, #4: deployed; apply for carol"),
    ("a message sent", "RECIPIENT: sent #ID, or RECIPIENT: queued #ID; RECIPIENT is STATE"),
    ("a failure", "error: MESSAGE on stderr, then hint: HINT when there is one"),
    ("rate limits", "not a state here: the harness knows of one (its UI shows it), "
                    "the daemon does not"),
)


def yes_no(value: object) -> str:
    return "yes" if value else "no"


def names(found: Iterable[str]) -> str:
    """An allowed-recipients list: its names, or ``anyone`` when it is empty."""
    return ", ".join(found) or "anyone"


def label(key: str) -> str:
    return key.replace("_", " ")


def value(found: object) -> str:
    """Any field's value for people: yes/no, names, ``-`` for unknown, else as it is."""
    if found is None or found == "":
        return "-"
    if isinstance(found, bool):
        return yes_no(found)
    if isinstance(found, list | tuple):
        return names(str(f) for f in found)
    return str(found)


def duration(seconds: float) -> str:
    """45s, 3m 10s, 2h 05m, 3d 04h."""
    whole = max(int(seconds), 0)
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours:02d}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


def uptime(started_at: str | None, now: float | None = None) -> str:
    """How long since ``started_at`` (RFC 3339), or ``-`` when it is not running."""
    if not started_at:
        return "-"
    began = datetime.fromisoformat(started_at).timestamp()
    return duration((time.time() if now is None else now) - began)


def result_line(subject: str, verb: str, detail: str | None = None) -> str:
    """The one shape of an action's result: ``carol: stopped[; detail]``."""
    return f"{subject}: {verb}" + (f"; {detail}" if detail else "")


def state_phrase(name: str, state: str) -> str:
    """``carol is stopped``; ``carol needs a login``."""
    if state == "needs-login":
        return f"{name} needs a login"
    if state == "unknown":
        return f"{name}'s state is unknown"
    return f"{name} is {state}"
