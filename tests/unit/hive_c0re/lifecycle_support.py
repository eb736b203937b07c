"""A lifecycle on a real store and real git repos, with no containers: FakeBackend.

The mailroom, the sockets and the egress are the lifecycle's ports
(``hive_c0re.lifecycle.ports``), stood in for by recorders. Agents get plain
state directories, as a hive from before disk images has: a disk image is a
loop mount in the host's mount namespace, which only the sandbox tests
(tests/sandbox, a private namespace) make.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hive_c0re.broker.store import Store
from hive_c0re.lifecycle.agents import Lifecycle
from hive_c0re.lifecycle.gitrepo import ConfigRepo
from hive_c0re.paths import Paths
from hive_c0re.settings import Settings
from hive_dev.backend import FakeBackend


@dataclass
class Mail:
    """The mailroom's side the lifecycle sees: what it sent and announced."""

    sent: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    events: list[tuple[str, str | None, dict[str, Any]]] = field(default_factory=list)

    def send(self, sender: str, to: str, body: str, in_reply_to: int | None) -> list[int]:
        self.sent.append((sender, to, json.loads(body)))
        return [len(self.sent)]

    def announce(self, kind: str, agent: str | None, *, tell_agent: bool = False,
                 **data: Any) -> None:
        self.events.append((kind, agent, data))

    def kinds(self) -> list[str]:
        return [kind for kind, _, _ in self.events]


@dataclass
class Sockets:
    """Sockets that are always listened on, and a harness heard the moment it is expected."""

    listening: dict[str, int | None] = field(default_factory=dict)
    expected: list[str] = field(default_factory=list)

    async def listen_for_agent(self, name: str, owner: int | None = None) -> None:
        self.listening[name] = owner

    def stop_listening_for_agent(self, name: str) -> None:
        self.listening.pop(name, None)

    def expect_agent(self, name: str) -> asyncio.Event:
        self.expected.append(name)
        heard = asyncio.Event()
        heard.set()
        return heard


@dataclass
class Egress:
    upstreams: list[str] = field(default_factory=list)

    async def ensure(self, upstream: str) -> None:
        self.upstreams.append(upstream)


class Bench:
    """One lifecycle and everything it touches, under ``tmp_path``."""

    def __init__(self, tmp_path: Path, **settings: Any) -> None:
        self.paths = Paths(state=tmp_path / "state", runtime=tmp_path / "run")
        self.settings = Settings.load({"manager_command": "", "apply_settle_seconds": 0.0,
                                       **settings}, environ={})
        self.store = Store(self.paths.broker, self.settings)
        self.backend = FakeBackend()
        self.mail = Mail()
        self.sockets = Sockets()
        self.egress = Egress()
        self.watched = 0
        self.lifecycle = Lifecycle(self.backend, self.store, self.paths, self.settings,
                                   mail=self.mail, sockets=self.sockets, egress=self.egress,
                                   watch=self._watch)

    def _watch(self) -> None:
        self.watched += 1

    def plain_state(self, *names: str) -> None:
        """Give ``names`` the plain state directories of a hive from before disk images."""
        for name in names:
            (self.paths.agent_state(name) / "state").mkdir(parents=True, exist_ok=True)

    def applied(self, name: str) -> ConfigRepo:
        return ConfigRepo(self.paths.applied_repo(name))

    def woken(self, name: str) -> list[str]:
        """The lifecycle actions ``name`` was told of, in order."""
        return [body["action"] for sender, to, body in self.mail.sent
                if to == name and sender == "system" and body.get("event") == "lifecycle"]

    def close(self) -> None:
        self.store.close()
