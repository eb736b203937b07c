"""Nix for the tests: the offline flags, and where nixpkgs' lib is.

No binary cache and no network are used: every command runs with
``--offline`` and no substituters, and flakes are enabled
per command, so Nix 2.8 from Debian works as it is installed. nixpkgs' lib
(its real module system) comes from ``$HYPERHIVE_NIXPKGS_LIB`` (scripts/test
sets it from the shared vendor copy when there is one).
"""

from __future__ import annotations

import grp
import os
import shutil
import subprocess
from pathlib import Path

LIB_ENV = "HYPERHIVE_NIXPKGS_LIB"
OFFLINE = (
    "--extra-experimental-features", "nix-command flakes",
    "--offline",
    "--option", "substituters", "",  # else each command first waits on the binary cache
    # Not build-hook '': Nix 2.8 then tries to run '' as the hook, and every build fails.
    # The stand-in derivations' builder is the host's /bin/sh, which a sandbox lacks.
    "--option", "sandbox", "false",
)


class NixMissing(Exception):
    """Nix or nixpkgs' lib cannot be had here; the message says which and how to get it."""


def nix_lib() -> Path:
    """nixpkgs' ``lib`` directory (the one holding ``default.nix``); raise if it is not there."""
    value = os.environ.get(LIB_ENV, "")
    if not value:
        raise NixMissing(f"{LIB_ENV} is not set: point it at a copy of nixpkgs' lib/ "
                         "(scripts/test sets it from ../shared/vendor/nixpkgs-lib)")
    lib = Path(value)
    if (lib / "lib" / "default.nix").is_file():
        lib = lib / "lib"  # the root of a nixpkgs.lib checkout
    if not (lib / "default.nix").is_file():
        raise NixMissing(f"{LIB_ENV}={value} holds no nixpkgs lib (no default.nix)")
    return lib


def nix_program(name: str = "nix") -> str:
    """The path of ``name`` (nix, nix-instantiate); raise if Nix is not installed."""
    found = shutil.which(name)
    if found is None:
        raise NixMissing(f"{name} is not installed (Debian: apt-get install nix-bin; "
                         "scripts/setup does it)")
    return found


def build_users() -> list[str]:
    """No build users when their group is missing: Debian's nix-bin names ``nixbld`` in
    its nix.conf without creating it (nix-setup-systemd does), and every build then fails.
    Builds run as root instead, as they do on a single-user install."""
    try:
        grp.getgrnam("nixbld")
    except KeyError:
        return ["--option", "build-users-group", ""]
    return []


def run_nix(args: list[str], *, program: str = "nix", cwd: Path | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``program ARGS`` with the offline flags; the result is returned, never raised on."""
    flags = list(OFFLINE) if program == "nix" else ["--option", "substituters", "",
                                                    "--option", "sandbox", "false"]
    flags += build_users()
    return subprocess.run([nix_program(program), *flags, *args], cwd=cwd, capture_output=True,
                          text=True, check=False, timeout=timeout)
