"""The operator CLI against a real daemon process."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from hive_ag3nt.cli import cli as ag3nt_cli
from hive_c0re.cli import cli
from hive_dev.daemon import DaemonProcess, running_daemon
from hive_m1nd.cli import cli as m1nd_cli
from tests.docs_support import json_shapes


@pytest.fixture(scope="module")
def daemon() -> Iterator[DaemonProcess]:
    with running_daemon(clean_exit=True, inbox_cap="3") as d:
        yield d


def hive(daemon: DaemonProcess, *args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(cli, ["--socket", str(daemon.host_socket), *args], input=input)


def test_help_documents_exit_codes_and_commands() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0, result.output
    for word in ("serve", "agents", "send", "inbox", "register", "Exit codes",
                 "3  unreachable", "4  refused", "5  not found"):
        assert word in result.output


@pytest.mark.parametrize("group", [cli, ag3nt_cli, m1nd_cli])
def test_every_program_has_help_and_version(group: object) -> None:
    runner = CliRunner()
    assert runner.invoke(group, ["--help"]).exit_code == 0  # type: ignore[arg-type]
    version = runner.invoke(group, ["--version"])  # type: ignore[arg-type]
    assert version.exit_code == 0 and "0.1.0" in version.output


def test_agent_debug_group_is_hidden() -> None:
    result = CliRunner().invoke(ag3nt_cli, ["--help"])
    assert "debug" not in result.output


def test_register_send_and_read_a_reply(daemon: DaemonProcess) -> None:
    assert hive(daemon, "register", "alice").exit_code == 0
    result = hive(daemon, "register", "bob", "--allow", "alice")
    assert result.exit_code == 0, result.output
    listed = json.loads(hive(daemon, "--json", "agents").output)["agents"]
    assert {a["name"]: a["allowed_recipients"] for a in listed} == {
        "manager": [], "alice": [], "bob": ["alice"]}
    sent = hive(daemon, "--json", "send", "alice", "-", input="from stdin\n")
    assert sent.exit_code == 0, sent.output
    (message_id,) = json.loads(sent.output)["ids"]

    agent = CliRunner().invoke(ag3nt_cli, ["debug", "--socket", str(daemon.agent_socket("alice")),
                                           "recv", "--wait", "5", "--ack"])
    assert agent.exit_code == 0, agent.output
    (got,) = json.loads(agent.output)["messages"]
    assert got["body"] == "from stdin\n"
    reply = CliRunner().invoke(ag3nt_cli, ["debug", "--socket", str(daemon.agent_socket("alice")),
                                           "send", "operator", "got it", "--reply-to",
                                           str(message_id)])
    assert reply.exit_code == 0, reply.output

    inbox = hive(daemon, "--json", "inbox")
    assert inbox.exit_code == 0, inbox.output
    (message,) = json.loads(inbox.output)["messages"]
    assert message["in_reply_to"] == message_id
    assert "inbox is empty" in hive(daemon, "inbox").output


def test_people_get_tables(daemon: DaemonProcess) -> None:
    hive(daemon, "register", "carol")
    result = hive(daemon, "agents")
    assert result.exit_code == 0 and "carol" in result.output and "may send to" in result.output
    status = hive(daemon, "status", "carol")
    assert status.exit_code == 0 and "hive.sock" in status.output


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (["send", "nobody", "x"], 5, "no agent named 'nobody'"),
        (["register", "../x"], 4, "lowercase ASCII letter"),
        (["register", "manager"], 4, "reserved"),
        (["status", "x;y"], 4, "not allowed"),
        (["unregister", "ghost"], 5, "no agent named"),
    ],
)
def test_errors_become_exit_codes_and_messages(daemon: DaemonProcess, args: list[str],
                                               code: int, says: str) -> None:
    result = hive(daemon, *args)
    assert result.exit_code == code, result.output
    assert says in result.output
    assert "Traceback" not in result.output


def test_full_inbox_is_refused_with_exit_4(daemon: DaemonProcess) -> None:
    hive(daemon, "register", "dave")
    for i in range(3):
        assert hive(daemon, "send", "dave", f"m{i}").exit_code == 0
    result = hive(daemon, "send", "dave", "one too many")
    assert result.exit_code == 4
    assert "inbox of dave is full" in result.output and "nothing was sent" in result.output


def test_unreachable_daemon_exits_3(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["--socket", str(tmp_path / "nope.sock"), "agents"])
    assert result.exit_code == 3
    assert "cannot reach the hive" in result.output and "hint:" in result.output


def test_every_json_answer_has_the_shape_hive_c0re_1_gives_it(daemon: DaemonProcess,
                                                               tmp_path: Path) -> None:
    hive(daemon, "register", "uma")
    hive(daemon, "send", "uma", "hello")
    runs = {
        "agents": ["agents"], "status": ["status", "uma"], "register": ["register", "uma"],
        "approvals": ["approvals", "--all"], "questions": ["questions"],
        "send": ["send", "uma", "again"], "inbox": ["inbox"], "mail": ["mail", "uma"],
        "settings": ["settings"], "install-units": ["install-units", "--dir", str(tmp_path)],
        "wire-schema": ["wire-schema"], "unregister": ["unregister", "uma"],
    }
    shapes = json_shapes()
    for command, args in runs.items():
        result = hive(daemon, "--json", *args)
        assert result.exit_code == 0, result.output
        document = json.loads(result.output)
        assert isinstance(document, dict), command
        named = re.match(r'\{"(\w+)": (\[)?', shapes[command])
        if named:
            assert set(document) >= {named[1]}, (command, shapes[command])
            assert isinstance(document[named[1]], list) == bool(named[2]), command


def test_the_harness_reports_errors_as_the_operator_cli_does(tmp_path: Path) -> None:
    args = ["debug", "--socket", str(tmp_path / "nope.sock"), "send", "operator", "hi"]
    result = CliRunner().invoke(ag3nt_cli, args)
    assert result.exit_code == 3, result.output
    assert "error: cannot reach the hive" in result.output and "hint:" in result.output
    assert "Traceback" not in result.output and "Exit codes" in CliRunner().invoke(
        ag3nt_cli, ["--help"]).output


def test_debug_shows_the_traceback_instead(tmp_path: Path) -> None:
    from hive_c0re.errors import Unreachable

    result = CliRunner().invoke(cli, ["--debug", "--socket", str(tmp_path / "nope.sock"),
                                      "agents"])
    assert isinstance(result.exception, Unreachable)


def test_settings_schema_completion_and_units(tmp_path: Path) -> None:
    runner = CliRunner()
    settings = json.loads(runner.invoke(cli, ["--json", "settings"]).output)["settings"]
    assert {s["env"] for s in settings} >= {"HYPERHIVE_INBOX_CAP", "HYPERHIVE_MAX_FRAME_BYTES"}
    schema = json.loads(runner.invoke(cli, ["wire-schema"]).output)
    assert "recv" in schema["requests"]
    completion = runner.invoke(cli, ["completion", "bash"])
    assert completion.exit_code == 0 and "_HIVE_C0RE_COMPLETE" in completion.output
    installed = runner.invoke(cli, ["install-units", "--dir", str(tmp_path), "--exec",
                                    "/opt/hive/bin/hive-c0re"])
    assert installed.exit_code == 0, installed.output
    service = (tmp_path / "hive-c0re.service").read_text()
    assert "ExecStart=/opt/hive/bin/hive-c0re serve" in service
    assert "Type=notify" in service and "WatchdogSec=" in service
    assert "FileDescriptorName=host" in (tmp_path / "hive-c0re.socket").read_text()


def test_daemon_stops_cleanly_on_sigterm() -> None:
    d = DaemonProcess()
    try:
        assert d.stop() == 0
        assert "hive-c0re stopping" in (d.root / "daemon.log").read_text()
    finally:
        shutil.rmtree(d.root, ignore_errors=True)


def test_a_receiver_that_hangs_up_does_not_keep_the_mail(daemon: DaemonProcess) -> None:
    import json as _json
    import socket
    import time

    from hive_c0re.client import Client

    hive(daemon, "register", "erin")
    gone = socket.socket(socket.AF_UNIX)
    gone.connect(str(daemon.agent_socket("erin")))
    gone.sendall(b'{"cmd": "recv", "wait_seconds": 30}\n')
    time.sleep(0.2)  # let the daemon start waiting before the client vanishes
    gone.close()
    assert hive(daemon, "send", "erin", "for whoever listens").exit_code == 0
    with Client(daemon.agent_socket("erin")) as erin:
        deadline = time.monotonic() + 10
        found: list[dict[str, object]] = []
        while not found and time.monotonic() < deadline:
            found = erin.call("recv", wait_seconds=1)["messages"]
        assert [m["body"] for m in found] == ["for whoever listens"]
        assert found[0]["redelivered"] is False
        erin.call("ack_turn")
    status = _json.loads(hive(daemon, "--json", "status", "erin").output)
    assert (status["unread"], status["in_flight"]) == (0, 0)


def answer_with_options(daemon: DaemonProcess, question: int) -> None:
    """Answer a yes/no question: a wrong option first, then yes, then again."""
    wrong = hive(daemon, "answer", str(question), "maybe")
    assert wrong.exit_code == 4, wrong.output
    assert "not one of its options" in wrong.output and "hint: options: yes, no" in wrong.output
    done = hive(daemon, "answer", str(question), "Yes")
    assert done.exit_code == 0, done.output
    assert f"#{question}: answered; quinn is told: yes" in done.output
    again = hive(daemon, "answer", str(question), "no")
    assert again.exit_code == 4 and "already answered by operator: yes" in again.output


def test_the_operator_lists_and_answers_questions(daemon: DaemonProcess) -> None:
    from hive_c0re.client import Client

    hive(daemon, "register", "quinn")
    result = hive(daemon, "questions")
    assert result.exit_code == 0, result.output
    assert "no open questions" in result.output
    with Client(daemon.agent_socket("quinn")) as quinn:
        asked = quinn.call("ask", question="deploy [bold]friday[/bold]?",
                           options=["yes", "no"], ttl_seconds=600)["question"]
        free = quinn.call("ask", question="why so quiet?")["question"]

        table = hive(daemon, "questions")
        assert table.exit_code == 0, table.output
        for word in ("time left", str(asked["id"]), "quinn", "[bold]friday[/bold]",
                     "yes | no", "(free text)", "9m", "59m"):
            assert word in table.output, table.output
        listed = json.loads(hive(daemon, "--json", "questions").output)["questions"]
        assert [q["id"] for q in listed] == [asked["id"], free["id"]]

        answer_with_options(daemon, asked["id"])
        typed = hive(daemon, "--json", "answer", str(free["id"]), "-", input="busy\n")
        assert typed.exit_code == 0, typed.output
        assert json.loads(typed.output)["answer"] == "busy"

        got = quinn.call("recv", wait_seconds=5)["messages"]
        quinn.call("ack_turn")
    events = [json.loads(m["body"]) for m in got]
    assert [(m["from"], e["event"], e["answer"]) for m, e in zip(got, events, strict=True)] == [
        ("system", "question_answered", "yes"), ("system", "question_answered", "busy")]
    assert events[0]["choices"] == ["yes"] and events[0]["by"] == "operator"

    assert "no open questions" in hive(daemon, "questions").output
    history = hive(daemon, "questions", "--all")
    assert history.exit_code == 0, history.output
    assert "answered" in history.output and "busy" in history.output


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (["answer", "999999", "yes"], 5, "no question #999999 addressed to operator"),
        (["answer", "x", "yes"], 2, "not a valid integer"),
        (["answer", "1"], 2, "Missing argument"),
    ],
)
def test_answer_errors_become_exit_codes(daemon: DaemonProcess, args: list[str], code: int,
                                         says: str) -> None:
    result = hive(daemon, *args)
    assert result.exit_code == code, result.output
    assert says in result.output


def test_the_operator_cannot_answer_a_question_to_an_agent(daemon: DaemonProcess) -> None:
    from hive_c0re.client import Client

    hive(daemon, "register", "rae")
    hive(daemon, "register", "sam")
    with Client(daemon.agent_socket("rae")) as rae:
        asked = rae.call("ask", question="sam, ready?", to="sam")["question"]
    result = hive(daemon, "answer", str(asked["id"]), "yes")
    assert result.exit_code == 4, result.output
    assert "addressed to sam; only sam can answer it" in result.output
    assert str(asked["id"]) not in hive(daemon, "questions").output
    assert "sam, ready?" in hive(daemon, "questions", "--all").output


def test_the_operator_sees_a_mailbox_only_manager(daemon: DaemonProcess) -> None:
    # This hive runs no manager container: the manager is a mailbox, shown as one.
    result = hive(daemon, "--json", "status", "manager")
    assert result.exit_code == 0, result.output
    seen = json.loads(result.output)
    assert {k: seen[k] for k in ("name", "desired", "running", "uid_base", "allowed_recipients",
                                 "listening", "socket_error")} == {
        "name": "manager", "desired": "none", "running": False, "uid_base": None,
        "allowed_recipients": [], "listening": True, "socket_error": None}
    assert isinstance(seen["unread"], int) and seen["in_flight"] == 0
    assert seen["socket"].endswith("/hive.sock") and "manager" in seen["socket"]


# -- one vocabulary (hive-c0re(1) VOCABULARY) --------------------------------------------

RAW_WORDS = re.compile(r"\b(True|False|None)\b|\[\]|in_flight|Error:")


def test_agents_shows_one_state_column_the_manager_first(daemon: DaemonProcess) -> None:
    hive(daemon, "register", "vera", "--allow", "alice")
    table = hive(daemon, "agents")
    assert table.exit_code == 0, table.output
    print(table.output)
    header = next(line for line in table.output.splitlines() if "name" in line)
    assert re.search(r"name .*state .*uptime .*desired .*unread .*in flight .*may send to",
                     header), table.output
    rows = [line for line in table.output.splitlines() if re.match(r"[│|] \w", line)]
    assert rows[0].split()[1] == "manager", table.output
    vera = next(line for line in rows if " vera " in line)
    # A registered name without a container is a mailbox, reachable as it is.
    assert re.search(r"vera\s+[│|]\s+mailbox\s+[│|]\s+-\s+[│|]\s+[│|]", vera), vera
    assert "anyone" in table.output and not RAW_WORDS.search(table.output), table.output
    rows_json = json.loads(hive(daemon, "--json", "agents").output)["agents"]
    assert rows_json[0]["name"] == "manager" and rows_json[0]["state"] == "mailbox"
    assert {r["name"]: r["started_at"] for r in rows_json}["vera"] is None


def test_status_says_yes_no_and_words_with_spaces(daemon: DaemonProcess) -> None:
    hive(daemon, "register", "walt")
    shown = hive(daemon, "status", "walt")
    assert shown.exit_code == 0, shown.output
    for line in (r"state\s+mailbox", r"listening\s+yes", r"paused\s+no", r"in flight\s+0",
                 r"allowed recipients\s+anyone", r"uptime\s+-"):
        assert re.search(line, shown.output), (line, shown.output)
    assert not RAW_WORDS.search(shown.output), shown.output
    manager = hive(daemon, "status", "manager")
    assert manager.exit_code == 0 and re.search(r"state\s+mailbox", manager.output)


def test_send_to_everyone_says_who_got_which_id() -> None:
    with running_daemon(clean_exit=True) as daemon:
        says_who_got_which_id(daemon)


def says_who_got_which_id(daemon: DaemonProcess) -> None:
    hive(daemon, "register", "xena")
    hive(daemon, "register", "yoko")
    listed = json.loads(hive(daemon, "--json", "agents").output)["agents"]
    sent = hive(daemon, "--json", "send", "*", "hello all")
    assert sent.exit_code == 0, sent.output
    delivered = json.loads(sent.output)["delivered"]
    assert {d["to"] for d in delivered} == {r["name"] for r in listed}
    assert [d["id"] for d in delivered] == json.loads(sent.output)["ids"]
    assert all(d["state"] == "mailbox" and d["listening"] is True for d in delivered)
    people = hive(daemon, "send", "xena", "just you")
    assert re.fullmatch(r"xena: sent #\d+\n", people.output), people.output
    everyone = hive(daemon, "send", "*", "and again")
    lines = everyone.output.splitlines()
    assert sorted(line.split(":")[0] for line in lines) == sorted(r["name"] for r in listed)
    assert all(re.fullmatch(r"[a-z-]+: sent #\d+", line) for line in lines), lines


def test_every_action_prints_one_result_line(daemon: DaemonProcess) -> None:
    said = [hive(daemon, *args).output for args in (
        ["register", "yuri"], ["pause", "yuri"], ["pause", "yuri"], ["resume", "yuri"],
        ["resume", "yuri"], ["unregister", "yuri"])]
    assert said[0].startswith("yuri: registered; its socket is /")
    assert said[1:] == ["yuri: paused\n", "yuri: paused; it already was\n", "yuri: resumed\n",
                        "yuri: resumed; it was not paused\n",
                        "yuri: unregistered; its mail is kept\n"]


@pytest.mark.parametrize("args", [["stop"], ["frobnicate"], ["--bogus", "agents"],
                                  ["approve", "not-a-number"]])
def test_usage_errors_have_the_one_error_prefix(args: list[str]) -> None:
    result = CliRunner().invoke(cli, args, prog_name="hive-c0re")
    assert result.exit_code == 2, result.output
    assert "\nerror: " in result.output and "Error:" not in result.output, result.output
    assert "Try 'hive-c0re" in result.output and "Traceback" not in result.output


def test_help_at_200_columns_shows_every_description_whole() -> None:
    done = subprocess.run([sys.executable, "-m", "hive_c0re", "--help"], capture_output=True,
                          text=True, env={**os.environ, "COLUMNS": "200"}, check=True)
    listing = done.stdout.partition("\nCommands:\n")[2]
    assert not [line for line in listing.splitlines() if line.endswith("...")], done.stdout
    assert ("--socket PATH  operator socket to talk to [default: $RUNTIME_DIRECTORY/host.sock]"
            in done.stdout), done.stdout


def test_inbox_follow_says_it_waits_and_ends_cleanly_on_ctrl_c(daemon: DaemonProcess) -> None:
    follow = subprocess.Popen(
        [sys.executable, "-m", "hive_c0re", "--socket", str(daemon.host_socket), "inbox",
         "--follow"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert follow.stderr is not None
        assert follow.stderr.readline() == "waiting for mail (^C to stop)\n"
        follow.send_signal(signal.SIGINT)
        out, err = follow.communicate(timeout=30)
    finally:
        follow.kill()
        follow.wait()
    assert follow.returncode == 0, err
    assert "Traceback" not in err and "Aborted" not in err and err == "\n", err
    assert out == ""


def test_the_operator_queues_a_spawn_and_denies_it_by_id(daemon: DaemonProcess) -> None:
    queued = hive(daemon, "request-spawn", "erin", "--description", "a reviewer")
    assert queued.exit_code == 0, queued.output
    assert re.fullmatch(r"#\d+: pending; spawn for erin\n", queued.output), queued.output
    row = json.loads(hive(daemon, "--json", "approvals").output)["approvals"][-1]
    assert (row["agent"], row["description"], row["status"]) == ("erin", "a reviewer", "pending")
    denied = hive(daemon, "deny", str(row["id"]), "--note", "not now")
    assert denied.exit_code == 0, denied.output
    assert "denied; spawn for erin: not now" in denied.output
    missing = hive(daemon, "approve", "987654")
    assert missing.exit_code == 5 and "987654" in missing.output, missing.output
