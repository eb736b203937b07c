"""The daemon: owns the store, the sockets, the wake-ups and the periodic passes."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import os
import shutil
import signal
import socket
import stat
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hive_c0re import wire
from hive_c0re.broker.questions import QuestionBook
from hive_c0re.broker.reminders import ReminderBook
from hive_c0re.broker.store import Desired, Store
from hive_c0re.daemon import notify
from hive_c0re.daemon.activation import activated_sockets, bind_unix
from hive_c0re.daemon.handlers import HANDLERS
from hive_c0re.daemon.mail import MailSignals
from hive_c0re.daemon.reports import AgentReports
from hive_c0re.daemon.scheduler import Scheduler
from hive_c0re.daemon.server import Budget, Listener
from hive_c0re.errors import HiveError, PolicyRefused
from hive_c0re.lifecycle.safefs import give_dir, open_dir
from hive_c0re.lifecycle.uids import MANAGER_BASE
from hive_c0re.names import MANAGER, OPERATOR, SYSTEM
from hive_c0re.paths import Paths
from hive_c0re.settings import Settings

if TYPE_CHECKING:
    from hive_c0re.daemon.crashwatch import CrashWatch
    from hive_c0re.lifecycle.agents import Lifecycle
    from hive_c0re.lifecycle.approvals import Approvals
    from hive_c0re.lifecycle.backend import Backend

log = logging.getLogger(__name__)

HOST_SOCKET_MODE = 0o600  # the operator is root
AGENT_SOCKET_MODE = 0o660


@dataclass(frozen=True)
class Caller:
    kind: wire.Kind
    name: str


class Hive:
    """The daemon's state. Every verb handler gets this and the caller's identity."""

    def __init__(self, store: Store, paths: Paths, settings: Settings) -> None:
        self.store = store
        self.paths = paths
        self.settings = settings
        self.signals = MailSignals()
        self.questions = QuestionBook(store, settings.max_open_threads)
        self.reminders = ReminderBook(store, settings.max_open_threads)
        self.scheduler = Scheduler(self.questions, self.reminders, self.signals.notify,
                                   clock=store.clock)
        self.host: Listener | None = None
        self.manager: Listener | None = None
        self.agents: dict[str, Listener] = {}
        # Why an agent's (or the manager's) socket could not be bound; retried.
        self.socket_errors: dict[str, str] = {}
        self.budget = Budget.from_settings(settings)
        self.reports = AgentReports(self._announce_login, settings.agent_event_rate,
                                    settings.agent_event_burst)
        self._closing: set[asyncio.Task[None]] = set()
        self._replaced: dict[str, list[Listener]] = {}
        self._heard: dict[str, asyncio.Event] = {}
        self._crash_watch: CrashWatch | None = None
        self._watching: asyncio.Task[None] | None = None

    @functools.cached_property
    def lifecycle(self) -> Lifecycle:
        # Built on first use: a hive of plain mailboxes never loads the container code.
        return build_lifecycle(self)

    def crash_watch(self) -> CrashWatch:
        from hive_c0re.daemon.crashwatch import CrashWatch

        if self._crash_watch is None:
            user = self.settings.systemd_scope == "user"
            self._crash_watch = CrashWatch(self, user, self.settings.crash_reconcile_interval)
        return self._crash_watch

    def watch_containers(self) -> None:
        """Start the crash watch once the hive has containers (a no-op after the first)."""
        if self._watching is None:
            self._watching = asyncio.get_running_loop().create_task(self.crash_watch().run())

    @functools.cached_property
    def approvals(self) -> Approvals:
        from hive_c0re.lifecycle.approvals import Approvals

        return Approvals(self)

    # -- requests ---------------------------------------------------------------

    def expect_agent(self, name: str) -> asyncio.Event:
        """An event set by the next request on ``name``'s socket: its harness is up."""
        self._heard[name] = asyncio.Event()
        return self._heard[name]

    async def dispatch(self, caller: Caller, line: bytes) -> dict[str, Any]:
        heard = self._heard.pop(caller.name, None) if caller.kind is not wire.Kind.HOST else None
        if heard is not None:
            heard.set()
        request_id = None
        try:
            request, request_id = wire.read_frame(line)
            verb, args = wire.parse_request(request, caller.kind)
            answer = await HANDLERS[verb.name](self, caller, args)
        except HiveError as exc:
            if isinstance(exc, PolicyRefused):
                log.info("refused %s: %s", caller.name, exc.message,
                         extra={"HIVE_AGENT": caller.name})
            answer = wire.failure(exc)
        except Exception:
            log.exception("internal error serving %s", caller.name,
                          extra={"HIVE_AGENT": caller.name})
            answer = wire.failure(HiveError("internal error; the daemon's journal has details"))
        if request_id is not None:
            answer["id"] = request_id
        return answer

    def send(self, sender: str, to: str, body: str, in_reply_to: int | None) -> list[int]:
        """Store, then wake every recipient that is waiting."""
        stored = self.store.send(sender, to, body, in_reply_to)
        for recipient in stored.values():
            self.signals.notify(recipient)
        ids = list(stored)
        log.debug("%s -> %s: message(s) %s", sender, to, ids,
                  extra={"HIVE_AGENT": sender if sender != OPERATOR else to,
                         "HIVE_FROM": sender, "HIVE_TO": to})
        return ids

    def announce(self, kind: str, agent: str | None, *, tell_agent: bool = False,
                 **data: Any) -> None:
        """A hive event: into the event log, and as a message from ``system`` to the manager
        (and to the agent concerned when ``tell_agent``). A refused delivery (a full inbox)
        is logged loudly; the event log keeps the event either way."""
        self.store.record_event(kind, agent, **data)
        self.tell(kind, agent, [MANAGER, agent] if tell_agent and agent else [MANAGER], **data)

    def _announce_login(self, agent: str, logged_in: bool) -> None:
        self.announce("logged_in" if logged_in else "needs_login", agent)

    def tell_manager_for(self, caller: str, kind: str, agent: str | None, **data: Any) -> None:
        """Tell the manager of an event ``caller``'s request caused: an agent's within its
        budget (the operator's always), so no agent can crowd the hive's own events out."""
        held_back = 0 if caller == OPERATOR else self.reports.notice(caller)
        if held_back is None:
            return  # in the event log still; the next notice says how many were held
        if held_back:
            data["held_back"] = held_back
        self.tell(kind, agent, [MANAGER], **data)

    def tell(self, kind: str, agent: str | None, recipients: list[str], **data: Any) -> None:
        """Deliver an event already in the event log as messages from ``system``."""
        body = json.dumps({"event": kind, "agent": agent, **data}, default=str)
        for recipient in recipients:
            try:
                self.send(SYSTEM, recipient, body, None)
            except HiveError as exc:
                log.error("event %s for %s not delivered to %s: %s", kind, agent, recipient,
                          exc.message, extra={"HIVE_AGENT": agent or recipient})

    # -- sockets ----------------------------------------------------------------

    def _listener(self, sock: socket.socket, caller: Caller) -> Listener:
        async def dispatch(line: bytes) -> dict[str, Any]:
            return await self.dispatch(caller, line)

        def undelivered(answer: dict[str, Any]) -> None:
            self.take_back(caller, answer)

        return Listener(sock, dispatch, self.settings, label=f"{caller.kind}:{caller.name}",
                        undelivered=undelivered, budget=self.budget,
                        operator=caller.kind is wire.Kind.HOST)

    def take_back(self, caller: Caller, answer: dict[str, Any]) -> None:
        """Mail handed out in an answer the caller never received goes back to unread."""
        ids = [m["id"] for m in answer.get("messages", ())]
        if not ids:
            return
        count = self.store.unlease(caller.name, ids, acked=caller.kind is wire.Kind.HOST)
        if count:
            log.info("%s hung up before its mail reached it; %d message(s) kept unread",
                     caller.name, count, extra={"HIVE_AGENT": caller.name})
            self.signals.notify(caller.name)

    async def start_host(self, sock: socket.socket) -> None:
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
        log.error("%s has no socket: %s; retrying every %gs", name, message,
                  self.settings.socket_retry_interval, extra={"HIVE_AGENT": name})

    def _socket_ok(self, name: str) -> None:
        if self.socket_errors.pop(name, None) is not None:
            log.warning("%s has its socket again", name, extra={"HIVE_AGENT": name})

    async def retry_sockets(self) -> None:
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

    async def listen_for_agent(self, name: str, owner: int | None = None) -> None:
        """(Re)create ``name``'s socket; an old listener is dropped first (idempotent).

        ``owner`` is the host uid of the agent container's root, which must be
        able to connect to the socket and create its own UI socket beside it.
        A socket that cannot be made costs this agent its socket (logged, in its
        status as ``socket_error``, retried), never the hive.
        """
        old = self.agents.pop(name, None)
        if old is not None:
            # Its connections live on (same identity) until the agent is unregistered.
            old.close_listening()
            alive = [done for done in self._replaced.get(name, []) if done.connections]
            self._replaced[name] = [*alive, old]
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

    def stop_listening_for_agent(self, name: str) -> None:
        self.socket_errors.pop(name, None)
        self.reports.forget(name)
        for listener in [*self._replaced.pop(name, []), self.agents.pop(name, None)]:
            if listener is not None:
                self._close_later(listener, drop_connections=True)
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(self.paths.agent_runtime(name))

    def _close_later(self, listener: Listener, *, drop_connections: bool) -> None:
        task = asyncio.get_running_loop().create_task(
            listener.close(drop_connections=drop_connections))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def close(self) -> None:
        if self._watching is not None:
            self._watching.cancel()
            await asyncio.gather(self._watching, return_exceptions=True)
        replaced = [old for olds in self._replaced.values() for old in olds]
        for listener in [self.host, self.manager, *self.agents.values(), *replaced]:
            if listener is not None:
                await listener.close(drop_connections=True)
        await asyncio.gather(*self._closing, return_exceptions=True)
        if "lifecycle" in self.__dict__:  # built: it may have started the egress process
            await self.lifecycle.egress.stop()

    def report_status(self) -> None:
        if notify.enabled():
            notify.status(self.status_line())

    def status_line(self) -> str:
        agents = self.store.agents()
        unread = sum(self.store.counts(a.name).unread for a in agents)
        return (f"{len(agents)} agent(s); {unread} unread; "
                f"{self.signals.waiting()} waiting on mail")


