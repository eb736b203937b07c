"""The wheel ships the product only: three packages and their man pages, no stand-ins.

Built the way an operator's install would build it (``pip wheel .``); what it
holds is read from its file list and its Python sources, never assumed.
"""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGES = {"hive_c0re", "hive_ag3nt", "hive_m1nd"}
MAN_PAGES = {"hive_c0re/man/hive-c0re.1", "hive_c0re/man/hyperhive.7",
             "hive_c0re/man/hyperhive-agent.toml.5"}
# What only development needs: the stand-in model and API, the fakes, the echo agent.
DEVELOPMENT_ONLY = re.compile(r"hive_dev|demo|fake|stand_in|echo_agent")
# How the code would import development code, or offer the echo agent as a command.
DEVELOPMENT_CODE = re.compile(
    r"^\s*(?:from|import)\s+hive_dev\b|\.command\(\s*\"echo\"|heard: \{", re.MULTILINE)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[zipfile.ZipFile]:
    out = tmp_path_factory.mktemp("wheel")
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(REPO), "--no-deps", "--quiet", "-w", str(out)],
        capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr
    (path,) = out.glob("hyperhive-*.whl")
    with zipfile.ZipFile(path) as archive:
        yield archive


def test_the_wheel_holds_the_three_packages_and_their_man_pages(wheel: zipfile.ZipFile) -> None:
    names = wheel.namelist()
    tops = {name.split("/")[0] for name in names}
    assert tops - {"hyperhive-0.1.0.dist-info"} == PACKAGES
    assert set(names) >= MAN_PAGES
    for package in PACKAGES:
        assert f"{package}/__init__.py" in names


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
