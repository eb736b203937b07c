"""A container backend with no containers: what lifecycle unit tests run on.

It keeps what a real backend would leave behind (the installed spec, whether
the unit runs) in memory and records every call, so a test can say what the
lifecycle asked for in which order. It passes the :class:`Backend` contract
(tests/backend_contract.py) that the real backends pass too.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hive_c0re.errors import HiveError
from hive_c0re.lifecycle.backend import ContainerSpec
from hive_c0re.names import validate_container_name


@dataclass
class FakeBackend:
    name: str = "fake"
    installed: dict[str, ContainerSpec] = field(default_factory=dict)
    active: set[str] = field(default_factory=set)
    calls: list[tuple[str, str]] = field(default_factory=list)
    # Agents whose next start fails, as a unit whose process exits at once does.
    failing: set[str] = field(default_factory=set)

    def unit(self, agent: str) -> str:
        # The nspawn backend's name: the crash watch finds the agent of a unit by its name.
        return f"hive-agent@{validate_container_name(agent)}.service"

    def install(self, spec: ContainerSpec) -> None:
        self.calls.append(("install", spec.name))
        self.installed[spec.name] = spec

    def uninstall(self, agent: str) -> None:
        self._called("uninstall", agent)
        self.active.discard(agent)
        self.installed.pop(agent, None)

    def start(self, agent: str) -> None:
        self._called("start", agent)
        self._run(agent)

    def stop(self, agent: str) -> None:
        self._called("stop", agent)
        self.active.discard(agent)

    def restart(self, agent: str) -> None:
        self._called("restart", agent)
        self.active.discard(agent)
        self._run(agent)

    def is_active(self, agent: str) -> bool:
        return validate_container_name(agent) in self.active

    def crash(self, agent: str) -> None:
        """The container dies on its own (what the crash watch is for)."""
        self.active.discard(agent)

    def _called(self, verb: str, agent: str) -> None:
        # Refused before anything is recorded, as a real backend runs nothing for a bad name.
        self.calls.append((verb, validate_container_name(agent)))

    def _run(self, agent: str) -> None:
        if agent not in self.installed:
            raise HiveError(f"unit {self.unit(agent)} is not installed")
        if agent in self.failing:
            return  # started, and gone at once
        self.active.add(agent)
