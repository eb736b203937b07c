"""The root command group of all three programs: errors become messages and exit codes once.

Apart from :mod:`hive_c0re.errors` so that what imports only the errors (the
model's side, at every claude launch) does not pay for click.
"""

from __future__ import annotations

import sys
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
        # max_content_width: help uses the terminal's full width (click stops at 80).
        kwargs.setdefault("context_settings", {"help_option_names": ["-h", "--help"],
                                               "max_content_width": 200})
        super().__init__(*args, **kwargs)

    def main(self, *args: Any, **kwargs: Any) -> Any:
        """click's own errors (a bad option, a missing argument) get the one prefix,
        ``error:``, as a HiveError does; click would print ``Error:``."""
        standalone: bool = kwargs.pop("standalone_mode", True)
        run: Any = super().main  # its overloads cannot be matched through *args
        if not standalone:
            return run(*args, standalone_mode=False, **kwargs)
        try:
            code = run(*args, standalone_mode=False, **kwargs)
        except click.ClickException as exc:
            _show(exc)
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo("error: aborted", err=True)
            sys.exit(ExitCode.ERROR)
        sys.exit(code if isinstance(code, int) else 0)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except HiveError as exc:
            if ctx.params.get("debug"):
                raise
            show_error(exc)
            raise click.exceptions.Exit(exc.exit_code) from None


def show_error(exc: HiveError) -> None:
    """A HiveError as every program prints it: its message, then its hint."""
    click.secho(f"error: {exc.message}", fg="red", err=True)
    if exc.hint:
        click.echo(f"hint: {exc.hint}", err=True)


def _show(exc: click.ClickException) -> None:
    """What click's ``show`` prints, with ``error:`` for its ``Error:``."""
    if isinstance(exc, click.UsageError) and exc.ctx is not None:
        click.echo(exc.ctx.get_usage(), err=True)
        hint = f"Try '{exc.ctx.command_path} {exc.ctx.help_option_names[0]}' for help."
        click.echo(hint, err=True)
    click.secho(f"error: {exc.format_message()}", fg="red", err=True)
