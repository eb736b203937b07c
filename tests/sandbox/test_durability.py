"""Nothing is lost: 1,000 sends racing a ``kill -9`` of the daemon under a real systemd.

Four senders (the operator on ``host.sock``, bob and carol on their sockets,
the manager on its own) push 1,000 uniquely numbered messages to alice while
alice's harness leases them turn by turn. Each sender sends its share in three
phases: before the kill, racing the kill, and after the old daemon is gone.
The receiver is held at a known point for the kill: every turn so far acked
(one early turn failed and was requeued), one more batch leased and not acked.

systemd restarts the daemon (``Restart=on-failure``); ``host.sock`` stays with
systemd so its connections queue, agent sockets come back when the new daemon
starts. A send whose connection broke is retried; one whose first attempt got
no answer may have been stored anyway, so the test keeps "answered ok" apart
from "unknown outcome" and allows (only) the latter to be delivered twice
under two ids.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hive_c0re.client import Client
from hive_c0re.errors import Unreachable
from hive_dev.polling import wait_until
from hive_dev.sandbox import SandboxHive

SENDERS = ("operator", "bob", "carol", "manager")
TOTAL = 1000
PER_SENDER = TOTAL // len(SENDERS)
PHASE_A = 100  # per sender, sent before the kill
PHASE_B = 75  # per sender, released as the kill is issued; the rest once the old daemon is gone
BATCH = 25
ACKED_BEFORE_KILL = 200  # the receiver acks at least this many before it holds its last batch
FAILED_TURN = 1  # this turn "fails": its mail is requeued instead of acked
DEADLINE = 60.0  # a guard against hanging, never an assertion about speed


def _wait(event: threading.Event, what: str) -> None:
    if not event.wait(DEADLINE):
        raise TimeoutError(f"gave up waiting for {what}")


def _body(index: int, n: int) -> str:
    return f"s{index}-{n:04d}"


@dataclass
class Ledger:
    """What the senders know about their sends."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    answered: dict[int, str] = field(default_factory=dict)  # id -> body, answered ok
    unknown: set[str] = field(default_factory=set)  # bodies with an attempt left unanswered
    broken: Counter[str] = field(default_factory=Counter)  # sender -> broken attempts


@dataclass
class Journal:
    """What the receiver saw, in order: ("deliver", messages) and ("ack", ids)."""

    events: list[tuple[str, list[dict[str, Any]]]] = field(default_factory=list)
    requeued_early: set[int] = field(default_factory=set)
    held: set[int] = field(default_factory=set)


def _send_until_answered(client: Client, sender: str, body: str, ledger: Ledger) -> None:
    deadline = time.monotonic() + DEADLINE
    while True:
        try:
            answer = client.call("send", to="alice", body=body)
        except Unreachable:
            # The request may or may not have been stored before the daemon died.
            with ledger.lock:
                ledger.unknown.add(body)
                ledger.broken[sender] += 1
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)  # back off a little while systemd restarts the daemon
            continue
        ids = answer["ids"]
        assert isinstance(ids, list) and len(ids) == 1, answer
        with ledger.lock:
            assert ids[0] not in ledger.answered, f"id {ids[0]} handed out twice"
            ledger.answered[ids[0]] = body
        return


def _run_sender(index: int, path: Path, ledger: Ledger, reached_gate: threading.Event,
                race_kill: threading.Event, old_daemon_gone: threading.Event) -> None:
    sender = SENDERS[index]
    with Client(path, timeout=20) as client:
        for n in range(PER_SENDER):
            if n == PHASE_A:
                reached_gate.set()
                _wait(race_kill, "the kill")
            elif n == PHASE_A + PHASE_B:
                _wait(old_daemon_gone, "the old daemon to die")
            _send_until_answered(client, sender, _body(index, n), ledger)


def _lease(client: Client, journal: Journal) -> list[dict[str, Any]]:
    batch: list[dict[str, Any]] = client.call("recv", wait_seconds=1, max=BATCH)["messages"]
    if batch:
        journal.events.append(("deliver", batch))
    return batch


def _ack(client: Client, journal: Journal, batch: list[dict[str, Any]]) -> None:
    assert client.call("ack_turn")["acked"] == len(batch)
    journal.events.append(("ack", batch))


