"""``python -m hive_dev.demo host|sandbox|inside DIR``: what ``scripts/demo`` runs.

``host`` and ``sandbox`` make the demo's temporary directory and remove it at
the end; ``inside DIR`` is the sandbox's own half, run by scripts/hive-sandbox.
The exit status is the tour's: 0 when every answer came, 1 otherwise, 130
when interrupted.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path

from hive_c0re.errors import HiveError
from hive_dev.demo import run, workdir
from hive_dev.demo.hive import say

USAGE = "usage: python -m hive_dev.demo host|sandbox|inside DIR (scripts/demo runs it)"


def guarded(step: Callable[[], int]) -> int:
    """``step``'s exit status; its errors as a line the operator can act on."""
    try:
        return step()
    except HiveError as exc:
        hint = f" ({exc.hint})" if exc.hint else ""
        print(f"demo: {exc.message}{hint}", file=sys.stderr, flush=True)
        return 1
    except KeyboardInterrupt:
        return run.INTERRUPTED


def outside(step: Callable[[Path], int]) -> int:
    """``step`` in a temporary directory of its own, removed at the end whatever happens."""
    work = workdir.make()
    say(f"working in {work}")
    status = 1
    try:
        status = guarded(lambda: step(work))
    finally:
        if not workdir.remove_dir(work):
            status = 1
    if status == 0:
        say(f"done; nothing is left running and {work} is gone")
    return status


def main(argv: list[str]) -> int:
    step: Callable[[], int]
    match argv:
        case ["inside", directory]:
            step = partial(guarded, partial(run.inside_sandbox, Path(directory)))
        case ["host" | "sandbox" as where]:
            step = partial(outside, run.on_host if where == "host" else run.in_sandbox)
        case _:
            print(USAGE, file=sys.stderr)
            return 2
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    # SIGTERM and SIGHUP unwind like Ctrl-C: every teardown on the way out runs.
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.default_int_handler)
    return step()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
