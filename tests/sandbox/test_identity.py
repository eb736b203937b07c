"""Identity is the socket, and policy is the host's: tested frame by frame on a real hive.

Most requests go over raw ``AF_UNIX`` connections, one JSON line out and one
answer line back, so the tests can send frames the wire ``Client`` would never
build and can watch a connection being closed under them.
"""

from __future__ import annotations

import json
import re
import socket
import stat
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from hive_c0re.errors import Unreachable
from hive_c0re.wire import VERBS, Kind
from hive_dev.sandbox import SandboxHive

ERROR_KEYS = {"version", "ok", "error", "code"}
OPTIONAL_ERROR_KEYS = {"hint", "request_id"}
# Fields that would name another mailbox or another sender, if the wire had any.
IMPERSONATING_FIELDS = ("name", "as", "from", "sender", "mailbox", "recipient", "agent",
                        "for", "identity", "to")


def refused_on(kind: Kind) -> list[str]:
    """Every verb the wire does not offer on a socket of ``kind``."""
    return sorted(v.name for v in VERBS.values() if kind not in v.sockets)


class Raw:
    """One raw connection: a JSON line out, an answer line back."""

    def __init__(self, path: Path) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(20)
        self.sock.connect(str(path))
        self.buffer = b""

    def close(self) -> None:
        self.sock.close()

    def ask(self, request: dict[str, Any] | bytes) -> dict[str, Any]:
        line = request if isinstance(request, bytes) else json.dumps(request).encode()
        self.sock.sendall(line + b"\n")
        while b"\n" not in self.buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError(f"the daemon closed the connection instead of "
                                      f"answering {line!r}")
            self.buffer += chunk
        answer, _, self.buffer = self.buffer.partition(b"\n")
        parsed: dict[str, Any] = json.loads(answer)
        assert parsed["version"] == 1, parsed
        return parsed

    def closed_by_peer(self) -> bool:
        """Block until the daemon sends something or closes; True if it closed."""
        try:
            return self.sock.recv(65536) == b""
        except ConnectionResetError:
            return True
        except TimeoutError:
            return False


Connect = Callable[[Path], Raw]


@pytest.fixture
def raw(hive: SandboxHive) -> Iterator[Connect]:
    opened: list[Raw] = []

    def connect(path: Path) -> Raw:
        conn = Raw(path)
        opened.append(conn)
        return conn

    yield connect
    for conn in opened:
        conn.close()


def assert_error(answer: dict[str, Any], code: str, *fragments: str) -> None:
    """An error answer, shaped as the wire says, whose message names what went wrong."""
    assert ERROR_KEYS <= set(answer) <= ERROR_KEYS | OPTIONAL_ERROR_KEYS, answer
    assert answer["version"] == 1 and answer["ok"] is False, answer
    assert isinstance(answer["error"], str) and answer["error"].strip(), answer
    assert isinstance(answer["code"], str) and answer["code"] == code, answer
    for fragment in fragments:
        assert fragment in answer["error"], answer


def counts(hive: SandboxHive, name: str) -> tuple[int, int]:
    """(unread, in flight) of one mailbox, as the operator sees it."""
    agent = hive.call("agent_status", name=name)["agent"]
    return agent["unread"], agent["in_flight"]


def bodies(answer: dict[str, Any]) -> list[str]:
    assert answer["ok"] is True, answer
    return [m["body"] for m in answer["messages"]]


def register(hive: SandboxHive, *names: str, **args: Any) -> None:
    for name in names:
        hive.call("register", name=name, **args)


# -- whose mail ---------------------------------------------------------------------


