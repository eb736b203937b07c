"""``hive-ag3nt``: the harness that runs inside an agent's container.

Its commands are click's, in :mod:`hive_ag3nt.commands` (``cli`` here is
that group); ``serve`` as a container runs it starts without them
(:mod:`hive_ag3nt.start`).
"""

from __future__ import annotations

import sys
from typing import Any

from hive_ag3nt.start import direct, serve_agent, serve_words


def main() -> None:
    ui = serve_words(sys.argv[1:])
    if ui is not None:
        direct(lambda: serve_agent("hive-ag3nt", ui=ui))
    from hive_ag3nt.commands import cli

    cli(prog_name="hive-ag3nt")


def __getattr__(name: str) -> Any:
    if name == "cli":
        from hive_ag3nt.commands import cli

        return cli
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

