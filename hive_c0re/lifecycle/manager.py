"""The manager's container: its own uid slot, policy and state, and the operator's wish for it.

The manager has no row in the store: what the operator wants of it (running
or stopped) lives in its daemon-owned state dir, and its record is made up
on demand. It sees every proposed config repo as ``/agents``, on a disk of
their own. :class:`~hive_c0re.lifecycle.agents.Lifecycle` sends every verb
aimed at the manager here.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from hive_c0re.broker.store import AgentRecord, Desired
from hive_c0re.errors import InvalidInput
from hive_c0re.lifecycle import disk
from hive_c0re.lifecycle.agent_config import AgentConfig
from hive_c0re.lifecycle.backend import (
    POLICY_FILE,
    Backend,
    ContainerSpec,
    Resources,
    container_command,
    write_if_changed,
)
from hive_c0re.lifecycle.nixos_seed import seed_manager_config
from hive_c0re.lifecycle.ports import AgentSockets, Announcer, WatchContainers
from hive_c0re.lifecycle.ui_secret import ensure_ui_secret
from hive_c0re.lifecycle.uids import MANAGER_BASE
from hive_c0re.names import MANAGER
from hive_c0re.paths import Paths
from hive_c0re.settings import Settings

log = logging.getLogger(__name__)

MANAGER_REPOS = Path("/agents")  # where the manager sees every proposed config repo
# The manager's own policy: it edits config repos with git and little else.
MANAGER_POLICY = {
    "version": 1, "model": "haiku", "available_models": ["haiku", "sonnet", "opus"],
    "allowed_tools": ["Bash", "Read", "Write", "Edit", "Glob", "Grep"],
    "allowed_bash": ["git *", "cd *", "ls", "ls *", "cat *", "mkdir *"],
    "mcp_servers": {}, "auto_compact": True, "compact_at": 0.75, "allowed_recipients": [],
}
MANAGER_DESIRED = "desired"  # in the manager's daemon-owned state dir: running or stopped
MANAGER_PAUSED = "paused"  # beside it: there while the operator has the manager paused


def manager_paused(paths: Paths) -> bool:
    """The operator's pause mark on the manager (it has no store row to hold it)."""
    return (paths.manager_state / MANAGER_PAUSED).exists()


def mark_manager_paused(paths: Paths, paused: bool) -> None:
    mark = paths.manager_state / MANAGER_PAUSED
    if paused:
        paths.manager_state.mkdir(parents=True, exist_ok=True, mode=0o700)
        write_if_changed(mark, "paused\n", mode=0o600)
    else:
        mark.unlink(missing_ok=True)


class Steps(Protocol):
    """What the manager shares with every agent's container (the lifecycle has it all)."""

    @property
    def backend(self) -> Backend: ...
    @property
    def paths(self) -> Paths: ...
    @property
    def settings(self) -> Settings: ...
    @property
    def mail(self) -> Announcer: ...
    @property
    def sockets(self) -> AgentSockets: ...
    @property
    def watch(self) -> WatchContainers: ...

    def lock(self, name: str) -> asyncio.Lock: ...

    async def ensure_egress(self) -> None: ...

    async def until_heard(self, name: str, heard: asyncio.Event) -> None: ...

    def writable_dirs(self, top: Path, owner: int, resources: Resources) -> tuple[Path, Path]:
        ...

    def environment(self, name: str) -> dict[str, str]: ...


