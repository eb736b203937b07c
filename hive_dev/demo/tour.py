"""The scripted tour (no terminal: CI, a pipe): mail the hive, wait for its answers, show it.

What the operator would type is shown as ``demo: <command>``; what the tour
needs to know (the answers) it asks over the wire, and it knows in advance
what the stand-in answers (:func:`hive_dev.demo.replies.reply_body`).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hive_c0re import output
from hive_c0re.client import Client
from hive_c0re.errors import HiveError
from hive_c0re.wire import MAX_RECV_WAIT
from hive_dev.demo import approval_tour
from hive_dev.demo.hive import CONTAINERS, Hive, say
from hive_dev.demo.rendering import MODEL_UNIT
from hive_dev.demo.replies import OPERATOR, Mail, reply_body

REPLY_TIMEOUT = 60.0  # seconds for the stand-in's answers; three times that from Claude
WIDE = {"COLUMNS": "200"}  # the agents table on one line each, also in a pipe
EVERYONE = tuple(sorted(CONTAINERS))  # who gets mail sent to '*'
TOOL_CALL_LINE = re.compile(r"[a-z][a-z0-9-]*: (?:send |Read |Edit |Bash |mcp__)")


@dataclass(frozen=True)
class Send:
    to: str
    body: str
    aside: str = ""

    @property
    def recipients(self) -> tuple[str, ...]:
        return EVERYONE if self.to == "*" else (self.to,)


SENDS = (
    Send("alice", "hi alice"),
    Send("manager", "hello, manager"),
    Send("*", "hello, hive", "   (alice, bob and the manager)"),
)


@dataclass(frozen=True)
class Awaited:
    """An answer the tour waits for: from ``sender`` to the operator, saying ``body``
    (any words at all when ``body`` is None: Claude words its answers itself)."""

    sender: str
    body: str | None = None

    def met_by(self, message: Mapping[str, Any]) -> bool:
        return (message["from"] == self.sender and message["to"] == OPERATOR
                and (self.body is None or self.body in str(message["body"])))

    def __str__(self) -> str:
        return f'"{self.body or f"{self.sender} → {OPERATOR}"}"'


def awaited(stand_in: bool) -> list[Awaited]:
    """The stand-in's answer to every message the tour sends; from Claude, one from each."""
    if not stand_in:
        return [Awaited(name) for name in EVERYONE]
    # The id does not change the answer's words; the stand-in quotes only the body.
    return [Awaited(name, reply_body(name, Mail(id=0, sender=OPERATOR, body=send.body)))
            for send in SENDS for name in send.recipients]


def missing(wanted: Iterable[Awaited], mail: Sequence[Mapping[str, Any]]) -> list[Awaited]:
    return [w for w in wanted if not any(w.met_by(m) for m in mail)]


def wait_for_answers(client: Client, wanted: list[Awaited], timeout: float) -> list[Awaited]:
    """Read the operator's inbox (printing each message) until every answer came or
    ``timeout`` passed; return those that never came."""
    deadline = time.monotonic() + timeout
    mail: list[dict[str, Any]] = []
    while True:
        wait = max(0.0, min(deadline - time.monotonic(), MAX_RECV_WAIT))
        found = client.call("inbox", wait_seconds=wait)["messages"]
        for message in found:
            output.message(message)
        mail.extend(found)
        left = missing(wanted, mail)
        if not left or time.monotonic() >= deadline:
            return left


def send_all(client: Client) -> None:
    for send in SENDS:
        say(f"hive-c0re send {shlex.quote(send.to)} {shlex.quote(send.body)}{send.aside}")
        output.sent(client.call("send", to=send.to, body=send.body))  # as the CLI says it


def run(hive: Hive) -> bool:
    """The tour; True when every awaited answer arrived."""
    stand_in = hive.model.is_stand_in
    say("hive-c0re agents:")
    _run("hive-c0re", "agents", env=WIDE)
    loop_failed = ""
    try:
        with Client(hive.site.socket) as client:
            send_all(client)
            say("waiting for the answers (hive-c0re inbox):")
            left = wait_for_answers(client, awaited(stand_in),
                                    REPLY_TIMEOUT if stand_in else REPLY_TIMEOUT * 3)
        if not left:
            loop_failed = new_agent_loop(hive)
    except HiveError:
        hive.diagnose()  # the daemon went away mid-tour: say what it and the others logged
        raise
    show_hive(hive)
    print(flush=True)
    if left:
        hive.diagnose()
        print(f"demo: FAILED: these answers never came: {' '.join(map(str, left))}",
              file=sys.stderr, flush=True)
        return False
    if loop_failed:
        hive.diagnose()
        print(f"demo: FAILED: {loop_failed}", file=sys.stderr, flush=True)
        return False
    say("all answers arrived: alice, bob and the manager answered through the real claude CLI,")
    say("and the manager's carol came up once you approved her config")
    return True


def new_agent_loop(hive: Hive) -> str:
    """The approval loop (:mod:`hive_dev.demo.approval_tour`); what failed, or ''."""
    stand_in = hive.model.is_stand_in
    try:
        approval_tour.run(hive.site.socket, lambda *argv: _run(*argv, env=WIDE), stand_in,
                          REPLY_TIMEOUT if stand_in else REPLY_TIMEOUT * 3)
    except approval_tour.LoopFailed as failed:
        return str(failed)
    return ""


def show_hive(hive: Hive) -> None:
    """The units, alice's journal, what the stand-in answered, alice's UI."""
    site, since = hive.site, f"@{hive.started}"
    say(f"systemctl{site.manager_flag} list-units 'hive-*':")
    listed = _output(*site.systemctl.argv("list-units", "--no-pager", "hive-*",
                                          f"{site.hive_unit}.*", f"{MODEL_UNIT}.*"))
    if listed:  # the table, without the legend systemctl prints after a blank line
        print(listed.split("\n\n", 1)[0], flush=True)
    _output("journalctl", "--sync")
    say("journalctl HIVE_AGENT=alice -n 5:")
    _run("journalctl", "HIVE_AGENT=alice", "--since", since, "--no-pager", "-n", "5")
    say("journalctl -t hive-agent-alice -n 5   (alice's container):")
    _run("journalctl", "-t", "hive-agent-alice", "--since", since, "--no-pager", "-n", "5")
    if hive.model.is_stand_in:
        say(f"journalctl -t {MODEL_UNIT}   (what the built-in model answered):")
        for line in model_sends(_output("journalctl", "-t", MODEL_UNIT, "--since", since,
                                        "--no-pager", "-o", "json")):
            print(line, flush=True)
    say("hive-c0re ui alice /status   (alice's UI, with her secret):")
    _run("hive-c0re", "ui", "alice", "/status")


def model_sends(journal_json: str) -> list[str]:
    """The stand-in's log lines that record a tool call (a hive send, the manager's
    Read, Edit, Bash, requests), from ``journalctl -o json``."""
    messages = (json.loads(line).get("MESSAGE") for line in journal_json.splitlines() if line)
    return [m for m in messages if isinstance(m, str) and TOOL_CALL_LINE.match(m)]


def _run(*argv: str, env: Mapping[str, str] | None = None) -> None:
    subprocess.run(argv, check=False, env={**os.environ, "SYSTEMD_COLORS": "0", **(env or {})})


def _output(*argv: str) -> str:
    done = subprocess.run(argv, check=False, capture_output=True, text=True,
                          env={**os.environ, "SYSTEMD_COLORS": "0"})
    return done.stdout.rstrip("\n")

