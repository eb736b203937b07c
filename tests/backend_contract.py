"""The Backend contract: what the lifecycle relies on of every container backend, as tests.

Each clause is a test method of :class:`BackendContract`. A test module
subclasses it (``class TestNspawnBackendContract(BackendContract)``) and provides a
``world`` fixture: the backend under test, specs it can run, and a way to make
a running container's process exit. The same clauses then run against the
in-memory FakeBackend, the real NspawnBackend under a sandboxed systemd, and
the NixosBackend on a model of nixos-container and systemctl.

The clauses come from the lifecycle's use of a backend: ``Lifecycle`` installs
then starts or restarts, stops before it uninstalls and before it grows a
disk, asks ``is_active`` before bringing an agent up and after a change
settles; the manager installs over a running container and starts it only if
inactive; the crash watch finds the agent of a unit by the unit's name
(:func:`hive_c0re.daemon.crashwatch.agent_of`) and decides restarts itself.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

import pytest

from hive_c0re.daemon.crashwatch import agent_of
from hive_c0re.errors import HiveError, InvalidInput
from hive_c0re.lifecycle.backend import Backend, ContainerSpec
from hive_c0re.names import MANAGER

# Names no unit, argv or path may be built from.
BAD_NAMES = ("../x", "a;b", "--flag", "A", "", "toolongname", "alice\n", "al ice", "system")


class World(Protocol):
    """What a backend's contract test module gives the clauses."""

    backend: Backend

    def spec(self, agent: str, *, exits: bool = False) -> ContainerSpec:
        """A spec whose container runs until stopped; with ``exits``, one whose process
        exits (with a failure status) as soon as it starts."""
        ...

    def crash(self, agent: str) -> None:
        """Make ``agent``'s running container process exit on its own, with a failure."""
        ...

    def eventually(self, condition: Callable[[], bool]) -> bool:
        """Whether ``condition`` holds, waiting (boundedly) where the backend is real."""
        ...

    def up(self, agent: str) -> None:
        """Wait until ``agent``'s container process has started, as the lifecycle waits
        for the harness to speak: a stop sent before the container's init is ready is lost."""
        ...


def run(world: World, agent: str, *, restart: bool = False) -> None:
    """Start (or restart) ``agent`` as the lifecycle does: then wait until it is up."""
    (world.backend.restart if restart else world.backend.start)(agent)
    world.up(agent)


def run_failing(world: World, agent: str, *, restart: bool = False) -> None:
    """Start (or restart) ``agent`` whose process exits at once.

    A backend may see the failure at start (a ``Type=notify`` unit fails its
    start job) or only afterwards; the lifecycle copes with both.
    """
    with contextlib.suppress(HiveError):
        (world.backend.restart if restart else world.backend.start)(agent)


def make_spec(root: Path, agent: str, command: Sequence[str], uid_base: int) -> ContainerSpec:
    """A spec for ``agent`` with its directories made below ``root``."""
    top = root / agent
    dirs = {key: top / key for key in ("run", "state", "claude", "policy")}
    for directory in dirs.values():
        directory.mkdir(parents=True, exist_ok=True)
    return ContainerSpec(name=agent, runtime_dir=dirs["run"], state_dir=dirs["state"],
                         claude_dir=dirs["claude"], policy_dir=dirs["policy"],
                         command=command, uid_base=uid_base)


