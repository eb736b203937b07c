"""Every hive MCP tool, called with valid arguments, and what its answer must say.

Shared by the tool tests: in-process through the MCP server the harness
builds (test_mcp_tools.py), and by the real claude CLI against the scripted
model (test_manager_tools_real.py). The scene is set up on a fresh daemon
first, so every id a call needs is known before any tool runs.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hive_c0re.client import Client
from hive_dev.daemon import DaemonProcess

Check = Callable[[dict[str, Any]], bool]
PEER = "bob"  # an agent with no container: lifecycle tools on it are refused by the daemon
SEEDED = "carol"  # its proposed config repo is seeded (init_config approved) before the calls


@dataclass(frozen=True)
class Call:
    tool: str
    args: dict[str, Any]
    check: Check
    error: bool = False  # the daemon's refusal is the expected answer


@dataclass(frozen=True)
class Scene:
    me: str
    socket: Path
    hello: int  # the operator's message to me
    question: int  # bob's question to me
    reminder: int  # a reminder of mine, to cancel
    seeded_head: str | None = None  # the manager's: HEAD of carol's proposed repo

    def calls(self, recv_wait: float) -> list[Call]:
        """The tools of my socket, each once, in an order whose answers do not clash."""
        calls = [
            Call("whoami", {}, lambda a: a["name"] == self.me),
            Call("recv", {"wait_seconds": recv_wait},
                 lambda a: isinstance(a["messages"], list)
                 and (recv_wait == 0 or self.hello in [m["id"] for m in a["messages"]])),
            Call("send", {"to": "operator", "body": "hi", "in_reply_to": self.hello},
                 lambda a: len(a["ids"]) == 1),
            Call("ask", {"question": "lunch?", "options": ["yes", "no"], "to": "operator"},
                 lambda a: a["question"]["question"] == "lunch?"),
            Call("answer", {"id": self.question, "answer": "ready"},
                 lambda a: (a["question"]["id"], a["question"]["answer"]) == (self.question,
                                                                             "ready")),
            Call("remind", {"message": "later", "delay_seconds": 600},
                 lambda a: a["reminder"]["message"] == "later"),
            Call("get_open_threads", {},
                 lambda a: self.reminder in [r["id"] for r in a["reminders"]]),
            Call("cancel_thread", {"kind": "reminder", "id": self.reminder},
                 lambda a: a["reminder"]["id"] == self.reminder),
        ]
        if self.seeded_head is not None:
            calls += self._manager_calls(self.seeded_head)
        return calls

    def _manager_calls(self, head: str) -> list[Call]:
        def kind_is(kind: str) -> Check:
            return lambda a: a["approval"]["kind"] == kind

        def refused(a: dict[str, Any]) -> bool:
            return f"{PEER} has no container" in a["error"]

        return [
            Call("agent_status", {"name": PEER}, lambda a: PEER in json.dumps(a)),
            Call("get_logs", {"agent": PEER, "lines": 5}, lambda a: isinstance(a["lines"], list)),
            Call("request_spawn", {"name": "dave", "description": "does d"},
                 kind_is("spawn")),
            Call("request_init_config", {"name": "erin"}, kind_is("init_config")),
            # HEAD is resolved in the manager's copy (its argument rewrite) to the full sha.
            Call("request_apply_commit", {"agent": SEEDED, "sha": "HEAD"},
                 lambda a: kind_is("apply_commit")(a) and head in json.dumps(a)),
            *(Call(verb, {"name": PEER}, refused, error=True)
              for verb in ("start", "stop", "restart", "update")),
        ]


def set_scene(daemon: DaemonProcess, me: str) -> Scene:
    """Register ``me`` (unless the manager) and bob; leave mail, a question, a reminder."""
    manager = me == "manager"
    socket = daemon.root / "run" / "manager" / "hive.sock" if manager else \
        daemon.agent_socket(me)
    with Client(daemon.host_socket) as op:
        for name in ([] if manager else [me]) + [PEER]:
            op.call("register", name=name)
        (hello,) = op.call("send", to=me, body="hello")["ids"]
    with Client(daemon.agent_socket(PEER)) as bob:
        question = bob.call("ask", question="are you ready?", to=me)["question"]["id"]
    with Client(socket) as mine:
        reminder = mine.call("remind", message="old", delay_seconds=3600)["reminder"]["id"]
    head = seed_proposed_repo(daemon, socket) if manager else None
    return Scene(me, socket, int(hello), int(question), int(reminder), head)


def seed_proposed_repo(daemon: DaemonProcess, manager_socket: Path) -> str:
    """carol's proposed repo, seeded as the operator's approval does; its HEAD."""
    with Client(manager_socket) as manager:
        approval = manager.call("request_init_config", name=SEEDED)["approval"]["id"]
    with Client(daemon.host_socket) as op:
        op.call("approve", id=approval)
    done = subprocess.run(["git", "-C", str(proposed_repos(daemon) / SEEDED), "rev-parse",
                           "HEAD"], capture_output=True, text=True, check=True)
    return done.stdout.strip()


def proposed_repos(daemon: DaemonProcess) -> Path:
    """Where the daemon keeps every proposed repo: the manager's /agents."""
    return daemon.root / "state" / "proposed-disk" / "repos"
