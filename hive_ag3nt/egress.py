"""The container's way out: loopback ports that lead to the host's egress sockets.

The container's network holds only a loopback. The daemon binds the egress
process's unix sockets into ``/run/hive-egress``; the claude CLI speaks TCP,
so the harness listens on two loopback ports and carries each connection's
bytes to a socket: ``ANTHROPIC_BASE_URL`` to ``api.sock`` (the model's API,
wherever the operator points it) and ``HTTPS_PROXY``/``HTTP_PROXY`` to
``proxy.sock`` (CONNECT to public addresses, for the login and the rest).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from pathlib import Path

from hive_c0re.splice import splice

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
# The model's API is reached directly on loopback, never through the proxy.
NO_PROXY = "127.0.0.1,localhost,::1"


@dataclass
class Forwarder:
    """Loopback TCP on an ephemeral port, each connection carried to one unix socket."""

    target: Path
    server: asyncio.Server | None = None
    _open: set[asyncio.StreamWriter] = field(default_factory=set)

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._carry, LOOPBACK, 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def _carry(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._open.add(writer)
        try:
            try:
                upstream = await asyncio.open_unix_connection(self.target)
            except OSError as exc:
                log.warning("cannot reach %s: %s", self.target, exc)
                return
            await splice(reader, writer, upstream)
        finally:
            writer.close()
            self._open.discard(writer)

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
            for writer in list(self._open):
                writer.close()
            await self.server.wait_closed()


@dataclass
class Egress:
    """Both forwarders, and the environment that points the CLI at them."""

    directory: Path
    forwarders: list[Forwarder] = field(default_factory=list)

    @property
    def available(self) -> bool:
        return (self.directory / "api.sock").exists() and (self.directory / "proxy.sock").exists()

    async def start(self) -> dict[str, str]:
        """Listen, and return the variables for the CLI; empty when there is no egress here."""
        if not self.available:
            log.info("no egress sockets in %s: the CLI uses the network as it finds it",
                     self.directory)
            return {}
        api = Forwarder(self.directory / "api.sock")
        proxy = Forwarder(self.directory / "proxy.sock")
        self.forwarders = [api, proxy]
        api_port, proxy_port = await api.start(), await proxy.start()
        proxy_url = f"http://{LOOPBACK}:{proxy_port}"
        log.info("egress: the model's API on %s:%d, the proxy on %s:%d", LOOPBACK, api_port,
                 LOOPBACK, proxy_port)
        return {"ANTHROPIC_BASE_URL": f"http://{LOOPBACK}:{api_port}",
                "HTTPS_PROXY": proxy_url, "HTTP_PROXY": proxy_url,
                "https_proxy": proxy_url, "http_proxy": proxy_url,
                "NO_PROXY": NO_PROXY, "no_proxy": NO_PROXY}

    async def close(self) -> None:
        for forwarder in self.forwarders:
            await forwarder.close()
