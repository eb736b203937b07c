"""The model's side cannot reach the operator's door, in a real container with the real CLI.

alice's container runs the real harness with its web UI and the claude CLI
from the SDK's wheel against the scripted Messages API. Once a turn has
run, the CLI is alive; every attack below runs inside the container with
that CLI process's own credentials (its uid and gid, in all its namespaces:
what its Bash tool and every child of it get), and must be refused. The
operator, with the daemon's secret, still gets in; a request without it,
and a terminal handshake from a foreign Origin or Host, does not.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from hive_ag3nt.runner import bundled_cli
from hive_c0re import wire
from hive_c0re.wire import UI_SECRET_HEADER as HEADER
from hive_dev.fakes.script import ToolCall
from hive_dev.sandbox import (
    Sandbox,
    SandboxHive,
    children,
    container_process,
    in_container,
)
from tests.sandbox.approval_support import deploy
from tests.sandbox.harness_support import (
    alice_answering,
    await_tool_result,
    cli_processes,
    harness_hive,
)

pytestmark = pytest.mark.sandbox

HARNESS = "{python} -m hive_ag3nt serve"
MODEL_UID = 1000

# Run as the model's side. Each attempt prints what happened: "refused" (EACCES or
# EPERM), or what it got. The harness is the process running `hive_ag3nt serve`.
ATTACKS = r"""
import ctypes, errno, json, os, socket
def harness():
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            argv = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")
        except OSError:
            continue
        if b"hive_ag3nt" in argv and b"serve" in argv:
            return int(pid)
def attempt(what):
    try:
        return "got: " + repr(what())[:80]
    except OSError as exc:
        return "refused" if exc.errno in (errno.EACCES, errno.EPERM) else f"error: {exc!r}"
def connect(path):
    s = socket.socket(socket.AF_UNIX)
    try:
        s.connect(path)
        s.sendall(b"GET /status HTTP/1.0\r\nHost: localhost\r\n\r\n")
        return s.recv(200)
    finally:
        s.close()
def ptrace():
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.ptrace(16, pid, 0, 0) != 0:  # PTRACE_ATTACH
        raise OSError(ctypes.get_errno(), "ptrace")
    return "attached"
pid = harness()
found = {
    "ids": [os.getuid(), os.getgid(), os.getgroups()],
    "ui.sock": attempt(lambda: connect("/run/hive/ui.sock")),
    "hive.sock": attempt(lambda: connect("/run/hive/hive.sock")),
    "secret": attempt(lambda: open("/etc/hive/ui-secret").read()),
    "environ": attempt(lambda: open(f"/proc/{pid}/environ", "rb").read()),
    "fd list": attempt(lambda: os.listdir(f"/proc/{pid}/fd")),
    "fd 0": attempt(lambda: os.open(f"/proc/{pid}/fd/0", os.O_RDONLY)),
    "mem": attempt(lambda: open(f"/proc/{pid}/mem", "rb").read(1)),
    "ptrace": attempt(ptrace),
    "events read": attempt(lambda: open("/state/hyperhive-events.sqlite", "rb").read(16)),
    "events delete": attempt(lambda: os.unlink("/state/hyperhive-events.sqlite")),
    "events rename": attempt(lambda: os.rename("/state/hyperhive-events.sqlite", "/state/x")),
    "notes": attempt(lambda: open("/state/notes.md", "a").write("the model's own\n")),
    "credentials": attempt(lambda: open("/root/.claude/probe", "w").write("x")),
}
print(json.dumps(found))
"""


def credentials(hive: SandboxHive, pid: int) -> dict[str, str]:
    """The Uid/Gid/Groups/Cap*/NoNewPrivs lines of ``pid``'s status."""
    status = hive.sandbox.run("cat", f"/proc/{pid}/status").stdout
    return {key: value.strip() for key, _, value in
            (line.partition(":") for line in status.splitlines())}


def uid_base(hive: SandboxHive, pid: int) -> int:
    return int(hive.sandbox.run("cat", f"/proc/{pid}/uid_map").stdout.split()[1])


def as_process(hive: SandboxHive, pid: int, code: str) -> dict[str, Any]:
    """Run Python ``code`` in ``pid``'s namespaces with its uid and gid (as seen inside)."""
    base = uid_base(hive, pid)
    status = credentials(hive, pid)
    uid, gid = int(status["Uid"].split()[0]) - base, int(status["Gid"].split()[0]) - base
    done = hive.sandbox.run("nsenter", "-t", str(pid), "-a", "-r", "-w", f"--setuid={uid}",
                            f"--setgid={gid}", "--", sys.executable, "-c", code, check=False)
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def the_cli(hive: SandboxHive) -> int:
    harness = container_process(hive, "alice")
    (cli,) = (int(c) for c in children(hive, harness))
    return cli


