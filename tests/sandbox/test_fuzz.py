"""Fuzz the real daemon's sockets, under a sandboxed systemd, from the wire schema.

Every example opens a connection, writes, half-closes and reads to the end. What
comes back must be zero or more complete answer lines, one per request frame,
each valid JSON with ``version`` 1 and an ``ok`` boolean (errors with ``error``
and ``code``), then a clean close: never a hang, a half line or an internal
error. After the fuzzing the daemon must be the same process, still answering
on every socket, with every message it said it stored still stored.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

from hive_c0re.client import Client
from hive_c0re.errors import HiveError, InvalidInput
from hive_c0re.names import validate_agent_name
from hive_dev.sandbox import Sandbox, SandboxHive
from tests import strategies as ws
from tests.sandbox.sandbox_support import sandboxed

pytestmark = pytest.mark.sandbox

FRAME_LIMIT = 4096
MAX_CONNECTIONS = 8
TIMEOUT = 10.0  # for one exchange; only ever reached by a hang

AGENTS = ("fza", "fzb")
GATE = "fzgate"  # an agent whose socket only the max_connections test uses
SOCKETS = ("host", *AGENTS, "manager")
# Words worth trying where a message goes; other text never names a possible
# agent (see scrub), so no fuzzed request registers, spawns or destroys one.
VOCABULARY = {"to": (*AGENTS, "operator", "manager", "*")}
CAPS = {"wait_seconds": 0.2}

FUZZ = settings(deadline=None, derandomize=True, database=None, max_examples=120,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.large_base_example])

INTERNAL = HiveError.code  # the code of "internal error": a bug, never an answer to input


def scrub(text: str) -> str:
    """Free text that could name an agent, made unable to (agent names are lowercase)."""
    try:
        validate_agent_name(text)
    except InvalidInput:
        return text
    return text.upper()


def valid_requests(caps: Mapping[str, float] = CAPS) -> SearchStrategy[ws.Request]:
    return ws.any_valid_request(caps=caps, vocabulary=VOCABULARY, scrub=scrub)


def mutated_requests(kind: str | None = None) -> SearchStrategy[ws.Mutation]:
    """Requests broken one way, for verbs offered on sockets of ``kind`` (default: any)."""
    if kind is None:
        return ws.any_mutated_request(caps=CAPS, vocabulary=VOCABULARY, scrub=scrub)
    verbs = [verb for verb in ws.verbs_on(kind) if verb not in ws.STREAMING]
    return st.sampled_from(verbs).flatmap(
        lambda verb: ws.mutated_request(verb, caps=CAPS, vocabulary=VOCABULARY, scrub=scrub))


# -- talking to a socket ------------------------------------------------------------------


@dataclass
class Exchange:
    """What one connection got back."""

    lines: list[bytes]  # complete lines, newline stripped
    tail: bytes  # bytes after the last newline: a broken half-line unless empty
    ending: str  # "eof", "hang" or the OSError that ended reading
    write_error: str | None = None


def talk(path: Path, chunks: Sequence[bytes]) -> Exchange:
    """Write ``chunks`` (then half-close) while reading until the daemon closes."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(TIMEOUT)
    sock.connect(str(path))
    write_errors: list[str] = []

    def write() -> None:
        try:
            for chunk in chunks:
                sock.sendall(chunk)
            sock.shutdown(socket.SHUT_WR)
        except OSError as exc:
            write_errors.append(type(exc).__name__)

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    received = bytearray()
    ending = "hang"
    deadline = time.monotonic() + TIMEOUT
    try:
        while time.monotonic() < deadline:
            chunk = sock.recv(65536)
            if not chunk:
                ending = "eof"
                break
            received += chunk
    except TimeoutError:
        pass
    except OSError as exc:
        ending = type(exc).__name__
    finally:
        # Wakes a writer still blocked on a daemon that stopped reading.
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        writer.join(TIMEOUT)
        sock.close()
    *lines, tail = bytes(received).split(b"\n")
    return Exchange(lines, tail, ending, write_errors[0] if write_errors else None)


