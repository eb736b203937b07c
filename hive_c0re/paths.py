"""Every location the hive uses, in one place.

Each comes from its systemd variable (``STATE_DIRECTORY``,
``RUNTIME_DIRECTORY``), else the FHS default, and a ``HYPERHIVE_*`` variable
overrides it (tests, benchmarks, the demo). No other module reads the
environment for paths, and every per-agent path goes through
:func:`validate_agent_name` first.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

from hive_c0re.names import MANAGER, validate_agent_name


def _first_dir(value: str) -> str:
    # systemd passes several directories colon-separated when a unit lists more than one.
    return value.split(":", 1)[0]


def _pick(override: str, systemd_var: str, default: str) -> Path:
    env = os.environ
    if env.get(override):
        return Path(env[override])
    if env.get(systemd_var):
        return Path(_first_dir(env[systemd_var]))
    return Path(default)


class Paths(NamedTuple):
    """The hive's directories; build with :meth:`from_env` or pass explicit roots.

    A named tuple, not a dataclass: an agent's client imports this module, and
    ``dataclasses`` (with ``inspect``) would double its imports.
    """

    state: Path
    runtime: Path

    @classmethod
    def from_env(cls) -> Paths:
        return cls(
            state=_pick("HYPERHIVE_STATE_DIR", "STATE_DIRECTORY", "/var/lib/hyperhive"),
            runtime=_pick("HYPERHIVE_RUNTIME_DIR", "RUNTIME_DIRECTORY", "/run/hyperhive"),
        )

    @property
    def broker(self) -> Path:
        return self.state / "broker.sqlite"

    @property
    def host_socket(self) -> Path:
        return self.runtime / "host.sock"

    @property
    def dashboard_socket(self) -> Path:
        """Where the dashboard listens when systemd hands it no socket."""
        return self.runtime / "dashboard.sock"

    @property
    def manager_dir(self) -> Path:
        return self.runtime / "manager"

    @property
    def manager_socket(self) -> Path:
        return self.manager_dir / "hive.sock"

    @property
    def agents_runtime(self) -> Path:
        return self.runtime / "agents"

    def agent_runtime(self, name: str) -> Path:
        return self.agents_runtime / validate_agent_name(name)

    def agent_socket(self, name: str) -> Path:
        return self.agent_runtime(name) / "hive.sock"

    def agent_state(self, name: str) -> Path:
        return self.state / "agents" / validate_agent_name(name)

    def applied_repo(self, name: str) -> Path:
        return self.state / "applied" / validate_agent_name(name)

    def applied_flake(self, name: str) -> str:
        """The flake reference NixOS builds a container from: an agent's applied repo's
        ``agent`` configuration (one seed serves all), or the manager's own repo's
        ``manager``. Both at ``main``: with a ref, Nix fetches the committed tree into
        its own cache and never touches the repo's work tree or index."""
        if name == MANAGER:
            return f"git+file://{self.manager_config}?ref=main#manager"
        return f"git+file://{self.applied_repo(name)}?ref=main#agent"

    @property
    def nixos_builds(self) -> Path:
        """The nixos backend's out-links, one per container: each keeps the system last
        built for it from the garbage collector until its profile holds it."""
        return self.state / "nixos-builds"

    @property
    def manager_config(self) -> Path:
        """The manager's config repo: its container's system on the nixos backend. The
        operator's to change (the manager proposes for agents only); never bound in."""
        return self.manager_state / "config"

    @property
    def proposed_disk(self) -> Path:
        """Where the proposed repos' disk is mounted (a plain directory without one):
        ``repos`` below it is the manager's, ``scratch`` the daemon's."""
        return self.state / "proposed-disk"

    @property
    def proposed_root(self) -> Path:
        """Every agent's proposed config repo; bound (and only this) into the manager."""
        return self.proposed_disk / "repos"

    @property
    def proposed_disk_image(self) -> Path:
        """The disk mounted at :attr:`proposed_disk` when the hive has a manager."""
        return self.state / "proposed.img"

    def proposed_repo(self, name: str) -> Path:
        return self.proposed_root / validate_agent_name(name)

    @property
    def scratch(self) -> Path:
        """The daemon's own work space, on the same filesystem as ``repos`` (beside it on
        the proposed disk): no container sees it, so git may run there; a finished tree
        moves out with one rename."""
        return self.proposed_disk / "scratch"

    @property
    def seed_repos(self) -> Path:
        """The seed commits new applied repos are cloned from (daemon-only, like ``applied``)."""
        return self.state / "seeds"

    @property
    def manager_state(self) -> Path:
        return self.state / "manager"

    @property
    def manager_policy(self) -> Path:
        return self.runtime / "policy" / "manager"

    def agent_policy(self, name: str) -> Path:
        """What the daemon hands the container read-only (``/etc/hive``)."""
        return self.runtime / "policy" / validate_agent_name(name)

    @property
    def egress_dir(self) -> Path:
        """The egress process's sockets; bound read-only into every container."""
        return self.runtime / "egress"

    @property
    def container_roots(self) -> Path:
        """The per-agent root trees nspawn boots from, and the ``/etc`` files bound into them.

        On disk, in the daemon's own state: never the host's tmpfs ``/run``.
        """
        return self.state / "roots"


def unit_dir(user_scope: bool) -> Path:
    """Where agent units go: the system's ``/etc/systemd/system`` or a user manager's."""
    explicit = os.environ.get("HYPERHIVE_UNIT_DIR")
    if explicit:
        return Path(explicit)
    if not user_scope:
        return Path("/etc/systemd/system")
    config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config) / "systemd" / "user"


def host_socket_from_env() -> Path:
    """The operator socket a client should dial (``HYPERHIVE_SOCKET`` wins)."""
    explicit = os.environ.get("HYPERHIVE_SOCKET")
    return Path(explicit) if explicit else Paths.from_env().host_socket


def agent_socket_in_container() -> Path:
    """The socket an agent's harness dials (``HYPERHIVE_SOCKET`` wins, for tests)."""
    explicit = os.environ.get("HYPERHIVE_SOCKET")
    return Path(explicit) if explicit else Path("/run/hive/hive.sock")
