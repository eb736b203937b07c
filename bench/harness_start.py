"""Harness start benchmark: exec of ``python -m hive_ag3nt serve`` to its first long-poll.

A real daemon (``hive_dev.daemon.DaemonProcess``) and, per run, a fresh agent
state (as a spawn has it) and a real ``hive-ag3nt serve`` with its web UI, as
in production; no turn is taken, so no model is needed. Each run times, from
just before the exec:

* ``polling``: the harness's ``state idle`` event (its own clock, in its events
  log): written when it has reached the hive and taken back what was in
  flight, right before its first long-poll for mail goes out;
* ``ui``: then its UI's first answer, to ``GET /status`` with the agent's secret
  (tried every 5 ms once the harness polls: the UI starts its app at its
  first connection, which must not come before);
* the harness's RSS before that first visit and after it, and the heavy
  modules it holds before it (``--modules``).

Against, in the same run and in rotating order: ``python -c pass`` (exec to
exit) and, with ``--base DIR``, the same serve from another checkout (e.g.
``git archive <rev> | tar -x -C DIR``; its bytecode is compiled first as
``scripts/setup`` does, and this checkout's too). The ratios are what to read:
the machine is shared.

Run by hand: ``.venv/bin/python bench/harness_start.py [--quick] [--base DIR]``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # also runnable as ``python bench/harness_start.py``
    sys.path.insert(0, str(REPO))

from bench.common import BenchError, fmt_ms, machine, median, step  # noqa: E402

if TYPE_CHECKING:
    from hive_dev.daemon import DaemonProcess

START_TIMEOUT = 60.0
PACKAGES = ("hive_ag3nt", "hive_c0re", "hive_m1nd", "hive_dev")
# What a start before any turn should not need to hold (it is reported, not asserted).
HEAVY = ("claude_agent_sdk", "mcp", "pydantic", "click", "peewee", "aiohttp", "jinja2")
DUMP = ("import json, sys, threading\n"
        "def dump():\n"
        "    while sys.stdin.readline():\n"
        "        print(json.dumps(sorted(sys.modules)), flush=True)\n"
        "threading.Thread(target=dump, daemon=True).start()\n"
        "sys.argv = ['hive-ag3nt', 'serve']\n"
        "from hive_ag3nt.cli import main\n"
        "main()\n")


@dataclass
class Tree:
    label: str
    root: Path
    polling: list[float] = field(default_factory=list)
    ui: list[float] = field(default_factory=list)
    rss_kib: list[float] = field(default_factory=list)
    rss_ui_kib: list[float] = field(default_factory=list)
    heavy: set[str] = field(default_factory=set)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--quick", action="store_true", help="3 runs")
    parser.add_argument("--base", type=Path, help="another checkout to compare against")
    parser.add_argument("--modules", action="store_true",
                        help="report the heavy modules each serve holds once up (the serve "
                             "then runs under a small wrapper that dumps sys.modules)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    opts = parser.parse_args(argv)
    if opts.quick:
        opts.runs = 3
    return opts


def compile_tree(root: Path) -> None:
    """Bytecode any user may read, as an installed hive has it (hive_dev.bytecode)."""
    subprocess.run([sys.executable, "-m", "hive_dev.bytecode", "--compile",
                    *(str(root / p) for p in PACKAGES if (root / p).is_dir())],
                   check=True, cwd=REPO)


def time_pass() -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    return time.perf_counter() - started


def idle_at(events: Path, after: float) -> float | None:
    """When the harness recorded ``state idle`` after ``after`` (its clock), if it has."""
    if not events.exists():
        return None
    try:
        with contextlib.closing(sqlite3.connect(f"file:{events}?mode=ro", uri=True,
                                                timeout=0.5)) as db:
            row = db.execute("SELECT min(at) FROM event WHERE kind = 'state' AND at > ? "
                             "AND data LIKE '%\"idle\"%'", (after,)).fetchone()
    except sqlite3.Error:
        return None
    return float(row[0]) if row and row[0] is not None else None


def ui_answers(path: Path) -> bool:
    """Whether the UI answers ``GET /status`` (with the agent's secret) with a 200."""
    from hive_c0re.wire import UI_SECRET_HEADER
    from hive_dev.harness_support import UI_SECRET
    from hive_dev.unix_http import UnixHTTPConnection

    connection = UnixHTTPConnection(path, START_TIMEOUT, host="agent")
    try:
        connection.request("GET", "/status", headers={UI_SECRET_HEADER: UI_SECRET})
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()


def rss_kib(pid: int) -> float:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return float(line.split()[1])
    return float("nan")


def serve_once(tree: Tree, daemon: DaemonProcess, scratch: Path, name: str,
               modules: bool) -> None:
    """One spawn of ``name``'s harness from ``tree``: fresh state, timed to polling and UI."""
    from hive_dev.harness_support import agent_paths, serve_env

    agent_dir = Path(tempfile.mkdtemp(prefix=f"{tree.label}.", dir=scratch))
    paths = agent_paths(agent_dir, daemon.agent_socket(name))
    env = serve_env(paths, "http://127.0.0.1:9")  # no turn: the model is never asked
    env["PYTHONPATH"] = str(tree.root)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    argv = [sys.executable, "-c", DUMP] if modules else [sys.executable, "-m", "hive_ag3nt",
                                                         "serve"]
    log = (agent_dir / "serve.log").open("wb")
    started = time.time()
    clock = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, cwd=tree.root,
                            stdout=subprocess.PIPE if modules else log,
                            stderr=log, stdin=subprocess.PIPE if modules else subprocess.DEVNULL)
    try:
        polled: float | None = None
        while polled is None:
            if proc.poll() is not None:
                raise BenchError(f"{tree.label}: serve exited with {proc.returncode}:\n"
                                 + (agent_dir / "serve.log").read_text(errors="replace")[-2000:])
            if time.perf_counter() - clock > START_TIMEOUT:
                raise BenchError(f"{tree.label}: serve not polling within {START_TIMEOUT:.0f} s")
            if (at := idle_at(paths.events, started)) is not None:
                polled = at - started
            else:
                time.sleep(0.005)
        tree.polling.append(polled)
        tree.rss_kib.append(rss_kib(proc.pid))
        if modules:
            assert proc.stdin is not None and proc.stdout is not None
            proc.stdin.write(b"\n")
            proc.stdin.flush()
            held = set(json.loads(proc.stdout.readline()))
            tree.heavy |= {m for m in HEAVY if m in held}
        while not ui_answers(paths.ui_socket):
            if proc.poll() is not None or time.perf_counter() - clock > START_TIMEOUT:
                raise BenchError(f"{tree.label}: the UI did not answer")
            time.sleep(0.005)
        tree.ui.append(time.perf_counter() - clock)
        tree.rss_ui_kib.append(rss_kib(proc.pid))
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        shutil.rmtree(agent_dir, ignore_errors=True)