def build_lifecycle(hive: Hive) -> Lifecycle:
    """The container backend the settings ask for, under the right systemd manager."""
    from hive_c0re.lifecycle.agents import Lifecycle
    from hive_c0re.lifecycle.backend import Scope, Systemctl
    from hive_c0re.paths import unit_dir

    scope = Scope(hive.settings.systemd_scope)
    systemctl = Systemctl(scope)
    if hive.settings.backend == "nixos":
        from hive_c0re.lifecycle.nixos import NixosBackend, run_command

        backend: Backend = NixosBackend(
            run_command, systemctl, flake_for=hive.paths.applied_flake,
            private_users=hive.settings.nixos_private_users == "yes")
    else:
        from hive_c0re.lifecycle.nspawn import NspawnBackend

        backend = NspawnBackend(systemctl, unit_dir(scope is Scope.USER),
                                hive.paths.container_roots)
    return Lifecycle(hive, backend)


async def _mount_proposed_disk(hive: Hive) -> None:
    try:
        await asyncio.to_thread(hive.lifecycle.ensure_proposed_disk)
    except HiveError as exc:
        log.error("the proposed config repos are not on their own disk: %s", exc)


async def _bring_up_manager(hive: Hive) -> None:
    try:
        await hive.lifecycle.ensure_manager()
    except HiveError as exc:
        log.error("the manager's container could not start: %s", exc,
                  extra={"HIVE_AGENT": MANAGER})
    except Exception:
        log.exception("the manager's container could not start", extra={"HIVE_AGENT": MANAGER})