class Manager:
    """The manager's verbs, run with the lifecycle's locks, backend and steps."""

    def __init__(self, lifecycle: Steps) -> None:
        self.lifecycle = lifecycle
        self.paths = lifecycle.paths
        self.settings = lifecycle.settings

    def uid(self) -> int:
        """The manager's uid range: a slot of its own, never an agent's."""
        return MANAGER_BASE

    async def ensure(self) -> None:
        """Create (idempotently) and start the manager's container, if the hive has one,
        unless the operator stopped it."""
        if not self.settings.manager_command:
            return
        async with self.lifecycle.lock(MANAGER):
            await self._install()
            if self.desired() is Desired.STOPPED:
                log.info("the manager stays stopped, as the operator left it",
                         extra={"HIVE_AGENT": MANAGER})
                return
            await self._start_if_inactive()

    async def _install(self) -> None:
        spec = await asyncio.to_thread(self._prepare, self.settings.manager_command)
        await self.lifecycle.ensure_egress()
        self.lifecycle.watch()
        await asyncio.to_thread(self.lifecycle.backend.install, spec)

    async def _start_if_inactive(self) -> None:
        if not await asyncio.to_thread(self.lifecycle.backend.is_active, MANAGER):
            await self._start_unit(self.lifecycle.backend.start)

    async def _start_unit(self, step: Callable[[str], None]) -> None:
        heard = self.lifecycle.sockets.expect_agent(MANAGER)
        await asyncio.to_thread(step, MANAGER)
        await self.lifecycle.until_heard(MANAGER, heard)
        log.info("manager container started", extra={"HIVE_AGENT": MANAGER})

    def desired(self) -> Desired:
        """What the operator wants of the manager: running unless they stopped it."""
        try:
            text = (self.paths.manager_state / MANAGER_DESIRED).read_text().strip()
        except FileNotFoundError:
            return Desired.RUNNING
        return Desired.STOPPED if text == Desired.STOPPED else Desired.RUNNING

    def _want(self, desired: Desired) -> None:
        # The manager's top state dir is the daemon's own: only state/ and claude/
        # below it are bound into the container.
        self.paths.manager_state.mkdir(parents=True, exist_ok=True, mode=0o700)
        write_if_changed(self.paths.manager_state / MANAGER_DESIRED, f"{desired}\n",
                         mode=0o600)

    def _need(self) -> None:
        if not self.settings.manager_command:
            raise InvalidInput("this hive has no manager container",
                               hint="the manager_command setting is empty")

    def record(self) -> AgentRecord:
        """The manager as an agent record (it has no row of its own in the store)."""
        return AgentRecord(name=MANAGER, allowed_recipients=(), registered_at=0.0,
                           uid_base=self.uid(), desired=self.desired(),
                           paused=manager_paused(self.paths))

    async def start(self) -> AgentRecord:
        self._need()
        async with self.lifecycle.lock(MANAGER):
            self._want(Desired.RUNNING)
            await self._install()
            await self._start_if_inactive()
        self.lifecycle.mail.announce("started", MANAGER)
        return self.record()

    async def stop(self) -> AgentRecord:
        self._need()
        async with self.lifecycle.lock(MANAGER):
            self._want(Desired.STOPPED)
            await asyncio.to_thread(self.lifecycle.backend.stop, MANAGER)
        log.info("stopped the manager", extra={"HIVE_AGENT": MANAGER})
        self.lifecycle.mail.announce("stopped", MANAGER)
        return self.record()

    async def restart(self, *, reinstall: bool = False) -> AgentRecord:
        self._need()
        async with self.lifecycle.lock(MANAGER):
            self._want(Desired.RUNNING)
            if reinstall:
                await self._install()
            await self._start_unit(self.lifecycle.backend.restart)
        self.lifecycle.mail.announce("rebuilt" if reinstall else "restarted", MANAGER)
        return self.record()

    def ensure_proposed_disk(self) -> None:
        """Put every proposed config repo (the manager's ``/agents``) on a disk of its own.

        A hive whose repos predate the disk keeps its plain directory, for the
        same reason as :meth:`Lifecycle.writable_dirs`.
        """
        root = self.paths.proposed_root
        repos = disk.Disk(self.paths.proposed_disk_image, self.paths.proposed_disk)
        if not repos.image.exists() and root.is_dir() and any(root.iterdir()):
            log.warning("%s has no disk image: the manager's /agents is not bounded "
                        "(made before disk images)", root)
            return
        self.paths.state.mkdir(parents=True, exist_ok=True, mode=0o700)
        # Both on one filesystem, so a repo seeded in scratch moves into repos by rename.
        disk.ensure(repos, self.settings.proposed_disk_mib << 20,
                    {root.name: 0, self.paths.scratch.name: 0})

    def _prepare(self, command: str) -> ContainerSpec:
        top = self.paths.manager_state
        top.mkdir(parents=True, exist_ok=True, mode=0o700)
        if self.lifecycle.backend.name == "nixos":  # its system comes from a config repo
            seed_manager_config(self.paths.manager_config)
        owner = self.uid()
        # The manager has no agent.toml of its own: it gets every agent's defaults.
        resources = AgentConfig.defaults().resources
        state_dir, claude_dir = self.lifecycle.writable_dirs(top, owner, resources)
        self.paths.proposed_root.mkdir(parents=True, exist_ok=True, mode=0o700)
        policy = self.paths.manager_policy
        policy.mkdir(parents=True, exist_ok=True, mode=0o755)
        (policy / POLICY_FILE).write_text(json.dumps(MANAGER_POLICY, indent=2) + "\n")
        (policy / POLICY_FILE).chmod(0o644)
        ensure_ui_secret(policy, owner)
        return ContainerSpec(
            name=MANAGER, runtime_dir=self.paths.manager_dir, state_dir=state_dir,
            claude_dir=claude_dir, policy_dir=policy, command=container_command(command),
            uid_base=owner, resources=resources,
            read_only_binds=self.settings.read_only_binds(),
            # The manager's model edits the repos with git: they are its side's to write.
            environment={**self.lifecycle.environment(MANAGER),
                         "HYPERHIVE_MODEL_OWNS": str(MANAGER_REPOS)},
            writable_binds=[(self.paths.proposed_root, MANAGER_REPOS)],
            egress_dir=self.paths.egress_dir,
        )
