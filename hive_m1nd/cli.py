"""``hive-m1nd``: the manager agent's harness."""

from __future__ import annotations

import click

from hive_m1nd import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="hive-m1nd")
def cli() -> None:
    """The manager: proposes agents and config changes for the operator to approve."""


def main() -> None:
    cli(prog_name="hive-m1nd")
