"""ruff and mypy (strict) as tests: the suite fails when the code does not lint or type-check."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *argv], cwd=ROOT, capture_output=True,
                          text=True, check=False)


def test_ruff_finds_nothing() -> None:
    done = run("ruff", "check", "--no-cache", ".", "scripts/gen-man", "scripts/gen-nix")
    assert done.returncode == 0, done.stdout + done.stderr


def test_mypy_strict_finds_nothing() -> None:
    # The files and the strictness come from pyproject.toml, as when run by hand.
    done = run("mypy")
    assert done.returncode == 0, done.stdout + done.stderr