def owed(payload: bytes) -> tuple[int, bool]:
    """How many answers the daemon owes for ``payload``, and whether a frame is over the limit.

    Mirrors the framing: a frame is the bytes up to a newline (or the end), a
    blank one gets no answer, and the first frame longer than FRAME_LIMIT gets
    the frame error and ends the connection.
    """
    count = 0
    rest = payload
    while rest:
        end = rest.find(b"\n")
        frame = rest if end == -1 else rest[:end]
        if len(frame) > FRAME_LIMIT:
            return count, True
        count += bool(frame.strip())
        rest = b"" if end == -1 else rest[end + 1:]
    return count, False


def parse_answer(line: bytes) -> dict[str, Any]:
    try:
        answer = json.loads(line.decode("utf-8"))
    except ValueError as exc:
        raise AssertionError(f"an answer line that is not UTF-8 JSON: {line[:200]!r}") from exc
    check_answer(answer)
    assert isinstance(answer, dict)
    return answer


def check_answer(answer: Any) -> None:
    assert isinstance(answer, dict), answer
    assert answer.get("version") == 1, answer
    assert isinstance(answer.get("ok"), bool), answer
    if not answer["ok"]:
        assert isinstance(answer.get("error"), str) and answer["error"], answer
        assert isinstance(answer.get("code"), str), answer
        assert answer["code"] != INTERNAL, f"internal error: {answer}"


def check_exchange(exchange: Exchange, payload: bytes) -> list[dict[str, Any]]:
    """Assert the connection answered ``payload`` completely and closed cleanly."""
    count, over_limit = owed(payload)
    shown = payload[:200]
    assert exchange.ending != "hang", f"no close within {TIMEOUT} s for {shown!r}"
    assert exchange.tail == b"", f"a broken half-line {exchange.tail[:200]!r} for {shown!r}"
    answers = [parse_answer(line) for line in exchange.lines]
    assert len(answers) == count + over_limit, (
        f"{len(answers)} answer(s) for {count} request(s)"
        f"{' and an over-long frame' if over_limit else ''}: {shown!r} -> {answers}")
    if over_limit:
        last = answers[-1]
        assert last["ok"] is False and last["code"] == "invalid", last
        assert f"frame larger than {FRAME_LIMIT} bytes" in last["error"], last
        # The daemon closes on an over-long frame without reading the rest: the
        # writer may see that, the reader may see a reset after the answer.
        assert exchange.ending in ("eof", "ConnectionResetError"), exchange.ending
        assert exchange.write_error in (None, "BrokenPipeError", "ConnectionResetError")
    else:
        assert exchange.ending == "eof", f"{exchange.ending} for {shown!r}"
        assert exchange.write_error is None, f"{exchange.write_error} for {shown!r}"
    return answers


# -- the hive -------------------------------------------------------------------------------


