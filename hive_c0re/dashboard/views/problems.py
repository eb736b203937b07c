"""What waits on the operator, worked out from what the daemon says: the overview's top.

Each problem says what is wrong, what to do about it and where; nothing is
guessed beyond the status rows, the pending approvals, the open questions and
the recent crash events (a rate limit is the harness's to know: its own page
shows it).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

# Crashes within this window that make a crash loop, and how many it takes.
CRASH_WINDOW = 600.0
CRASH_LOOP = 3


@dataclass(frozen=True)
class Problem:
    kind: str
    what: str
    todo: str
    href: str
    # How many things it stands for (three approvals are one line, three in the count).
    count: int = 1


def problems(rows: Sequence[dict[str, Any]], approvals: Sequence[dict[str, Any]],
             questions: Sequence[dict[str, Any]],
             crashes: Iterable[dict[str, Any]]) -> list[Problem]:
    """Given the status rows, pending approvals, open questions to the operator and the
    ``container_crash`` events of the last CRASH_WINDOW seconds, what waits, worst first."""
    found: list[Problem] = []
    if approvals:
        kinds = ", ".join(sorted({str(a.get("kind")) for a in approvals}))
        found.append(Problem("approvals", _many(len(approvals), "approval") + f" pending ({kinds})",
                             "review each, then approve or deny", "/approvals", len(approvals)))
    if questions:
        found.append(Problem("questions", _many(len(questions), "open question") + " to you",
                             "answer before they expire", "/questions", len(questions)))
    recent = Counter(str(event.get("agent")) for event in crashes)
    for row in rows:
        found.extend(_agent_problems(row, recent[str(row.get("name"))]))
    return found


def total(found: Iterable[Problem]) -> int:
    return sum(problem.count for problem in found)


def _agent_problems(row: dict[str, Any], crashes: int) -> list[Problem]:
    name = str(row.get("name"))
    page = f"/agents/{name}/"
    state = row.get("state")
    found: list[Problem] = []
    if crashes >= CRASH_LOOP:
        found.append(Problem("crash-loop", f"{name} is crash-looping: {crashes} crashes "
                             f"in {int(CRASH_WINDOW // 60)} minutes",
                             "stop it and read its journal before starting it again", page))
    if state == "crashed":
        found.append(Problem("crashed", f"{name} crashed ({row.get('unit_result') or '-'})",
                             "restart it; its journal says what killed it", page))
    elif state == "failed":
        found.append(Problem("failed", f"{name} failed ({row.get('unit_result') or '-'})",
                             "read its journal, then rebuild or restart it", page))
    if row.get("needs_login"):
        found.append(Problem("needs-login", f"{name} needs a login",
                             "open its page and log its model in", page))
    if row.get("socket_error"):
        found.append(Problem("socket", f"{name}'s socket cannot be bound: "
                             f"{row['socket_error']}",
                             "the daemon retries by itself; its journal says why", page))
    return found


def _many(count: int, word: str) -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")
