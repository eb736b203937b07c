"""The manager's container: created with the hive, it alone edits proposed config repos."""

from __future__ import annotations

import json
import subprocess
import time

import pytest

from hive_c0re.client import Client
from hive_c0re.errors import InvalidInput, PolicyRefused
from hive_dev.sandbox import SandboxHive, container_popen, in_container
from tests.sandbox.approval_support import manager, proposed_dir

MANAGER_ASKS = """
import json, socket, subprocess
def call(**request):
    s = socket.socket(socket.AF_UNIX)
    s.connect("/run/hive/hive.sock")
    s.sendall(json.dumps(request).encode() + b"\\n")
    return json.loads(s.makefile().readline())
repo = "/agents/alice"
git = ["git", "-C", repo, "-c", "user.name=manager", "-c", "user.email=m@hive",
       "-c", "safe.directory=*"]
open(repo + "/agent.toml", "w").write('model = "sonnet"\\n')
subprocess.run(git + ["commit", "-qam", "alice gets sonnet"], check=True)
sha = subprocess.run(git + ["rev-parse", "HEAD"], check=True, capture_output=True,
                     text=True).stdout.strip()
print(json.dumps({"whoami": call(cmd="whoami"),
                  "asked": call(cmd="request_apply_commit", agent="alice", sha=sha,
                                description="a better model for alice"),
                  "stop_self": call(cmd="stop", name="manager"),
                  "agent_state_visible": __import__("os").path.exists("/agents/../agents")}))
"""


def test_the_manager_is_created_with_the_hive_and_answers(managed_hive: SandboxHive) -> None:
    hive = managed_hive
    hive.call("whoami")  # starts the daemon, which creates the manager's container
    hive.wait_active("hive-agent@manager.service")
    hive.call("send", to="manager", body="hello manager")
    deadline = time.monotonic() + 30
    replies: list[dict[str, object]] = []
    while not replies and time.monotonic() < deadline:
        replies = hive.call("inbox", wait_seconds=1)["messages"]
    assert [r["body"] for r in replies] == ["manager heard: hello manager"]


def test_manager_edits_proposals_and_asks_from_its_container(managed_hive: SandboxHive) -> None:
    hive = managed_hive
    hive.call("spawn", name="alice")
    hive.wait_active("hive-agent@manager.service")
    done = in_container(hive, "manager", MANAGER_ASKS)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.splitlines()[-1])
    assert seen["whoami"]["name"] == "manager"
    assert seen["asked"]["ok"] and seen["asked"]["approval"]["status"] == "pending"
    assert not seen["stop_self"]["ok"] and "cannot" in seen["stop_self"]["error"]
    approval = seen["asked"]["approval"]["id"]
    assert hive.call("approve", id=approval)["approval"]["status"] == "deployed"
    # Agents never see the proposed repos; the manager never sees agents' state.
    assert in_container(hive, "alice", "import os; print(os.path.exists('/agents'))"
                        ).stdout == "False\n"
    assert in_container(hive, "manager", "import os; print(sorted(os.listdir('/agents')))"
                        ).stdout == "['alice']\n"


def test_an_agent_cannot_use_manager_verbs(managed_hive: SandboxHive) -> None:
    hive = managed_hive
    hive.call("register", name="bob")
    with Client(hive.agent_socket("bob")) as bob:
        for verb, args in (("request_spawn", {"name": "eve"}), ("update", {"name": "bob"}),
                           ("stop", {"name": "bob"}), ("get_logs", {"agent": "bob"})):
            with pytest.raises(InvalidInput, match="unknown verb"):
                bob.call(verb, **args)
    with Client(hive.manager_socket) as manager:
        for verb in ("stop", "restart", "update", "start"):
            with pytest.raises(PolicyRefused, match="cannot"):
                manager.call(verb, name="manager")
        with pytest.raises(InvalidInput, match="unknown verb"):
            manager.call("destroy", name="bob")


