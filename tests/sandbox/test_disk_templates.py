"""New agents' disks are copies of one formatted template, each handed to its own agent."""

from __future__ import annotations

import pytest

from hive_dev.sandbox import SandboxHive, in_container
from tests.sandbox.approval_support import state_dir

pytestmark = pytest.mark.sandbox


def test_new_disks_are_copies_of_one_template_owned_by_each_agent(
        container_hive: SandboxHive) -> None:
    hive = container_hive
    bases = {}
    for agent in ("alice", "bob"):
        hive.call("spawn", name=agent)
        bases[agent] = hive.call("agent_status", name=agent)["agent"]["uid_base"]
    templates = state_dir(hive, "alice").parent.parent / "disk-templates"
    made = [p.name for p in templates.iterdir()]
    assert len(made) == 1 and made[0].endswith(f"-{4 << 30}-claude-state.img")
    for agent, base in bases.items():
        disk = state_dir(hive, agent) / "disk"
        listed = hive.sandbox.run("ls", "-A", str(disk)).stdout.split()
        assert listed == ["claude", "state"]  # no lost+found
        owners = hive.sandbox.run("stat", "-c", "%u %g %a", str(disk / "state"),
                                  str(disk / "claude")).stdout.splitlines()
        assert owners == [f"{base} {base} 700"] * 2
        wrote = in_container(hive, agent, "from pathlib import Path\n"
                             "Path('/state/mine').write_text('x')\n"
                             "print(Path('/state/mine').read_text())")
        assert wrote.stdout.strip() == "x", wrote.stderr
    # What one agent writes is on its own filesystem, not the template's or the other's.
    assert "mine" not in hive.sandbox.run("ls", "-A", str(
        state_dir(hive, "bob") / "disk" / "claude")).stdout
    listing = hive.sandbox.run("/usr/sbin/debugfs", "-R", "ls -l /state",
                               str(templates / made[0])).stdout
    assert "mine" not in listing