async def _watch_and_bring_up(hive: Hive) -> None:
    """Report what died while the daemon was away, then bring up what should run."""
    await hive.crash_watch().reconcile()
    await hive.lifecycle.bring_up()
    hive.watch_containers()


async def _check_git() -> None:
    """Say at start, not first at a spawn, that git is too old for the hive."""
    from hive_c0re.lifecycle.gitrepo import git_binary, require_git

    try:
        await asyncio.to_thread(require_git, git_binary())
    except HiveError as exc:
        log.error("%s; spawns and approvals are refused until it is fixed", exc)


async def _every(interval: float, step: Callable[[], Awaitable[None] | None]) -> None:
    """Run ``step`` (a function or a coroutine function) every ``interval`` seconds."""
    while True:
        await asyncio.sleep(interval)
        try:
            result = step()
            if result is not None:
                await result
        except Exception:
            log.exception("periodic step %s failed; retrying next time", step.__name__)


async def _listen_at_start(hive: Hive, name: str, owner: int | None) -> None:
    """One agent's socket at daemon start: whatever goes wrong is that agent's alone."""
    try:
        await hive.listen_for_agent(name, owner)
    except Exception as exc:
        log.exception("%s's socket could not be set up", name, extra={"HIVE_AGENT": name})
        hive.socket_errors[name] = str(exc) or type(exc).__name__


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


