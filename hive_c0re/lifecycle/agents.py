"""Lifecycle verbs: spawn, start, stop, restart, rebuild, destroy (and --purge).

The daemon owns every step: state dirs with tight modes, the config repos, the
agent's socket, the read-only policy handed to the container, and the
backend's unit. Slow work (systemctl, git) runs in a worker thread so the
broker keeps serving; each agent's steps are serialised by its own lock.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import shutil
from collections import defaultdict
from pathlib import Path

from hive_c0re.broker.store import AgentRecord, Desired, Store
from hive_c0re.egress.upstream import DEFAULT_UPSTREAM, checked_upstream
from hive_c0re.errors import HiveError, InvalidInput
from hive_c0re.lifecycle import disk
from hive_c0re.lifecycle.agent_config import AgentConfig
from hive_c0re.lifecycle.backend import (
    POLICY_FILE,
    Backend,
    ContainerSpec,
    Resources,
    container_command,
    size_bytes,
)
from hive_c0re.lifecycle.manager import Manager
from hive_c0re.lifecycle.ports import AgentSockets, Egress, Mail, WatchContainers
from hive_c0re.lifecycle.seeding import Seeding
from hive_c0re.lifecycle.ui_secret import ensure_ui_secret
from hive_c0re.lifecycle.uids import UID_RANGE, check_agent_base
from hive_c0re.names import MANAGER, SYSTEM, validate_container_name
from hive_c0re.paths import Paths
from hive_c0re.settings import Settings

log = logging.getLogger(__name__)

ENV_KEY = re.compile(r"[A-Z_][A-Z0-9_]*")
# Formatted disk images, one per size, that new agents' disks are copied from (disk.py).
DISK_TEMPLATES = "disk-templates"
MODEL_UID = 1000  # the model's side inside every container (hive_ag3nt/separation.py)


class Lifecycle:
    """Every container-changing action of the hive goes through here."""

    def __init__(self, backend: Backend, store: Store, paths: Paths, settings: Settings, *,
                 mail: Mail, sockets: AgentSockets, egress: Egress,
                 watch: WatchContainers) -> None:
        if settings.uid_base_start % UID_RANGE:
            raise InvalidInput("setting uid_base_start must be a multiple of 65536")
        self.backend = backend
        self.store = store
        self.paths = paths
        self.settings = settings
        self.mail = mail
        self.sockets = sockets
        self.egress = egress
        self.watch = watch
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self.seeding = Seeding(paths, settings.proposal_max_bytes)
        self.manager = Manager(self)

    def lock(self, name: str) -> asyncio.Lock:
        return self._locks[validate_container_name(name)]

    # -- verbs ------------------------------------------------------------------

    async def spawn(self, name: str) -> AgentRecord:
        """Create (or revive) an agent's container and start it."""
        async with self.lock(name):
            existing = self._find(name)
            if existing is not None and existing.desired not in (Desired.DESTROYED, Desired.NONE):
                raise InvalidInput(f"agent {name} already exists ({existing.desired})",
                                   hint=f"`hive-c0re start {name}` starts a stopped agent")
            head, config = await asyncio.to_thread(self.seeding.prepare_and_read, name)
            store = self.store
            store.register_agent(name, list(config.allowed_recipients))
            base = (existing.uid_base if existing and existing.uid_base is not None
                    else check_agent_base(store.free_uid_base(self.settings.uid_base_start)))
            agent = store.set_container(name, desired=Desired.RUNNING, uid_base=base)
            await self._deploy(agent, head, config, restart=False)
            log.info("spawned agent %s (uid base %d)", name, base, extra={"HIVE_AGENT": name})
            self._wake(name, "spawn")
            self.mail.announce("spawned", name, uid_base=base)
            return agent

    async def start(self, name: str) -> AgentRecord:
        if name == MANAGER:
            return await self.manager.start()
        async with self.lock(name):
            agent = self._container(name)
            head, config = await asyncio.to_thread(self.seeding.applied_at_head, name)
            agent = self.store.set_container(name, desired=Desired.RUNNING)
            await self._deploy(agent, head, config, restart=False)
            self._wake(name, "start")
            self.mail.announce("started", name)
            return agent

    async def stop(self, name: str) -> AgentRecord:
        if name == MANAGER:
            return await self.manager.stop()
        async with self.lock(name):
            self._container(name)
            agent = self.store.set_container(name, desired=Desired.STOPPED)
            await asyncio.to_thread(self.backend.stop, name)
            log.info("stopped agent %s", name, extra={"HIVE_AGENT": name})
            self.mail.announce("stopped", name)
            return agent

    async def restart(self, name: str) -> AgentRecord:
        """Restart the container; a stopped agent is started (and wanted running again)."""
        if name == MANAGER:
            return await self.manager.restart()
        async with self.lock(name):
            agent = self._container(name)
            config = await asyncio.to_thread(self.seeding.applied_config, name)
            assert agent.uid_base is not None
            await asyncio.to_thread(self.writable_dirs, self.paths.agent_state(name),
                                    agent.uid_base, config.resources)
            heard = self.sockets.expect_agent(name)
            await asyncio.to_thread(self.backend.restart, name)
            await self.until_heard(name, heard)
            self.store.set_container(name, desired=Desired.RUNNING)
            self._wake(name, "restart")
            self.mail.announce("restarted", name)
            return agent

    async def rebuild(self, name: str) -> AgentRecord:
        """Re-apply the applied config: policy, allow-list, unit; then restart.

        A stopped agent gets its new config and stays stopped (what runs and what
        is wanted never disagree); ``start`` brings it up on that config.
        """
        if name == MANAGER:
            return await self.manager.restart(reinstall=True)
        async with self.lock(name):
            agent = self._container(name)
            head, config = await asyncio.to_thread(self.seeding.applied_at_head, name)
            if agent.desired is Desired.STOPPED:
                await self._install(agent, head, config)
                self.mail.announce("rebuilt", name, started=False)
                return agent
            await self._deploy(agent, head, config, restart=True)
            self._wake(name, "rebuild")
            self.mail.announce("rebuilt", name, started=True)
            return agent

    async def destroy(self, name: str, *, purge: bool) -> None:
        """Remove the container; keep ``agents/<n>`` and ``applied/<n>`` unless ``purge``."""
        async with self.lock(name):
            agent = self.store.agent(name)
            if agent.uid_base is not None:
                await asyncio.to_thread(self.backend.uninstall, name)
            # Kept (unmounted) unless purged; the next spawn mounts it again.
            await asyncio.to_thread(disk.unmount, disk.Disk.under(self.paths.agent_state(name)))
            self.sockets.stop_listening_for_agent(name)
            shutil.rmtree(self.paths.agent_policy(name), ignore_errors=True)
            if purge:
                await asyncio.to_thread(self.seeding.purge, name)
                self.store.unregister_agent(name)
            else:
                self.store.set_container(name, desired=Desired.DESTROYED)
            log.info("destroyed agent %s%s", name, " and purged its state" if purge else "",
                     extra={"HIVE_AGENT": name})
            self.mail.announce("destroyed", name, purged=purge)

    async def settle(self, name: str) -> None:
        """Raise unless the container is still up after the settle time."""
        await asyncio.sleep(self.settings.apply_settle_seconds)
        if not await asyncio.to_thread(self.backend.is_active, name):
            raise HiveError(f"{name}'s container did not stay up after the change",
                            hint=f"journalctl -u {self.backend.unit(name)}")

    async def bring_up(self) -> None:
        """At daemon start: every agent that should run, runs, and has its way out."""
        try:
            # Containers that outlived the daemon's restart need the egress back too.
            await self.ensure_egress()
        except HiveError as exc:
            log.error("could not start the egress: %s", exc)
        for agent in self.store.agents():
            if agent.desired is not Desired.RUNNING:
                continue
            try:
                async with self.lock(agent.name):
                    head, config = await asyncio.to_thread(self.seeding.applied_at_head,
                                                           agent.name)
                    if not await asyncio.to_thread(self.backend.is_active, agent.name):
                        await self._deploy(agent, head, config, restart=False)
                        self._wake(agent.name, "start")
            except HiveError as exc:
                log.error("could not bring up %s: %s", agent.name, exc,
                          extra={"HIVE_AGENT": agent.name})

    # -- config -----------------------------------------------------------------

    def spec(self, agent: AgentRecord, config: AgentConfig,
             writable: tuple[Path, Path]) -> ContainerSpec:
        """The container of ``agent``; ``writable`` is its ``/state`` and ``/root/.claude``."""
        assert agent.uid_base is not None
        return ContainerSpec(
            name=agent.name,
            runtime_dir=self.paths.agent_runtime(agent.name),
            state_dir=writable[0],
            claude_dir=writable[1],
            policy_dir=self.paths.agent_policy(agent.name),
            command=container_command(self.settings.agent_command),
            read_only_binds=self.settings.read_only_binds(),
            uid_base=agent.uid_base,
            resources=config.resources,
            executables=sorted({server.command for server in config.mcp_servers.values()}),
            environment=self.environment(agent.name),
            egress_dir=self.paths.egress_dir,
        )

    def environment(self, name: str) -> dict[str, str]:
        """A container's environment: the operator's file, then what the hive sets.

        ``HYPERHIVE_MODEL_UID``: the claude CLI and its tools run as this uid
        (``claude`` in the container's passwd), never as the harness's root.
        """
        return {**self.extra_environment(), "HYPERHIVE_AGENT": name, "HOME": "/root",
                "PYTHONUNBUFFERED": "1", "CLAUDE_CONFIG_DIR": "/root/.claude",
                "HYPERHIVE_MODEL_UID": str(MODEL_UID)}

    async def ensure_egress(self) -> None:
        """The egress process up, forwarding the model's API where the operator's file says.

        Read at every deploy, like the rest of that file: a changed upstream
        restarts the egress process (its sockets stay).
        """
        upstream = self.extra_environment().get("ANTHROPIC_BASE_URL") or DEFAULT_UPSTREAM
        await self.egress.ensure(checked_upstream(upstream))

    def extra_environment(self) -> dict[str, str]:
        """The operator's KEY=VALUE file for every container (``agent_env_file``)."""
        if not self.settings.agent_env_file:
            return {}
        path = Path(self.settings.agent_env_file)
        try:
            lines = path.read_text().splitlines()
        except OSError as exc:
            raise HiveError(f"cannot read agent_env_file {path}: {exc.strerror or exc}") from None
        found: dict[str, str] = {}
        for number, line in enumerate(lines, 1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            key, sep, value = line.partition("=")
            if not sep or not ENV_KEY.fullmatch(key.strip()):
                raise InvalidInput(f"{path}:{number}: expected KEY=VALUE with KEY like "
                                   "ANTHROPIC_BASE_URL")
            found[key.strip()] = value.strip()
        return found

    # -- steps ------------------------------------------------------------------

    async def _install(self, agent: AgentRecord, head: str, config: AgentConfig) -> None:
        """Hand the container its policy and socket and install its unit; start nothing.

        ``head`` is the applied commit ``config`` was read from: what the unit now runs
        (the status rows compare it with the applied HEAD).
        """
        self.store.register_agent(agent.name, list(config.allowed_recipients))
        self.watch()
        self._write_policy(agent.name, config)
        assert agent.uid_base is not None
        ensure_ui_secret(self.paths.agent_policy(agent.name), agent.uid_base)
        await self.sockets.listen_for_agent(agent.name, agent.uid_base)
        await self.ensure_egress()
        writable = await asyncio.to_thread(self.writable_dirs, self.paths.agent_state(agent.name),
                                           agent.uid_base, config.resources)
        spec = self.spec(agent, config, writable)
        await asyncio.to_thread(self.backend.install, spec)
        self.store.set_deployed(agent.name, head)

    async def _deploy(self, agent: AgentRecord, head: str, config: AgentConfig, *,
                      restart: bool) -> None:
        """Install the agent's container (:meth:`_install`) and (re)start it."""
        await self._install(agent, head, config)
        step = self.backend.restart if restart else self.backend.start
        heard = self.sockets.expect_agent(agent.name)
        await asyncio.to_thread(step, agent.name)
        await self.until_heard(agent.name, heard)

    async def until_heard(self, name: str, heard: asyncio.Event) -> None:
        """Wait (a bounded while) for the harness to speak on its socket.

        A container asked to stop before its init is ready would miss the stop
        signal; answering only once the harness is up keeps the next verb safe.
        """
        try:
            async with asyncio.timeout(max(self.settings.apply_settle_seconds, 5.0)):
                await heard.wait()
        except TimeoutError:
            log.warning("%s's harness has not connected yet", name, extra={"HIVE_AGENT": name})

    def writable_dirs(self, top: Path, owner: int, resources: Resources) -> tuple[Path, Path]:
        """The container's ``/state`` and ``/root/.claude`` on the host, ready to bind.

        They live on the agent's disk, made and mounted here; a disk that must
        grow has its container stopped first (the verbs that get here start
        it again). An agent made before disk images keeps its plain
        directories: copying a tree its container wrote into an image, as
        root, is what this design avoids.
        """
        plain = (top / "state", top / "claude")
        agent_disk = disk.Disk.under(top)
        if not agent_disk.image.exists() and plain[0].is_dir():
            log.warning("%s has no disk image: resources.disk_max is not enforced on its "
                        "state (made before disk images)", top.name, extra={"HIVE_AGENT": top.name})
            return plain
        assert resources.disk_max is not None
        size = size_bytes(resources.disk_max)
        if disk.is_mounted(agent_disk) and disk.too_small(agent_disk, size):
            self.backend.stop(top.name)
            disk.release(agent_disk)
        disk.ensure(agent_disk, size, agent_disk.agent_dirs(owner),
                    templates=self.paths.state / DISK_TEMPLATES)
        return agent_disk.state_dir, agent_disk.claude_dir

    def _write_policy(self, name: str, config: AgentConfig) -> None:
        directory = self.paths.agent_policy(name)
        directory.mkdir(parents=True, exist_ok=True, mode=0o755)
        scratch = directory / (POLICY_FILE + ".new")
        scratch.write_text(json.dumps(config.policy().to_json(), indent=2, sort_keys=True) + "\n")
        scratch.chmod(0o644)
        scratch.replace(directory / POLICY_FILE)

    def _find(self, name: str) -> AgentRecord | None:
        return next((a for a in self.store.agents() if a.name == name), None)

    def _container(self, name: str) -> AgentRecord:
        agent = self.store.agent(name)
        if agent.uid_base is None or agent.desired in (Desired.NONE, Desired.DESTROYED):
            raise InvalidInput(f"agent {name} has no container",
                               hint=f"`hive-c0re spawn {name}` creates it")
        return agent

    def _wake(self, name: str, action: str) -> None:
        verb = {"spawn": "spawned", "start": "started", "restart": "restarted",
                "rebuild": "rebuilt"}[action]
        body = json.dumps({"event": "lifecycle", "action": action,
                           "text": f"you were {verb}; check your notes and your mail"})
        self.mail.send(SYSTEM, name, body, None)


