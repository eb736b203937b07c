"""``serve`` as a container runs it: no other words, so no click.

Every spawn and restart of an agent runs ``hive-ag3nt serve`` (or
``hive-m1nd serve``); click and the command tables cost it a tenth of a
second before anything else. :func:`direct` runs such a command line itself,
as the programs' root group (:class:`hive_c0re.command.HiveGroup`) would: a
HiveError becomes its message, hint and exit code, an interrupt ``error:
aborted``. Any other command line goes to click.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import NoReturn

from hive_c0re.errors import ExitCode, HiveError

SERVE_WORDS = (["serve"], ["serve", "--no-ui"])


def serve_words(argv: Sequence[str]) -> bool | None:
    """For ``serve`` alone or with ``--no-ui``: whether the UI is served; None otherwise."""
    words = list(argv)
    return words == SERVE_WORDS[0] if words in SERVE_WORDS else None


def serve_agent(program: str, *, ui: bool) -> None:
    """The turn loop (and the agent's web UI) until SIGTERM."""
    import asyncio

    from hive_ag3nt.service import run
    from hive_c0re import logs

    logs.setup(program)
    asyncio.run(run(ui=ui))


def direct(command: Callable[[], None]) -> NoReturn:
    """Run ``command`` and exit as HiveGroup's main does after it."""
    try:
        command()
    except HiveError as exc:
        from hive_c0re.command import show_error  # click, on this path only

        show_error(exc)
        sys.exit(exc.exit_code)
    except (EOFError, KeyboardInterrupt):
        import click

        click.echo("error: aborted", err=True)
        sys.exit(ExitCode.ERROR)
    sys.exit(0)
