"""The operator commands that work without the daemon: settings, units, completion, ui.

Each is a plain click command; :mod:`hive_c0re.cli` adds them to its group.
"""

from __future__ import annotations

from pathlib import Path

import click

from hive_c0re import output
from hive_c0re.errors import HiveError
from hive_c0re.output import Result
from hive_c0re.settings import SETTINGS


@click.command()
@click.argument("name")
@click.argument("path", default="/status")
@click.option("--secret", "show_secret", is_flag=True,
              help="print the UI's socket and secret instead (for the dashboard, or curl)")
def ui(name: str, path: str, show_secret: bool) -> Result | None:
    """GET PATH from agent NAME's own web UI; run as root.

    It asks over the agent's ui.sock, with its secret. Every request to an
    agent's UI needs the X-Hive-UI-Secret header; the secret is the daemon's,
    in the agent's policy dir.
    """
    from hive_c0re.agent_ui import agent_ui, get
    from hive_c0re.paths import Paths

    door = agent_ui(Paths.from_env(), name)
    if show_secret:
        return Result({"socket": str(door.socket), "secret": door.secret}, output.ui_door)
    status, body = get(door, path)
    # The UI's own answer, as it came: it is JSON already.
    output.note(body)
    if status >= 400:
        raise HiveError(f"{name}'s UI answered {status}")
    return None


@click.command()
def settings() -> Result:
    """Every daemon setting: its variable, default and meaning."""
    rows = [{"name": s.name, "env": s.env, "option": s.option, "default": s.default,
             "help": s.help} for s in SETTINGS]
    return Result({"settings": rows}, output.settings)


@click.command("wire-schema")
def wire_schema() -> Result:
    """Print the socket protocol as JSON Schema."""
    from hive_c0re.wire import json_schema

    # A JSON document either way: the schema is for programs.
    return Result(json_schema(), output.emit_json)


@click.command("install-units")
@click.option("--dir", "directory", type=click.Path(path_type=Path),
              default=Path("/etc/systemd/system"), show_default=True,
              help="where to write the unit files")
@click.option("--exec", "executable", default=None,
              help="hive-c0re command line to run [default: this hive-c0re]")
def install_units(directory: Path, executable: str | None) -> Result:
    """Write the daemon's and the dashboard's units.

    hive-c0re and hive-c0re-dashboard, each a .socket and a .service.

    For a systemd manager: the system's by default (see --dir).
    """
    from hive_c0re.units import install

    written = [str(p) for p in install(directory, executable)]
    return Result({"written": written}, output.written)


@click.command()
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
def completion(shell: str) -> None:
    """Print the shell completion script.

    Eval it in your shell's rc file.
    """
    from click.shell_completion import get_completion_class

    cls = get_completion_class(shell)
    assert cls is not None
    root = click.get_current_context().find_root().command
    output.note(cls(root, {}, "hive-c0re", "_HIVE_C0RE_COMPLETE").source())


LOCAL_COMMANDS = (ui, settings, wire_schema, install_units, completion)