def _run_receiver(path: Path, journal: Journal, phase_a_sent: threading.Event,
                  holding: threading.Event, recovered: threading.Event,
                  senders_done: threading.Event) -> None:
    deadline = time.monotonic() + DEADLINE
    with Client(path) as client:
        acked = turn = 0
        while acked < ACKED_BEFORE_KILL:
            assert time.monotonic() < deadline, "the receiver starved before the kill"
            batch = _lease(client, journal)
            if not batch:
                continue
            if turn == FAILED_TURN:
                # A turn that ended badly: its mail goes back and comes again redelivered.
                assert client.call("requeue_inflight")["requeued"] == len(batch)
                journal.requeued_early = {m["id"] for m in batch}
            else:
                _ack(client, journal, batch)
                acked += len(batch)
            turn += 1
        # The last turn before the crash: a full batch, leased, never acked.
        _wait(phase_a_sent, "the senders' first phase")
        while not journal.held:
            assert time.monotonic() < deadline, "no batch to hold for the kill"
            journal.held = {m["id"] for m in _lease(client, journal)}
        assert len(journal.held) == BATCH
        holding.set()
        # The harness is mid-turn, its connection open, when the daemon dies.
        _wait(recovered, "the daemon to come back")

    with Client(path) as client:
        # What a harness does when it starts: take back what its dead turn held.
        assert client.call("requeue_inflight")["requeued"] == len(journal.held)
        while True:
            assert time.monotonic() < deadline + DEADLINE, "draining never ended"
            done = senders_done.is_set()  # read before recv: then every send is committed
            batch = _lease(client, journal)
            if batch:
                _ack(client, journal, batch)
            elif done:
                return


def _wait_watching(event: threading.Event, what: str, workers: list[Future[None]]) -> None:
    """Wait for ``event``; a worker that failed meanwhile fails the test with its own error."""
    deadline = time.monotonic() + DEADLINE
    while not event.wait(0.05):
        for worker in workers:
            if worker.done():
                worker.result()  # raises what the worker raised
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up waiting for {what}")


def _kill_daemon(hive: SandboxHive) -> None:
    """kill -9 the daemon's main process, as a crash or the OOM killer would.

    ``--kill-whom=main``: concurrent sandboxes share the host's cgroup tree, so a
    unit-wide kill also finds other sandboxes' processes and fails with EIO.
    """
    killed = hive.sandbox.systemctl("kill", "--kill-whom=main", "-s", "KILL",
                                    "hive-c0re.service", check=False)
    status = hive.sandbox.systemctl("status", "hive-c0re.service", "--no-pager", "-n", "20",
                                    check=False).stdout
    assert killed.returncode == 0, f"systemctl kill failed: {killed.stderr}\n{status}"


