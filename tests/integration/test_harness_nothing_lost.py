"""The turn loop's "nothing is lost" promise, as a property (hypothesis).

Random interleavings of operator prompts, mail, slash commands, cancellation,
a crashing claude CLI, a restarting daemon and a restarting harness, each
example on a hive of its own (a fresh daemon). Only the model is faked:

- *shown* is what the fake CLI was actually sent (its record of model calls);
- *acked* is what the daemon's store says.

Every message sent is shown to a turn at least once, and none is acked before
a turn showed it. Checked after every action and once all mail is done with.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import signal
import sqlite3
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from hive_dev.daemon import DaemonProcess
from hive_dev.fakes.script import Match, Reply, ToolCall
from hive_dev.harness_support import Rig, make_rig, restarted
from hive_dev.processes import descendants

NAME = "pat"
SHOWN = re.compile(r"Message #(\d+) from ")
LEASE_PASSES = 500  # loop passes to wait for a lease (none comes while a turn runs)
SETTLE_LIMIT = 40.0  # seconds for the loop to work through what is left; a hang fails

SCRIPT = (
    # "slow" keeps a turn running long enough to be cancelled or crashed midway.
    Reply(text="slowly", delay=0.4, match=Match(last_user_contains="slow"), times=None),
    # Every other mail turn answers the operator through the hive.
    Reply(tool_calls=[ToolCall("mcp__hive__send", {"to": "operator", "body": "done"})],
          match=Match(last_user_contains="Message #"), times=None),
)

# -- what can happen ------------------------------------------------------------

Action = tuple[str, Any]
ACTIONS = st.one_of(
    st.tuples(st.just("mail"), st.tuples(st.integers(1, 3), st.booleans())),
    st.tuples(st.just("prompt"), st.booleans()),
    st.tuples(st.just("mail_with_prompt"), st.none()),
    st.tuples(st.just("command"), st.sampled_from(
        ["/cancel", "/compact", "/new-session", "/model sonnet", "/model opus"])),
    st.tuples(st.just("cli_crash"), st.none()),
    st.tuples(st.just("daemon_restart"), st.none()),
    st.tuples(st.just("harness_restart"), st.none()),
    st.tuples(st.just("pause"), st.sampled_from([0.0, 0.05, 0.3])),
)


@dataclass
class World:
    """One example's hive, its agent's running loop, and what was sent so far."""

    rig: Rig
    loop: asyncio.Task[None] | None = None
    sent: set[int] = field(default_factory=set)
    prompts: int = 0

    def start(self) -> None:
        self.loop = asyncio.ensure_future(self.rig.harness.run())

    async def stop(self) -> None:
        if self.loop is not None:
            self.loop.cancel()
            await asyncio.gather(self.loop, return_exceptions=True)
            self.loop = None
        await self.rig.harness.close()

    async def act(self, action: Action) -> None:
        kind, arg = action
        if kind == "mail":
            count, slow = arg
            for _ in range(count):
                self.sent.add(self.rig.send("slow mail" if slow else "quick mail"))
        elif kind == "prompt":
            await self.prompt(slow=arg)
        elif kind == "mail_with_prompt":
            await self.mail_with_prompt()
        elif kind == "command":
            await self.rig.harness.command(arg)
        elif kind == "cli_crash":
            for pid in cli_pids(self.rig):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        elif kind == "daemon_restart":
            self.rig.daemon.restart()
        elif kind == "harness_restart":
            await self.stop()
            self.rig = restarted(self.rig)
            self.start()
        await asyncio.sleep(arg if kind == "pause" else 0.01)

    async def prompt(self, *, slow: bool) -> None:
        self.prompts += 1
        await self.rig.harness.command(f"{'slow' if slow else 'quick'} prompt {self.prompts}")

    async def mail_with_prompt(self) -> None:
        """Mail and a prompt ready at once: the operator types as the lease's answer lands.

        The loop runs one pass at a time until the daemon has leased the mail
        (its answer is then on the way to the harness), then the prompt comes
        before the harness has read it.
        """
        self.sent.add(self.rig.send("quick mail"))
        for _ in range(LEASE_PASSES):
            if self.rig.counts()[1]:
                break
            await asyncio.sleep(0)
        await self.prompt(slow=False)


def cli_pids(rig: Rig) -> list[int]:
    """The fake claude CLI processes of this rig (children of this test process)."""
    cli = str(rig.harness.cli_path).encode()
    found = []
    for child in descendants(os.getpid()):
        with contextlib.suppress(OSError):
            if cli in Path(f"/proc/{child}/cmdline").read_bytes():
                found.append(child)
    return found


# -- what must hold ---------------------------------------------------------------


def shown(rig: Rig) -> set[int]:
    return {int(m) for call in rig.calls() for m in SHOWN.findall(call.all_text())}


def acked(daemon: DaemonProcess) -> set[int]:
    broker = daemon.root / "state" / "broker.sqlite"
    with contextlib.closing(sqlite3.connect(f"file:{broker}?mode=ro", uri=True)) as db:
        rows = db.execute("SELECT id FROM message WHERE recipient = ? AND acked_at IS NOT NULL",
                          (NAME,)).fetchall()
    return {int(row[0]) for row in rows}


def check_nothing_acked_unseen(world: World) -> None:
    unseen = acked(world.rig.daemon) - shown(world.rig)
    assert not unseen, f"acked but never shown to a turn: {sorted(unseen)}"


async def settle(world: World) -> None:
    """Wait until every message sent is acked (the loop recovers from whatever happened)."""
    async with asyncio.timeout(SETTLE_LIMIT):
        while not world.sent <= acked(world.rig.daemon):
            assert world.loop is not None and not world.loop.done(), world.loop
            await asyncio.sleep(0.05)


@contextlib.contextmanager
def fresh_hive() -> Iterator[tuple[Path, DaemonProcess]]:
    home = Path(tempfile.mkdtemp(prefix="hhlost", dir="/tmp"))
    daemon = DaemonProcess()
    try:
        yield home, daemon
    finally:
        daemon.stop()
        shutil.rmtree(daemon.root, ignore_errors=True)
        shutil.rmtree(home, ignore_errors=True)


async def scenario(world: World, actions: list[Action]) -> None:
    world.start()
    try:
        for action in actions:
            await world.act(action)
            check_nothing_acked_unseen(world)
        await settle(world)
        check_nothing_acked_unseen(world)
        missing = world.sent - shown(world.rig)
        assert not missing, f"never shown to a turn: {sorted(missing)}"
    finally:
        await world.stop()


@settings(max_examples=20, deadline=None)
@given(st.lists(ACTIONS, min_size=1, max_size=6))
def test_every_message_is_shown_before_it_is_acked(actions: list[Action]) -> None:
    with fresh_hive() as (home, daemon):
        rig = make_rig(home, daemon, NAME, *SCRIPT, recv_wait=0.5)
        world = World(rig)
        asyncio.run(scenario(world, [*actions, ("mail", (1, False))]))
