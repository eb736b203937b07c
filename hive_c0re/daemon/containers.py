"""The hive's containers: the lifecycle, the approvals and the crash watch, built on first use.

A hive of plain mailboxes never loads the container code: the lifecycle's
modules (and pystemd, for the crash watch) are imported when a verb or the
start-up first needs them, which keeps ``hive-c0re serve``'s cold start short.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from hive_c0re.broker.approvals import ApprovalBook
from hive_c0re.broker.mailroom import Mailroom
from hive_c0re.broker.store import AgentRecord, Store
from hive_c0re.daemon.egress import EgressProxy
from hive_c0re.daemon.pause import Pauses
from hive_c0re.daemon.sockets import Sockets
from hive_c0re.lifecycle.backend import Backend, Scope, Systemctl
from hive_c0re.lifecycle.uids import MANAGER_BASE
from hive_c0re.lifecycle.unitjobs import BusSystemctl
from hive_c0re.paths import Paths, unit_dir
from hive_c0re.settings import Settings

if TYPE_CHECKING:
    from hive_c0re.daemon.crashwatch import CrashWatch, UnitState
    from hive_c0re.lifecycle.agents import Lifecycle
    from hive_c0re.lifecycle.approvals import Approvals

log = logging.getLogger(__name__)


def build_backend(settings: Settings, paths: Paths, systemctl: Systemctl) -> Backend:
    """The container backend the settings ask for, under ``systemctl``'s manager."""
    # Imported here: only the backend the settings name is ever loaded.
    if settings.backend == "nixos":
        from hive_c0re.lifecycle.nixos import NixosBackend, run_command

        return NixosBackend(run_command, systemctl, flake_for=paths.applied_flake,
                            builds=paths.nixos_builds,
                            private_users=settings.nixos_private_users == "yes")
    from hive_c0re.lifecycle.nspawn import NspawnBackend, host_side

    return NspawnBackend(systemctl, unit_dir(systemctl.scope is Scope.USER),
                         paths.container_roots,
                         host_side(settings.nspawn_program, settings.container_usr))


class Containers:
    """Everything of the hive that runs containers, each part made the first time it is used."""

    def __init__(self, paths: Paths, settings: Settings, store: Store, mail: Mailroom,
                 sockets: Sockets, on_status: Callable[[str], None] = lambda name: None) -> None:
        self.paths = paths
        self.on_status = on_status  # an agent's status row may have changed
        self.settings = settings
        self.store = store
        self.mail = mail
        self.sockets = sockets
        # Unit jobs over the manager's private socket: no systemctl process per verb.
        self.systemctl: Systemctl = BusSystemctl(Scope(settings.systemd_scope))
        # The agents' slots start lowest; the manager's sits above them all.
        self.egress = EgressProxy(paths.egress_dir,
                                  first_uid=min(settings.uid_base_start, MANAGER_BASE))
        self._watching: asyncio.Task[None] | None = None
        self.pauses = Pauses(store, paths, mail.signals)

    @functools.cached_property
    def lifecycle(self) -> Lifecycle:
        from hive_c0re.lifecycle.agents import Lifecycle  # cold start: see the module's doc

        backend = build_backend(self.settings, self.paths, self.systemctl)
        return Lifecycle(backend, self.store, self.paths, self.settings, mail=self.mail,
                         sockets=self.sockets, egress=self.egress, watch=self.watch)

    @functools.cached_property
    def approvals(self) -> Approvals:
        from hive_c0re.lifecycle.approvals import Approvals  # cold start: see the module's doc

        return Approvals(ApprovalBook(self.store), self.mail, self.lifecycle)

    @functools.cached_property
    def crash_watch(self) -> CrashWatch:
        # Cold start: pystemd only for a hive with containers.
        from hive_c0re.daemon.crashwatch import CrashWatch, reported_crashes
        from hive_c0re.daemon.unitbus import UnitBus

        return CrashWatch(self.lifecycle, self.store, self.mail,
                          bus=UnitBus(self.systemctl.scope is Scope.USER),
                          systemctl=self.systemctl,
                          reconcile_every=self.settings.crash_reconcile_interval,
                          reported=reported_crashes(),
                          follow_pids=self.settings.crash_pidfd == "yes",
                          on_status=self.on_status)

    def watch(self) -> None:
        """Start the crash watch once the hive has containers (a no-op after the first)."""
        if self._watching is None:
            self._watching = asyncio.get_running_loop().create_task(self.crash_watch.run())

    async def stop_watching(self) -> None:
        if self._watching is not None:
            self._watching.cancel()
            await asyncio.gather(self._watching, return_exceptions=True)

    async def unit_state(self, name: str) -> UnitState | None:
        """The container unit's state, read in a worker thread (None if it cannot be read)."""
        # Over the crash watch's D-Bus connection once it listens (a hive with containers
        # has one), else systemctl; a status row says "not running" rather than fail.
        return await self.crash_watch.read(self.lifecycle.backend.unit(name))

    async def graceful_stop(self, name: str) -> AgentRecord:
        """Stop ``name`` once its running turn has ended: it leases nothing new meanwhile
        (the operator's pause mark stays as it is), and after ``graceful_stop_timeout``
        seconds it is stopped anyway."""
        with self.pauses.hold(name):
            timeout = self.settings.graceful_stop_timeout
            state = await self.unit_state(name)
            # A container that is not up runs no turn: its leases wait for its next start.
            up = state is not None and state.active == "active"
            if up and not await self.pauses.drained(name, timeout):
                log.warning("%s's turn did not end within %gs; stopping it anyway", name,
                            timeout, extra={"HIVE_AGENT": name})
            return await self.lifecycle.stop(name)
