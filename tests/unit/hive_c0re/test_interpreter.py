"""The daemon's children import hyperhive however the daemon itself was given it.

nixpkgs' Python application wrapper leaves the interpreter bare and adds the
libraries to ``sys.path`` inside the console script. Here that is done for
real: this venv's base interpreter, which cannot import hyperhive, runs a
script that adds the venv's site-packages with ``site.addsitedir`` as the
wrapper does, then starts the egress process with the daemon's own spawn
function and asks it for an answer over its socket. Nothing in the child's
working directory is ever imported: the children run as root.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

# sys.executable resolved past the venv's links: the interpreter without the venv.
BARE = os.path.realpath(sys.executable)
SITE = sysconfig.get_paths()["purelib"]

# What nixpkgs' wrapPythonPrograms writes at the top of a console script (one line),
PREAMBLE = ("import sys;import site;import functools;sys.argv[0] = 'hive-c0re';"
            "functools.reduce(lambda k, p: site.addsitedir(p, k), [{site!r}], "
            "site._init_pathinfo());\n")
# then the daemon's spawn of the egress, and one request to it through api.sock.
WRAPPED = PREAMBLE + """\
import asyncio
from pathlib import Path

from hive_c0re.daemon.egress import EgressProxy


async def ask(sock: Path) -> str:
    reader, writer = await asyncio.open_unix_connection(sock)
    writer.write(b"GET /v1/models HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n")
    answer = await reader.readline()
    writer.close()
    return answer.decode().strip()


async def main(directory: Path) -> None:
    proxy = EgressProxy(directory, first_uid=0)
    proxy.upstream = "http://127.0.0.1:9"
    process = await proxy._start()
    answered = asyncio.ensure_future(ask(directory / "api.sock"))
    exited = asyncio.ensure_future(process.wait())
    await asyncio.wait({{answered, exited}}, return_when=asyncio.FIRST_COMPLETED)
    if answered.done():
        print("answered:", answered.result())
        process.terminate()
    else:
        answered.cancel()
        print("exited:", exited.result())
    await process.wait()


asyncio.run(main(Path(sys.argv[1])))
"""


def bare_environment() -> dict[str, str]:
    """The environment nixpkgs' wrapper gives: no PYTHONPATH, no user site."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTHON")}
    return env | {"PYTHONNOUSERSITE": "true"}


def test_the_bare_interpreter_alone_cannot_import_hyperhive() -> None:
    # What makes the next test mean something: the import path is the script's alone.
    done = subprocess.run([BARE, "-c", "import hive_c0re"], capture_output=True, text=True,
                          env=bare_environment(), cwd="/", check=False, timeout=60)
    assert done.returncode != 0
    assert "No module named 'hive_c0re'" in done.stderr


@pytest.mark.skipif(sys.prefix == sys.base_prefix, reason="needs a venv: its base interpreter "
                    "stands for nixpkgs' bare one")
def test_the_egress_started_from_a_wrapped_script_imports_and_answers(tmp_path: Path) -> None:
    script = tmp_path / "hive-c0re-wrapped"
    script.write_text(WRAPPED.format(site=SITE))
    # A socket path short enough for AF_UNIX, whatever pytest's temporary directory is.
    directory = Path(tempfile.mkdtemp(prefix="hhi", dir="/tmp"))
    try:
        done = subprocess.run([BARE, str(script), str(directory)], capture_output=True,
                              text=True, env=bare_environment(), cwd="/", check=False,
                              timeout=120)
    finally:
        for sock in directory.iterdir():
            sock.unlink()
        directory.rmdir()
    assert done.returncode == 0, done.stderr
    # Port 9 on loopback does not answer: the egress says so, which it can only once running.
    assert done.stdout.strip() == "answered: HTTP/1.1 502 Bad Gateway", done.stderr


def test_a_child_takes_this_interpreter_and_its_import_path() -> None:
    from hive_c0re.interpreter import module_argv

    argv = module_argv("json.tool", "--sort-keys")
    assert argv[:3] == [sys.executable, "-I", "-c"]
    assert json.loads(argv[4]) == [str(Path(e).absolute()) for e in sys.path]
    done = subprocess.run([*argv], input='{"b": 1, "a": 2}', capture_output=True, text=True,
                          check=True, timeout=60)
    # Run as -m runs it: as __main__, with the arguments after the module's name.
    assert json.loads(done.stdout) == {"a": 2, "b": 1}
    assert done.stdout.index('"a"') < done.stdout.index('"b"')


# A module that, imported, leaves a mark beside itself and breaks the import.
PLANTED = """\
import pathlib
pathlib.Path(__file__).with_suffix(".ran").write_text(__name__)
raise ImportError("planted")
"""


def test_modules_planted_in_the_childs_directory_never_run(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from hive_c0re.interpreter import module_argv

    # json and runpy: what the bootstrap imports before it sets the path; argparse: what
    # json.tool imports after, through a relative entry of the parent's path.
    planted = tmp_path / "planted"
    planted.mkdir()
    for name in ("json", "runpy", "argparse"):
        (planted / f"{name}.py").write_text(PLANTED)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", ["", *sys.path])
    done = subprocess.run(module_argv("json.tool"), input='{"a": 1}', capture_output=True,
                          text=True, cwd=planted, check=False, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"a": 1}
    assert sorted(p.name for p in planted.iterdir()) == ["argparse.py", "json.py", "runpy.py"]


@pytest.fixture
def short_dir() -> Iterator[Path]:
    """A directory for sockets, short enough for AF_UNIX whatever pytest's tmp_path is."""
    directory = Path(tempfile.mkdtemp(prefix="hhi", dir="/tmp"))
    yield directory
    for sock in directory.iterdir():
        sock.unlink()
    directory.rmdir()


def test_the_egress_runs_in_the_root_directory_whatever_the_daemons_is(
        tmp_path: Path, short_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from hive_c0re.daemon.egress import EgressProxy

    monkeypatch.chdir(tmp_path)

    async def cwd_of_egress() -> str:
        proxy = EgressProxy(short_dir, first_uid=0)
        proxy.upstream = "http://127.0.0.1:9"
        process = await proxy._start()
        try:
            return os.readlink(f"/proc/{process.pid}/cwd")
        finally:
            process.terminate()
            await process.wait()

    assert asyncio.run(cwd_of_egress()) == "/"
