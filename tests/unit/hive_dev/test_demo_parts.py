"""The demo's pure parts: its unit files, its choice of model, and the answers it waits for."""

from __future__ import annotations

import json
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from hive_ag3nt.prompt import mail_prompt
from hive_c0re.errors import InvalidInput
from hive_c0re.lifecycle.backend import Scope, Systemctl
from hive_c0re.settings import SETTINGS
from hive_c0re.units import environment_line, exec_word
from hive_dev.demo import __main__ as demo_main
from hive_dev.demo import credentials, dashboard, rendering, sandbox_cgroup, shell, tour, workdir
from hive_dev.demo.credentials import Model
from hive_dev.demo.hive import DemoError, Site
from hive_dev.demo.replies import SEND_TOOL, answer, read_request
from hive_dev.demo.run import sandbox_pid
from hive_dev.stand_in.shapes import ApiRequest

PYTHON = Path("/srv/hyper hive/.venv/bin/python")
WORK = Path("/tmp/hyperhive-demo.abc123")
# What tests/sandbox/test_demo.py and the README quote of the stand-in's answers.
STAND_IN_ANSWERS = [
    "alice here: I got your message: hi alice",
    "manager here: I got your message: hello, manager",
    "alice here: I got your message: hello, hive",
    "bob here: I got your message: hello, hive",
    "manager here: I got your message: hello, hive",
]


def lines(text: str) -> list[str]:
    return text.splitlines()


# -- unit files ---------------------------------------------------------------------------


@pytest.mark.parametrize(("word", "expected"), [
    ("/usr/bin/python3", "/usr/bin/python3"),
    ("/srv/a b/python", '"/srv/a b/python"'),
    ("/srv/it's/python", "\"/srv/it's/python\""),
    ("/srv/100%/python", "/srv/100%%/python"),
])
def test_exec_word_keeps_a_path_one_literal_word(word: str, expected: str) -> None:
    assert exec_word(word) == expected


@pytest.mark.parametrize("word", ['/srv/"q"/python', "/srv/back\\slash", "/srv/new\nline"])
def test_exec_word_refuses_what_a_unit_file_cannot_hold(word: str) -> None:
    with pytest.raises(InvalidInput):
        exec_word(word)


def test_environment_line_quotes_the_whole_assignment() -> None:
    assert environment_line("KEY", "a b 50%") == 'Environment="KEY=a b 50%%"'
    with pytest.raises(InvalidInput):
        environment_line("KEY", 'say "hi"')


def test_the_model_unit_runs_the_stand_in_from_the_venv() -> None:
    text = rendering.model_unit(PYTHON, WORK / "model.port")
    assert ('ExecStart="/srv/hyper hive/.venv/bin/python" -m hive_dev.demo.model '
            f"--port-file {WORK}/model.port") in lines(text)
    assert "SyslogIdentifier=hyperhive-demo-model" in lines(text)
    assert "Environment=PYTHONUNBUFFERED=1" in lines(text)


def test_the_host_units_are_the_shipped_ones_under_the_demos_name() -> None:
    found = rendering.host_units("hyperhive-demo-c0re", PYTHON)
    assert sorted(found) == ["hyperhive-demo-c0re.service", "hyperhive-demo-c0re.socket"]
    service = lines(found["hyperhive-demo-c0re.service"])
    assert "Requires=hyperhive-demo-c0re.socket" in service
    assert 'ExecStart="/srv/hyper hive/.venv/bin/python" -m hive_c0re serve' in service
    assert not any("hive-c0re.socket" in text.replace("hyperhive-demo-c0re", "")
                   for text in found.values())


