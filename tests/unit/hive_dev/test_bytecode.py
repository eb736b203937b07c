"""Bytecode a container can use (hive_dev/bytecode.py, run by scripts/setup), for real."""

from __future__ import annotations

import importlib.util
import os
import py_compile
import stat
import subprocess
import sys
from pathlib import Path

from hive_dev.bytecode import compile_readable, sources, unusable

REPO = Path(__file__).resolve().parents[3]


def package(tmp_path: Path) -> Path:
    top = tmp_path / "pkg"
    top.mkdir()
    (top / "__init__.py").write_text("")
    (top / "mod.py").write_text("VALUE = 1\n")
    return top


def cached(source: Path) -> Path:
    return Path(importlib.util.cache_from_source(str(source)))


def test_what_a_tight_umask_compiled_is_of_no_use_and_is_compiled_again_readable(
        tmp_path: Path) -> None:
    top = package(tmp_path)
    module = top / "mod.py"
    old = os.umask(0o077)  # as the daemon's unit has it
    try:
        (top / "__pycache__").mkdir()
        py_compile.compile(str(module), str(cached(module)), doraise=True)
    finally:
        os.umask(old)
    assert stat.S_IMODE(cached(module).stat().st_mode) == 0o600
    assert unusable(sources([top])) == [top / "__init__.py", module]

    compile_readable(unusable(sources([top])))

    assert unusable(sources([top])) == []
    assert stat.S_IMODE(cached(module).stat().st_mode) == 0o644
    assert stat.S_IMODE((top / "__pycache__").stat().st_mode) == 0o755


def test_an_edited_module_is_stale_and_the_command_says_so_until_compiled(
        tmp_path: Path) -> None:
    top = package(tmp_path)
    compile_readable(sources([top]))
    (top / "mod.py").write_text("VALUE = 22\n")  # another size
    command = [sys.executable, "-m", "hive_dev.bytecode"]
    listed = subprocess.run([*command, str(top)], capture_output=True, text=True, cwd=REPO)
    assert (listed.returncode, listed.stdout) == (1, f"{top / 'mod.py'}\n")
    fixed = subprocess.run([*command, "--compile", str(top)], capture_output=True, text=True,
                           cwd=REPO)
    assert (fixed.returncode, fixed.stdout) == (0, "")
    assert unusable(sources([top])) == []
