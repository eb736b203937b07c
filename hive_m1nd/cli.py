"""``hive-m1nd``: the manager agent's harness.

Its commands are click's, in :mod:`hive_m1nd.commands` (``cli`` here is that
group); ``serve`` as a container runs it starts without them.
"""

from __future__ import annotations

import sys
from typing import Any

from hive_ag3nt.start import direct, serve_words
from hive_m1nd.start import serve_manager


def main() -> None:
    ui = serve_words(sys.argv[1:])
    if ui is not None:
        direct(lambda: serve_manager(ui=ui))
    from hive_m1nd.commands import cli

    cli(prog_name="hive-m1nd")


def __getattr__(name: str) -> Any:
    if name == "cli":
        from hive_m1nd.commands import cli

        return cli
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
