"""scripts/setup says what it is doing and how long it took, and nothing when nothing is to do.

The step runner is run for real from the sourced script (sourcing defines
its functions and runs nothing): a step that creates a virtual environment,
a step that fails. The whole script runs twice on this checkout: the first
run may have work to do (and then says so, step by step), the second has
none and is silent.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SETUP = REPO / "scripts" / "setup"
STARTED = re.compile(r"^setup: (?P<what>.+) \.\.\.$")
ENDED = re.compile(r"^setup: (?P<what>.+): done in (?:\d+\.\ds|\d+m \d\ds)$")
READY = re.compile(r"^setup: ready in (?:\d+\.\ds|\d+m \d\ds)$")


def with_setup(script: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``script`` in bash after ``source scripts/setup``, run in ``cwd``."""
    return subprocess.run(
        ["bash", "-c", f'source "$1"; cd "$2"; {script}', "bash", str(SETUP), str(cwd)],
        capture_output=True, text=True, check=False, timeout=120)


def assert_step_lines(stderr: str) -> list[str]:
    """Every line is a step starting, then the same step done, then one closing line;
    returns the steps."""
    lines = stderr.splitlines()
    steps = []
    for start, end in zip(lines[:-1:2], lines[1:-1:2], strict=True):
        began, done = STARTED.match(start), ENDED.match(end)
        assert began and done and began["what"] == done["what"], stderr
        steps.append(began["what"])
    assert READY.match(lines[-1]), stderr
    return steps


def test_a_step_says_what_starts_and_how_long_it_took(tmp_path: Path) -> None:
    done = with_setup('step "Python environment: python3 -m venv v" '
                      "python3 -m venv --without-pip v && finished", tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""  # progress is for the person, on stderr
    assert assert_step_lines(done.stderr) == ["Python environment: python3 -m venv v"]
    assert (tmp_path / "v" / "bin" / "python").exists()


def test_a_failing_step_shows_its_output_and_stops(tmp_path: Path) -> None:
    done = with_setup('step "front-end packages: npm ci" sh -c "echo no network >&2; exit 3"; '
                      "echo not reached", tmp_path)
    assert done.returncode == 1
    assert "not reached" not in done.stdout
    lines = done.stderr.splitlines()
    assert lines[0] == "setup: front-end packages: npm ci ..."
    assert re.match(r"setup: front-end packages: npm ci failed after \d+\.\ds: sh -c ", lines[1])
    assert "no network" in done.stderr


def test_no_step_no_words(tmp_path: Path) -> None:
    done = with_setup("finished", tmp_path)
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


@pytest.mark.parametrize(("ago_us", "shown"), [
    (0, "0.0s"), (2_340_000, "2.3s"), (59_900_000, "59.9s"), (75_000_000, "1m 15s"),
    (3_725_000_000, "62m 05s"),
])
def test_elapsed_times_read_like_a_clock(tmp_path: Path, ago_us: int, shown: str) -> None:
    # Now has moved on a little when elapsed runs: well under a tenth of a second.
    done = with_setup(f"elapsed $(($(now_us) - {ago_us}))", tmp_path)
    assert done.stdout.strip() == shown, done.stderr


def test_setup_twice_the_second_time_silent() -> None:
    first = subprocess.run([str(SETUP)], capture_output=True, text=True, check=False,
                           timeout=1800)
    assert first.returncode == 0, first.stderr
    if first.stderr:  # this checkout had work to do: each step said so
        assert_step_lines(first.stderr)
    second = subprocess.run([str(SETUP)], capture_output=True, text=True, check=False,
                            timeout=300)
    assert (second.returncode, second.stdout, second.stderr) == (0, "", "")
