"""The stand-in echo agent (`python -m hive_dev.echo_agent`) against a real daemon process."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

from hive_c0re.client import Client
from hive_dev.daemon import DaemonProcess

LONGEST_WAIT = "180"  # each recv waits this long: only the signal ends one early


@pytest.fixture
def echo(daemon: DaemonProcess) -> Iterator[subprocess.Popen[str]]:
    with Client(daemon.host_socket) as host:
        host.call("register", name="alice")
    process = subprocess.Popen(
        [sys.executable, "-m", "hive_dev.echo_agent",
         "--socket", str(daemon.agent_socket("alice")), "--wait", LONGEST_WAIT],
        stderr=subprocess.PIPE, text=True)
    yield process
    if process.poll() is None:
        process.kill()
    process.wait()
    assert process.stderr is not None
    process.stderr.close()


def operator_mail(daemon: DaemonProcess) -> list[dict[str, Any]]:
    with Client(daemon.host_socket, timeout=70) as host:
        return list(host.call("inbox", wait_seconds=60)["messages"])


def test_answers_the_operator_and_stops_on_sigterm_while_waiting(
        daemon: DaemonProcess, echo: subprocess.Popen[str]) -> None:
    with Client(daemon.host_socket) as host:
        (sent,) = host.call("send", to="alice", body="hello")["ids"]

    (reply,) = operator_mail(daemon)
    assert (reply["from"], reply["body"], reply["in_reply_to"]) == ("alice", "alice heard: hello",
                                                                      sent)
    echo.send_signal(signal.SIGTERM)  # it is waiting for more mail by now, or about to
    # Without the signal ending the wait, the recv would hold it for minutes.
    assert echo.wait(timeout=60) == 0
    assert echo.stderr is not None
    logged = echo.stderr.read()
    assert "echo agent stopped" in logged
    # What bench/containers.py reads: the process's start, its imports done, connected.
    stamps = re.search(r"echo agent listening \(0 requeued; monotonic started ([\d.]+) "
                       r"imported ([\d.]+) connected ([\d.]+)\)", logged)
    assert stamps is not None, logged
    started, imported, connected = (float(stamp) for stamp in stamps.groups())
    assert started <= imported <= connected <= time.monotonic()


def test_a_reply_from_another_agent_gets_no_answer(daemon: DaemonProcess,
                                                   echo: subprocess.Popen[str]) -> None:
    with Client(daemon.host_socket) as host:
        host.call("register", name="bob")
        (to_bob,) = host.call("send", to="bob", body="pass this on")["ids"]
    with Client(daemon.agent_socket("bob")) as bob:
        bob.call("recv", wait_seconds=1)
        bob.call("ack_turn")
        bob.call("send", to="alice", body="a reply", in_reply_to=to_bob)
        bob.call("send", to="alice", body="a question")
        answers = bob.call("recv", wait_seconds=60)["messages"]
    assert [m["body"] for m in answers] == ["alice heard: a question"]
