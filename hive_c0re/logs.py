"""Log set-up for every hyperhive program; only ``main()`` functions call it.

Under systemd the journal gets each line with structured, UPPERCASE fields
(``HIVE_AGENT=alice``); pass them as ``extra={"HIVE_AGENT": name}``, or a list
for a line about several agents (a message from alice to bob is in both their
logs). On a terminal rich renders the lines. In a container whose output the
unit hands to the journal (``container=`` set, stderr not a terminal) a line is
``<priority>message``: journald stamps the time and reads the priority, so a
line has one timestamp. Anywhere else they go plainly to stderr.
"""

from __future__ import annotations

import logging
import os
import sys

FIELD_PREFIX = "HIVE_"
_PRIORITY = {logging.DEBUG: 7, logging.INFO: 6, logging.WARNING: 4, logging.ERROR: 3,
             logging.CRITICAL: 2}


class JournalHandler(logging.Handler):
    """Sends records to journald with their ``HIVE_*`` attributes as fields."""

    def __init__(self, identifier: str) -> None:
        super().__init__()
        from systemd import journal

        self._sendv = journal.sendv
        self.identifier = identifier

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._sendv(*journal_fields(record, self.identifier))
        except Exception:
            self.handleError(record)


def journal_fields(record: logging.LogRecord, identifier: str) -> list[str]:
    """The entry's ``KEY=value`` strings; a list-valued ``HIVE_*`` field gives one per item
    (journald keeps them all, and ``journalctl HIVE_AGENT=bob`` matches any)."""
    fields = [f"MESSAGE={record.getMessage()}",
              f"PRIORITY={_PRIORITY.get(record.levelno, 6)}",
              f"LOGGER={record.name}", f"CODE_FILE={record.pathname}",
              f"CODE_LINE={record.lineno}", f"CODE_FUNC={record.funcName}",
              f"SYSLOG_IDENTIFIER={identifier}"]
    for key, value in record.__dict__.items():
        if key.startswith(FIELD_PREFIX) and key.isupper():
            values = value if isinstance(value, list | tuple | set | frozenset) else [value]
            fields += [f"{key}={item}" for item in dict.fromkeys(values)]
    if record.exc_info:
        fields.append("EXCEPTION_TEXT=" + logging.Formatter().formatException(record.exc_info))
    return fields


class PriorityFormatter(logging.Formatter):
    """``<6>message``: the syslog prefix journald reads from a unit's output, no time."""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record).replace("\n", "\n  ")
        return f"<{_PRIORITY.get(record.levelno, 6)}>{text}"


def journaled_output() -> bool:
    """True in a container (nspawn sets ``container=``) whose stderr is not a terminal:
    the unit running it sends that output to the journal, which stamps the time."""
    return bool(os.environ.get("container")) and not sys.stderr.isatty()  # noqa: SIM112 (systemd spells it so)


def under_journal() -> bool:
    """True when stderr is the journal stream systemd set up for this service."""
    stream = os.environ.get("JOURNAL_STREAM")
    if not stream:
        return False
    try:
        device, inode = (int(part) for part in stream.split(":"))
        st = os.fstat(sys.stderr.fileno())
    except (ValueError, OSError):
        return False
    return (st.st_dev, st.st_ino) == (device, inode)


def setup(identifier: str, *, debug: bool = False, level: int | None = None) -> None:
    root = logging.getLogger()
    root.handlers.clear()
    root.setLevel(level if level is not None else (logging.DEBUG if debug else logging.INFO))
    handler: logging.Handler
    if under_journal():
        handler = JournalHandler(identifier)
    elif sys.stderr.isatty():
        from rich.logging import RichHandler

        handler = RichHandler(show_path=debug, rich_tracebacks=debug)
    elif journaled_output():
        handler = logging.StreamHandler()
        handler.setFormatter(PriorityFormatter("%(message)s"))
    else:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    if not debug:
        # The MCP server's library says "Processing request of type ..." for every call.
        logging.getLogger("mcp").setLevel(max(root.level, logging.WARNING))
