"""What the nspawn backend writes for the template unit: the command-line file and limits."""

from __future__ import annotations

from pathlib import Path

import pytest

from hive_c0re.errors import HiveError
from hive_c0re.lifecycle.backend import ContainerSpec, Resources
from hive_c0re.lifecycle.nspawn import (
    NSPAWN,
    NSPAWN_VARIABLE,
    HostSide,
    environment_file,
    host_side,
    nspawn_argv,
    render_nspawn_file,
    render_template,
)

BASE = 0x10000000


def spec(tmp_path: Path, command: list[str] | None = None,
         resources: Resources | None = None) -> ContainerSpec:
    return ContainerSpec(
        name="alice", runtime_dir=tmp_path / "run", state_dir=tmp_path / "state",
        claude_dir=tmp_path / "claude", policy_dir=tmp_path / "policy",
        command=command or ["/usr/bin/python3", "-m", "hive_ag3nt", "serve"], uid_base=BASE,
        resources=resources or Resources())


def test_the_file_holds_the_whole_command_line_but_the_program(tmp_path: Path) -> None:
    argv = nspawn_argv(spec(tmp_path), tmp_path / "roots" / "alice")
    text = render_nspawn_file(argv)
    key, _, value = text.rstrip("\n").partition("=")
    assert key == NSPAWN_VARIABLE and text.endswith('"\n') and text.count("\n") == 1
    assert value.strip('"').split(" ") == argv[1:]


def test_a_command_word_with_spaces_is_quoted_for_systemds_split(tmp_path: Path) -> None:
    argv = nspawn_argv(spec(tmp_path, ["/usr/bin/python3", "-c", "raise SystemExit(3)"]),
                       tmp_path / "roots" / "alice")
    assert render_nspawn_file(argv).endswith(" -- /usr/bin/python3 -c 'raise SystemExit(3)'\"\n")


@pytest.mark.parametrize("word", ['say "hi"', "it's", "$HOME", "a\\b", "50%", "a;b", "`x`",
                                  "line\nbreak", ""])
def test_a_word_that_could_mean_more_than_itself_is_refused(tmp_path: Path, word: str) -> None:
    argv = nspawn_argv(spec(tmp_path, ["/usr/bin/python3", "-c", "pass"]),
                       tmp_path / "roots" / "alice")
    with pytest.raises(HiveError, match="cannot go into the container's command line"):
        render_nspawn_file([*argv, word])


def test_the_command_line_must_be_nspawns() -> None:
    with pytest.raises(HiveError, match="must start with"):
        render_nspawn_file(["/bin/sh", "-c", "true"])


def test_the_hives_variable_cannot_come_from_the_operators_environment() -> None:
    with pytest.raises(HiveError, match="the hive's own variable"):
        environment_file({NSPAWN_VARIABLE: "--bind=/:/host"})


def test_limits_set_what_agent_toml_says_and_reset_the_rest(tmp_path: Path) -> None:
    limited = spec(tmp_path, resources=Resources(memory_max="2G", tasks_max=512))
    assert limited.resources.set_property_args() == ["MemoryMax=2G", "CPUQuota=", "TasksMax=512"]
    assert spec(tmp_path, resources=Resources(cpu_quota="150%")).resources.set_property_args() == [
        "MemoryMax=infinity", "CPUQuota=150%", "TasksMax=infinity"]
    with pytest.raises(HiveError, match="cannot be a unit property"):
        Resources(memory_max="2G --all").set_property_args()


def test_limits_on_the_bus_are_what_set_property_sends() -> None:
    unlimited = (1 << 64) - 1
    assert Resources(memory_max="2G", cpu_quota="150%", tasks_max=512).bus_values() == [
        ("MemoryMax", 2 << 30), ("CPUQuotaPerSecUSec", 1_500_000), ("TasksMax", 512)]
    assert Resources(memory_max="infinity").bus_values() == [
        ("MemoryMax", unlimited), ("CPUQuotaPerSecUSec", unlimited), ("TasksMax", unlimited)]
    assert Resources(memory_max="4096").bus_values()[0] == ("MemoryMax", 4096)
    for bad, says in ((Resources(memory_max="2G --all"), "cannot be a unit property"),
                      (Resources(cpu_quota="1.5"), "cannot be a unit property"),
                      (Resources(memory_max="99999999999999999999T"), "out of range"),
                      (Resources(tasks_max=0), "out of range")):
        with pytest.raises(HiveError, match=says):
            bad.bus_values()


def test_the_template_reads_both_files_from_the_roots(tmp_path: Path) -> None:
    text = render_template(tmp_path / "roots", tmp_path / "units")
    assert f"EnvironmentFile={tmp_path}/roots/.%i.env" in text
    assert f"EnvironmentFile=-{tmp_path}/roots/.%i.nspawn" in text
    assert f"ExecStart={NSPAWN} ${NSPAWN_VARIABLE}" in text
    assert "@" not in text.replace("hive-agent@%i", "").replace("hive-agent@.", "")
    with pytest.raises(HiveError, match="cannot go into a unit file"):
        render_template(tmp_path / "my roots", tmp_path / "units")


def test_nixos_containers_see_the_system_profile_as_usr(tmp_path: Path) -> None:
    profile = tmp_path / "sw"
    profile.mkdir()
    nixos = HostSide(nspawn="/nix/store/x-systemd/bin/systemd-nspawn", usr=profile)
    argv = nspawn_argv(spec(tmp_path), tmp_path / "roots" / "alice", nixos)
    assert argv[0] == nixos.nspawn
    assert f"--bind-ro={profile}:/usr" in argv
    assert "--bind-ro=/usr" not in argv
    assert render_nspawn_file(argv).startswith(f'{NSPAWN_VARIABLE}="--quiet ')


def test_the_template_runs_the_configured_nspawn(tmp_path: Path) -> None:
    program = "/nix/store/x-systemd/bin/systemd-nspawn"
    text = render_template(tmp_path / "roots", tmp_path / "units", program)
    assert f"ExecStart={program} ${NSPAWN_VARIABLE}\n" in text


def test_the_nspawn_setting_defaults_to_paths_and_must_be_a_plain_path(
        tmp_path: Path) -> None:
    found = host_side("", "/usr").nspawn
    assert found.startswith("/") and found.endswith("/systemd-nspawn")
    assert host_side("/opt/systemd/bin/systemd-nspawn", "/usr").nspawn == \
        "/opt/systemd/bin/systemd-nspawn"
    # Refused where they are written, by the install that writes them.
    with pytest.raises(HiveError, match="cannot go into a unit file"):
        render_template(tmp_path, tmp_path, host_side("systemd-nspawn", "/usr").nspawn)
    spaced = tmp_path / "current system"
    spaced.mkdir()
    with pytest.raises(HiveError, match="cannot go into a unit file"):
        nspawn_argv(spec(tmp_path), tmp_path / "roots" / "alice", host_side("", str(spaced)))


def test_a_python_in_the_hosts_usr_is_refused_when_the_containers_usr_is_not_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.base_prefix", "/usr")
    with pytest.raises(HiveError, match="which the containers do not see"):
        nspawn_argv(spec(tmp_path), tmp_path / "roots" / "alice", HostSide(usr=tmp_path))
    assert "--bind-ro=/usr" in nspawn_argv(spec(tmp_path), tmp_path / "roots" / "alice")
