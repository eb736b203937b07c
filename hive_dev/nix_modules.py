"""The NixOS modules, evaluated with nixpkgs' own module system for the tests.

``tests/nix/eval.nix`` runs ``lib.evalModules`` over the modules, the NixOS
option declarations they write to (``tests/nix/nixos-options.nix``, typed as
NixOS types them) and one module of the test's, and prints what the tests
check as JSON. A refused evaluation (a wrong type, an unknown option, a
failed assertion) raises :class:`EvalRefused` with Nix's own message.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hive_dev.nix import nix_lib, run_nix

ROOT = Path(__file__).resolve().parent.parent
MODULES = ROOT / "nixos" / "modules"
HOST_MODULE = MODULES / "hive-c0re.nix"
HARNESS_MODULE = MODULES / "harness.nix"
EVAL = ROOT / "tests" / "nix" / "eval.nix"


class EvalRefused(Exception):
    """Nix refused the evaluation; ``message`` is what it printed."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def nix_path(path: Path) -> str:
    """``path`` as a Nix path expression, whatever characters it holds."""
    return f"(/. + {json.dumps(str(path.resolve()), ensure_ascii=False)})"


def evaluate(module: str, modules: Sequence[Path] = (HOST_MODULE,)) -> Any:
    """Evaluate ``modules`` with ``module`` (Nix text) beside them; return the JSON summary."""
    listed = "[ " + " ".join(nix_path(m) for m in modules) + " ]"
    done = run_nix(["--eval", "--strict", "--json", str(EVAL),
                    "--arg", "lib", f"import {nix_path(nix_lib())}",
                    "--arg", "module", module, "--arg", "modules", listed],
                   program="nix-instantiate", timeout=60)
    if done.returncode != 0:
        raise EvalRefused(done.stderr.strip())
    return json.loads(done.stdout)


def parse(path: Path) -> str | None:
    """None if ``path`` is valid Nix, else nix-instantiate's complaint."""
    done = run_nix(["--parse", str(path)], program="nix-instantiate", timeout=60)
    return None if done.returncode == 0 else done.stderr.strip()