def test_recv_returns_only_the_sockets_own_mail(hive: SandboxHive, raw: Connect) -> None:
    register(hive, "alice", "bob")
    hive.call("send", to="alice", body="for alice")
    hive.call("send", to="bob", body="for bob")
    alice, bob = raw(hive.agent_socket("alice")), raw(hive.agent_socket("bob"))

    assert alice.ask({"cmd": "whoami"})["name"] == "alice"
    assert bodies(alice.ask({"cmd": "recv", "wait_seconds": 0})) == ["for alice"]
    leased = alice.ask({"cmd": "recv", "wait_seconds": 1})["messages"]
    assert [(m["body"], m["from"], m["to"]) for m in leased] == [
        ("for alice", "operator", "alice")]
    assert alice.ask({"cmd": "ack_turn"})["acked"] == 1
    # alice's turn touched nothing of bob's.
    assert counts(hive, "bob") == (1, 0)
    assert bodies(bob.ask({"cmd": "recv", "wait_seconds": 1})) == ["for bob"]


@pytest.mark.parametrize("verb", ["recv", "ack_turn", "requeue_inflight", "whoami"])
def test_no_field_can_name_another_mailbox(hive: SandboxHive, raw: Connect, verb: str) -> None:
    register(hive, "alice", "bob")
    hive.call("send", to="bob", body="bob's secret")
    alice = raw(hive.agent_socket("alice"))
    for name in IMPERSONATING_FIELDS:
        for value in ("bob", ["bob"], None):
            answer = alice.ask({"cmd": verb, "wait_seconds": 1, name: value}
                               if verb == "recv" else {"cmd": verb, name: value})
            assert_error(answer, "invalid", f"{verb} takes no field {name!r}")
    # The same with a frame the Client would never write: an escaped field name.
    answer = alice.ask(b'{"cmd": "recv", "wait_seconds": 1, "n\\u0061me": "bob"}')
    assert_error(answer, "invalid", "recv takes no field 'name'")
    # Refused frames leave the connection serving, still as alice, and bob's mail untouched.
    assert alice.ask({"cmd": "whoami"})["name"] == "alice"
    assert bodies(alice.ask({"cmd": "recv", "wait_seconds": 0})) == []
    assert counts(hive, "bob") == (1, 0)


def test_an_agent_cannot_send_as_another(hive: SandboxHive, raw: Connect) -> None:
    register(hive, "alice", "bob", "carol")
    alice = raw(hive.agent_socket("alice"))
    for name in ("from", "sender", "as", "name", "identity", "via"):
        answer = alice.ask({"cmd": "send", "to": "carol", "body": "forged", name: "bob"})
        assert_error(answer, "invalid", f"send takes no field {name!r}")
    answer = alice.ask(b'{"cmd":"send","to":"carol","body":"forged","\\u0066rom":"bob"}')
    assert_error(answer, "invalid", "send takes no field 'from'")
    assert counts(hive, "carol") == (0, 0)

    # A request id is only echoed: it names nobody.
    sent = alice.ask({"cmd": "send", "to": "carol", "body": "hello", "request_id": "bob"})
    assert sent["ok"] is True and sent["request_id"] == "bob"
    with hive.client(hive.agent_socket("carol")) as carol:
        got = carol.call("recv", wait_seconds=1)["messages"]
    assert [(m["from"], m["to"], m["body"]) for m in got] == [("alice", "carol", "hello")]


def test_in_reply_to_tells_nothing_about_other_agents_mail(hive: SandboxHive,
                                                           raw: Connect) -> None:
    register(hive, "alice", "bob", "carol")
    with hive.client(hive.agent_socket("carol")) as carol:
        private = carol.call("send", to="bob", body="between us")["ids"][0]
    alice = raw(hive.agent_socket("alice"))
    others = alice.ask({"cmd": "send", "to": "bob", "body": "re", "in_reply_to": private})
    nothing = alice.ask({"cmd": "send", "to": "bob", "body": "re",
                         "in_reply_to": private + 1000})
    assert_error(others, "not_found")
    assert_error(nothing, "not_found")
    # The same answer as for an id that does not exist, but for the number itself.
    assert (others["error"].replace(str(private), "N")
            == nothing["error"].replace(str(private + 1000), "N"))
    assert counts(hive, "bob") == (1, 0)


