"""``hive-ag3nt serve`` as a container starts it: what it holds before its first turn.

A real daemon and a real ``python -m hive_ag3nt serve`` (its UI too) on a fresh
agent state; no mail, so no turn and no model. Once the harness is long-polling,
the process prints its ``sys.modules`` when asked (a thread waiting on its
stdin; nothing else of it is changed). The SDK, the ORM and click are for turns
and for the other command lines, not for waiting on mail; the UI's libraries
for its first visitor.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hive_c0re.wire import UI_SECRET_HEADER
from hive_dev.daemon import DaemonProcess
from hive_dev.harness_support import (
    UI_SECRET,
    agent_paths,
    daemon_process,
    register,
    serve_env,
)
from hive_dev.unix_http import UnixHTTPConnection

# Not before the first turn (the hive's tools come from the SDK): nor in the UI.
NOT_BEFORE_A_TURN = {"claude_agent_sdk", "mcp", "pydantic", "jsonschema", "anyio", "click",
                     "peewee"}
DUMP = ("import json, sys, threading\n"
        "def dump():\n"
        "    while sys.stdin.readline():\n"
        "        print(json.dumps(sorted(sys.modules)), flush=True)\n"
        "threading.Thread(target=dump, daemon=True).start()\n"
        "sys.argv = ['hive-ag3nt', *sys.argv[1:]]\n"
        "from hive_ag3nt.cli import main\n"
        "main()\n")
REPO = Path(__file__).resolve().parents[2]
DEADLINE = 60.0  # only a hang fails on it


@pytest.fixture(scope="module")
def daemon() -> Iterator[DaemonProcess]:
    with daemon_process(manager_command="") as d:
        yield d


def idle_recorded(events: Path) -> bool:
    if not events.exists():
        return False
    try:
        with contextlib.closing(sqlite3.connect(f"file:{events}?mode=ro", uri=True)) as db:
            row = db.execute("SELECT count(*) FROM event WHERE kind = 'state' "
                             "AND data LIKE '%\"idle\"%'").fetchone()
    except sqlite3.Error:
        return False
    return bool(row[0])


def ui_status(path: Path) -> dict[str, object]:
    """``GET /status`` on the UI's socket, with the agent's secret."""
    connection = UnixHTTPConnection(path, DEADLINE, host="agent")
    try:
        connection.request("GET", "/status", headers={UI_SECRET_HEADER: UI_SECRET})
        response = connection.getresponse()
        assert response.status == 200
        answer: dict[str, object] = json.loads(response.read())
        return answer
    finally:
        connection.close()


@contextlib.contextmanager
def serving(env: dict[str, str], *words: str) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen([sys.executable, "-c", DUMP, "serve", *words], env=env, cwd=REPO,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL)
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wait_for(proc: subprocess.Popen[bytes], *conditions: object) -> None:
    deadline = time.monotonic() + DEADLINE
    while not all(condition() for condition in conditions):  # type: ignore[operator]
        assert proc.poll() is None, f"serve exited with {proc.returncode}"
        assert time.monotonic() < deadline, "serve did not come up"
        time.sleep(0.02)


def modules_of(proc: subprocess.Popen[bytes]) -> set[str]:
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(b"\n")
    proc.stdin.flush()
    return set(json.loads(proc.stdout.readline()))


def top_level(modules: set[str]) -> set[str]:
    return {name.partition(".")[0] for name in modules}


@pytest.mark.parametrize("words", [(), ("--no-ui",)])
def test_serve_waits_for_mail_without_the_sdk_the_orm_click_or_the_ui_libraries(
        tmp_path: Path, daemon: DaemonProcess, words: tuple[str, ...]) -> None:
    name = "st-ui" if not words else "st-noui"
    register(daemon, name)
    paths = agent_paths(tmp_path, daemon.agent_socket(name))
    with serving(serve_env(paths, "http://127.0.0.1:9"), *words) as proc:
        wait_for(proc, lambda: idle_recorded(paths.events))
        held = top_level(modules_of(proc))
        assert "hive_ag3nt" in held
        assert held & (NOT_BEFORE_A_TURN | {"aiohttp"}) == set()
        assert paths.ui_socket.is_socket() is not bool(words)
        if not words:  # its first visitor is answered: the UI starts then
            assert ui_status(paths.ui_socket)["state"] == "idle"
            assert "aiohttp" in top_level(modules_of(proc))
    assert not paths.ui_socket.exists()


def test_the_ui_answers_while_the_hive_is_away(tmp_path: Path) -> None:
    paths = agent_paths(tmp_path, tmp_path / "no-hive.sock")
    with serving(serve_env(paths, "http://127.0.0.1:9")) as proc:
        wait_for(proc, paths.ui_socket.is_socket)
        assert ui_status(paths.ui_socket)["state"] == "offline"
        assert not idle_recorded(paths.events)


@pytest.mark.parametrize("program", ["hive_ag3nt", "hive_m1nd"])
@pytest.mark.parametrize("words", [("serve",), ("serve", "--no-ui")])
def test_serve_without_click_fails_as_the_command_group_does(
        program: str, words: tuple[str, ...]) -> None:
    # Past its limit: a HiveError (refused) before anything starts.
    env = {"PATH": "/usr/bin:/bin", "HYPERHIVE_RECV_WAIT": "600"}
    done = subprocess.run([sys.executable, "-m", program, *words], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=DEADLINE)
    assert (done.returncode, done.stdout) == (4, "")
    assert done.stderr == "error: setting recv_wait must be at most 180\n"
