"""Every tracked .nix file is valid Nix; settings.nix is what scripts/gen-nix writes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from hive_dev.nix_modules import ROOT, parse


def tracked_nix_files() -> list[Path]:
    listed = subprocess.run(["git", "ls-files", "-z", "--", "*.nix"], cwd=ROOT,
                            capture_output=True, text=True, check=True).stdout
    return [ROOT / name for name in listed.split("\0") if name]


def test_the_modules_are_tracked() -> None:
    names = {path.relative_to(ROOT).as_posix() for path in tracked_nix_files()}
    assert {"nixos/modules/hive-c0re.nix", "nixos/modules/harness.nix",
            "nixos/modules/settings.nix"} <= names


@pytest.mark.usefixtures("nix_instantiate")
@pytest.mark.parametrize("path", tracked_nix_files(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_nix_file_parses(path: Path) -> None:
    assert parse(path) is None


@pytest.mark.usefixtures("nix_instantiate")
def test_a_syntax_error_is_reported(tmp_path: Path) -> None:
    broken = tmp_path / "broken.nix"
    broken.write_text("{ lib }: { a = ; }\n")
    complaint = parse(broken)
    assert complaint is not None and "syntax error" in complaint


def test_settings_nix_is_current() -> None:
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "gen-nix"), "--check"],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