# -- allow-lists --------------------------------------------------------------------


def test_an_allow_list_refuses_others_but_never_manager_or_operator(hive: SandboxHive,
                                                                   raw: Connect) -> None:
    register(hive, "bob", "carol")
    record = hive.call("register", name="alice",
                       allowed_recipients=["bob", "manager", "operator"])["agent"]
    assert record["allowed_recipients"] == ["bob"]
    alice = raw(hive.agent_socket("alice"))

    answer = alice.ask({"cmd": "send", "to": "carol", "body": "psst"})
    assert_error(answer, "refused", "alice may not send to carol", "allowed")
    assert "bob" in answer.get("hint", ""), answer
    assert counts(hive, "carol") == (0, 0)

    for to in ("bob", "manager", "operator"):
        sent = alice.ask({"cmd": "send", "to": to, "body": f"direct to {to}"})
        assert sent["ok"] is True and len(sent["ids"]) == 1, sent
    broadcast = alice.ask({"cmd": "send", "to": "*", "body": "to everyone I may reach"})
    assert broadcast["ok"] is True and len(broadcast["ids"]) == 2, broadcast

    with hive.client(hive.agent_socket("bob")) as bob:
        assert bodies(bob.call("recv", wait_seconds=1)) == [
            "direct to bob", "to everyone I may reach"]
    with hive.client(hive.manager_socket) as manager:
        got = manager.call("recv", wait_seconds=1)["messages"]
    assert [(m["from"], m["to"], m["body"]) for m in got] == [
        ("alice", "manager", "direct to manager"),
        ("alice", "manager", "to everyone I may reach")]
    assert counts(hive, "carol") == (0, 0)
    # A broadcast reaches agents and the manager; the operator only gets direct mail.
    inbox = hive.call("inbox", wait_seconds=1)["messages"]
    assert [(m["from"], m["body"]) for m in inbox] == [("alice", "direct to operator")]


def test_an_agent_without_an_allow_list_reaches_everyone(hive: SandboxHive) -> None:
    register(hive, "alice", "bob", "carol")
    with hive.client(hive.agent_socket("alice")) as alice:
        alice.call("send", to="carol", body="hi carol")
        assert len(alice.call("send", to="*", body="hi all")["ids"]) == 3  # bob, carol, manager
    assert counts(hive, "carol") == (2, 0)
    assert counts(hive, "bob") == (1, 0)


# -- which verbs where ----------------------------------------------------------------


@pytest.mark.parametrize("kind", [Kind.AGENT, Kind.MANAGER])
def test_agent_sockets_refuse_operator_verbs_and_keep_serving(hive: SandboxHive, raw: Connect,
                                                              kind: Kind) -> None:
    """Operator verbs (and, on an agent's socket, the manager's) are refused.

    The manager shares a few read and lifecycle verbs with the operator (list,
    agent_status, start, stop, ...); registering, spawning, destroying and the
    operator's inbox stay the operator's alone.
    """
    register(hive, "alice")
    hive.call("send", to="alice", body="kept")
    path = hive.agent_socket("alice") if kind == Kind.AGENT else hive.manager_socket
    conn = raw(path)
    refused = refused_on(kind)
    assert {"register", "unregister", "inbox", "spawn", "destroy", "approve"} <= set(refused)
    if kind == Kind.AGENT:
        assert {"list", "agent_status", "stop", "get_logs", "request_spawn"} <= set(refused)
    for verb in refused:
        answer = conn.ask({"cmd": verb, "name": "mallory"})
        assert_error(answer, "invalid", f"unknown verb {verb!r} on the {kind} socket")
        offered = answer["hint"].removeprefix("verbs here: ").split(", ")
        assert "whoami" in offered and verb not in offered, answer
        # The connection still serves, as the same identity.
        assert conn.ask({"cmd": "whoami"})["name"] == ("alice" if kind == Kind.AGENT
                                                       else "manager")
    assert [a["name"] for a in hive.call("agents")["agents"]] == ["alice"]
    assert counts(hive, "alice") == (1, 0)


