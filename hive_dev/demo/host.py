"""On a host booted with systemd: the hive as runtime units of the system manager.

The daemon's units are renamed with the ``hyperhive-demo-`` prefix, so they
never meet a real hive's, and the hive's state and sockets move into the
demo's temporary directory. The containers' units keep their names
(``hive-agent@NAME``): a real hive must not be running beside the demo.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

from hive_c0re.lifecycle.nspawn import TEMPLATE
from hive_dev.demo import rendering
from hive_dev.demo.hive import PYTHON, DemoError, Hive, Site, say
from hive_dev.demo.rendering import DROPIN, MODEL_UNIT, Owner
from hive_dev.demo.workdir import remove_dir, unmount_under

HOST_TEMPLATE = Path("/etc/systemd/system") / TEMPLATE
WORK_PREFIX = "/tmp/hyperhive-demo."


def install(hive: Hive, stack: contextlib.ExitStack) -> None:
    """Claim the unit names, write the daemon's units, and remove them all at exit."""
    site = hive.site
    claim(hive)
    # Last, once the daemon and the containers are stopped (the stack unwinds backwards).
    stack.callback(unmount_under, site.work)
    stack.callback(remove_units, hive)
    say(f"running the hive as runtime units {site.hive_unit}.*, {MODEL_UNIT}.service "
        "and hive-agent@.service")
    (site.work / "run").mkdir()
    (site.work / "state").mkdir(mode=0o700)
    for name, text in rendering.host_units(site.hive_unit, PYTHON).items():
        (site.unit_dir / name).write_text(text)
        (site.unit_dir / f"{name}.d").mkdir(exist_ok=True)
    socket_dropin = rendering.host_socket_dropin(Owner(os.getpid(), site.work))
    (site.unit_dir / f"{site.hive_unit}.socket.d" / DROPIN).write_text(socket_dropin)
    service_dropin = rendering.host_service_dropin(site.work, site.unit_dir, site.agent_env)
    (site.unit_dir / f"{site.hive_unit}.service.d" / DROPIN).write_text(service_dropin)


def claim(hive: Hive) -> None:
    """Refuse to run beside a live demo or a real hive's containers; clear away what a
    killed demo left behind (its units and temporary directory), from the note it left."""
    site = hive.site
    if not (site.unit_dir / f"{site.hive_unit}.socket").exists():
        listed = site.systemctl.run("list-units", "--plain", "--no-legend", "hive-agent@*",
                                    check=False).stdout.strip()
        if listed or HOST_TEMPLATE.exists():
            raise DemoError("a hive's containers (hive-agent@.service) exist on this host; "
                            "the demo would meet them (HYPERHIVE_DEMO_SANDBOX=1 runs it in "
                            "a sandbox)")
        return
    owner = left_owner(site)
    if owner is not None and is_demo(owner.pid):
        raise DemoError(f"another demo (pid {owner.pid}) is running; end it first")
    say("clearing away what a demo that was killed left behind")
    remove_units(hive)
    if owner is not None and str(owner.work).startswith(WORK_PREFIX):
        unmount_under(owner.work)
        remove_dir(owner.work)


def left_owner(site: Site) -> Owner | None:
    note = site.unit_dir / f"{site.hive_unit}.socket.d" / DROPIN
    try:
        return rendering.read_owner(note.read_text())
    except OSError:
        return None


def is_demo(pid: int) -> bool:
    try:
        return b"demo" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def remove_units(hive: Hive) -> None:
    """Stop everything, then remove every unit file and drop-in the demo or its daemon wrote."""
    site = hive.site
    units = hive.installed_containers()
    hive.down()
    site.systemctl.run("reset-failed", *units, f"{site.hive_unit}.*", f"{MODEL_UNIT}.service",
                       check=False)
    for kind in ("socket", "service"):
        (site.unit_dir / f"{site.hive_unit}.{kind}").unlink(missing_ok=True)
        shutil.rmtree(site.unit_dir / f"{site.hive_unit}.{kind}.d", ignore_errors=True)
    (site.unit_dir / f"{MODEL_UNIT}.service").unlink(missing_ok=True)
    (site.unit_dir / TEMPLATE).unlink(missing_ok=True)
    for dropin in site.unit_dir.glob("hive-agent@*.service.d"):
        shutil.rmtree(dropin, ignore_errors=True)
    site.systemctl.run("daemon-reload", check=False)
