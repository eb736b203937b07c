"""The root command group of all three programs: errors become messages and exit codes once.

Apart from :mod:`hive_c0re.errors` so that what imports only the errors (the
model's side, at every claude launch) does not pay for click.
"""

from __future__ import annotations

from typing import Any

import click

from hive_c0re.errors import ExitCode, HiveError

EXIT_CODES = "\b\nExit codes:\n" + "\n".join(
    f"  {code.value}  {code.name.lower().replace('_', ' ')}" for code in ExitCode
)


class HiveGroup(click.Group):
    """A program's command group: a HiveError from any command becomes its message,
    its hint and its exit code, here and nowhere else.

    A group with a ``--debug`` flag shows the traceback instead when it is given.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("epilog", EXIT_CODES)
        kwargs.setdefault("context_settings", {"help_option_names": ["-h", "--help"]})
        super().__init__(*args, **kwargs)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except HiveError as exc:
            if ctx.params.get("debug"):
                raise
            click.secho(f"error: {exc.message}", fg="red", err=True)
            if exc.hint:
                click.echo(f"hint: {exc.hint}", err=True)
            raise click.exceptions.Exit(exc.exit_code) from None
