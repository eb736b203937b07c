"""notes.md past its limit: rewritten by a short side session that may only Read and Write."""

from __future__ import annotations

import logging
from collections.abc import Callable

from hive_ag3nt import prompt
from hive_ag3nt.runner import ClaudeSession
from hive_ag3nt.separation import copy_to_model
from hive_ag3nt.settings import HarnessSettings
from hive_ag3nt.states import State

log = logging.getLogger(__name__)


async def rewrite_notes(session: ClaudeSession, settings: HarnessSettings,
                        model: Callable[[], str], set_state: Callable[[State], None]) -> bool:
    """Rewrite the notes beside ``session``'s conversation when they passed notes_limit.

    True when a rewrite ran; the old notes stay beside them as ``notes.md.prev``.
    """
    notes = session.config.paths.notes
    try:
        size = notes.stat().st_size
    except FileNotFoundError:
        return False
    if size <= settings.notes_limit:
        return False
    backup = notes.with_name(notes.name + ".prev")
    try:  # notes.md is the model's: never followed, and the copy is the model's too
        copy_to_model(notes, backup, settings.model_uid or None)
    except OSError as exc:
        log.warning("%s: notes not compacted: %s", session.config.name, exc)
        return False
    side = ClaudeSession(session.config, session.events, model, persist=False,
                         tools=("Read", "Write"))
    try:
        set_state(State.COMPACTING)
        await side.turn(prompt.NOTES_REWRITE.format(
            notes=notes, size=size, limit=settings.notes_limit, backup=backup), "notes")
    finally:
        await side.close()
        set_state(State.IDLE)
    return True