def printed(content: Any) -> dict[str, Any]:
    """The JSON object a Bash tool result printed (the CLI gives a string or text blocks)."""
    text = content if isinstance(content, str) else "".join(
        str(block.get("text", "")) for block in content if isinstance(block, dict))
    found: dict[str, Any] = json.loads(text[text.index("{"):text.rindex("}") + 1])
    return found


def cli_stderr(hive: SandboxHive) -> str:
    """What the CLI (or the wrapper before it) said on stderr, from the events log."""
    query = ("import sqlite3; db = sqlite3.connect('/state/hyperhive-events.sqlite'); "
             "print([r[0] for r in db.execute(\"select data from event where kind='stderr'\")]"
             "[-20:])")
    done = in_container(hive, "alice", query)
    return f"CLI stderr: {done.stdout}{done.stderr}\n"


def operator_cli(hive: SandboxHive, *args: str) -> subprocess.CompletedProcess[str]:
    """``hive-c0re ARGS`` on the host, as root, against this hive's runtime dir."""
    env = {**os.environ, "HYPERHIVE_RUNTIME_DIR": str(hive.sandbox.runtime / "hyperhive")}
    return subprocess.run([sys.executable, "-m", "hive_c0re", "--socket", str(hive.host_socket),
                           *args], capture_output=True, text=True, env=env, timeout=60)


@pytest.fixture
def alice(sandbox: Sandbox, tmp_path: Path) -> Any:
    """alice's container after one real turn: the CLI is up and stays up."""
    hive = harness_hive(sandbox, tmp_path, HARNESS)
    hive.call("register", name="alice")
    (asked,) = hive.call("send", to="alice", body="ping from the operator")["ids"]
    pong = ToolCall("mcp__hive__send", {"to": "operator", "body": "pong", "in_reply_to": asked},
                    id="toolu_pong")
    with alice_answering(hive, tmp_path, "ping from the operator", pong, "answered") as api:
        await_tool_result(hive, api, "toolu_pong", "alice's answer", settled=True,
                          more=lambda: cli_stderr(hive))
        yield hive


def test_the_models_side_cannot_reach_the_ui_the_secret_or_the_harness(
        alice: SandboxHive) -> None:
    hive = alice
    assert [argv[0] for argv in cli_processes(hive, "alice")] == [bundled_cli()]
    cli = the_cli(hive)
    found = as_process(hive, cli, ATTACKS)
    assert found["ids"] == [MODEL_UID, MODEL_UID, []], found
    refused = ("ui.sock", "hive.sock", "secret", "environ", "fd list", "fd 0", "mem", "ptrace",
               "events read", "events delete", "events rename")
    assert {k: found[k] for k in refused} == dict.fromkeys(refused, "refused"), found
    # What is the model's own stays its own to write.
    assert found["notes"].startswith("got:") and found["credentials"].startswith("got:"), found
    # The CLI itself: the model's uid and gid for real, saved ids too, no groups, no
    # capabilities (not even in its bounding set), and no way to gain any.
    status = credentials(hive, cli)
    base = uid_base(hive, cli)
    assert status["Uid"].split() == [str(base + MODEL_UID)] * 4, status
    assert status["Gid"].split() == [str(base + MODEL_UID)] * 4, status
    assert status["Groups"] == "", status
    for cap in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
        assert int(status[cap], 16) == 0, (cap, status)
    assert status["NoNewPrivs"] == "1", status
    # The hive still serves alice and the operator.
    assert hive.call("agent_status", name="alice")["agent"]["name"] == "alice"


def test_the_ui_wants_the_daemons_secret_and_its_own_origin(alice: SandboxHive) -> None:
    hive = alice
    listed = operator_cli(hive, "--json", "ui", "alice", "--secret")
    assert listed.returncode == 0, listed.stderr
    door = json.loads(listed.stdout)
    shown = operator_cli(hive, "ui", "alice", "/status")
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["name"] == "alice"
    # Inside, the secret is the harness's (the container's root) alone.
    mode = in_container(hive, "alice", "import os; s = os.stat('/etc/hive/ui-secret'); "
                                       "print(oct(s.st_mode & 0o777), s.st_uid)")
    assert mode.stdout.split() == ["0o400", "0"], mode

    async def scenario() -> None:
        connector = aiohttp.UnixConnector(path=door["socket"])
        async with aiohttp.ClientSession(connector=connector,
                                         base_url="http://localhost") as http:
            for headers in ({}, {HEADER: "guessed"}):
                async with http.get("/status", headers=headers) as response:
                    assert response.status == 401, headers
                async with http.post("/prompt", json={"text": "/status"},
                                     headers=headers) as response:
                    assert response.status == 401, headers
            secret = {HEADER: door["secret"]}
            async with http.get("/status", headers=secret) as response:
                assert response.status == 200
            for foreign in ({"Origin": "https://evil.example"}, {"Host": "evil.example"}):
                with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                    await http.ws_connect("/terminal", headers={**secret, **foreign})
                assert refused.value.status == 403, foreign
            own = {**secret, "Origin": "http://localhost"}
            async with http.ws_connect("/terminal", headers=own) as ws:
                await ws.send_bytes(b"echo uid-$(id -u)-done\n")
                seen = ""
                async with asyncio.timeout(15):
                    while "uid-0-done" not in seen:  # the operator's shell is the harness's
                        seen += (await ws.receive_bytes()).decode(errors="replace")

    asyncio.run(scenario())