class FuzzHive:
    """One sandboxed hive with two agents, and every message it said it stored."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.hive = SandboxHive(sandbox, HYPERHIVE_MAX_FRAME_BYTES=str(FRAME_LIMIT),
                                HYPERHIVE_MAX_CONNECTIONS=str(MAX_CONNECTIONS))
        for name in AGENTS:
            self.hive.call("register", name=name)
        self.pid = self.hive.main_pid()
        self.before: set[int] = set()  # messages in the broker when the test began
        self.stored: set[int] = set()  # messages the daemon said it stored since

    def begin(self) -> None:
        self.before = self.messages_in_broker()
        self.stored = set()

    def path(self, where: str) -> Path:
        if where == "host":
            return self.hive.host_socket
        if where == "manager":
            return self.hive.manager_socket
        return self.hive.agent_socket(where)

    @staticmethod
    def kind(where: str) -> str:
        return where if where in ("host", "manager") else "agent"

    def exchange(self, where: str, payload: bytes,
                 cuts: Sequence[int] = ()) -> tuple[Exchange, list[dict[str, Any]]]:
        """Send ``payload`` (split at ``cuts``) on a fresh connection; check and return it."""
        bounds = [0, *sorted(set(cuts)), len(payload)]
        chunks = [payload[a:b] for a, b in itertools.pairwise(bounds) if b > a]
        exchange = talk(self.path(where), chunks)
        self.remember(exchange)
        return exchange, check_exchange(exchange, payload)

    def remember(self, exchange: Exchange) -> None:
        """Note the ids of messages the daemon says it stored (before anything is asserted)."""
        for line in exchange.lines:
            try:
                answer = json.loads(line)
            except ValueError:
                continue
            if isinstance(answer, dict) and answer.get("ok") is True:
                ids = answer.get("ids")
                if isinstance(ids, list):
                    self.stored.update(i for i in ids if isinstance(i, int))

    def client(self, where: str) -> Client:
        return self.hive.client(self.path(where), timeout=30)

    def broker(self) -> Path:
        """The daemon's broker file, from the STATE_DIRECTORY systemd gave it."""
        environ = self.sandbox.run("cat", f"/proc/{self.hive.main_pid()}/environ").stdout
        state = dict(v.partition("=")[::2] for v in environ.split("\0"))["STATE_DIRECTORY"]
        return Path(state.split(":")[0]) / "broker.sqlite"

    def messages_in_broker(self) -> set[int]:
        broker = self.broker()
        db = sqlite3.connect(f"file:{broker}?mode=ro", uri=True, timeout=30)
        try:
            return {row[0] for row in db.execute("SELECT id FROM message WHERE sender != 'system'")}
        finally:
            db.close()

    def check_health(self) -> None:
        """Same process, never restarted, answering everywhere, no message lost or invented."""
        assert self.hive.main_pid() == self.pid
        assert self.sandbox.show("hive-c0re.service", "NRestarts") == "0"
        assert self.hive.active() == "active"
        for where in SOCKETS:
            with self.client(where) as client:
                answer = client.call("whoami")
            name = "operator" if where == "host" else where
            assert (answer["name"], answer["socket"]) == (name, self.kind(where))
        listed = {agent["name"] for agent in self.hive.call("agents")["agents"]}
        assert set(AGENTS) <= listed
        now = self.messages_in_broker()
        assert self.before <= now, f"lost: {sorted(self.before - now)[:20]}"
        assert now - self.before == self.stored, (
            f"stored without an ok answer: {sorted(now - self.before - self.stored)[:20]}; "
            f"answered but missing: {sorted(self.stored - now)[:20]}")


@pytest.fixture(scope="module")
def fuzz() -> Iterator[FuzzHive]:
    with sandboxed() as box:
        yield FuzzHive(box)


@pytest.fixture(autouse=True)
def _count_messages_per_test(fuzz: FuzzHive) -> None:
    fuzz.begin()


# -- (a) every verb on every socket, from the schema ------------------------------------------


@pytest.mark.parametrize("where", SOCKETS)
def test_every_verb_is_answered_on_every_socket(fuzz: FuzzHive, where: str) -> None:
    # The sweep the fuzzing below may miss by chance: each verb once, pipelined.
    # "X" is never an agent name, so nothing is registered, spawned or destroyed.
    requests = [ws.simplest_request(verb, text="X") for verb in ws.ONE_ANSWER_VERBS]
    payload = b"".join(ws.encode(r) + b"\n" for r in requests)
    _, answers = fuzz.exchange(where, payload)
    offered = ws.verbs_on(fuzz.kind(where))
    for request, answer in zip(requests, answers, strict=True):
        if request["cmd"] not in offered:
            assert (answer["ok"], answer["code"]) == (False, "invalid"), answer
            assert answer["hint"] == "verbs here: " + ", ".join(offered), answer
    fuzz.check_health()