def test_systemd_reads_the_demos_units_with_an_awkward_checkout_path(tmp_path: Path) -> None:
    """systemd's own parser (``systemd-analyze verify``) on the host units and the model's,
    the venv's python under a path with spaces and a %-sign."""
    if shutil.which("systemd-analyze") is None:
        pytest.fail("systemd-analyze is missing: scripts/setup installs systemd")
    venv = tmp_path / "a 100% hyper hive" / "bin"
    venv.mkdir(parents=True)
    (venv / "python").symlink_to(sys.executable)
    units = rendering.host_units("hyperhive-demo-c0re", venv / "python")
    units["hyperhive-demo-model.service"] = rendering.model_unit(venv / "python",
                                                                 tmp_path / "model.port")
    for name, text in units.items():
        (tmp_path / name).write_text(text)
    done = subprocess.run(["systemd-analyze", "verify", "--man=no",
                           *(f"./{name}" for name in units)],
                          cwd=tmp_path, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""


def test_the_socket_dropin_says_whose_it_is() -> None:
    owner = rendering.Owner(4242, WORK)
    text = rendering.host_socket_dropin(owner)
    assert lines(text)[1:] == ["[Socket]", "ListenStream=", f"ListenStream={WORK}/run/host.sock"]
    assert rendering.read_owner(text) == owner
    assert rendering.read_owner("[Socket]\n") is None


def test_the_host_service_moves_state_and_sockets_into_the_demos_directory() -> None:
    text = rendering.host_service_dropin(WORK, Path("/run/systemd/system"), WORK / "agent.env")
    assert lines(text) == [
        "[Service]",
        'Environment="HYPERHIVE_SYSTEMD_SCOPE=system"',
        'Environment="HYPERHIVE_UNIT_DIR=/run/systemd/system"',
        f'Environment="HYPERHIVE_AGENT_ENV_FILE={WORK}/agent.env"',
        "StateDirectory=",
        "RuntimeDirectory=",
        f'Environment="HYPERHIVE_STATE_DIR={WORK}/state"',
        f'Environment="HYPERHIVE_RUNTIME_DIR={WORK}/run"',
    ]


def test_the_daemon_settings_are_the_daemons_own_variables() -> None:
    known = {setting.env for setting in SETTINGS} | {"HYPERHIVE_UNIT_DIR"}
    text = rendering.sandbox_service_dropin(Path("/u"), Path("/e"))
    names = {line.split('"')[1].split("=")[0] for line in lines(text)[1:]}
    assert names <= known
    assert 'Environment="HYPERHIVE_SYSTEMD_SCOPE=user"' in lines(text)


# -- the model ----------------------------------------------------------------------------


def test_credentials_pick_claude_unless_the_stand_in_is_asked_for() -> None:
    assert credentials.choose({}).is_stand_in
    claude = credentials.choose({"ANTHROPIC_API_KEY": "k", "ANTHROPIC_AUTH_TOKEN": "t"})
    assert claude.given == ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN")
    assert claude.name == "Claude"
    assert credentials.choose({"ANTHROPIC_API_KEY": "k", "ANTHROPIC_BASE_URL": "http://x"}
                              ).name == "the model at http://x"
    assert credentials.choose({"ANTHROPIC_API_KEY": "k",
                               "HYPERHIVE_DEMO_MODEL": "builtin"}).is_stand_in


def test_the_agents_environment_points_at_the_stand_in_or_carries_the_credentials() -> None:
    stand_in = credentials.agent_env(Model(()), {"ANTHROPIC_API_KEY": "secret"}, 8123)
    assert stand_in["ANTHROPIC_BASE_URL"] == "http://127.0.0.1:8123"
    assert stand_in["ANTHROPIC_API_KEY"] == "demo-key"
    environ = {"CLAUDE_CODE_OAUTH_TOKEN": "tok", "ANTHROPIC_BASE_URL": "http://x", "HOME": "/"}
    claude = credentials.agent_env(Model(("CLAUDE_CODE_OAUTH_TOKEN",)), environ, None)
    assert claude == {"CLAUDE_CODE_OAUTH_TOKEN": "tok", "ANTHROPIC_BASE_URL": "http://x",
                      **credentials.QUIET}
    with pytest.raises(InvalidInput):
        credentials.agent_env(Model(("ANTHROPIC_API_KEY",)), {"ANTHROPIC_API_KEY": "a\nb"},
                              None)


def test_the_agents_environment_file_is_private_from_the_start(tmp_path: Path) -> None:
    path = tmp_path / "agent.env"
    credentials.write_agent_env(path, {"A": "1", "B": "two words"})
    assert path.read_text() == "A=1\nB=two words\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


# -- the tour -----------------------------------------------------------------------------


def test_the_tour_awaits_the_stand_ins_answers() -> None:
    assert [a.body for a in tour.awaited(stand_in=True)] == STAND_IN_ANSWERS


def test_the_awaited_answers_are_what_the_stand_in_says() -> None:
    for awaited in tour.awaited(stand_in=True):
        sent = next(s for s in tour.SENDS if awaited.sender in s.recipients
                    and s.body in str(awaited.body))
        prompt = mail_prompt([{"id": 7, "from": "operator", "body": sent.body}])
        request = {"system": f"You are {awaited.sender}, an agent in a hyperhive.",
                   "tools": [{"name": SEND_TOOL}],
                   "messages": [{"role": "user", "content": prompt}]}
        said = answer(read_request(ApiRequest("POST", "/v1/messages", {}, request)),
                      lambda n: f"toolu_{n}")
        calls = [block["input"] for block in said.content if block["type"] == "tool_use"]
        assert calls == [{"to": "operator", "body": awaited.body, "in_reply_to": 7}]


def test_from_claude_the_tour_awaits_one_answer_from_each() -> None:
    wanted = tour.awaited(stand_in=False)
    assert [str(w) for w in wanted] == ['"alice → operator"', '"bob → operator"',
                                        '"manager → operator"']
    mail = [{"from": "bob", "to": "operator", "body": "hello"},
            {"from": "alice", "to": "bob", "body": "hi bob"}]
    assert [w.sender for w in tour.missing(wanted, mail)] == ["alice", "manager"]


def test_the_stand_ins_sends_are_read_from_its_journal() -> None:
    journal = "\n".join(json.dumps({"MESSAGE": m}) for m in (
        "demo model listening on http://127.0.0.1:1", "alice: send to operator (reply to #1)",
        "alice: text: Replied to operator.", "manager: Edit /agents/carol/agent.toml"))
    assert tour.model_sends(journal) == ["alice: send to operator (reply to #1)",
                                         "manager: Edit /agents/carol/agent.toml"]


# -- what the operator sees ---------------------------------------------------------------


def site(scope: Scope) -> Site:
    return Site(Systemctl(scope), Path("/u"), "hive-c0re", Path("/run/x/hyperhive"), WORK)


def test_the_banner_names_the_manager_and_the_model() -> None:
    user = shell.banner(site(Scope.USER), Model(()))
    assert "    systemctl --user list-units 'hive-*' 'hyperhive-*'" in user
    assert "journalctl -t hyperhive-demo-model" in user
    assert "built-in stand-in, not Claude" in user
    claude = shell.banner(site(Scope.SYSTEM), Model(("ANTHROPIC_API_KEY",)))
    assert "    systemctl list-units 'hive-*' 'hyperhive-*'" in claude
    assert "hyperhive-demo-model" not in claude
    assert "The model is Claude, reached with ANTHROPIC_API_KEY from your" in claude
    assert "$UI is alice's UI socket: /run/x/hyperhive/agents/alice/ui.sock" in claude
    # The approval loop, and where the manager's own UI is.
    for line in ('hive-c0re send manager "create agent carol"',
                 "hive-c0re approve ID", "hive-c0re ui manager /turns",
                 "`hive-c0re ui manager --secret`"):
        assert line in user and line in claude


def test_the_sandboxs_pid_comes_from_its_cgroup() -> None:
    assert sandbox_pid("12:pids:/hive-sandbox-77/x\n0::/hive-sandbox-77\n") == "77"
    assert sandbox_pid("0::/\n") == "?"


def test_the_mounts_in_the_demos_directory_are_found_deepest_first() -> None:
    info = "".join(f"36 25 7:0 / {point} rw - ext4 /dev/loop0 rw\n" for point in (
        "/", f"{WORK}/state/proposed-disk", f"{WORK}/state/agents/alice/disk",
        f"{WORK}/state/agents/a\\040b/disk", "/tmp/hyperhive-demo.abc"))
    assert workdir.mount_points_under(WORK, info) == [
        WORK / "state/agents/a b/disk", WORK / "state/agents/alice/disk",
        WORK / "state/proposed-disk"]
    assert workdir.mount_points_under(WORK / "run", info) == []


def test_the_sandboxs_cgroups_are_found_with_their_processes(tmp_path: Path) -> None:
    hierarchies = (tmp_path / "systemd", tmp_path / "unified", tmp_path / "absent")
    for hierarchy in hierarchies[:2]:
        unit = hierarchy / "hive-sandbox-77" / "app.slice" / "x.service"
        unit.mkdir(parents=True)
        (unit / "cgroup.procs").write_text("101\n102\n")
        (hierarchy / "hive-sandbox-77" / "cgroup.procs").write_text("")
    found = sandbox_cgroup.groups(77, hierarchies)
    assert found == [hierarchies[0] / "hive-sandbox-77", hierarchies[1] / "hive-sandbox-77"]
    assert sandbox_cgroup.tree(found[0])[0].name == "x.service"  # deepest first
    assert sandbox_cgroup.tree(found[0])[-1] == found[0]
    assert sandbox_cgroup.processes(found[0]) == [101, 102]
    assert sandbox_cgroup.groups(78, hierarchies) == []


def test_the_demos_errors_become_a_line_and_an_exit_status(
        capsys: pytest.CaptureFixture[str]) -> None:
    def fails() -> int:
        raise DemoError("the containers did not come up within 120s")

    def interrupted() -> int:
        raise KeyboardInterrupt

    assert demo_main.guarded(fails) == 1
    assert capsys.readouterr().err == "demo: the containers did not come up within 120s\n"
    assert demo_main.guarded(interrupted) == 130
    assert demo_main.main(["bogus"]) == 2


# -- the dashboard -------------------------------------------------------------------------


def test_the_daemon_is_told_where_the_demos_dashboard_listens() -> None:
    text = rendering.sandbox_service_dropin(Path("/u"), Path("/e"), "http://127.0.0.1:7000")
    assert 'Environment="HYPERHIVE_DASHBOARD_URL=http://127.0.0.1:7000"' in lines(text)
    assert "DASHBOARD" not in rendering.sandbox_service_dropin(Path("/u"), Path("/e"))


def test_the_dashboards_dropins_add_a_loopback_listener_and_only_read_only_binds() -> None:
    assert dashboard.socket_dropin(7000) == "[Socket]\nListenStream=127.0.0.1:7000\n"
    service = dashboard.sandbox_service_dropin().splitlines()
    assert service[:2] == ["[Service]", "ProtectHome=tmpfs"]
    assert all(line.startswith("BindReadOnlyPaths=") for line in service[2:]), service


def test_the_dashboard_port_is_7000_unless_something_listens_there() -> None:
    import contextlib
    import socket

    with socket.socket() as taken:
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Already taken by another: the demo must pick another one either way.
        with contextlib.suppress(OSError):
            taken.bind(("127.0.0.1", dashboard.PORT))
        taken.listen()
        picked = dashboard.pick_port()
    assert picked != dashboard.PORT and 1024 <= picked < 65536
