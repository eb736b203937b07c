"""The manager's container: created with the hive, it alone edits proposed config repos."""

from __future__ import annotations

import json
import time

import pytest

from hive_c0re.errors import InvalidInput, PolicyRefused
from hive_c0re.wire import Client
from tests.sandbox import Sandbox, SandboxHive, in_container

CONTAINER_HIVE = {"HYPERHIVE_SYSTEMD_SCOPE": "user", "HYPERHIVE_APPLY_SETTLE_SECONDS": "1"}
# The stand-in answers mail as the manager would be reached; the real one is hive-m1nd.
ECHO = "{python} -m hive_ag3nt debug echo"

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


@pytest.fixture
def managed_hive(sandbox: Sandbox) -> SandboxHive:
    return SandboxHive(sandbox, HYPERHIVE_UNIT_DIR=str(sandbox.unit_dir),
                       HYPERHIVE_MANAGER_COMMAND=ECHO, **CONTAINER_HIVE)


def wait_active(hive: SandboxHive, unit: str) -> None:
    deadline = time.monotonic() + 30
    while hive.sandbox.show(unit, "ActiveState") != "active":
        assert time.monotonic() < deadline, f"{unit} did not come up"
        time.sleep(0.1)


def test_the_manager_is_created_with_the_hive_and_answers(managed_hive: SandboxHive) -> None:
    hive = managed_hive
    hive.call("whoami")  # starts the daemon, which creates the manager's container
    wait_active(hive, "hive-agent@manager.service")
    hive.call("send", to="manager", body="hello manager")
    deadline = time.monotonic() + 30
    replies: list[dict[str, object]] = []
    while not replies and time.monotonic() < deadline:
        replies = hive.call("inbox", wait_seconds=1)["messages"]
    assert [r["body"] for r in replies] == ["manager heard: hello manager"]


def test_manager_edits_proposals_and_asks_from_its_container(managed_hive: SandboxHive) -> None:
    hive = managed_hive
    hive.call("spawn", name="alice")
    wait_active(hive, "hive-agent@manager.service")
    done = in_container(hive, "manager", MANAGER_ASKS)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.splitlines()[-1])
    assert seen["whoami"]["name"] == "manager"
    assert seen["asked"]["ok"] and seen["asked"]["approval"]["status"] == "pending"
    assert not seen["stop_self"]["ok"] and "cannot" in seen["stop_self"]["error"]
    approval = seen["asked"]["approval"]["id"]
    assert hive.call("approve", approval=approval)["approval"]["status"] == "deployed"
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