def test_schema_valid_requests_on_every_socket_are_answered(fuzz: FuzzHive) -> None:
    @FUZZ
    @given(where=st.sampled_from(SOCKETS),
           requests=st.lists(valid_requests(), min_size=1, max_size=4),
           newline_at_end=st.booleans())
    def run(where: str, requests: list[ws.Request], newline_at_end: bool) -> None:
        payload = b"\n".join(ws.encode(r) for r in requests) + b"\n" * newline_at_end
        _, answers = fuzz.exchange(where, payload)
        if owed(payload)[1]:
            return
        offered = ws.verbs_on(fuzz.kind(where))
        for request, answer in zip(requests, answers, strict=True):
            if request["cmd"] not in offered:
                assert answer["ok"] is False and answer["code"] == "invalid", answer
                assert answer.get("hint") == "verbs here: " + ", ".join(offered), answer
            elif answer["ok"] and "request_id" in request:
                assert answer.get("request_id") == request["request_id"], (request, answer)

    run()
    fuzz.check_health()


def test_requests_broken_one_way_are_refused_as_invalid(fuzz: FuzzHive) -> None:
    @settings(FUZZ, max_examples=180)
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        where = data.draw(st.sampled_from(SOCKETS))
        offered = mutated_requests(fuzz.kind(where))
        mutations = data.draw(st.lists(offered, min_size=1, max_size=4))
        payload = b"".join(ws.encode(m.request) + b"\n" for m in mutations)
        _, answers = fuzz.exchange(where, payload)
        if owed(payload)[1]:
            return
        for mutation, answer in zip(mutations, answers, strict=True):
            assert answer["ok"] is False, (mutation, answer)
            assert answer["code"] == "invalid", (mutation, answer)

    run()
    fuzz.check_health()


# -- (b) raw bytes ---------------------------------------------------------------------------


def _with_lone_surrogate_id(request: ws.Request) -> bytes:
    return ws.encode({**request, "request_id": "\udc00"}) if ws.takes_request_id(request["cmd"]) \
        else ws.encode(request)


def _fill_to_limit(line: bytes) -> bytes:
    # Leading blanks are JSON whitespace: the same request as a frame of exactly the limit.
    return b" " * (FRAME_LIMIT - len(line)) + line


