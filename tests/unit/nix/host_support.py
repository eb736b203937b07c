"""Evaluating the host module: the stand-in packages' store paths and a few shortcuts."""

from __future__ import annotations

import functools
import json
from typing import Any

from hive_dev.nix import run_nix
from hive_dev.nix_modules import ROOT, evaluate, nix_path

STAND_INS = ROOT / "tests" / "nix" / "pkgs.nix"


@functools.cache
def stand_in(name: str) -> str:
    """The store path of the stand-in package ``name`` (tests/nix/pkgs.nix)."""
    done = run_nix(["--eval", "--json", "-E", f"(import {nix_path(STAND_INS)}).{name}.outPath"],
                   program="nix-instantiate")
    assert done.returncode == 0, done.stderr
    return str(json.loads(done.stdout))


def host(*lines: str) -> Any:
    """The evaluated host module, enabled, with ``lines`` (Nix assignments) beside it."""
    return evaluate("{ pkgs, lib, ... }: { services.hive-c0re.enable = true; "
                    + " ".join(lines) + " }")


def services(result: Any) -> dict[str, Any]:
    return dict(result["systemd"]["services"])


def sockets(result: Any) -> dict[str, Any]:
    return dict(result["systemd"]["sockets"])
