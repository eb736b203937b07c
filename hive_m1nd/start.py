"""``hive-m1nd serve``: the harness with the manager's prompt and tools.

Click-free, as ``hive-ag3nt serve`` starts (:mod:`hive_ag3nt.start`).
"""

from __future__ import annotations


def serve_manager(*, ui: bool) -> None:
    """The manager's turn loop (and its web UI) until SIGTERM."""
    import asyncio

    from hive_ag3nt.service import build_harness, run
    from hive_c0re import logs
    from hive_m1nd.tools import PREPARE, PROMPT

    logs.setup("hive-m1nd")
    harness = build_harness(extra_prompt=PROMPT, prepare=PREPARE)
    asyncio.run(run(ui=ui, harness=harness))