# The manager's attack on the daemon's git: it watches /agents for new repos and, in
# the window between the host's `git init` and `git add`, plants a clean filter that
# the host's git would run as root. The marker is a host path the filter would touch.
RACER = """
import os, time
marker, names = {marker!r}, set({names!r})
planted, armed = set(), set()
deadline = time.monotonic() + 300
while armed != names and time.monotonic() < deadline:
    for name in names - armed:
        repo = "/agents/" + name
        try:
            if name not in planted and os.path.isdir(repo):
                open(repo + "/.gitattributes", "w").write("* filter=x\\n")
                planted.add(name)
            if os.path.exists(repo + "/.git/config"):
                with open(repo + "/.git/config", "a") as config:
                    config.write('[filter "x"]\\n\\tclean = touch ' + marker + "\\n")
                armed.add(name)
        except OSError:
            pass
print(sorted(armed))
"""
RACED = [f"agent{n}" for n in range(6)]
# The proposal flow afterwards, from the manager's container (its own git ignores the
# filter it planted: -c beats the repo's config).
PROPOSES = """
import json, socket, subprocess
repo = "/agents/{name}"
git = ["git", "-C", repo, "-c", "user.name=manager", "-c", "user.email=m@hive",
       "-c", "safe.directory=*", "-c", "filter.x.clean=cat"]
open(repo + "/agent.toml", "w").write('model = "sonnet"\\n')
subprocess.run(git + ["commit", "-qam", "sonnet"], check=True)
sha = subprocess.run(git + ["rev-parse", "HEAD"], check=True, capture_output=True,
                     text=True).stdout.strip()
s = socket.socket(socket.AF_UNIX)
s.connect("/run/hive/hive.sock")
s.sendall(json.dumps({{"cmd": "request_apply_commit", "agent": "{name}", "sha": sha}}).encode()
          + b"\\n")
print(s.makefile().readline())
"""


def test_a_manager_racing_the_daemons_git_never_runs_a_command_on_the_host(
        managed_hive: SandboxHive) -> None:
    hive = managed_hive
    hive.call("whoami")
    hive.wait_active("hive-agent@manager.service")
    marker = hive.sandbox.dir / "ran-as-root"
    racer = container_popen(hive, "manager", RACER.format(marker=str(marker), names=RACED),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        for name in RACED:
            assert hive.call("spawn", name=name)["agent"]["desired"] == "running"
        out, err = racer.communicate(timeout=330)
    finally:
        if racer.poll() is None:
            racer.kill()
            racer.wait()
    assert racer.returncode == 0, err
    assert json.loads(out.replace("'", '"')) == RACED  # it got its filter into every repo
    assert not marker.exists(), "the daemon's git ran the manager's filter as root"
    # The hive still works: the agents run, and a proposal is asked for and deployed.
    for name in RACED:
        hive.wait_active(f"hive-agent@{name}.service")
    asked = in_container(hive, "manager", PROPOSES.format(name=RACED[0]))
    assert asked.returncode == 0, asked.stderr
    approval = json.loads(asked.stdout)["approval"]
    assert hive.call("approve", id=approval["id"])["approval"]["status"] == "deployed"
    assert in_container(hive, RACED[0], "print(open('/etc/hive/policy.json').read())"
                        ).stdout.count('"sonnet"') >= 1
    assert not marker.exists()


def test_a_symlink_the_manager_plants_before_spawn_is_never_followed(
        managed_hive: SandboxHive) -> None:
    hive = managed_hive
    hive.call("whoami")
    hive.wait_active("hive-agent@manager.service")
    victim = hive.sandbox.dir / "victim"  # a host directory root could be made to fill
    victim.mkdir()
    planted = in_container(hive, "manager", f"import os; os.symlink({str(victim)!r}, "
                                            "'/agents/dave')")
    assert planted.returncode == 0, planted.stderr
    assert hive.call("spawn", name="dave")["agent"]["desired"] == "running"
    hive.wait_active("hive-agent@dave.service")
    assert list(victim.iterdir()) == []
    # Left as it was (on the proposed disk, seen in the sandbox's mount namespace).
    link = hive.sandbox.run("readlink", str(proposed_dir(hive, "dave"))).stdout.strip()
    assert link == str(victim)
    with pytest.raises(InvalidInput, match="not a plain git directory"):
        manager(hive, "request_apply_commit", agent="dave", sha="a" * 40)
    assert list(victim.iterdir()) == []
    assert "dave" in [a["name"] for a in hive.call("agents")["agents"]]
