"""``hive-c0re logs alice``: her story from the real journal and the hive's events.

alice runs the real harness in a real container with the real claude CLI; the
stand-in model answers the operator's message with a tool call (a reply to
the operator). The CLI runs inside the sandbox, where that journal is.
"""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from hive_dev.fakes.script import ToolCall
from hive_dev.polling import wait_until
from hive_dev.sandbox import Sandbox, SandboxHive, in_container
from tests.sandbox.harness_support import alice_answering, await_tool_result, harness_hive

pytestmark = pytest.mark.sandbox

HARNESS = "{python} -m hive_ag3nt serve --no-ui"
STAMP = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}"
ANY_TIME = re.compile(r"\d\d:\d\d:\d\d")


def _argv(hive: SandboxHive, *args: str) -> tuple[str, ...]:
    return (sys.executable, "-m", "hive_c0re", "--socket", str(hive.host_socket), *args)


def logs(hive: SandboxHive, *args: str, as_json: bool = False) -> list[str]:
    done = hive.sandbox.run(*_argv(hive, *(("--json",) if as_json else ()), "logs", "alice",
                                   *args), check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def _position(lines: list[str], pattern: str) -> int:
    found = [i for i, line in enumerate(lines) if re.search(pattern, line)]
    assert found, f"no line matches {pattern!r}:\n" + "\n".join(lines)
    return found[0]


def _one_timestamp_each(lines: list[str]) -> None:
    for line in lines:
        assert re.match(STAMP + "  ", line), line
        rest = re.sub(STAMP, "", line, count=1)
        assert not ANY_TIME.search(rest), f"a second timestamp in {line!r}"
        # The harness's <N> prefix is the journal's to read (as the priority), not to show.
        assert not re.match(r"  \w+ +<\d>", rest), line


def _alice_answers_once(hive: SandboxHive, tmp_path: Path) -> tuple[int, float]:
    """alice spawned, asked once, her reply out and her mail acked: (the ask's id, the
    time between the spawn and the ask)."""
    pong = ToolCall("mcp__hive__send", {"to": "operator", "body": "pong from the container"},
                    id="toolu_pong")
    hive.call("register", name="alice")
    with alice_answering(hive, tmp_path, "ping from the operator", pong, "answered",
                         has_tool="mcp__hive__send") as api:
        time.sleep(0.05)  # the spawn's event and the cut below are not the same instant
        cut = time.time()
        (asked,) = hive.call("send", to="alice", body="ping from the operator, "
                                                      "with a few more words")["ids"]
        await_tool_result(hive, api, "toolu_pong", "alice's reply to go out", settled=True)
        wait_until(lambda: any(re.search(r"turn \d+ ok in", line) for line in logs(hive)),
                   "alice's turn to end in her story", 30, every=0.2)
    return asked, cut


def test_logs_tell_alices_story_in_order_with_one_timestamp_a_line(
        sandbox: Sandbox, tmp_path: Path) -> None:
    hive = harness_hive(sandbox, tmp_path, HARNESS)
    asked, cut = _alice_answers_once(hive, tmp_path)
    lines = logs(hive)
    _one_timestamp_each(lines)
    (reply,) = hive.call("inbox")["messages"]
    # The turn that answers: the spawn's own mail may have had a turn before the ask came.
    tool = _position(lines, r"  agent  turn \d+ tool mcp__hive__send .*pong from the container")
    answering = re.search(r"  agent  turn (\d+) tool", lines[tool])
    assert answering is not None, lines[tool]
    order = [
        _position(lines, r"  event  spawned \(uid base \d+\)"),
        _position(lines, rf"  hive   mail #{asked} operator → alice: ping from the operator, "
                         "with a few more words"),
        _position(lines, rf"  agent  mail in #{asked} from operator: ping from the operator"),
        _position(lines, rf"  agent  turn {answering[1]} start \(mail"),
        tool,
    ]
    assert order == sorted(order), "\n".join(lines)
    mail_out = _position(lines, rf"  hive   mail #{reply['id']} alice → operator: pong from")
    turn_end = _position(lines, rf"  agent  turn {answering[1]} ok in \d+\.\d s, "
                                r"\d+ tokens in, \d+ out")
    # The reply goes out during the turn, so it may come before the turn's end line.
    assert order[-2] < mail_out and order[-1] < turn_end, "\n".join(lines)
    assert any(re.search(rf"  agent  mail sent to operator: #{reply['id']}", line)
               for line in lines), "\n".join(lines)
    # --since: the spawn is before the cut, the rest after it.
    later = logs(hive, "--since", str(cut))
    assert not [line for line in later if "spawned" in line], later
    assert any(f"mail #{asked} operator → alice" in line for line in later), later
    # --json: one compact object per line.
    objects = [json.loads(line) for line in logs(hive, "--since", str(cut), as_json=True)]
    assert objects and {tuple(sorted(o)) for o in objects} == {("at", "source", "text")}


def _reader(stream: subprocess.Popen[str]) -> queue.Queue[str]:
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:
        assert stream.stdout is not None
        for line in stream.stdout:
            lines.put(line.rstrip("\n"))

    threading.Thread(target=read, daemon=True).start()
    return lines


def _until(lines: queue.Queue[str], pattern: str, seconds: float) -> str:
    deadline = time.monotonic() + seconds
    while True:
        try:
            line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise AssertionError(f"no line matching {pattern!r} came") from None
        if re.search(pattern, line):
            return line


def test_logs_follow_shows_new_mail_and_ends_on_sigint(sandbox: Sandbox, tmp_path: Path) -> None:
    hive = harness_hive(sandbox, tmp_path, HARNESS)
    _alice_answers_once(hive, tmp_path)
    follower = hive.sandbox.popen(*_argv(hive, "logs", "alice", "-f"), stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, start_new_session=True)
    try:
        lines = _reader(follower)
        _until(lines, r"turn \d+ ok in", 30)
        (later,) = hive.call("send", to="alice", body="a second note for alice")["ids"]
        _one_timestamp_each([_until(lines, rf"mail #{later} operator → alice: a second", 30)])
        # ^C reaches the CLI (nsenter, its parent here, would die of it and tell nothing).
        (cli,) = Path(f"/proc/{follower.pid}/task/{follower.pid}/children").read_text().split()
        os.kill(int(cli), signal.SIGINT)
        assert follower.wait(timeout=15) == 0
        assert follower.stderr is not None
        assert "waiting for more of alice's log (Ctrl-C ends)" in follower.stderr.read()
    finally:
        if follower.poll() is None:
            os.killpg(follower.pid, signal.SIGKILL)
            follower.wait()


REFUSED = """
import socket
s = socket.socket(socket.AF_UNIX)
s.settimeout(20)
s.connect("/run/hive-egress/proxy.sock")
s.sendall(b"CONNECT 10.0.0.1:443 HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n")
print(s.recv(4096).decode(errors="replace"))
"""


def test_logs_show_egress_refusals_and_a_crash(container_hive: SandboxHive) -> None:
    hive = container_hive
    hive.call("spawn", name="alice")
    refused = in_container(hive, "alice", REFUSED)
    assert refused.stdout.startswith("HTTP/1.1 403 "), refused
    hive.sandbox.systemctl("kill", "--kill-whom=main", "-s", "KILL", "hive-agent@alice.service")
    wait_until(lambda: any("container crashed" in line for line in logs(hive)),
               "alice's crash in her story", 30, every=0.2)
    lines = logs(hive)
    _one_timestamp_each(lines)
    base = hive.call("agent_status", name="alice")["agent"]["uid_base"]
    refusal = _position(lines, rf"  hive   warning: refused a tunnel for uid base {base}: "
                               ".*not a public address")
    crash = _position(lines, r"  event  container crashed: signal")
    assert _position(lines, r"  event  spawned") < refusal < crash, "\n".join(lines)
    # journalctl HIVE_AGENT=alice alone tells the daemon's side: spawn, wake-up mail, crash.
    said = [json.loads(line)["MESSAGE"] for line in
            hive.sandbox.journal("HIVE_AGENT=alice").splitlines()]
    assert f"alice: spawned (uid base {base})" in said, said
    assert any(m.startswith("mail #1 system → alice: ") for m in said), said
    assert any(m.startswith("alice: container crashed: signal") for m in said), said
