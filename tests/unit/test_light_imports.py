"""What an agent's client loads at its start, checked in a fresh interpreter.

Every agent starts a Python in its container at each spawn and restart, and
compiles nothing there (its binds are read-only): what these modules import
is paid on every start. The client's own path (the wire's frames, errors,
names, paths, logging) and the stand-in agent stay off asyncio and the
heavy libraries; the harness's asyncio client stays off the CLI's and the
host's libraries and the wire's verb tables.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

# Libraries of the command lines, the UI and the host; and the verb tables.
HEAVY = {"click", "rich", "peewee", "pydantic", "hive_c0re.wire", "hive_c0re.wire_fields"}
# What asyncio and a dataclass bring (``inspect`` alone is ~10 ms in a container).
ASYNC = {"asyncio", "ssl", "concurrent.futures", "dataclasses", "inspect"}


def loaded(*modules: str) -> set[str]:
    """Every module a fresh interpreter holds once ``modules`` are imported."""
    code = (f"import json, sys\nimport {', '.join(modules)}\n"
            "print(json.dumps(sorted(sys.modules)))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    return set(json.loads(done.stdout))


@pytest.mark.parametrize("modules", [
    ("hive_c0re.client", "hive_c0re.frames", "hive_c0re.errors", "hive_c0re.names",
     "hive_c0re.paths", "hive_c0re.logs", "hive_ag3nt"),
    ("hive_dev.echo_agent",),
])
def test_the_client_path_and_the_stand_in_import_neither_asyncio_nor_heavy_modules(
        modules: tuple[str, ...]) -> None:
    found = loaded(*modules)
    assert set(modules) <= found
    assert found & (HEAVY | ASYNC) == set()


def test_the_stand_in_parses_no_empty_command_line() -> None:
    # As a container runs it: no words, so no argparse (and its gettext).
    found = loaded("hive_dev.echo_agent")
    assert "argparse" not in found
    code = ("import sys\nfrom hive_dev.echo_agent import parse\nparse([])\n"
            "print('argparse' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_the_harness_client_imports_no_heavy_module() -> None:
    found = loaded("hive_ag3nt.hive")
    assert "asyncio" in found
    assert found & HEAVY == set()


def test_the_programs_entry_points_import_no_click() -> None:
    # ``serve`` as a container runs it is decided before click (hive_ag3nt.start).
    found = loaded("hive_ag3nt.cli", "hive_m1nd.cli")
    assert found & HEAVY == set()


def test_serve_imports_neither_the_sdk_nor_the_orm_nor_the_ui_before_it_runs() -> None:
    # The SDK comes with the first turn, the UI's libraries once the hive heard from us.
    found = {name.partition(".")[0] for name in loaded("hive_ag3nt.service", "hive_m1nd.start")}
    assert found & {"claude_agent_sdk", "mcp", "pydantic", "peewee", "click", "aiohttp"} == set()
