"""``hive-m1nd``'s commands (its entry point is :func:`hive_m1nd.cli.main`)."""

from __future__ import annotations

import click

from hive_c0re.command import HiveGroup
from hive_m1nd import __version__


@click.group(cls=HiveGroup)
@click.version_option(__version__, prog_name="hive-m1nd")
def cli() -> None:
    """The manager: proposes agents and config changes for the operator to approve."""


@cli.command()
@click.option("--no-ui", is_flag=True, help="do not serve the web UI on /run/hive/ui.sock")
def serve(no_ui: bool) -> None:
    """Run the manager's turn loop (and its web UI) until SIGTERM."""
    from hive_m1nd.start import serve_manager

    serve_manager(ui=not no_ui)

