"""An agent's journal for the operator (the ``journal`` verb): its container unit's lines and
the daemon's lines about it, oldest first, each with the cursor to follow on from.

Only fields journald itself vouches for pick the lines: the unit (``_SYSTEMD_UNIT``,
or ``_SYSTEMD_USER_UNIT`` under a user manager); ``HIVE_AGENT`` and systemd's
``UNIT``/``USER_UNIT`` count only on lines written by the daemon's own uid (the
service manager's too), so no other writer can slip lines into an agent's
journal by naming it. Reading blocks: call :func:`read_journal` from a thread.
"""

from __future__ import annotations

import itertools
import os
import re
from datetime import datetime
from typing import Any

from hive_c0re.errors import InvalidInput

MAX_MESSAGE = 8192  # characters of one line's message; the journal's LineMax is 48K
# sd_journal's cursors: ";"-separated key=hex pairs (s=…;i=…;b=…;m=…;t=…;x=…).
_CURSOR = re.compile(r"[a-z]=[0-9a-f]{1,64}(?:;[a-z]=[0-9a-f]{1,64}){0,15}")


def check_cursor(cursor: str) -> str:
    if not _CURSOR.fullmatch(cursor):
        raise InvalidInput("journal.after is not a journal cursor",
                           hint="pass the cursor a journal answer gave")
    return cursor


def _reader(name: str, unit: str) -> Any:
    from systemd import journal

    trusted = str(os.getuid())  # the daemon's, and the service manager's that runs it
    reader = journal.Reader()
    reader.add_match(_SYSTEMD_UNIT=unit)
    reader.add_disjunction()
    reader.add_match(_SYSTEMD_USER_UNIT=unit)
    # What systemd says of the unit (started, failed, its result), and the daemon's lines.
    for field, value in (("UNIT", unit), ("USER_UNIT", unit), ("HIVE_AGENT", name)):
        reader.add_disjunction()
        reader.add_match(**{field: value, "_UID": trusted})
    return reader


def _text(value: object) -> str:
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    return text if len(text) <= MAX_MESSAGE else text[:MAX_MESSAGE] + "…"


def _line(entry: dict[str, Any]) -> dict[str, Any]:
    moment = entry.get("__REALTIME_TIMESTAMP")
    try:
        priority = int(entry.get("PRIORITY", 6))
    except (TypeError, ValueError):
        priority = 6
    return {"cursor": entry["__CURSOR"],
            "at": moment.timestamp() if isinstance(moment, datetime) else None,
            "unit": entry.get("_SYSTEMD_UNIT") or entry.get("_SYSTEMD_USER_UNIT"),
            "priority": priority, "message": _text(entry.get("MESSAGE", ""))}


def read_journal(name: str, unit: str, lines: int, after: str | None) -> dict[str, Any]:
    """The last ``lines`` entries, or the first ``lines`` after the cursor ``after``; and the
    cursor to pass next (``after`` itself when nothing is new, None for an empty journal)."""
    reader = _reader(name, unit)
    try:
        if after is None:
            reader.seek_tail()
            found = [_line(e) for e in itertools.islice(iter(reader.get_previous, {}), lines)]
            found.reverse()
        else:
            reader.seek_cursor(check_cursor(after))
            found = []
            for entry in iter(reader.get_next, {}):
                if entry["__CURSOR"] == after:
                    continue  # seek_cursor lands on the entry it names: already read
                found.append(_line(entry))
                if len(found) == lines:
                    break
    except OSError as exc:
        raise InvalidInput(f"cannot read the journal from that cursor: {exc.strerror or exc}"
                           ) from None
    finally:
        reader.close()
    cursor = found[-1]["cursor"] if found else after
    return {"lines": found, "cursor": cursor}
