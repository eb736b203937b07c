"""One error root for the whole hive.

Every error carries a message a person can act on and an optional hint. Only
the command lines turn them into exit codes, all three in one place
(:class:`hive_c0re.command.HiveGroup`); on the wire they travel as ``error`` (and ``code``) in an
answer.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """What ``hive-c0re``, ``hive-ag3nt`` and ``hive-m1nd`` exit with; documented in ``--help``."""

    OK = 0
    ERROR = 1  # anything else that went wrong
    USAGE = 2  # bad command line (click's own code)
    UNREACHABLE = 3  # the daemon's socket could not be reached
    REFUSED = 4  # the daemon refused: invalid input, policy, full inbox
    NOT_FOUND = 5  # no such agent or message


class HiveError(Exception):
    """Base of every error hyperhive raises on purpose."""

    code = "error"
    exit_code = ExitCode.ERROR

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if self.hint is None else f"{self.message} (hint: {self.hint})"


class InvalidInput(HiveError):
    """A name, frame, field or file that breaks a rule; the message names the rule."""

    code = "invalid"
    exit_code = ExitCode.REFUSED


class PolicyRefused(HiveError):
    """The request is well-formed but the sender's policy forbids it."""

    code = "refused"
    exit_code = ExitCode.REFUSED


class InboxFull(HiveError):
    """The recipient's unread inbox is at its cap; the message was not stored."""

    code = "inbox_full"
    exit_code = ExitCode.REFUSED


class NotFound(HiveError):
    """An agent, message or record that does not exist."""

    code = "not_found"
    exit_code = ExitCode.NOT_FOUND


class Unreachable(HiveError):
    """The daemon's socket is missing, refused the connection or went away."""

    code = "unreachable"
    exit_code = ExitCode.UNREACHABLE


class StoreError(HiveError):
    """The broker file is unusable: newer schema, corrupt, not writable."""

    code = "store"


_BY_CODE: dict[str, type[HiveError]] = {
    cls.code: cls
    for cls in (
        HiveError, InvalidInput, PolicyRefused, InboxFull, NotFound, Unreachable, StoreError
    )
}


def from_wire(code: str | None, message: str, hint: str | None = None) -> HiveError:
    """Rebuild the error a daemon answered with, so clients can branch on its class."""
    return _BY_CODE.get(code or "error", HiveError)(message, hint=hint)
