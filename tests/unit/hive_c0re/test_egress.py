"""The egress pieces on their own: address checks, CONNECT parsing, the API forwarder, peers.

The attacks from inside real containers are in tests/sandbox/test_network.py;
here the same code runs in-process against real sockets and a real local
upstream, so the parts the containers cannot show offline (a tunnel that is
allowed, a streamed answer) are covered too.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import socket
import ssl
import tempfile
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import pytest
from aiohttp import web

from hive_ag3nt.egress import Egress, Forwarder
from hive_c0re.egress.addresses import Refused, is_local, is_public, resolve_public
from hive_c0re.egress.api import ApiForwarder
from hive_c0re.egress.peers import Peers
from hive_c0re.egress.tunnel import Tunnels, parse_connect
from hive_c0re.egress.upstream import checked_upstream
from hive_c0re.errors import InvalidInput

NOT_PUBLIC = ["127.0.0.1", "127.8.9.1", "::1", "0.0.0.0", "::", "10.1.2.3", "172.20.0.1",
              "192.168.0.10", "169.254.169.254", "100.64.0.1", "fe80::1", "fd12::1",
              "::ffff:127.0.0.1", "::ffff:10.0.0.1", "224.0.0.1", "ff02::1", "192.0.2.1",
              "198.18.0.1", "240.0.0.1", "255.255.255.255"]


@pytest.mark.parametrize("text", NOT_PUBLIC)
def test_loopback_private_link_local_and_reserved_addresses_are_not_public(text: str) -> None:
    assert not is_public(ipaddress.ip_address(text))


def test_the_hosts_own_addresses_count_as_local() -> None:
    assert is_local(ipaddress.ip_address("127.0.0.1"))
    assert is_local(ipaddress.ip_address("::1"))


def test_names_are_resolved_and_every_address_checked() -> None:
    for name in ("localhost", "127.0.0.1", "2130706433", "0x7f000001"):
        with pytest.raises(Refused, match="not a public address"):
            asyncio.run(resolve_public(name, 443))
    with pytest.raises(Refused, match="cannot resolve"):
        asyncio.run(resolve_public("no-such-host.invalid", 443))


@pytest.mark.parametrize(("head", "found"), [
    (b"CONNECT api.anthropic.com:443 HTTP/1.1\r\nHost: x\r\n\r\n", ("api.anthropic.com", 443)),
    (b"CONNECT [2001:db8::1]:443 HTTP/1.1\r\n\r\n", ("2001:db8::1", 443)),
    (b"CONNECT example.com:80 HTTP/1.0\r\n\r\n", ("example.com", 80)),
])
def test_connect_heads_that_are_taken(head: bytes, found: tuple[str, int]) -> None:
    assert parse_connect(head) == found


@pytest.mark.parametrize(("head", "why"), [
    (b"GET http://example.com/ HTTP/1.1\r\n\r\n", "only CONNECT"),
    (b"CONNECT example.com:22 HTTP/1.1\r\n\r\n", "port 22"),
    (b"CONNECT example.com HTTP/1.1\r\n\r\n", "only CONNECT"),
    (b"CONNECT user@example.com:443 HTTP/1.1\r\n\r\n", "only CONNECT"),
    (b"CONNECT example.com:443 HTTP/1.1\nHost: x\n\n", "only CONNECT"),
    (b"CONNECT a b:443 HTTP/1.1\r\n\r\n", "only CONNECT"),
])
def test_connect_heads_that_are_refused(head: bytes, why: str) -> None:
    with pytest.raises(Refused, match=why):
        parse_connect(head)


def test_the_upstream_must_be_an_http_url() -> None:
    assert checked_upstream("http://127.0.0.1:8080") == "http://127.0.0.1:8080"
    for bad in ("file:///etc/passwd", "api.anthropic.com", "https://a b"):
        with pytest.raises(InvalidInput):
            checked_upstream(bad)


@contextmanager
def peer_with_uid(listener: socket.socket, path: Path, uid: int) -> Iterator[socket.socket]:
    """Our end of a connection whose other end is a real process running as ``uid``."""
    pid = os.fork()
    if pid == 0:  # the child: become uid, connect, wait for our end to close
        try:
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
            with socket.socket(socket.AF_UNIX) as sock:
                sock.connect(str(path))
                sock.recv(1)
        finally:
            os._exit(0)
    conn, _ = listener.accept()
    try:
        yield conn
    finally:
        conn.close()
        os.waitpid(pid, 0)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run a peer as another uid")
def test_peers_outside_the_hives_uid_ranges_are_refused_and_each_range_is_capped() -> None:
    directory = short_dir()
    directory.chmod(0o755)
    path = directory / "peer.sock"
    with socket.socket(socket.AF_UNIX) as listener:
        listener.bind(str(path))
        path.chmod(0o666)
        listener.listen()
        peers = Peers(first_uid=0x70000000, per_range=2)
        alice = 0x70000000 + 65536
        for outsider in (0, 65534):
            with peer_with_uid(listener, path, outsider) as conn:
                assert peers.admit(conn) is None
        with (peer_with_uid(listener, path, alice + 1000) as first,
              peer_with_uid(listener, path, alice) as second,
              peer_with_uid(listener, path, alice + 5) as third,
              peer_with_uid(listener, path, alice + 65536) as bob):
            assert peers.admit(first) == alice
            assert peers.admit(second) == alice
            assert peers.admit(third) is None  # alice's range holds its two already
            assert peers.admit(bob) == alice + 65536
            peers.release(alice)
            assert peers.admit(third) == alice


def short_dir() -> Path:
    return Path(tempfile.mkdtemp(prefix="hhe", dir="/tmp"))


def unix_listener(path: Path) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(path))
    sock.listen()
    sock.setblocking(False)
    return sock


@asynccontextmanager
async def echo_server() -> AsyncIterator[int]:
    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(1024):
            writer.write(b"echo:" + data)
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(echo, "127.0.0.1", 0)
    try:
        yield int(server.sockets[0].getsockname()[1])
    finally:
        server.close()


async def _through_an_allowed_tunnel(directory: Path) -> tuple[bytes, bytes]:
    async def loopback_allowed(host: str, port: int) -> list[str]:
        return ["127.0.0.1"]

    async with echo_server() as port:
        tunnels = Tunnels(Peers(first_uid=0), resolve=loopback_allowed, ports=frozenset({port}))
        server = await tunnels.serve(unix_listener(directory / "proxy.sock"))
        reader, writer = await asyncio.open_unix_connection(directory / "proxy.sock")
        writer.write(f"CONNECT echo.test:{port} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        status = await reader.readuntil(b"\r\n\r\n")
        writer.write(b"hello")
        answer = await reader.readexactly(len(b"echo:hello"))
        writer.close()
        server.close()
        return status, answer


def test_an_allowed_tunnel_carries_bytes_both_ways() -> None:
    status, answer = asyncio.run(_through_an_allowed_tunnel(short_dir()))
    assert status.startswith(b"HTTP/1.1 200 ")
    assert answer == b"echo:hello"


async def _a_client_gone_before_the_200(directory: Path) -> bool:
    async def loopback_allowed(host: str, port: int) -> list[str]:
        return ["127.0.0.1"]

    upstream_ended = asyncio.Event()

    async def upstream(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()
        upstream_ended.set()
        writer.close()

    server = await asyncio.start_server(upstream, "127.0.0.1", 0)
    port = int(server.sockets[0].getsockname()[1])
    tunnels = Tunnels(Peers(first_uid=0), resolve=loopback_allowed, ports=frozenset({port}))
    proxy = await tunnels.serve(unix_listener(directory / "proxy.sock"))
    try:
        with socket.socket(socket.AF_UNIX) as client:
            client.connect(str(directory / "proxy.sock"))
            client.sendall(f"CONNECT echo.test:{port} HTTP/1.1\r\n\r\n".encode())
        try:
            async with asyncio.timeout(5):
                await upstream_ended.wait()
        except TimeoutError:
            return False
        return True
    finally:
        proxy.close()
        server.close()


def test_a_tunnel_whose_client_left_closes_its_upstream_too() -> None:
    assert asyncio.run(_a_client_gone_before_the_200(short_dir()))


async def _through_the_api_forwarder(directory: Path) -> dict[str, object]:
    seen: dict[str, object] = {}

    async def messages(request: web.Request) -> web.StreamResponse:
        seen.update(path=request.path, query=request.query_string, host=request.host,
                    key=request.headers.get("x-api-key"), body=await request.json())
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        for event in (b"event: message_start\ndata: {}\n\n", b"event: message_stop\ndata: {}\n\n"):
            await response.write(event)
        return response

    upstream_app = web.Application()
    upstream_app.router.add_post("/prefix/v1/messages", messages)
    runner = web.AppRunner(upstream_app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    forwarder = ApiForwarder(f"http://127.0.0.1:{port}/prefix", Peers(first_uid=0),
                             ssl.create_default_context())
    api_runner = await forwarder.serve(unix_listener(directory / "api.sock"))
    # The container's side: the harness's loopback forwarder in front of api.sock.
    egress = Forwarder(directory / "api.sock")
    local = await egress.start()
    reader, writer = await asyncio.open_connection("127.0.0.1", local)
    body = b'{"model": "haiku"}'
    writer.write(b"POST /v1/messages?beta=true HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                 b"x-api-key: dummy\r\nContent-Type: application/json\r\n"
                 b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body))
    seen["answer"] = await reader.read()
    writer.close()
    await egress.close()
    await api_runner.cleanup()
    await forwarder.close()
    await runner.cleanup()
    return seen


def test_the_api_forwarder_streams_to_the_operators_upstream() -> None:
    seen = asyncio.run(_through_the_api_forwarder(short_dir()))
    assert seen["path"] == "/prefix/v1/messages" and seen["query"] == "beta=true"
    assert str(seen["host"]).startswith("127.0.0.1:")
    assert seen["key"] == "dummy" and seen["body"] == {"model": "haiku"}
    answer = seen["answer"]
    assert isinstance(answer, bytes) and answer.startswith(b"HTTP/1.1 200 ")
    assert b"event: message_start" in answer and b"event: message_stop" in answer


async def _idle_connections_count(directory: Path) -> tuple[bytes, bytes]:
    forwarder = ApiForwarder("http://127.0.0.1:9", Peers(first_uid=0, per_range=1),
                             ssl.create_default_context())
    runner = await forwarder.serve(unix_listener(directory / "api.sock"))
    try:
        idle = await asyncio.open_unix_connection(directory / "api.sock")
        await asyncio.sleep(0)  # let the server take the first one before the second
        reader, writer = await asyncio.open_unix_connection(directory / "api.sock")
        refused = await reader.read()
        idle[1].close()
        for _ in range(200):  # the slot comes back once the server has seen the close
            reader, writer = await asyncio.open_unix_connection(directory / "api.sock")
            writer.write(b"GET /v1/models HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            try:
                answered = await reader.read()
            except ConnectionResetError:  # refused while our request was on its way
                answered = b"HTTP/1.1 403 "
            writer.close()
            if not answered.startswith(b"HTTP/1.1 403 "):
                break
            await asyncio.sleep(0.05)
        return refused, answered
    finally:
        await runner.cleanup()
        await forwarder.close()


def test_idle_api_connections_hold_a_slot_of_their_range() -> None:
    refused, answered = asyncio.run(_idle_connections_count(short_dir()))
    assert refused.startswith(b"HTTP/1.1 403 ")
    # Taken again, and forwarded: port 9 on loopback does not answer, so a 502.
    assert answered.startswith(b"HTTP/1.1 502 "), answered


def test_without_egress_sockets_the_harness_changes_nothing(tmp_path: Path) -> None:
    assert asyncio.run(Egress(tmp_path).start()) == {}


async def _harness_environment(directory: Path) -> dict[str, str]:
    listeners = [unix_listener(directory / name) for name in ("api.sock", "proxy.sock")]
    egress = Egress(directory)
    try:
        return await egress.start()
    finally:
        await egress.close()
        for sock in listeners:
            sock.close()


def test_with_egress_sockets_the_cli_is_pointed_at_loopback_forwarders() -> None:
    env = asyncio.run(_harness_environment(short_dir()))
    assert env["ANTHROPIC_BASE_URL"].startswith("http://127.0.0.1:")
    assert env["HTTPS_PROXY"] == env["HTTP_PROXY"] != env["ANTHROPIC_BASE_URL"]
    assert "127.0.0.1" in env["NO_PROXY"].split(",")
    assert os.environ.get("HTTPS_PROXY") != env["HTTPS_PROXY"]