def test_a_killed_daemon_loses_no_message_and_redelivers_what_was_in_flight(
    hive: SandboxHive,
) -> None:
    for name in ("alice", "bob", "carol"):
        hive.call("register", name=name)
    sockets = [hive.host_socket, hive.agent_socket("bob"), hive.agent_socket("carol"),
               hive.manager_socket]
    old_pid = hive.main_pid()
    assert old_pid > 0

    ledger, journal = Ledger(), Journal()
    gates = [threading.Event() for _ in SENDERS]
    race_kill, old_daemon_gone = threading.Event(), threading.Event()
    phase_a_sent, holding = threading.Event(), threading.Event()
    recovered, senders_done = threading.Event(), threading.Event()

    with ThreadPoolExecutor(max_workers=len(SENDERS) + 1) as pool:
        receiver = pool.submit(_run_receiver, hive.agent_socket("alice"), journal,
                               phase_a_sent, holding, recovered, senders_done)
        senders: list[Future[None]] = [
            pool.submit(_run_sender, i, path, ledger, gates[i], race_kill, old_daemon_gone)
            for i, path in enumerate(sockets)
        ]
        try:
            workers = [receiver, *senders]
            for gate in gates:
                _wait_watching(gate, "the senders' first phase", workers)
            phase_a_sent.set()
            _wait_watching(holding, "the receiver to hold its last batch", workers)
            assert not any(f.done() for f in workers)

            race_kill.set()
            _kill_daemon(hive)
            wait_until(lambda: hive.main_pid() != old_pid, "the old daemon to die", DEADLINE,
                       every=0.02)
            old_daemon_gone.set()

            wait_until(lambda: hive.main_pid() not in (0, old_pid)
                       and hive.active() == "active", "systemd to restart the daemon",
                       DEADLINE, every=0.02)
            recovered.set()
            for future in senders:
                future.result(timeout=DEADLINE)
            senders_done.set()
            receiver.result(timeout=2 * DEADLINE)
        finally:
            # Never leave a thread parked on a gate when something above failed.
            for event in (phase_a_sent, race_kill, old_daemon_gone, recovered, senders_done):
                event.set()

    assert int(hive.sandbox.show("hive-c0re.service", "NRestarts")) >= 1
    assert hive.main_pid() not in (0, old_pid)
    # The kill really cut every sender off at least once, so each one reconnected.
    assert set(ledger.broken) == set(SENDERS), ledger.broken

    bodies = {_body(i, n) for i in range(len(SENDERS)) for n in range(PER_SENDER)}
    assert len(ledger.answered) == TOTAL
    assert set(ledger.answered.values()) == bodies

    # Replay what the receiver saw.
    deliveries: dict[int, list[dict[str, Any]]] = {}
    acked: set[int] = set()
    for kind, batch in journal.events:
        for message in batch:
            mid = message["id"]
            if kind == "ack":
                acked.add(mid)
                continue
            assert mid not in acked, f"message {mid} was delivered again after its ack"
            earlier = deliveries.setdefault(mid, [])
            if not earlier:
                assert message["redelivered"] is False, f"{message} was never leased before"
            else:
                assert mid in journal.requeued_early | journal.held, message
                assert message["redelivered"] is True, message
            earlier.append(message)

    # Every answered send arrived, by id and by body, from the socket that sent it.
    missing = sorted(set(ledger.answered) - set(deliveries))
    assert not missing, f"{len(missing)} answered sends never delivered: {missing[:10]}"
    for mid, copies in deliveries.items():
        body = copies[0]["body"]
        assert all(c["body"] == body and c["to"] == "alice" for c in copies), copies
        assert copies[0]["from"] == SENDERS[int(body[1:body.index("-")])], copies[0]
        if mid in ledger.answered:
            assert ledger.answered[mid] == body
        else:
            # Stored by an attempt whose answer the kill swallowed; it was retried.
            assert body in ledger.unknown, f"message {mid} ({body!r}) was never sent"

    # The failed turn and the crashed turn came back exactly once more; nothing else did.
    assert journal.held and journal.requeued_early
    twice = {mid for mid, copies in deliveries.items() if len(copies) == 2}
    assert twice == journal.requeued_early | journal.held
    assert all(len(copies) <= 2 for copies in deliveries.values())
    assert acked == set(deliveries)

    status = hive.call("agent_status", name="alice")["agent"]
    assert (status["unread"], status["in_flight"]) == (0, 0)


def test_a_long_poll_cut_by_the_kill_reconnects_and_is_woken_by_the_next_send(
    hive: SandboxHive,
) -> None:
    hive.call("register", name="alice")
    old_pid = hive.main_pid()
    waiting = hive.client(hive.agent_socket("alice"))
    assert waiting.call("whoami")["name"] == "alice"  # connected to the old daemon

    def long_poll() -> dict[str, Any]:
        return waiting.call("recv", wait_seconds=120)

    with ThreadPoolExecutor(max_workers=1) as pool:
        cut = pool.submit(long_poll)
        _kill_daemon(hive)
        # Whether the recv was already waiting or not, it cannot be answered by a dead daemon.
        try:
            cut.result(timeout=DEADLINE)
            raise AssertionError("a recv was answered across a kill -9")
        except Unreachable:
            pass
        finally:
            waiting.close()

    wait_until(lambda: hive.main_pid() not in (0, old_pid) and hive.active() == "active",
               "systemd to restart the daemon", DEADLINE, every=0.02)
    assert int(hive.sandbox.show("hive-c0re.service", "NRestarts")) >= 1
    with hive.client(hive.agent_socket("alice")) as alice, \
            ThreadPoolExecutor(max_workers=1) as pool:
        woken = pool.submit(alice.call, "recv", wait_seconds=120)
        # Nothing was in flight: requeue finds nothing, and the send wakes the waiting recv.
        hive.call("send", to="alice", body="after the crash")
        messages = woken.result(timeout=DEADLINE)["messages"]
    assert [(m["from"], m["body"], m["redelivered"]) for m in messages] == [
        ("operator", "after the crash", False)]
    with hive.client(hive.agent_socket("alice")) as alice:
        assert alice.call("ack_turn")["acked"] == 1
        assert alice.call("requeue_inflight")["requeued"] == 0
