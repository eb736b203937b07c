"""What every benchmark here prints with: percentiles, progress lines, its one error."""

from __future__ import annotations

import sys
from collections.abc import Sequence


class BenchError(Exception):
    """The benchmark could not run (sandbox, daemon, container or timeout)."""


def percentile(values: Sequence[float], pct: float) -> float:
    """Linear-interpolated percentile (0-100) of ``values``."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * pct / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def median(values: Sequence[float]) -> float:
    return percentile(values, 50)


def step(text: str) -> None:
    """A progress line on stderr, so the results on stdout stay clean."""
    print(f"  .. {text}", file=sys.stderr, flush=True)
