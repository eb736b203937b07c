"""Cold-start benchmark: how long the hive's command-line tools take to print --help.

Times ``hive-c0re --help``, ``hive-ag3nt --help`` and ``hive-m1nd --help`` (the
console scripts beside this interpreter) against ``python -c pass`` run by the
same interpreter, round-robin so that every command shares the machine's noise;
then shows which modules dominate ``hive-c0re --help``'s imports
(``python -X importtime``).

Run by hand: ``.venv/bin/python bench/cold_start.py [--quick]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

TARGET_MS = 150.0
BIN = Path(sys.executable).parent
TOOLS = ("hive-c0re", "hive-ag3nt", "hive-m1nd")


class BenchError(Exception):
    """A command failed or could not be found."""


@dataclass
class Command:
    label: str
    argv: list[str]
    times: list[float] = field(default_factory=list)  # seconds

    @property
    def median(self) -> float:
        return statistics.median(self.times)


def _env() -> dict[str, str]:
    env = dict(os.environ)
    # Keep the runs plain: no colour negotiation, no user site, no inherited tweaks.
    for var in ("PYTHONSTARTUP", "PYTHONPROFILEIMPORTTIME", "PYTHONDEVMODE", "PYTHONTRACEMALLOC"):
        env.pop(var, None)
    env["NO_COLOR"] = "1"
    env["TERM"] = "dumb"
    return env


def run_once(argv: Sequence[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    proc = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, check=False)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise BenchError(f"{' '.join(argv)} exited with {proc.returncode}: "
                         f"{proc.stderr.decode(errors='replace')[-500:]}")
    return elapsed


def commands() -> list[Command]:
    found = [Command("python -c pass", [sys.executable, "-c", "pass"])]
    for tool in TOOLS:
        script = BIN / tool
        if not script.exists():
            raise BenchError(f"{script} not found: install the project into this venv "
                             f"(pip install -e .)")
        found.append(Command(f"{tool} --help", [str(script), "--help"]))
    return found


def time_commands(cmds: list[Command], runs: int) -> None:
    """``runs`` rounds; each round runs every command once, rotating the order."""
    env = _env()
    for cmd in cmds:  # warm the page cache and the .pyc files; not measured
        run_once(cmd.argv, env)
    for round_ in range(runs):
        shift = round_ % len(cmds)
        for cmd in cmds[shift:] + cmds[:shift]:
            cmd.times.append(run_once(cmd.argv, env))


@dataclass
class ImportTime:
    module: str
    self_us: float
    cumulative_us: float


def parse_importtime(stderr: str) -> list[ImportTime]:
    """Rows of ``-X importtime`` output ("import time: self | cumulative | name")."""
    rows: list[ImportTime] = []
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "[us]" in line:
            continue
        parts = line[len("import time:"):].split("|")
        if len(parts) != 3:
            continue
        try:
            rows.append(ImportTime(parts[2].strip(), float(parts[0]), float(parts[1])))
        except ValueError:
            continue
    return rows


def importtime(script: Path, runs: int) -> dict[str, ImportTime]:
    """Median self and cumulative import time of each module over ``runs`` runs."""
    env = _env()
    samples: dict[str, list[ImportTime]] = defaultdict(list)
    for _ in range(runs):
        proc = subprocess.run([sys.executable, "-X", "importtime", str(script), "--help"],
                              env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, check=False)
        if proc.returncode != 0:
            raise BenchError(f"-X importtime {script} --help exited with {proc.returncode}")
        for row in parse_importtime(proc.stderr.decode(errors="replace")):
            samples[row.module].append(row)
    return {
        module: ImportTime(module, statistics.median(r.self_us for r in rows),
                           statistics.median(r.cumulative_us for r in rows))
        for module, rows in samples.items()
    }


def report_imports(label: str, rows: dict[str, ImportTime], top: int) -> None:
    total_self = sum(r.self_us for r in rows.values())
    print(f"import time of `{label}` (python -X importtime, median of runs; "
          f"{len(rows)} modules, {total_self / 1000:.1f} ms in all, site/encodings included)")
    print(f"  top {top} modules by self time:")
    print(f"    {'self ms':>7}  {'cumulative ms':>13}  module")
    for row in sorted(rows.values(), key=lambda r: r.self_us, reverse=True)[:top]:
        print(f"    {row.self_us / 1000:>7.2f}  {row.cumulative_us / 1000:>13.2f}  {row.module}")
    packages: dict[str, float] = defaultdict(float)
    counts: dict[str, int] = defaultdict(int)
    for row in rows.values():
        package = row.module.split(".")[0]
        packages[package] += row.self_us
        counts[package] += 1
    print(f"  top {top} top-level packages by summed self time:")
    print(f"    {'ms':>7}  {'modules':>7}  package")
    for package, spent in sorted(packages.items(), key=lambda kv: kv[1], reverse=True)[:top]:
        print(f"    {spent / 1000:>7.2f}  {counts[package]:>7}  {package}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="a few-second smoke run (5 runs)")
    parser.add_argument("--runs", type=int, help="timed runs per command (default 20; quick 5)")
    parser.add_argument("--importtime-runs", type=int,
                        help="-X importtime runs to take medians over (default 5; quick 1)")
    parser.add_argument("--top", type=int, default=10, help="modules to list")
    ns = parser.parse_args(argv)
    runs = int(ns.runs if ns.runs is not None else (5 if ns.quick else 20))
    it_runs = int(ns.importtime_runs if ns.importtime_runs is not None
                  else (1 if ns.quick else 5))
    started = time.perf_counter()
    try:
        cmds = commands()
        time_commands(cmds, max(1, runs))
        imports = importtime(BIN / "hive-c0re", max(1, it_runs))
    except BenchError as exc:
        print(f"cold_start: {exc}", file=sys.stderr)
        return 1

    base = cmds[0].median
    print(f"cold start ({'quick' if ns.quick else 'full'}): python {platform.python_version()} "
          f"({sys.executable}), {os.cpu_count()} cpu(s), {runs} runs each, round-robin")
    print()
    header = (f"{'command':<20}  {'median ms':>9}  {'min ms':>7}  {'max ms':>7}  "
              f"{'x python':>8}  {'+ms':>6}  target <= {TARGET_MS:g} ms")
    print(header)
    print("-" * len(header))
    for cmd in cmds:
        median_ms = cmd.median * 1000
        target = "" if cmd is cmds[0] else ("PASS" if median_ms <= TARGET_MS else "MISS")
        print(f"{cmd.label:<20}  {median_ms:>9.1f}  {min(cmd.times) * 1000:>7.1f}  "
              f"{max(cmd.times) * 1000:>7.1f}  {cmd.median / base:>7.2f}x  "
              f"{(cmd.median - base) * 1000:>6.1f}  {target}")
    print()
    report_imports("hive-c0re --help", imports, max(1, ns.top))
    print(f"(took {time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
