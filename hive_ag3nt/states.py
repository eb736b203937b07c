"""The harness's states, and the word the operator reads for each."""

from __future__ import annotations

from enum import StrEnum


class State(StrEnum):
    IDLE = "idle"
    THINKING = "thinking"
    COMPACTING = "compacting"
    RATE_LIMITED = "rate-limited"
    NEEDS_LOGIN = "needs-login"
    OFFLINE = "offline"


# An idle agent whose claude CLI was ended between turns (the next turn resumes it).
RELEASED_IDLE = "idle (released)"


def state_word(state: State, released: bool) -> str:
    """The state as the operator reads it: "idle (released)" once the CLI is ended.

    Any other state stays what it is: a release while rate-limited is still rate-limited.
    """
    return RELEASED_IDLE if state is State.IDLE and released else state.value
