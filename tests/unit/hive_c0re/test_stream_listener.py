"""The Listener's streaming mode on a real unix socket: first answer, updates, hang-up."""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path
from typing import Any

from hive_c0re import wire
from hive_c0re.daemon.server import Budget, Listener, Stream
from hive_c0re.settings import Settings


class Updates:
    """A stream whose updates the test puts; records whether it was closed."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[bytes] = asyncio.Queue()
        self.closed = asyncio.Event()

    def stream(self) -> Stream:
        return Stream(wire.ok(), self.queue.get, self.closed.set)


async def serve(path: Path, updates: Updates) -> Listener:
    async def dispatch(line: bytes) -> dict[str, Any] | Stream:
        return updates.stream() if b"subscribe" in line else wire.ok(plain=True)

    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(path))
    sock.listen()
    settings = Settings.load({}, environ={})
    listener = Listener(sock, dispatch, settings, "test", budget=Budget(10, 1), operator=True)
    await listener.start()
    return listener


def test_a_stream_sends_its_updates_and_ends_when_the_client_hangs_up(tmp_path: Path) -> None:
    async def scenario() -> None:
        updates = Updates()
        listener = await serve(tmp_path / "s.sock", updates)
        reader, writer = await asyncio.open_unix_connection(str(tmp_path / "s.sock"))
        writer.write(b'{"cmd":"subscribe"}\n')
        assert json.loads(await reader.readline()) == wire.ok()
        writer.write(b'{"cmd":"whoami"}\n')  # read and dropped: no answer comes
        for n in range(3):
            await updates.queue.put(wire.encode(wire.ok(n=n)))
        assert [json.loads(await reader.readline())["n"] for _ in range(3)] == [0, 1, 2]
        writer.close()
        await asyncio.wait_for(updates.closed.wait(), 10)
        await listener.close(drop_connections=True)

    asyncio.run(scenario())


def test_closing_the_listener_ends_its_streams(tmp_path: Path) -> None:
    async def scenario() -> None:
        updates = Updates()
        listener = await serve(tmp_path / "s.sock", updates)
        reader, writer = await asyncio.open_unix_connection(str(tmp_path / "s.sock"))
        writer.write(b'{"cmd":"subscribe"}\n')
        await reader.readline()
        await listener.close(drop_connections=True)
        assert updates.closed.is_set()
        assert await reader.read() == b""
        writer.close()

    asyncio.run(scenario())
