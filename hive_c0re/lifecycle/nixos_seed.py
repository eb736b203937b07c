"""The files besides ``agent.toml`` a new agent's config repo starts with: its NixOS system.

The nixos backend builds ``nixosConfigurations.agent`` of the applied repo's
``flake.nix`` (:meth:`hive_c0re.paths.Paths.applied_flake`); that flake
builds ``agent.nix``, which imports hyperhive's harness module. The nspawn
backend reads neither. Nothing in them names the agent (the container's name
is the backend's), so every agent's seed is the same on one host.

Root builds that flake, so ``flake.nix`` stays the hive's: its inputs are
fetched by root before anything is evaluated (a ``path:`` input copies any
file root can read into the store), and a ``flake.lock`` would pin the host's
hyperhive for good. A proposal may change ``agent.nix``, which Nix evaluates
purely (no absolute paths), and ``agent.toml``; :func:`check_hive_files`
refuses one whose ``flake.nix`` is not one the hive seeded (this version's, or
an older one's, kept in its seed repos) or that brings a ``flake.lock``.
"""

from __future__ import annotations

import platform
from collections.abc import Collection
from importlib import resources
from pathlib import Path

from hive_c0re.errors import InvalidInput
from hive_c0re.lifecycle.gitrepo import ConfigRepo

AGENT_NIX = "agent.nix"
FLAKE_NIX = "flake.nix"
FLAKE_LOCK = "flake.lock"
# platform.machine() to the Nix system the container is built for (the host's own).
NIX_SYSTEMS = {"x86_64": "x86_64-linux", "amd64": "x86_64-linux", "aarch64": "aarch64-linux",
               "arm64": "aarch64-linux", "ppc64le": "powerpc64le-linux"}


def nix_system(machine: str | None = None) -> str:
    """The Nix system name of this host (Nix's are ``<cpu>-linux``, its cpu names mostly
    the kernel's); never a failure: seeding serves the nspawn backend too."""
    found = (machine or platform.machine()).lower()
    return NIX_SYSTEMS.get(found, f"{found}-linux")


def _template(name: str) -> str:
    return (resources.files("hive_c0re.lifecycle") / "templates" / name).read_text(
        encoding="utf-8")


def seed_files(machine: str | None = None) -> dict[str, str]:
    """``flake.nix`` (for this host's Nix system) and ``agent.nix``, by file name."""
    flake = _template(FLAKE_NIX).replace("@SYSTEM@", nix_system(machine))
    return {FLAKE_NIX: flake, AGENT_NIX: _template(AGENT_NIX)}


def check_hive_files(repo: ConfigRepo, commit: str, seeded: Collection[str] = ()) -> None:
    """Refuse ``commit`` of ``repo`` unless its ``flake.nix`` is the seed's (or one of
    ``seeded``, those an older version of the hive seeded) and it has no ``flake.lock``:
    root builds that flake (see the module's doc)."""
    short = commit[:12]
    if repo.read_file(commit, FLAKE_NIX) not in {seed_files()[FLAKE_NIX], *seeded}:
        raise InvalidInput(
            f"commit {short} changes {FLAKE_NIX}, which is the hive's own: it says where an "
            "agent's hyperhive and nixpkgs come from, and root fetches whatever it names",
            hint=f"keep {FLAKE_NIX} as the config repo was seeded with it (git checkout "
                 f"<the first commit> -- {FLAKE_NIX}); the agent's system is {AGENT_NIX}'s "
                 "to change")
    if repo.read_file(commit, FLAKE_LOCK) is not None:
        raise InvalidInput(
            f"commit {short} adds {FLAKE_LOCK}: the hive pins no input of an agent's flake, "
            "each build takes the host's hyperhive and nixpkgs as they are then",
            hint=f"git rm {FLAKE_LOCK}")


def seed_manager_config(path: Path) -> bool:
    """Give the manager its config repo at ``path`` (daemon-only space) unless it has one;
    return whether it was made now. The manager has no agent.toml: its policy is fixed."""
    repo = ConfigRepo(path)
    if repo.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    repo.init(seed_files(), "seed config for the manager")
    return True
