"""hyperhive's flake, evaluated offline against a stand-in nixpkgs.

The stand-in (``tests/nix/stand-in-nixpkgs``) is assembled in a directory of
the caller's: its files, nixpkgs' real lib from ``$HYPERHIVE_NIXPKGS_LIB``
as ``lib/``, and the NixOS option declarations the modules are evaluated
against (``tests/nix/*-options.nix``) as ``nixos/``. Copies, not links: a
``path:`` flake is copied into the store, and pure evaluation reads nothing
outside it. Both of the flake's nixpkgs inputs are overridden with it.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from hive_dev.nix import nix_lib, run_nix

ROOT = Path(__file__).resolve().parent.parent
STAND_IN = ROOT / "tests" / "nix" / "stand-in-nixpkgs"
OPTIONS = (ROOT / "tests" / "nix" / "nixos-options.nix", ROOT / "tests" / "nix" / "vm-options.nix")
INPUTS = ("nixpkgs", "nixpkgs-unstable")


def assemble(dest: Path) -> Path:
    """The stand-in nixpkgs, written into ``dest`` (created); returns ``dest``."""
    shutil.copytree(STAND_IN, dest)
    shutil.copytree(nix_lib(), dest / "lib")
    (dest / "nixos").mkdir()
    for options in OPTIONS:
        shutil.copyfile(options, dest / "nixos" / options.name)
    return dest


def overrides(stand_in: Path) -> list[str]:
    """The arguments that put ``stand_in`` in place of both nixpkgs inputs."""
    args = ["--no-write-lock-file"]
    for name in INPUTS:
        args += ["--override-input", name, f"path:{stand_in}"]
    return args


def flake(args: list[str], stand_in: Path, *, flake_dir: Path = ROOT,
          timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``nix ARGS`` on the flake in ``flake_dir`` (its git tree), inputs from ``stand_in``."""
    return run_nix([*args, *overrides(stand_in)], cwd=flake_dir, timeout=timeout)
