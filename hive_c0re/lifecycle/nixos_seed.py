"""The files besides ``agent.toml`` a new agent's config repo starts with: its NixOS system.

The nixos backend builds ``nixosConfigurations.agent`` of the applied repo's
``flake.nix`` (:meth:`hive_c0re.paths.Paths.applied_flake`); that flake
builds ``agent.nix``, which imports hyperhive's harness module. The nspawn
backend reads neither. Nothing in them names the agent (the container's name
is the backend's), so every agent's seed is the same on one host.
"""

from __future__ import annotations

import platform
from importlib import resources
from pathlib import Path

from hive_c0re.lifecycle.gitrepo import ConfigRepo

AGENT_NIX = "agent.nix"
FLAKE_NIX = "flake.nix"
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


def seed_manager_config(path: Path) -> bool:
    """Give the manager its config repo at ``path`` (daemon-only space) unless it has one;
    return whether it was made now. The manager has no agent.toml: its policy is fixed."""
    repo = ConfigRepo(path)
    if repo.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    repo.init(seed_files(), "seed config for the manager")
    return True
