"""What every benchmark here prints with: percentiles, progress lines, its one error."""

from __future__ import annotations

import os
import platform
import subprocess
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


def fmt_ms(seconds: float | None) -> str:
    """Milliseconds, with the decimals a small value needs; n/a for what was not measured."""
    if seconds is None or seconds != seconds:
        return "n/a"
    ms = seconds * 1000
    if abs(ms) >= 100:
        return f"{ms:,.0f}"
    if abs(ms) >= 10:
        return f"{ms:.1f}"
    return f"{ms:.2f}"


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


class Spread:
    """Percentiles of a result's ``latencies`` (seconds); mixed into its dataclass."""

    latencies: list[float]

    @property
    def p50(self) -> float:
        return percentile(self.latencies, 50)

    @property
    def p99(self) -> float:
        return percentile(self.latencies, 99)


def machine() -> str:
    """This run's Python and CPU count, for a report's first line."""
    return f"python {platform.python_version()}, {os.cpu_count()} cpu(s)"


def version_of(tool: str) -> str:
    """The first line ``tool --version`` prints; empty if it prints none."""
    done = subprocess.run([tool, "--version"], capture_output=True, text=True, check=False)
    return done.stdout.split("\n", 1)[0]
