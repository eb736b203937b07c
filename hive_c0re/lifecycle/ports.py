"""What the lifecycle needs from the rest of the hive, and nothing more.

The daemon's parts (the mailroom, the agents' sockets, the egress process)
satisfy these; unit tests give small stand-ins. The lifecycle never imports
the daemon: it is handed these.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Protocol


class Announcer(Protocol):
    def announce(self, kind: str, agent: str | None, *, tell_agent: bool = False,
                 **data: Any) -> None:
        """Record a hive event and tell the manager (and the agent, with ``tell_agent``)."""
        ...


class Mail(Announcer, Protocol):
    def send(self, sender: str, to: str, body: str, in_reply_to: int | None) -> list[int]:
        """Store a message and wake its waiting recipients; return the stored ids."""
        ...


class AgentSockets(Protocol):
    async def listen_for_agent(self, name: str, owner: int | None = None) -> None:
        """(Re)create ``name``'s socket, owned by its container's root ``owner``."""
        ...

    def stop_listening_for_agent(self, name: str) -> None:
        """Close ``name``'s socket and its connections; forget what it reported."""
        ...

    def expect_agent(self, name: str) -> asyncio.Event:
        """An event set by the next request on ``name``'s socket: its harness is up."""
        ...


class Egress(Protocol):
    async def ensure(self, upstream: str) -> None:
        """Have the egress process running and forwarding the model's API to ``upstream``."""
        ...


# Called whenever a container is installed: the hive now has containers to watch.
WatchContainers = Callable[[], None]