def test_the_host_socket_refuses_agent_verbs_and_keeps_serving(hive: SandboxHive,
                                                               raw: Connect) -> None:
    register(hive, "alice")
    hive.call("send", to="alice", body="not the operator's")
    host = raw(hive.host_socket)
    assert {"recv", "ack_turn", "requeue_inflight"} <= set(refused_on(Kind.HOST))
    for verb in refused_on(Kind.HOST):
        answer = host.ask({"cmd": verb})
        assert_error(answer, "invalid", f"unknown verb {verb!r} on the host socket")
        assert host.ask({"cmd": "whoami"})["name"] == "operator"
    assert counts(hive, "alice") == (1, 0)


# -- unregister and register again ----------------------------------------------------


def test_unregister_removes_the_socket_and_closes_open_connections(hive: SandboxHive,
                                                                   raw: Connect) -> None:
    register(hive, "alice", "bob")
    path = hive.agent_socket("alice")
    idle = raw(path)
    assert idle.ask({"cmd": "whoami"})["name"] == "alice"
    waiting = hive.client(path)
    assert waiting.call("whoami")["name"] == "alice"  # connected before the unregister
    outcome: list[BaseException | dict[str, Any]] = []

    def long_poll() -> None:
        try:
            outcome.append(waiting.call("recv", wait_seconds=60))
        except Unreachable as exc:
            outcome.append(exc)

    poller = threading.Thread(target=long_poll)
    poller.start()
    try:
        assert hive.call("unregister", name="alice") == {"version": 1, "ok": True}
    finally:
        poller.join(timeout=90)
        waiting.close()
    assert not poller.is_alive()
    assert len(outcome) == 1 and isinstance(outcome[0], Unreachable), outcome
    assert idle.closed_by_peer()
    assert not path.exists() and not path.parent.exists()
    with pytest.raises(FileNotFoundError):
        raw(path)
    assert [a["name"] for a in hive.call("agents")["agents"]] == ["bob"]
    answer = raw(hive.host_socket).ask({"cmd": "send", "to": "alice", "body": "anyone?"})
    assert_error(answer, "not_found", "alice")
    # Unregistering again is an error, not a crash; the hive goes on serving.
    assert_error(raw(hive.host_socket).ask({"cmd": "unregister", "name": "alice"}),
                 "not_found", "alice")
    assert raw(hive.agent_socket("bob")).ask({"cmd": "whoami"})["name"] == "bob"


def test_register_again_is_idempotent_and_keeps_mail_and_connections(hive: SandboxHive,
                                                                     raw: Connect) -> None:
    register(hive, "alice", "bob")
    for n in range(3):
        hive.call("send", to="alice", body=f"m{n}")
    before = raw(hive.agent_socket("alice"))
    assert bodies(before.ask({"cmd": "recv", "wait_seconds": 1, "max": 1})) == ["m0"]

    register(hive, "alice")
    register(hive, "alice", allowed_recipients=["bob"])
    assert [a["name"] for a in hive.call("agents")["agents"]] == ["alice", "bob"]
    assert counts(hive, "alice") == (2, 1)
    path = hive.agent_socket("alice")
    assert stat.S_ISSOCK(path.stat().st_mode)
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700  # no one else's way in

    # The connection from before still speaks as alice, under her new policy.
    assert before.ask({"cmd": "whoami"})["name"] == "alice"
    assert before.ask({"cmd": "send", "to": "bob", "body": "ok"})["ok"] is True
    after = raw(path)
    assert after.ask({"cmd": "whoami"})["name"] == "alice"
    assert bodies(after.ask({"cmd": "recv", "wait_seconds": 1})) == ["m1", "m2"]
    assert after.ask({"cmd": "requeue_inflight"})["requeued"] == 3
    again = after.ask({"cmd": "recv", "wait_seconds": 1})["messages"]
    assert [(m["body"], m["redelivered"]) for m in again] == [
        ("m0", True), ("m1", True), ("m2", True)]


