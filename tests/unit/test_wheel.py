"""The wheel ships the product only: three packages and their man pages, no stand-ins.

Built the way an operator's install would build it (``pip wheel .``); what it
holds is read from its file list and its Python sources, never assumed. The
man pages are the wheel's data, installed by a real ``pip install`` where
``man`` finds them.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGES = {"hive_c0re", "hive_ag3nt", "hive_m1nd"}
DATA = "hyperhive-0.1.0.data/data/"
MAN_PAGES = sorted(path.name for path in (REPO / "man").glob("*.[1-9]"))
# What only development needs: the stand-in model and API, the fakes, the echo agent.
DEVELOPMENT_ONLY = re.compile(r"hive_dev|demo|fake|stand_in|echo_agent")
# How the code would import development code, or offer the echo agent as a command.
DEVELOPMENT_CODE = re.compile(
    r"^\s*(?:from|import)\s+hive_dev\b|\.command\(\s*\"echo\"|heard: \{", re.MULTILINE)


@pytest.fixture(scope="module")
def wheel_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(REPO), "--no-deps", "--quiet", "-w", str(out)],
        capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr
    (path,) = out.glob("hyperhive-*.whl")
    return path


@pytest.fixture(scope="module")
def wheel(wheel_path: Path) -> Iterator[zipfile.ZipFile]:
    with zipfile.ZipFile(wheel_path) as archive:
        yield archive


def man_data(page: str) -> str:
    """Where the wheel keeps ``page``: its data, under share/man/man<section>."""
    return f"{DATA}share/man/man{page.rpartition('.')[2]}/{page}"


def test_the_wheel_holds_the_three_packages_and_their_man_pages(wheel: zipfile.ZipFile) -> None:
    names = wheel.namelist()
    tops = {name.split("/")[0] for name in names}
    assert tops - {"hyperhive-0.1.0.dist-info", "hyperhive-0.1.0.data"} == PACKAGES
    assert len(MAN_PAGES) >= 6
    for page in MAN_PAGES:
        assert man_data(page) in names, f"man/{page} is not in the wheel's data"
        assert wheel.read(man_data(page)) == (REPO / "man" / page).read_bytes()
    data = [name for name in names if name.startswith(DATA)]
    assert sorted(data) == sorted(man_data(page) for page in MAN_PAGES)
    for package in PACKAGES:
        assert f"{package}/__init__.py" in names


@pytest.mark.skipif(shutil.which("man") is None, reason="man is not installed")
def test_man_finds_every_page_after_pip_install(wheel_path: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    installed = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install",
         "--no-deps", "--no-index", "--quiet", str(wheel_path)],
        capture_output=True, text=True, timeout=300)
    assert installed.returncode == 0, installed.stderr
    env = {"PATH": os.environ["PATH"], "MANPATH": str(venv / "share" / "man")}
    for page in MAN_PAGES:
        name, _, section = page.rpartition(".")
        found = subprocess.run(["man", "-w", section, name], capture_output=True, text=True,
                               env=env, check=False)
        assert found.returncode == 0, found.stderr
        where = Path(found.stdout.strip())
        assert where == venv / "share" / "man" / f"man{section}" / page
        assert where.read_bytes() == (REPO / "man" / page).read_bytes()


def test_no_stand_in_fake_or_debug_agent_in_the_wheel(wheel: zipfile.ZipFile) -> None:
    assert [name for name in wheel.namelist() if DEVELOPMENT_ONLY.search(name)] == []
    found = {name: DEVELOPMENT_CODE.findall(wheel.read(name).decode())
             for name in wheel.namelist() if name.endswith(".py")}
    assert {name: hits for name, hits in found.items() if hits} == {}


def test_the_agent_cli_offers_no_echo_command() -> None:
    from click.testing import CliRunner

    from hive_ag3nt.cli import cli

    result = CliRunner().invoke(cli, ["debug", "echo", "--help"])
    assert result.exit_code != 0
    assert "No such command 'echo'" in result.output
