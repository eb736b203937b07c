"""``agent_ui``: a real harness's web UI reached through a real daemon's host.sock.

The harness's ``ui.sock`` and secret sit where the daemon keeps an agent's
(its runtime and policy dirs); a small proxy here does what the dashboard
does with the pipe (first answer, then bytes both ways), so aiohttp speaks
HTTP and WebSocket to the UI through the daemon.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import shutil
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from hive_ag3nt.harness import Harness
from hive_ag3nt.paths import AgentPaths
from hive_ag3nt.settings import HarnessSettings
from hive_ag3nt.ui.app import start_ui
from hive_ag3nt.ui.config import UiSettings
from hive_c0re import splice, wire
from hive_c0re.client import Client
from hive_c0re.errors import HiveError
from hive_c0re.wire import UI_SECRET_HEADER as HEADER
from hive_dev.daemon import DaemonProcess, running_daemon
from tests.integration.ui_support import MODELS, SECRET, Screen, run, short_dir

_names = itertools.count(1)
Streams = tuple[asyncio.StreamReader, asyncio.StreamWriter]


@pytest.fixture(scope="module")
def daemon() -> Iterator[DaemonProcess]:
    # Few connections in all, most of them the operator's: the budget test fills them.
    with running_daemon(clean_exit=True, max_total_connections="24",
                        host_reserved_connections="4") as d:
        yield d


@dataclass
class HivedUi:
    name: str
    runner: web.AppRunner
    socket: Path


def _paths(daemon: DaemonProcess, name: str, scratch: Path) -> AgentPaths:
    """The harness's paths, its UI socket and secret where the daemon looks for them."""
    policy_dir = daemon.root / "run" / "policy" / name
    policy_dir.mkdir(parents=True, mode=0o700)
    (policy_dir / "policy.json").write_text(json.dumps({"model": "haiku",
                                                        "available_models": MODELS}))
    (policy_dir / "ui-secret").write_text(SECRET + "\n")
    (scratch / "state").mkdir()
    return AgentPaths(state=scratch / "state", run=daemon.root / "run" / "agents" / name,
                      policy=policy_dir / "policy.json",
                      model_file=scratch / "state" / "hyperhive-model",
                      claude_config=scratch / "claude")


@asynccontextmanager
async def hived_ui(daemon: DaemonProcess) -> AsyncIterator[HivedUi]:
    """A registered agent whose started harness (no turn loop) serves its UI."""
    name = f"pipe{next(_names)}"
    with Client(daemon.host_socket) as host:
        host.call("register", name=name)
    scratch = short_dir()
    paths = _paths(daemon, name, scratch)
    os.environ["HYPERHIVE_SOCKET"] = str(daemon.agent_socket(name))
    try:  # the harness reads the socket's path once, here
        harness = Harness(paths, HarnessSettings.load({"recv_wait": 1.0}, environ={}))
    finally:
        del os.environ["HYPERHIVE_SOCKET"]
    try:
        await harness.start()
        runner = await start_ui(harness, paths.ui_socket, UiSettings())
        try:
            yield HivedUi(name, runner, paths.ui_socket)
        finally:
            await runner.cleanup()
    finally:
        await harness.close()
        shutil.rmtree(scratch, ignore_errors=True)


async def open_pipe(daemon: DaemonProcess, name: str) -> tuple[dict[str, Any], Streams]:
    """Ask for ``name``'s UI on a new host.sock connection: (first answer, the connection)."""
    reader, writer = await asyncio.open_unix_connection(str(daemon.host_socket))
    writer.write(wire.encode({"cmd": "agent_ui", "name": name, "request_id": "ui-1"}))
    first = json.loads(await reader.readline())
    return first, (reader, writer)


