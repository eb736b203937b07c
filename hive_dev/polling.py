"""Waiting for what another process brings about: bounded, never a claim about speed."""

from __future__ import annotations

import time
from collections.abc import Callable


def eventually(check: Callable[[], bool], timeout: float = 30, every: float = 0.05) -> bool:
    """Whether ``check`` holds within ``timeout`` seconds, asked every ``every`` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(every)
    return True


def wait_until(check: Callable[[], bool], what: str, timeout: float = 30,
               every: float = 0.05) -> None:
    """Until ``check`` holds; TimeoutError naming ``what`` after ``timeout`` seconds."""
    if not eventually(check, timeout, every):
        raise TimeoutError(f"gave up waiting for {what}")
