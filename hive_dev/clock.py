"""The one clock a test moves by hand (``hive_c0re.broker.store.Clock``'s shape)."""

from __future__ import annotations

START = 1_800_000_000.0


class ManualClock:
    """Now is whatever the test last set; ``advance`` moves it on."""

    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        self.now += seconds
        return self.now