async def _status_through_the_daemon(hive: SandboxHive, *,
                                     with_secret: bool) -> tuple[dict[str, Any], bytes]:
    """GET /status over an agent_ui pipe on host.sock: (its first answer, the UI's answer)."""
    reader, writer = await asyncio.open_unix_connection(str(hive.host_socket))
    try:
        writer.write(wire.encode({"cmd": "agent_ui", "name": "alice"}))
        first = json.loads(await reader.readline())
        secret = f"{HEADER}: {first['secret']}\r\n" if with_secret else ""
        writer.write(f"GET /status HTTP/1.1\r\nHost: localhost\r\n{secret}"
                     "Connection: close\r\n\r\n".encode())
        async with asyncio.timeout(30):
            return first, await reader.read()
    finally:
        writer.close()


def test_the_daemon_pipes_the_operator_to_the_ui(alice: SandboxHive) -> None:
    """agent_ui, the way the dashboard comes in: the real container's UI through host.sock."""
    door = json.loads(operator_cli(alice, "--json", "ui", "alice", "--secret").stdout)
    first, answered = asyncio.run(_status_through_the_daemon(alice, with_secret=True))
    assert first["ok"] and first["secret"] == door["secret"], first
    assert first["socket"] == door["socket"]
    head, _, body = answered.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), answered[:200]
    assert json.loads(body)["name"] == "alice"
    _, refused = asyncio.run(_status_through_the_daemon(alice, with_secret=False))
    assert refused.startswith(b"HTTP/1.1 401"), refused[:200]


def test_the_login_program_runs_as_the_model(alice: SandboxHive) -> None:
    """``claude auth login`` under the UI's PTY writes the model's credentials: as the model."""
    hive = alice
    door = json.loads(operator_cli(hive, "--json", "ui", "alice", "--secret").stdout)
    harness = container_process(hive, "alice")

    def login_program() -> dict[str, str] | None:
        """The status of the harness's child running ``auth login``, while it runs."""
        children = hive.sandbox.run("cat", f"/proc/{harness}/task/{harness}/children").stdout
        for child in children.split():
            argv = hive.sandbox.run("cat", f"/proc/{child}/cmdline", check=False).stdout
            # The wrapper's argv is [python, hive-ag3nt-model, auth, login]: this is the CLI.
            if argv.split("\0")[1:3] == ["auth", "login"]:
                return credentials(hive, int(child))
        return None

    async def scenario() -> dict[str, str]:
        connector = aiohttp.UnixConnector(path=door["socket"])
        async with aiohttp.ClientSession(connector=connector, base_url="http://localhost",
                                         headers={HEADER: door["secret"]}) as http:
            started = asyncio.ensure_future(http.post("/login/start", json={}))
            try:
                for _ in range(600):
                    status = await asyncio.to_thread(login_program)
                    if status is not None:
                        return status
                    await asyncio.sleep(0.05)
                raise AssertionError("the login program never ran")
            finally:
                (await started).close()

    status = asyncio.run(scenario())
    base = uid_base(hive, harness)
    assert status["Uid"].split() == [str(base + MODEL_UID)] * 4, status
    assert status["Groups"] == "" and status["NoNewPrivs"] == "1", status


def test_the_models_own_bash_is_refused_the_same(sandbox: Sandbox, tmp_path: Path) -> None:
    """The attack as the model itself makes it: a Bash tool call, allowed by its policy."""
    hive = harness_hive(sandbox, tmp_path, HARNESS)
    attack = ToolCall("Bash", {"command": f"/usr/bin/python3 - <<'PY'\n{ATTACKS}\nPY",
                               "description": "look around"}, id="toolu_attack")
    with alice_answering(hive, tmp_path, "look around", attack, "looked") as api:
        deploy(hive, "alice", 'allowed_bash = ["*"]\n', "alice may run anything")
        hive.call("send", to="alice", body="look around")
        await_tool_result(hive, api, "toolu_attack", "alice's Bash to run",
                          more=lambda: cli_stderr(hive))
        result = next(r for c in api.requests() if (r := c.tool_result("toolu_attack")))
    found = printed(result["content"])
    assert found["ids"] == [MODEL_UID, MODEL_UID, []], found
    refused = ("ui.sock", "hive.sock", "secret", "environ", "fd list", "fd 0", "mem", "ptrace",
               "events read", "events delete", "events rename")
    assert {k: found[k] for k in refused} == dict.fromkeys(refused, "refused"), found
    assert hive.call("agent_status", name="alice")["agent"]["name"] == "alice"