async def serve(paths: Paths, settings: Settings) -> None:
    """Run the daemon until SIGTERM or SIGINT."""
    started = time.monotonic()
    store = Store(paths.broker, settings)
    hive = Hive(store, paths, settings)
    paths.runtime.mkdir(parents=True, exist_ok=True, mode=0o755)
    activated = activated_sockets()
    host_sock = activated.pop("host", None) or activated.pop("unknown", None)
    for name, extra in activated.items():
        log.warning("ignoring an activated socket named %r", name)
        extra.close()
    if host_sock is None:
        host_sock = bind_unix(paths.host_socket, HOST_SOCKET_MODE)
    if settings.manager_command:
        # Before any request: a repo made before the mount would vanish under it.
        await _mount_proposed_disk(hive)
    # What a crash left half-built in the daemon's own space (no container sees it).
    shutil.rmtree(paths.scratch, ignore_errors=True)
    await hive.start_host(host_sock)
    for agent in store.agents():
        if agent.desired is not Desired.DESTROYED:
            await _listen_at_start(hive, agent.name, agent.uid_base)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)

    def retention() -> None:
        deleted, free = store.retention_pass()
        if deleted:
            log.info("retention: deleted %d acked message(s); %d free page(s) left", deleted, free)

    tasks = [
        loop.create_task(_every(settings.retention_interval, retention)),
        loop.create_task(hive.scheduler.run()),
        loop.create_task(_every(10.0, hive.report_status)),
        loop.create_task(_every(settings.socket_retry_interval, hive.retry_sockets)),
        loop.create_task(_check_git()),
    ]
    interval = notify.watchdog_interval()
    if interval:
        tasks.append(loop.create_task(notify.pet_watchdog(interval)))
    retention()
    notify.ready(hive.status_line())
    # After READY: bringing containers up may take longer than a start timeout.
    if settings.manager_command:
        tasks.append(loop.create_task(_bring_up_manager(hive)))
    if any(agent.uid_base is not None for agent in store.agents()):
        tasks.append(loop.create_task(_watch_and_bring_up(hive)))
    log.info("hive-c0re ready in %.0f ms: %s", (time.monotonic() - started) * 1000,
             hive.status_line())
    await stop.wait()

    notify.stopping()
    log.info("hive-c0re stopping")
    for task in tasks:
        task.cancel()
    await hive.close()
    store.close()
