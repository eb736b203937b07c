"""Log set-up for every hyperhive program; only ``main()`` functions call it.

Under systemd the journal gets each line with structured, UPPERCASE fields
(``HIVE_AGENT=alice``); pass them as ``extra={"HIVE_AGENT": name}``. On a
terminal rich renders the lines; anywhere else they go plainly to stderr.
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

        self._send = journal.send
        self.identifier = identifier

    def emit(self, record: logging.LogRecord) -> None:
        try:
            fields = {k: str(v) for k, v in record.__dict__.items()
                      if k.startswith(FIELD_PREFIX) and k.isupper()}
            if record.exc_info:
                fields["EXCEPTION_TEXT"] = logging.Formatter().formatException(record.exc_info)
            self._send(
                record.getMessage(),
                PRIORITY=str(_PRIORITY.get(record.levelno, 6)),
                LOGGER=record.name,
                CODE_FILE=record.pathname,
                CODE_LINE=record.lineno,
                CODE_FUNC=record.funcName,
                SYSLOG_IDENTIFIER=self.identifier,
                **fields,
            )
        except Exception:
            self.handleError(record)


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
    else:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
