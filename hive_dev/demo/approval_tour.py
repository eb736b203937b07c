"""The tour's second half: ask the manager for a new agent, approve what it asks, meet carol.

The loop the project exists for: the operator's mail → the manager seeds,
edits and commits carol's config and asks for each step → ``hive-c0re
approvals`` lists the request → ``hive-c0re approve ID`` → carol's container
comes up and answers her mail. Each step is shown as the operator would type
it; what the tour needs to know it asks over the wire.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from hive_c0re import output
from hive_c0re.client import Client
from hive_c0re.wire import MAX_RECV_WAIT
from hive_dev.demo.hive import say
from hive_dev.demo.replies import OPERATOR, Mail, reply_body

NEW_AGENT = "carol"
CREATE = f"please create an agent named {NEW_AGENT}"
GREETING = f"hi {NEW_AGENT}"
STEPS = ("init_config", "apply_commit")  # what the manager asks, in order
APPROVAL_TIMEOUT = 120.0  # seconds for the manager's request to show up
POLL = 0.5


class LoopFailed(Exception):
    """A step of the loop did not happen in time; the message says which."""


def pending_request(client: Client, kind: str, timeout: float) -> dict[str, Any]:
    """The manager's pending request of ``kind`` for the new agent, once it is there."""
    deadline = time.monotonic() + timeout
    while True:
        for approval in client.call("pending")["approvals"]:
            if approval["agent"] == NEW_AGENT and approval["kind"] == kind:
                return dict(approval)
        if time.monotonic() >= deadline:
            raise LoopFailed(f"the manager never asked for {kind} of {NEW_AGENT}")
        time.sleep(POLL)


def wait_for_mail(client: Client, met: Callable[[Mapping[str, Any]], bool],
                  timeout: float) -> bool:
    """Print the operator's mail as it comes until ``met`` holds for one message."""
    deadline = time.monotonic() + timeout
    while True:
        wait = max(0.0, min(deadline - time.monotonic(), MAX_RECV_WAIT))
        found = client.call("inbox", wait_seconds=wait)["messages"]
        for message in found:
            output.message(message)
        if any(met(m) for m in found):
            return True
        if time.monotonic() >= deadline:
            return False


def carol_answered(stand_in: bool) -> Callable[[Mapping[str, Any]], bool]:
    words = reply_body(NEW_AGENT, Mail(id=0, sender=OPERATOR, body=GREETING))

    def met(message: Mapping[str, Any]) -> bool:
        return (message["from"] == NEW_AGENT and message["to"] == OPERATOR
                and (not stand_in or words in str(message["body"])))
    return met


def run(socket: Path, cli: Callable[..., None], stand_in: bool, timeout: float) -> None:
    """The loop; ``cli(*argv)`` shows a command's output as the operator sees it.
    Raises LoopFailed when a step does not happen."""
    with Client(socket) as client:
        say(f"hive-c0re send manager '{CREATE}'")
        output.sent(client.call("send", to="manager", body=CREATE))  # as the CLI says it
        for kind in STEPS:
            say(f"waiting for the manager's request ({kind}), then hive-c0re approvals:")
            approval = pending_request(client, kind, APPROVAL_TIMEOUT)
            cli("hive-c0re", "approvals")
            say(f"hive-c0re approve {approval['id']}")
            cli("hive-c0re", "approve", str(approval["id"]))
        say("hive-c0re agents   (carol is new):")
        cli("hive-c0re", "agents")
        say(f"hive-c0re send {NEW_AGENT} '{GREETING}'")
        client.call("send", to=NEW_AGENT, body=GREETING)
        say("waiting for the answers (hive-c0re inbox):")
        if not wait_for_mail(client, carol_answered(stand_in), timeout):
            raise LoopFailed(f"{NEW_AGENT} never answered {GREETING!r}")
