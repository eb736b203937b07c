"""One request in, one answer out: parsed by the wire's table, served by its handler."""

from __future__ import annotations

import logging
from typing import Any

from hive_c0re import wire

# Imported for what they register: the original's verbs, the status, pause and story verbs,
# the dashboard's login verbs and its reads.
from hive_c0re.daemon import (  # noqa: F401
    auth_handlers,
    compat,
    dashboard_handlers,
    status_handlers,
    story_handlers,
)
from hive_c0re.daemon.handlers import HANDLERS
from hive_c0re.daemon.hive import Hive
from hive_c0re.daemon.server import Pipe, Stream
from hive_c0re.daemon.sockets import Caller
from hive_c0re.errors import HiveError, PolicyRefused

log = logging.getLogger(__name__)


async def answer(hive: Hive, caller: Caller, line: bytes) -> dict[str, Any] | Stream | Pipe:
    """The answer to one frame from ``caller`` (or a stream of them); every failure is an
    answer too."""
    request_id = None
    try:
        request, request_id = wire.read_frame(line)
        verb, args = wire.parse_request(request, caller.kind)
        reply = await HANDLERS[verb.name](hive, caller, args)
    except HiveError as exc:
        if isinstance(exc, PolicyRefused):
            log.info("refused %s: %s", caller.name, exc.message,
                     extra={"HIVE_AGENT": caller.name})
        reply = wire.failure(exc)
    except Exception:
        log.exception("internal error serving %s", caller.name,
                      extra={"HIVE_AGENT": caller.name})
        reply = wire.failure(HiveError("internal error; the daemon's journal has details"))
    if request_id is not None:
        (reply.first if isinstance(reply, Stream | Pipe) else reply)[wire.REQUEST_ID] = request_id
    return reply