def test_unregister_then_register_keeps_the_mail(hive: SandboxHive, raw: Connect) -> None:
    register(hive, "alice")
    hive.call("send", to="alice", body="leased")
    hive.call("send", to="alice", body="unread")
    conn = raw(hive.agent_socket("alice"))
    assert bodies(conn.ask({"cmd": "recv", "wait_seconds": 1, "max": 1})) == ["leased"]
    hive.call("unregister", name="alice")
    assert conn.closed_by_peer()

    register(hive, "alice")
    assert counts(hive, "alice") == (1, 1)
    conn = raw(hive.agent_socket("alice"))
    assert bodies(conn.ask({"cmd": "recv", "wait_seconds": 1})) == ["unread"]
    # What the old turn held comes back, marked as redelivered.
    assert conn.ask({"cmd": "requeue_inflight"})["requeued"] == 2
    again = conn.ask({"cmd": "recv", "wait_seconds": 1})["messages"]
    assert [(m["body"], m["redelivered"]) for m in again] == [
        ("leased", True), ("unread", True)]


def test_unregister_closes_connections_opened_before_a_re_register(hive: SandboxHive,
                                                                   raw: Connect) -> None:
    """Registering twice must not leave a connection that outlives unregister."""
    register(hive, "alice")
    hive.call("send", to="alice", body="private")
    early = raw(hive.agent_socket("alice"))
    assert early.ask({"cmd": "whoami"})["name"] == "alice"
    register(hive, "alice")  # idempotent re-register, e.g. a policy update
    hive.call("unregister", name="alice")
    assert not hive.agent_socket("alice").exists()
    try:
        answer = early.ask({"cmd": "recv", "wait_seconds": 1})
    except OSError:
        return  # closed, as it should be
    pytest.fail("a connection of the unregistered alice still serves: "
                f"recv answered {answer}")


def test_error_answers_have_one_shape(hive: SandboxHive, raw: Connect) -> None:
    register(hive, "alice")
    alice = raw(hive.agent_socket("alice"))
    frames: list[bytes] = [
        b"not json", b"[]", b'{"cmd": 1}', b'{"cmd": "recv", "wait_seconds": "soon"}',
        b'{"cmd": "send", "to": "Alice ", "body": "x"}',
        b'{"cmd": "send", "to": "alice", "body": "x"}',
    ]
    for frame in frames:
        answer = alice.ask(frame)
        assert_error(answer, "invalid")
        assert re.search(r"\w", answer["error"])
    assert alice.ask({"cmd": "whoami"})["name"] == "alice"


def test_refused_frames_still_echo_their_request_id(hive: SandboxHive, raw: Connect) -> None:
    """wire.py: a request's ``request_id`` is echoed by its answer, error answers included.

    The daemon echoes it when a handler fails (not_found below) but drops it
    when the frame itself is refused (unknown verb, unknown or ill-typed field),
    so a client matching answers by id cannot match those.
    """
    register(hive, "alice")
    alice = raw(hive.agent_socket("alice"))
    handler_error = alice.ask({"cmd": "send", "to": "nobody", "body": "x", "request_id": 1})
    assert_error(handler_error, "not_found")
    assert handler_error["request_id"] == 1
    refused = {
        "unknown verb": {"cmd": "list", "request_id": 2},
        "unknown field": {"cmd": "send", "to": "operator", "body": "x", "from": "bob",
                          "request_id": 3},
        "ill-typed field": {"cmd": "recv", "wait_seconds": "soon", "request_id": 4},
    }
    missing = {}
    for what, frame in refused.items():
        answer = alice.ask(frame)
        assert_error(answer, "invalid")
        if answer.get("request_id") != frame["request_id"]:
            missing[what] = answer
    assert not missing, f"error answers without the request's id: {missing}"
