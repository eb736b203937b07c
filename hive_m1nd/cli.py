"""``hive-m1nd``: the manager agent's harness."""

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
    import asyncio

    from hive_ag3nt.service import build_harness, run
    from hive_c0re import logs
    from hive_m1nd.tools import PREPARE, PROMPT

    logs.setup("hive-m1nd")
    harness = build_harness(extra_prompt=PROMPT, prepare=PREPARE)
    asyncio.run(run(ui=not no_ui, harness=harness))


def main() -> None:
    cli(prog_name="hive-m1nd")