@asynccontextmanager
async def proxy(daemon: DaemonProcess, name: str) -> AsyncIterator[aiohttp.ClientSession]:
    """An HTTP client whose every connection is an agent_ui pipe through the daemon."""
    where = short_dir()

    async def accepted(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        first, upstream = await open_pipe(daemon, name)
        assert first["ok"] and first["secret"] == SECRET, first
        await splice.splice(reader, writer, upstream)
        writer.close()

    server = await asyncio.start_unix_server(accepted, path=str(where / "p.sock"))
    try:
        connector = aiohttp.UnixConnector(path=str(where / "p.sock"))
        async with aiohttp.ClientSession(connector=connector,
                                         base_url="http://localhost") as http:
            yield http
    finally:
        server.close()
        await server.wait_closed()
        shutil.rmtree(where, ignore_errors=True)


def test_status_through_the_pipe_needs_the_secret(daemon: DaemonProcess) -> None:
    async def scenario() -> None:
        async with hived_ui(daemon) as ui, proxy(daemon, ui.name) as http:
            first, (_, writer) = await open_pipe(daemon, ui.name)
            writer.close()
            assert first == {"version": 1, "ok": True, "secret": SECRET,
                             "socket": str(ui.socket), "request_id": "ui-1"}
            async with http.get("/status", headers={HEADER: SECRET}) as answered:
                assert answered.status == 200, await answered.text()
                assert (await answered.json())["name"] == ui.name
            async with http.get("/status") as refused:
                assert refused.status == 401
            async with http.get("/status", headers={HEADER: "not-the-secret"}) as refused:
                assert refused.status == 401

    run(scenario())


def test_the_terminal_websocket_works_through_the_pipe(daemon: DaemonProcess) -> None:
    async def scenario() -> None:
        async with hived_ui(daemon) as ui, proxy(daemon, ui.name) as http, \
                http.ws_connect("/terminal", headers={HEADER: SECRET}) as ws:
            screen = Screen(ws)
            await ws.send_bytes(b"echo hi-$((6*7))\n")
            await screen.expect_text("hi-42")

    run(scenario())


def _refusal(daemon: DaemonProcess, name: str) -> dict[str, Any]:
    """agent_ui's answer on a connection that then still takes a request."""
    with Client(daemon.host_socket) as host:
        try:
            host.call("agent_ui", name=name)
        except HiveError as exc:
            assert host.call("whoami")["name"] == "operator"  # the connection goes on
            return {"code": exc.code, "error": exc.message}
    raise AssertionError(f"agent_ui {name} was not refused")


def test_names_are_checked_and_a_ui_that_is_not_up_is_refused(daemon: DaemonProcess) -> None:
    assert _refusal(daemon, "../etc")["code"] == "invalid"
    assert _refusal(daemon, "nosuch")["code"] == "not_found"
    with Client(daemon.host_socket) as host:
        host.call("register", name="noui")
    no_container = _refusal(daemon, "noui")  # registered, never spawned: no secret made
    assert "does not exist" in no_container["error"]
    policy = daemon.root / "run" / "policy" / "noui"
    policy.mkdir(parents=True)
    (policy / "ui-secret").write_text("s3cret\n")
    refused = _refusal(daemon, "noui")
    assert refused["code"] == "unreachable" and "UI is not up" in refused["error"]


def test_a_link_in_place_of_the_socket_is_not_followed(daemon: DaemonProcess) -> None:
    async def scenario() -> dict[str, Any]:
        async with hived_ui(daemon) as ui:
            with Client(daemon.host_socket) as host:
                host.call("register", name="linked")
            policy = daemon.root / "run" / "policy" / "linked"
            policy.mkdir(parents=True)
            (policy / "ui-secret").write_text("s3cret\n")
            # What a hostile container could leave: its ui.sock a link to another's.
            os.symlink(ui.socket, daemon.root / "run" / "agents" / "linked" / "ui.sock")
            return await asyncio.to_thread(_refusal, daemon, "linked")

    refused = run(scenario())
    assert refused["code"] == "unreachable" and "is not a socket" in refused["error"]


async def _admitted(daemon: DaemonProcess) -> Streams | None:
    """A host.sock connection the daemon took (it answered whoami), or None if refused."""
    reader, writer = await asyncio.open_unix_connection(str(daemon.host_socket))
    try:
        writer.write(wire.encode({"cmd": "whoami"}))
        line = await reader.readline()
    except (BrokenPipeError, ConnectionResetError):
        line = b""  # refused and closed before the request was written
    if line and json.loads(line)["ok"]:
        return reader, writer
    writer.close()
    return None


async def _fill_budget(daemon: DaemonProcess) -> list[Streams]:
    """Hold host.sock connections until the daemon refuses one: its budget is full."""
    held: list[Streams] = []
    while (admitted := await _admitted(daemon)) is not None:
        held.append(admitted)
        assert len(held) < 100, "the budget never filled"
    return held


async def _retry_pipe(daemon: DaemonProcess, connection: Streams, name: str) -> None:
    """Ask again on ``connection`` until the daemon has room for the pipe's other end."""
    reader, writer = connection
    for _ in range(500):
        writer.write(wire.encode({"cmd": "agent_ui", "name": name}))
        answer = json.loads(await reader.readline())
        if answer["ok"]:
            return
        assert answer["error"] == "too many connections", answer
        await asyncio.sleep(0.02)
    raise AssertionError("the pipe never found room")


async def _get_status(connection: Streams) -> bytes:
    reader, writer = connection
    writer.write(b"GET /status HTTP/1.1\r\nHost: localhost\r\n"
                 + f"{HEADER}: {SECRET}\r\nConnection: close\r\n\r\n".encode())
    return await reader.readline()


def test_a_pipe_counts_in_the_budget_and_frees_it_when_it_closes(
        daemon: DaemonProcess) -> None:
    async def scenario() -> None:
        async with hived_ui(daemon) as ui:
            held = await _fill_budget(daemon)
            try:
                await _one_pipe_past_the_budget(daemon, held, ui.name)
            finally:  # a failure here must not leave the budget full for the next test
                for _, writer in held:
                    writer.close()

    run(scenario())


async def _one_pipe_past_the_budget(daemon: DaemonProcess, held: list[Streams],
                                    name: str) -> None:
    held.pop()[1].close()  # room for one connection: not for a pipe's two
    pipe = None
    while pipe is None:
        pipe = await _admitted(daemon)
    held.append(pipe)
    pipe[1].write(wire.encode({"cmd": "agent_ui", "name": name}))
    refused = json.loads(await pipe[0].readline())
    assert refused["ok"] is False and refused["error"] == "too many connections"
    held.pop(0)[1].close()
    await _retry_pipe(daemon, pipe, name)
    assert (await _get_status(pipe)).startswith(b"HTTP/1.1 200")
    held.remove(pipe)
    pipe[1].close()  # the pipe's client goes: both of its connections are given back
    other = None
    while other is None:
        other = await _admitted(daemon)
    held.append(other)
    await _retry_pipe(daemon, other, name)
    assert (await _get_status(other)).startswith(b"HTTP/1.1 200")


def test_the_client_sees_the_end_when_the_ui_closes(daemon: DaemonProcess) -> None:
    async def scenario() -> bytes:
        async with hived_ui(daemon) as ui:
            first, (reader, writer) = await open_pipe(daemon, ui.name)
            assert first["ok"], first
            await ui.runner.cleanup()  # the UI goes away with the pipe open
            with contextlib.closing(writer):
                async with asyncio.timeout(30):
                    return await reader.read()

    assert run(scenario()) == b""


def test_bytes_sent_with_the_request_reach_the_ui(daemon: DaemonProcess) -> None:
    """The HTTP request in the same write as agent_ui's: read with it, it goes on first."""
    async def scenario() -> tuple[dict[str, Any], bytes]:
        async with hived_ui(daemon) as ui:
            reader, writer = await asyncio.open_unix_connection(str(daemon.host_socket))
            with contextlib.closing(writer):
                writer.write(wire.encode({"cmd": "agent_ui", "name": ui.name})
                             + b"GET /status HTTP/1.1\r\nHost: localhost\r\n"
                             + f"{HEADER}: {SECRET}\r\nConnection: close\r\n\r\n".encode())
                first = json.loads(await reader.readline())
                async with asyncio.timeout(30):
                    return first, await reader.read()

    first, answered = run(scenario())
    assert first["ok"], first
    head, _, body = answered.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), answered[:200]
    assert json.loads(body)["state"]


def test_a_refused_pipe_echoes_its_request_id(daemon: DaemonProcess) -> None:
    with Client(daemon.host_socket) as host:
        host.call("register", name="downui")
    policy = daemon.root / "run" / "policy" / "downui"
    policy.mkdir(parents=True)
    (policy / "ui-secret").write_text("s3cret\n")

    async def scenario() -> list[dict[str, Any]]:
        reader, writer = await asyncio.open_unix_connection(str(daemon.host_socket))
        with contextlib.closing(writer):
            writer.write(wire.encode({"cmd": "agent_ui", "name": "downui", "request_id": 7})
                         + wire.encode({"cmd": "whoami", "request_id": 8}))
            return [json.loads(await reader.readline()) for _ in range(2)]

    refused, after = run(scenario())
    assert (refused["ok"], refused["code"], refused["request_id"]) == (False, "unreachable", 7)
    assert (after["ok"], after["request_id"]) == (True, 8)
