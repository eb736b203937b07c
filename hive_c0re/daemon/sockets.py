"""The hive's sockets: the operator's, the manager's and one per agent, each an identity.

A socket that cannot be made costs its agent (or the manager) that socket
(logged, shown as ``socket_error``, retried), never the hive. Who calls is
known from the socket a request came in on, never from the request.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import socket
import stat
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hive_c0re import wire
from hive_c0re.broker.mailroom import Mailroom
from hive_c0re.broker.store import Desired, Store
from hive_c0re.daemon.activation import bind_unix
from hive_c0re.daemon.server import Budget, Listener, Pipe, Stream
from hive_c0re.errors import HiveError
from hive_c0re.lifecycle.safefs import give_dir, open_dir
from hive_c0re.lifecycle.uids import MANAGER_BASE
from hive_c0re.names import MANAGER, OPERATOR
from hive_c0re.paths import Paths
from hive_c0re.settings import Settings

log = logging.getLogger(__name__)

AGENT_SOCKET_MODE = 0o660


@dataclass(frozen=True)
class Caller:
    kind: wire.Kind
    name: str


Answer = Callable[[Caller, bytes], Awaitable[dict[str, Any] | Stream | Pipe]]


class Sockets:
    """Every listening socket of the hive, and the connections each one serves."""

    def __init__(self, paths: Paths, settings: Settings, store: Store, mail: Mailroom,
                 on_change: Callable[[str], None] = lambda name: None) -> None:
        self.paths = paths
        self.on_change = on_change  # an agent's (or the manager's) socket came or went
        self.settings = settings
        self.store = store
        self.mail = mail
        self.budget = Budget.from_settings(settings)
        self.host: Listener | None = None
        self.manager: Listener | None = None
        self.agents: dict[str, Listener] = {}
        # Why an agent's (or the manager's) socket could not be bound; retried.
        self.socket_errors: dict[str, str] = {}
        self._answer: Answer | None = None
        self._closing: set[asyncio.Task[None]] = set()
        self._replaced: dict[str, list[Listener]] = {}
        self._heard: dict[str, asyncio.Event] = {}

    def expect_agent(self, name: str) -> asyncio.Event:
        """An event set by the next request on ``name``'s socket: its harness is up."""
        self._heard[name] = asyncio.Event()
        return self._heard[name]

    def _listener(self, sock: socket.socket, caller: Caller) -> Listener:
        answer = self._answer
        assert answer is not None, "the host socket is started first"

        async def dispatch(line: bytes) -> dict[str, Any] | Stream | Pipe:
            heard = self._heard.pop(caller.name, None) if caller.kind is not wire.Kind.HOST \
                else None
            if heard is not None:
                heard.set()
            return await answer(caller, line)

        def undelivered(reply: dict[str, Any]) -> None:
            ids = [m["id"] for m in reply.get("messages", ())]
            if ids:
                self.mail.take_back(caller.name, ids, acked=caller.kind is wire.Kind.HOST)

        return Listener(sock, dispatch, self.settings, label=f"{caller.kind}:{caller.name}",
                        undelivered=undelivered, budget=self.budget,
                        operator=caller.kind is wire.Kind.HOST)

    async def start_host(self, sock: socket.socket, answer: Answer) -> None:
        """Serve the operator on ``sock``, then the manager; ``answer`` answers every socket."""
        self._answer = answer
        self.host = self._listener(sock, Caller(wire.Kind.HOST, OPERATOR))
        await self.host.start()
        await self.listen_for_manager()

    async def listen_for_manager(self) -> None:
        """(Re)create the manager's socket; a failure costs the manager it, never the hive."""
        self.paths.manager_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        # Owned by the manager container's root, if the hive runs one, from the start.
        owner = MANAGER_BASE if self.settings.manager_command else None
        try:
            manager_sock = self._bind_mailbox(MANAGER, self.paths.manager_socket, owner)
            if owner is not None:
                give_dir(self.paths.manager_dir, owner)
        except (HiveError, OSError) as exc:
            self._socket_failed(MANAGER, exc)
            return
        if self.manager is not None:
            self.manager.close_listening()
            self._replaced.setdefault(MANAGER, []).append(self.manager)
        self.manager = self._listener(manager_sock, Caller(wire.Kind.MANAGER, MANAGER))
        await self.manager.start()
        self._socket_ok(MANAGER)
        self.on_change(MANAGER)

    def _bind_mailbox(self, name: str, path: Path, owner: int | None) -> socket.socket:
        """Bind ``name``'s socket at ``path``, a path inside its container's reach.

        The first attempt refuses to replace what is not a socket (and says so);
        once that failure is on record, a retry takes the daemon's path back.
        """
        if name in self.socket_errors:
            reclaim_entry(path)
        return bind_unix(path, AGENT_SOCKET_MODE, owner)

    def _socket_failed(self, name: str, exc: Exception) -> None:
        message = exc.message if isinstance(exc, HiveError) else str(exc)
        self.socket_errors[name] = message
        self.on_change(name)
        log.error("%s has no socket: %s; retrying every %gs", name, message,
                  self.settings.socket_retry_interval, extra={"HIVE_AGENT": name})

    def _socket_ok(self, name: str) -> None:
        if self.socket_errors.pop(name, None) is not None:
            log.warning("%s has its socket again", name, extra={"HIVE_AGENT": name})

    async def retry(self) -> None:
        """Bind again every socket that failed (a step of the periodic retry)."""
        for name in list(self.socket_errors):
            if name == MANAGER:
                await self.listen_for_manager()
                continue
            agent = self.store.agent_or_none(name)
            if agent is None or agent.desired is Desired.DESTROYED:
                self.socket_errors.pop(name, None)  # nobody to serve any more
                continue
            await self.listen_for_agent(name, agent.uid_base)

    def is_listening(self, name: str) -> bool:
        return name in self.agents

    def socket_error(self, name: str) -> str | None:
        return self.socket_errors.get(name)

    async def listen_at_start(self, name: str, owner: int | None) -> None:
        """One agent's socket at daemon start: whatever goes wrong is that agent's alone."""
        try:
            await self.listen_for_agent(name, owner)
        except Exception as exc:
            log.exception("%s's socket could not be set up", name, extra={"HIVE_AGENT": name})
            self.socket_errors[name] = str(exc) or type(exc).__name__

    async def listen_for_agent(self, name: str, owner: int | None = None) -> None:
        """(Re)create ``name``'s socket; an old listener is dropped first (idempotent).

        ``owner`` is the host uid of the agent container's root, which must be
        able to connect to the socket and create its own UI socket beside it.
        """
        self._retire(name)
        directory = self.paths.agent_runtime(name)
        self.paths.agents_runtime.mkdir(parents=True, exist_ok=True, mode=0o755)
        try:
            directory.mkdir(exist_ok=True, mode=0o700)
            sock = self._bind_mailbox(name, self.paths.agent_socket(name), owner)
        except (HiveError, OSError) as exc:
            self._socket_failed(name, exc)
            return
        if owner is not None:
            give_dir(directory, owner)
        listener = self._listener(sock, Caller(wire.Kind.AGENT, name))
        self.agents[name] = listener
        await listener.start()
        self._socket_ok(name)
        self.on_change(name)

    def _retire(self, name: str) -> None:
        old = self.agents.pop(name, None)
        if old is not None:
            # Its connections live on (same identity) until the agent is unregistered.
            old.close_listening()
            alive = [done for done in self._replaced.get(name, []) if done.connections]
            self._replaced[name] = [*alive, old]

    def stop_listening_for_agent(self, name: str) -> None:
        self.socket_errors.pop(name, None)
        self.mail.reports.forget(name)
        for listener in [*self._replaced.pop(name, []), self.agents.pop(name, None)]:
            if listener is not None:
                self._close_later(listener)
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(self.paths.agent_runtime(name))
        self.on_change(name)

    def _close_later(self, listener: Listener) -> None:
        task = asyncio.get_running_loop().create_task(listener.close(drop_connections=True))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def close(self) -> None:
        replaced = [old for olds in self._replaced.values() for old in olds]
        for listener in [self.host, self.manager, *self.agents.values(), *replaced]:
            if listener is not None:
                await listener.close(drop_connections=True)
        await asyncio.gather(*self._closing, return_exceptions=True)


def reclaim_entry(path: Path) -> None:
    """Remove whatever a container left at ``path`` (a file, a link, a tree).

    Only for paths in a runtime directory the daemon made for a container
    (``path``'s grandparent is the daemon's own): the entry is the daemon's own
    name there. Nothing is followed: the directory is opened from its parent
    with ``O_NOFOLLOW`` and the entry is removed relative to it.
    """
    with open_dir(path.parent.parent, path.parent.name) as fd:
        try:
            found = os.stat(path.name, dir_fd=fd, follow_symlinks=False)
        except FileNotFoundError:
            return
        if stat.S_ISSOCK(found.st_mode):
            return  # a socket: bind_unix replaces it as it always does
        if stat.S_ISDIR(found.st_mode):
            shutil.rmtree(path.name, dir_fd=fd)
        else:
            os.unlink(path.name, dir_fd=fd)
        log.warning("removed a %s left at %s in place of its socket",
                    "directory" if stat.S_ISDIR(found.st_mode) else "file", path)
