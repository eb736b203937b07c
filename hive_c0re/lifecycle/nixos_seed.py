"""The files besides ``agent.toml`` a new agent's config repo starts with: its NixOS system.

The nixos backend builds ``nixosConfigurations.<agent>`` of the applied repo's
``flake.nix`` (:meth:`hive_c0re.paths.Paths.applied_flake`); that flake
builds ``agent.nix``, which imports hyperhive's harness module. The nspawn
backend reads neither. Names are validated before they reach a template.
"""

from __future__ import annotations

import platform
from importlib import resources

from hive_c0re.names import validate_agent_name

AGENT_NIX = "agent.nix"
FLAKE_NIX = "flake.nix"
# platform.machine() to the Nix system the container is built for (the host's own).
NIX_SYSTEMS = {"x86_64": "x86_64-linux", "amd64": "x86_64-linux", "aarch64": "aarch64-linux",
               "arm64": "aarch64-linux"}


def nix_system(machine: str | None = None) -> str:
    """The Nix system name of this host (Nix's are ``<cpu>-linux``, its cpu names mostly
    the kernel's); never a failure: seeding serves the nspawn backend too."""
    found = (machine or platform.machine()).lower()
    return NIX_SYSTEMS.get(found, f"{found}-linux")


def _template(name: str) -> str:
    return (resources.files("hive_c0re.lifecycle") / "templates" / name).read_text(
        encoding="utf-8")


def seed_files(agent: str, machine: str | None = None) -> dict[str, str]:
    """``flake.nix`` and ``agent.nix`` for ``agent``, by file name."""
    name = validate_agent_name(agent)
    flake = _template(FLAKE_NIX).replace("@AGENT@", name).replace("@SYSTEM@",
                                                                  nix_system(machine))
    return {FLAKE_NIX: flake, AGENT_NIX: _template(AGENT_NIX)}