def raw_payloads() -> SearchStrategy[bytes]:
    lines = valid_requests().map(ws.encode)
    instant = valid_requests(caps={"wait_seconds": 0}).map(ws.encode)
    junk = st.one_of(
        st.binary(max_size=200),
        st.binary(max_size=64).map(lambda b: b + b"\xff"),  # never UTF-8
        st.tuples(lines, st.integers(min_value=0)).map(
            lambda t: t[0][:t[1] % (len(t[0]) + 1)] + b"\x00" + t[0][t[1] % (len(t[0]) + 1):]),
        lines.map(lambda b: b.decode().encode("utf-16")),
        mutated_requests().map(lambda m: ws.encode(m.request)),
        valid_requests().map(_with_lone_surrogate_id),
        ws.json_values().map(lambda v: json.dumps(v).encode()),  # numbers, strings, lists
        st.sampled_from([b"1", b'"whoami"', b"[]", b"null", b"true", b"{}", b"NaN",
                         b'[{"cmd":"whoami"}]', b"\xef\xbb\xbf{}", b'{"cmd":"whoami"}x']),
        st.integers(1, FRAME_LIMIT // 2).map(lambda n: b"[" * n + b"]" * n),
        st.integers(1, 800).map(lambda n: b'{"a":' * n + b"1" + b"}" * n),
        st.sampled_from([b"", b" ", b"\r", b"\t \x0b\x0c"]),  # blank: no answer owed
    )
    huge = st.one_of(
        st.just(b"[" * 100_000),
        st.integers(FRAME_LIMIT + 1, FRAME_LIMIT * 64).map(lambda n: b"x" * n),
        st.integers(FRAME_LIMIT, FRAME_LIMIT * 4).map(
            lambda n: b'{"cmd":"send","to":"operator","body":"' + b"y" * n + b'"}'),
    )
    mixed = st.tuples(st.lists(st.one_of(lines, junk), min_size=1, max_size=10),
                      st.one_of(st.none(), huge), st.booleans()).map(
        lambda t: b"\n".join([*t[0], *([t[1]] if t[1] else [])]) + b"\n" * t[2])
    many = st.tuples(instant, st.integers(20, 400)).map(lambda t: (t[0] + b"\n") * t[1])
    exact = instant.filter(lambda b: len(b) <= FRAME_LIMIT).map(_fill_to_limit)
    partial = lines.flatmap(lambda b: st.integers(1, len(b)).map(lambda n: b[:n]))
    return st.one_of(mixed, huge, many, exact, partial, junk)


def test_raw_bytes_on_every_socket_get_whole_answers_and_a_clean_close(
        fuzz: FuzzHive) -> None:
    @settings(FUZZ, max_examples=200)
    @given(where=st.sampled_from(SOCKETS), payload=raw_payloads(),
           cuts=st.lists(st.integers(min_value=0, max_value=FRAME_LIMIT * 2), max_size=4))
    def run(where: str, payload: bytes, cuts: list[int]) -> None:
        # The status feed takes its connection over (it reads no further request), so
        # the answers owed after it are not this test's; hypothesis draws bytes from the
        # suite's own literals, that verb's request among them.
        assume(where != "host" or not any(verb.encode() in payload for verb in ws.STREAMING))
        fuzz.exchange(where, payload, [c for c in cuts if c < len(payload)])

    run()
    fuzz.check_health()


# -- specific cases the fuzzing also reaches ---------------------------------------------------


def test_a_frame_of_exactly_max_frame_bytes_is_served(fuzz: FuzzHive) -> None:
    payload = _fill_to_limit(b'{"cmd":"whoami","request_id":"edge"}')
    _, answers = fuzz.exchange("host", payload + b"\n")
    assert answers == [{"version": 1, "ok": True, "name": "operator", "socket": "host",
                        "request_id": "edge"}]
    _, answers = fuzz.exchange("host", b" " + payload + b"\n")
    assert answers[0]["error"] == f"frame larger than {FRAME_LIMIT} bytes"


@pytest.mark.parametrize(
    "frame",
    [
        b'{"cmd": "nope", "request_id": "r-7"}',  # unknown verb
        b'{"cmd": "inbox", "request_id": "r-7"}',  # a verb of another socket
        b'{"cmd": "whoami", "request_id": "r-7", "colour": "blue"}',  # unknown field
        b'{"cmd": "send", "request_id": "r-7", "to": "operator"}',  # missing field
        b'{"cmd": "recv", "request_id": "r-7", "max": "3"}',  # wrong type
        b'{"cmd": "recv", "request_id": "r-7", "wait_seconds": 1e9}',  # out of bounds
        # refused by the handler
        b'{"cmd": "send", "request_id": "r-7", "to": "nobody", "body": "x"}',
    ],
)
def test_error_answers_echo_the_request_id(fuzz: FuzzHive, frame: bytes) -> None:
    # A client that pipelines requests matches answers by id, errors included.
    _, answers = fuzz.exchange(AGENTS[0], frame + b"\n")
    assert answers[0]["ok"] is False
    assert answers[0].get("request_id") == "r-7", answers[0]


def test_a_lone_surrogate_in_the_id_costs_neither_its_answer_nor_the_next(
        fuzz: FuzzHive) -> None:
    payload = b'{"cmd": "whoami", "request_id": "\\ud800"}\n{"cmd": "whoami", "request_id": 2}\n'
    _, answers = fuzz.exchange("host", payload)
    assert len(answers) == 2
    assert answers[1]["request_id"] == 2


def test_a_lone_surrogate_in_a_body_is_invalid_input_not_an_internal_error(
        fuzz: FuzzHive) -> None:
    payload = b'{"cmd": "send", "to": "operator", "body": "a\\udc80b"}\n'
    _, answers = fuzz.exchange(AGENTS[0], payload)
    assert (answers[0]["ok"], answers[0]["code"]) == (False, "invalid"), answers[0]


def test_an_over_long_request_from_the_client_gets_the_frame_error(fuzz: FuzzHive) -> None:
    # Client writes the whole frame before it reads: the daemon must let it
    # finish (or the client must read after a broken pipe) for the error to arrive.
    with fuzz.client(AGENTS[0]) as client, pytest.raises(InvalidInput, match="frame larger"):
        client.call("send", to="operator", body="x" * (FRAME_LIMIT * 512))


# -- clients that hold a connection --------------------------------------------------------------


def test_silent_and_slow_clients_do_not_hold_up_other_clients(fuzz: FuzzHive) -> None:
    held: list[socket.socket] = []
    try:
        for where in ("host", AGENTS[0]):
            silent = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            silent.settimeout(30)
            silent.connect(str(fuzz.path(where)))
            slow = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            slow.settimeout(30)
            slow.connect(str(fuzz.path(where)))
            slow.sendall(b'{"cmd": "who')  # half a frame, then nothing
            held += [silent, slow]

        with fuzz.client("host") as host, fuzz.client(AGENTS[0]) as agent:
            for _ in range(3):
                assert host.call("whoami")["name"] == "operator"
                assert agent.call("whoami")["name"] == AGENTS[0]
            ids = agent.call("send", to=AGENTS[1], body="while others stall")["ids"]
            fuzz.stored.update(ids)
            assert set(AGENTS) <= {a["name"] for a in host.call("agents")["agents"]}
        with fuzz.client(AGENTS[1]) as peer:
            found = peer.call("recv", wait_seconds=0)["messages"]
            assert ids[0] in [m["id"] for m in found]

        # Both stalled connections are still served once they speak.
        for index, where in enumerate(("host", AGENTS[0])):
            silent, slow = held[2 * index], held[2 * index + 1]
            slow.sendall(b'ami"}\n')
            silent.sendall(b'{"cmd": "whoami"}\n')
            name = "operator" if where == "host" else where
            for sock in (slow, silent):
                line = sock.makefile("rb").readline()
                assert json.loads(line)["name"] == name
    finally:
        for sock in held:
            sock.close()
    fuzz.check_health()


def test_connections_past_max_connections_are_refused_with_an_answer(fuzz: FuzzHive) -> None:
    fuzz.hive.call("register", name=GATE)
    gate = fuzz.hive.agent_socket(GATE)
    held = [Client(gate, timeout=30) for _ in range(MAX_CONNECTIONS)]
    try:
        for client in held:  # each served once: the daemon counts it
            assert client.call("whoami")["name"] == GATE

        # Refused with an answer, whether the client writes first or only listens.
        # (The daemon closes without reading: a writer may see a broken pipe and
        # a reset after the answer, but never miss the answer.)
        for chunks in ([], [b'{"cmd": "whoami"}\n']):
            refused = talk(gate, chunks)
            assert refused.tail == b"" and refused.ending in ("eof", "ConnectionResetError")
            assert refused.write_error in (None, "BrokenPipeError", "ConnectionResetError")
            answers = [parse_answer(line) for line in refused.lines]
            assert [(a["ok"], a["code"], a["error"]) for a in answers] == [
                (False, "invalid", "too many connections")]

        # Other sockets have their own budget, and the held connections still work.
        with fuzz.client("host") as host:
            assert host.call("whoami")["name"] == "operator"
        assert held[0].call("whoami")["name"] == GATE

        # A freed slot is taken again (once the daemon has seen the close).
        held.pop().close()
        deadline = time.monotonic() + 30
        while True:
            again = talk(gate, [b'{"cmd": "whoami"}\n'])
            answer = parse_answer(again.lines[0])
            if answer["ok"]:
                assert answer["name"] == GATE
                break
            assert answer["error"] == "too many connections", answer
            assert time.monotonic() < deadline, "the freed slot never came back"
            time.sleep(0.05)
    finally:
        for client in held:
            client.close()
    fuzz.check_health()


def test_the_daemon_is_unharmed_by_everything_above(fuzz: FuzzHive) -> None:
    fuzz.check_health()
