"""The demo's unit files and drop-ins, as text: pure functions of where the hive runs.

Built on the project's own rendering (:mod:`hive_c0re.units`): the daemon's
units are the shipped ones, the demo only adds drop-ins, the stand-in
model's unit, and on a systemd host a second name for the daemon's units.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from hive_c0re.settings import SETTINGS
from hive_c0re.units import environment_line, exec_word, render

MODEL_UNIT = "hyperhive-demo-model"
SHIPPED_SOCKET = "hive-c0re.socket"
DROPIN = "demo.conf"
OWNER_NOTE = re.compile(r"^# owner: pid (?P<pid>\d+) dir (?P<dir>.*)$", re.MULTILINE)
_SETTING_ENV = {setting.name: setting.env for setting in SETTINGS}


def daemon_exec(python: Path) -> str:
    """The ``hive-c0re`` command line the daemon's units run: the checkout's venv."""
    return f"{exec_word(str(python))} -m hive_c0re"


def model_unit(python: Path, port_file: Path) -> str:
    """The stand-in model's service; it writes the port it listens on to ``port_file``."""
    return "\n".join((
        "[Unit]",
        "Description=hyperhive demo: the built-in stand-in model (a Messages API server)",
        "Documentation=man:hyperhive(7)",
        "",
        "[Service]",
        f"ExecStart={exec_word(str(python))} -m hive_dev.demo.model"
        f" --port-file {exec_word(str(port_file))}",
        "Environment=PYTHONUNBUFFERED=1",
        f"SyslogIdentifier={MODEL_UNIT}",
        "",
    ))


def _environment(pairs: Iterable[tuple[str, str]]) -> list[str]:
    return [environment_line(key, value) for key, value in pairs]


def daemon_settings(scope: str, unit_dir: Path, agent_env: Path) -> list[str]:
    """The daemon's settings for the demo: which manager, where the containers' units go,
    and the environment file every container gets (the model's address or credentials)."""
    return _environment((
        (_SETTING_ENV["systemd_scope"], scope),
        ("HYPERHIVE_UNIT_DIR", str(unit_dir)),
        (_SETTING_ENV["agent_env_file"], str(agent_env)),
    ))


def sandbox_service_dropin(unit_dir: Path, agent_env: Path, dashboard_url: str = "") -> str:
    """Inside the sandbox the daemon runs under the user manager, with its usual paths;
    ``dashboard_url`` is where ``hive-c0re dashboard login`` sends the browser."""
    url = _environment(((_SETTING_ENV["dashboard_url"], dashboard_url),)) if dashboard_url else []
    return "\n".join(("[Service]", *daemon_settings("user", unit_dir, agent_env), *url, ""))


def renamed(unit_text: str, hive_unit: str) -> str:
    """A shipped unit pointing at the socket ``hive_unit``.socket instead of hive-c0re.socket
    (a drop-in cannot take a ``Requires=`` back)."""
    return unit_text.replace(SHIPPED_SOCKET, f"{hive_unit}.socket")


def host_units(hive_unit: str, python: Path) -> dict[str, str]:
    """File name → text of the daemon's socket and service under the demo's own name."""
    return {f"{hive_unit}.{kind}": renamed(render(f"hive-c0re.{kind}", daemon_exec(python)),
                                           hive_unit)
            for kind in ("socket", "service")}


@dataclass(frozen=True)
class Owner:
    """The demo that installed the host units: its pid and its temporary directory."""

    pid: int
    work: Path


def host_socket_dropin(owner: Owner) -> str:
    """The operator socket in the demo's directory; the first line says whose it is, so
    a later demo can tell a live one from what a killed one left behind."""
    return "\n".join((
        f"# owner: pid {owner.pid} dir {owner.work}",
        "[Socket]",
        "ListenStream=",
        f"ListenStream={owner.work / 'run' / 'host.sock'}",
        "",
    ))


def read_owner(dropin_text: str) -> Owner | None:
    found = OWNER_NOTE.search(dropin_text)
    return Owner(int(found["pid"]), Path(found["dir"])) if found else None


def host_service_dropin(work: Path, unit_dir: Path, agent_env: Path) -> str:
    """On a systemd host: the system manager, with the hive's state and sockets moved into
    the demo's directory instead of systemd's StateDirectory and RuntimeDirectory."""
    return "\n".join((
        "[Service]",
        *daemon_settings("system", unit_dir, agent_env),
        "StateDirectory=",
        "RuntimeDirectory=",
        *_environment((("HYPERHIVE_STATE_DIR", str(work / "state")),
                       ("HYPERHIVE_RUNTIME_DIR", str(work / "run")))),
        "",
    ))
