"""The agents' template unit reads each agent's command line from a root-only file.

A new or changed agent needs no ``daemon-reload``; its limits are runtime
properties (``SetUnitProperties``, as ``set-property --runtime``); an agent
installed with the older per-agent drop-in keeps starting from it until its
next install moves it to the file.
"""

from __future__ import annotations

import shlex
import stat
from pathlib import Path

from hive_c0re.lifecycle.nspawn import NSPAWN, NSPAWN_VARIABLE, OLD_DROPIN
from hive_dev.sandbox import SandboxHive
from tests.sandbox.test_containers import wait_reply


def roots(hive: SandboxHive) -> Path:
    return Path(hive.sandbox.env["XDG_CONFIG_HOME"]) / "hyperhive" / "roots"


def old_dropin(hive: SandboxHive, agent: str) -> Path:
    return hive.sandbox.unit_dir / f"hive-agent@{agent}.service.d" / OLD_DROPIN


def units_loaded(hive: SandboxHive) -> str:
    """When the user manager last (re)loaded its units: every daemon-reload moves it."""
    return hive.sandbox.systemctl("show", "--property=UnitsLoadStartTimestampMonotonic",
                                  "--value").stdout.strip()


def answers(hive: SandboxHive, agent: str, body: str) -> None:
    hive.call("send", to=agent, body=body)
    wait_reply(hive, f"{agent} heard: {body}")


def test_a_new_agent_needs_no_daemon_reload(container_hive: SandboxHive) -> None:
    hive = container_hive
    hive.call("spawn", name="alice")  # the first writes the template unit: one reload
    loaded = units_loaded(hive)
    assert loaded not in ("", "0")
    hive.call("spawn", name="bob")
    answers(hive, "bob", "hello")
    assert units_loaded(hive) == loaded
    unit = "hive-agent@bob.service"
    assert hive.sandbox.show(unit, "TasksMax") == "512"
    assert hive.sandbox.show(unit, "MemoryMax") == str(2 << 30)
    assert not old_dropin(hive, "bob").parent.exists()


def test_the_command_line_file_is_root_only_and_complete(container_hive: SandboxHive) -> None:
    hive = container_hive
    hive.call("spawn", name="alice")
    path = roots(hive) / ".alice.nspawn"
    info, parent = path.lstat(), path.parent.lstat()
    assert stat.S_ISREG(info.st_mode) and info.st_uid == 0 and stat.S_IMODE(info.st_mode) == 0o600
    # No container can write (or replace) it: a root-owned directory only root writes.
    assert parent.st_uid == 0 and not stat.S_IMODE(parent.st_mode) & 0o022
    assert not path.with_name(path.name + ".new").exists()  # written by one rename
    key, _, value = path.read_text().strip().partition("=")
    words = shlex.split(shlex.split(value)[0])
    assert key == NSPAWN_VARIABLE
    assert "--machine=h-alice" in words and "--private-network" in words
    assert words[words.index("--") + 1:][-2:] == ["-m", "hive_dev.echo_agent"]
    assert "$" not in value and "\\" not in value


def test_an_agent_with_an_older_drop_in_keeps_running(container_hive: SandboxHive) -> None:
    """Installed before the file: its drop-in holds its ExecStart; the next install moves it."""
    hive = container_hive
    hive.call("spawn", name="alice")
    hive.call("stop", name="alice")
    path = roots(hive) / ".alice.nspawn"
    words = shlex.split(path.read_text().partition("=")[2])[0].split()
    dropin = old_dropin(hive, "alice")
    dropin.parent.mkdir(parents=True)

    def install_the_old_way(limits: str) -> None:
        dropin.write_text("[Service]\n"
                          f"EnvironmentFile={roots(hive) / '.alice.env'}\n"
                          "ExecStart=\n"
                          f"ExecStart={NSPAWN} " + " \\\n    ".join(words) + "\n" + limits)
        path.unlink()
        hive.sandbox.systemctl("daemon-reload")

    install_the_old_way("TasksMax=300\n")
    # A start of the unit (a restart verb installs nothing) runs it from its drop-in.
    hive.sandbox.systemctl("start", "hive-agent@alice.service")
    answers(hive, "alice", "from the drop-in")
    assert hive.sandbox.show("hive-agent@alice.service", "TasksMax") == "300"
    hive.call("stop", name="alice")
    hive.call("start", name="alice")  # installs: the drop-in goes, the file comes back
    answers(hive, "alice", "after the move")
    assert not dropin.exists() and path.exists()
    assert hive.sandbox.show("hive-agent@alice.service", "TasksMax") == "512"