class BackendContract:
    """The clauses; subclasses provide the ``world`` fixture."""

    # -- unit names ---------------------------------------------------------------

    def test_unit_names_are_stable_and_name_their_agent(self, world: World) -> None:
        backend = world.backend
        assert backend.unit("alice") == backend.unit("alice")
        assert backend.unit("alice") != backend.unit("bob")
        assert agent_of(backend.unit("alice")) == "alice"
        assert agent_of(backend.unit("b0b-9")) == "b0b-9"

    def test_the_manager_has_a_unit(self, world: World) -> None:
        assert agent_of(world.backend.unit(MANAGER)) == MANAGER

    @pytest.mark.parametrize("name", BAD_NAMES)
    def test_every_verb_refuses_a_bad_name(self, world: World, name: str) -> None:
        backend = world.backend
        verbs: list[Callable[[str], object]] = [
            backend.unit, backend.start, backend.stop, backend.restart,
            backend.uninstall, backend.is_active]
        for verb in verbs:
            with pytest.raises(InvalidInput):
                verb(name)

    # -- installing ---------------------------------------------------------------

    def test_an_installed_container_is_not_running(self, world: World) -> None:
        world.backend.install(world.spec("alice"))
        assert not world.backend.is_active("alice")

    def test_an_unknown_agent_is_not_active(self, world: World) -> None:
        assert not world.backend.is_active("nobody")

    # -- running ------------------------------------------------------------------

    def test_start_runs_and_stop_stops_however_often_installed(self, world: World) -> None:
        backend = world.backend
        backend.install(world.spec("alice"))
        backend.install(world.spec("alice"))
        assert not backend.is_active("alice")
        run(world, "alice")
        assert backend.is_active("alice")
        # The manager's container is installed again over itself running, at every daemon start.
        backend.install(world.spec("alice"))
        assert backend.is_active("alice")
        backend.start("alice")  # already running: nothing happens
        assert backend.is_active("alice")
        backend.stop("alice")
        assert not backend.is_active("alice")
        run(world, "alice")
        assert backend.is_active("alice")

    def test_restart_runs_a_running_or_stopped_container(self, world: World) -> None:
        backend = world.backend
        backend.install(world.spec("alice"))
        run(world, "alice", restart=True)
        assert backend.is_active("alice")
        run(world, "alice", restart=True)
        assert backend.is_active("alice")

    def test_containers_run_independently(self, world: World) -> None:
        backend = world.backend
        for agent in ("alice", "bob"):
            backend.install(world.spec(agent))
            run(world, agent)
        backend.stop("bob")
        assert backend.is_active("alice")
        assert not backend.is_active("bob")

    @pytest.mark.parametrize("verb", ["stop", "uninstall"])
    def test_stop_and_uninstall_are_idempotent(self, world: World, verb: str) -> None:
        """Both are safe on what never ran, or was never installed (destroy, a disk to grow)."""
        backend = world.backend
        end: Callable[[str], None] = getattr(backend, verb)
        end("nobody")
        backend.install(world.spec("alice"))
        end("alice")
        end("alice")
        assert not backend.is_active("alice")

    def test_start_of_what_was_never_installed_is_refused(self, world: World) -> None:
        for verb in (world.backend.start, world.backend.restart):
            with pytest.raises(HiveError):
                verb("nobody")
        assert not world.backend.is_active("nobody")

    # -- containers that die ------------------------------------------------------

    def test_a_process_that_exits_at_once_is_not_active(self, world: World) -> None:
        backend = world.backend
        backend.install(world.spec("alice", exits=True))
        run_failing(world, "alice")
        assert world.eventually(lambda: not backend.is_active("alice"))

    def test_a_crashed_container_stays_down_until_started(self, world: World) -> None:
        """The crash watch, not systemd, decides whether a crashed container comes back."""
        backend = world.backend
        backend.install(world.spec("alice"))
        run(world, "alice")
        world.crash("alice")
        assert world.eventually(lambda: not backend.is_active("alice"))
        assert not backend.is_active("alice")
        run(world, "alice")
        assert backend.is_active("alice")

    def test_a_failed_container_starts_again_once_fixed(self, world: World) -> None:
        backend = world.backend
        backend.install(world.spec("alice", exits=True))
        run_failing(world, "alice", restart=True)
        assert world.eventually(lambda: not backend.is_active("alice"))
        backend.install(world.spec("alice"))
        run(world, "alice", restart=True)
        assert backend.is_active("alice")

    # -- uninstalling -------------------------------------------------------------

    def test_uninstall_stops_and_leaves_the_state_alone(self, world: World) -> None:
        backend = world.backend
        spec = world.spec("alice")
        backend.install(spec)
        run(world, "alice")
        for directory in (spec.state_dir, spec.claude_dir):
            (directory / "notes.md").write_text("remember")
        backend.uninstall("alice")
        assert not backend.is_active("alice")
        for directory in (spec.state_dir, spec.claude_dir):
            assert (directory / "notes.md").read_text() == "remember"
        with pytest.raises(HiveError):
            backend.start("alice")

    def test_an_uninstalled_agent_installs_and_runs_again(self, world: World) -> None:
        backend = world.backend
        backend.install(world.spec("alice"))
        backend.uninstall("alice")
        backend.install(world.spec("alice"))
        run(world, "alice")
        assert backend.is_active("alice")