def report(trees: list[Tree], passes: list[float], runs: int) -> dict[str, object]:
    floor = median(passes)
    print(f"\nharness start: {runs} run(s) each, {machine()}")
    print(f"  python -c pass (exec to exit)      {fmt_ms(floor):>7} ms")
    summary: dict[str, object] = {"runs": runs, "pass_s": floor, "trees": {}}
    for tree in trees:
        polling, ui = median(tree.polling), median(tree.ui)
        rss, rss_ui = median(tree.rss_kib) / 1024, median(tree.rss_ui_kib) / 1024
        print(f"  {tree.label}: exec to first long-poll {fmt_ms(polling):>7} ms "
              f"({polling / floor:.1f}x pass); to the UI's first answer {fmt_ms(ui):>7} ms "
              f"({ui / floor:.1f}x pass); RSS {rss:.0f} MiB, {rss_ui:.0f} after a UI visit"
              + (f"; holds {', '.join(sorted(tree.heavy)) or 'none of them'}"
                 if tree.heavy or trees[0].heavy else ""))
        summary["trees"][tree.label] = {  # type: ignore[index]
            "polling_s": polling, "ui_s": ui, "rss_mib": rss, "rss_after_ui_mib": rss_ui,
            "polling_over_pass": polling / floor, "ui_over_pass": ui / floor,
            "heavy": sorted(tree.heavy)}
    if len(trees) == 2:
        this, base = trees
        print(f"  this / base: first long-poll {median(this.polling) / median(base.polling):.2f}x,"
              f" UI's first answer {median(this.ui) / median(base.ui):.2f}x, idle RSS "
              f"{median(this.rss_kib) / median(base.rss_kib):.2f}x")
    return summary


def main(argv: Sequence[str] | None = None) -> int:
    opts = parse_args(argv)
    from hive_c0re.client import Client
    from hive_dev.daemon import DaemonProcess

    trees = [Tree("this", REPO)]
    if opts.base is not None:
        if not (opts.base / "hive_ag3nt").is_dir():
            print(f"harness start bench: no hive_ag3nt under {opts.base}", file=sys.stderr)
            return 1
        trees.append(Tree("base", opts.base.resolve()))
    step("compiling bytecode readable by all")
    for tree in trees:
        compile_tree(tree.root)
    scratch = Path(tempfile.mkdtemp(prefix="hhs.", dir="/tmp"))
    daemon: DaemonProcess | None = None
    passes: list[float] = []
    try:
        step("starting hive-c0re")
        daemon = DaemonProcess(manager_command="")
        with Client(daemon.host_socket) as host:
            for tree in trees:
                host.call("register", name=f"hs-{tree.label}")
        step(f"{opts.runs} run(s): pass, then each serve, in rotating order")
        for run in range(opts.runs):
            jobs: list[Tree | None] = [None, *trees]
            shift = run % len(jobs)
            for job in jobs[shift:] + jobs[:shift]:
                if job is None:
                    passes.append(time_pass())
                else:
                    serve_once(job, daemon, scratch, f"hs-{job.label}", opts.modules)
        summary = report(trees, passes, opts.runs)
        if opts.json is not None:
            opts.json.write_text(json.dumps(summary, indent=2) + "\n")
    except BenchError as exc:
        print(f"harness start bench: {exc}", file=sys.stderr)
        return 1
    finally:
        if daemon is not None:
            daemon.stop()
            shutil.rmtree(daemon.root, ignore_errors=True)
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
