"""The nixos backend: conf rewriting, command lines and drop-ins, on data as NixOS writes it.

nixos-container and a NixOS systemd cannot run here, so the runner records
each argv (and answers as told); everything else is real: the conf samples
are what ``nixos-container create`` writes, files go to ``tmp_path``, and
bash expands the rewritten flags the way the container's start script does.
"""

from __future__ import annotations

import subprocess
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hive_c0re.errors import HiveError, InvalidInput
from hive_c0re.lifecycle.backend import ContainerSpec, Resources, Scope, Systemctl, SystemctlError
from hive_c0re.lifecycle.nixos import (
    ENVIRONMENT_FILE,
    ContainerCommandError,
    NixosBackend,
    build_argv,
    container_name,
    create_argv,
    destroy_argv,
    set_system_argv,
    unit_name,
)
from hive_c0re.lifecycle.nixos_conf import (
    NETWORK_KEYS,
    nspawn_binds,
    parse_value,
    render_assignment,
    render_dropin,
    rewrite_conf,
)
from tests.unit.hive_c0re.nixos_support import DATA, Recorder

SAMPLES = ("created.conf", "created-system-path.conf", "hand-edited.conf", "module-shaped.conf")
FLAKE = "git+file:///var/lib/hyperhive/applied/alice#alice"
STORE = Path("/nix/store/9h2v3b0q6zxkwn9j9r5b6yyq8x6qg3ha-nixos-system-h-alice-25.11")
UNIT = "container@h-alice.service"
OURS = [
    "--bind=/run/hyperhive/agents/alice:/run/hive",
    "--bind=/var/lib/hyperhive/agents/alice/state:/state",
    "--bind=/var/lib/hyperhive/agents/alice/claude:/root/.claude",
    "--bind-ro=/run/hyperhive/policy/alice:/etc/hive",
    "--bind-ro=/run/hyperhive/egress:/run/hive-egress",
]


RELOAD = ["systemctl", "daemon-reload"]  # the first install writes the unit's drop-in
# Every install sets the limits (none here: each reset), with no reload.
LIMITS = ["systemctl", "set-property", UNIT, "MemoryMax=infinity", "CPUQuota=",
          "TasksMax=infinity"]

def make_spec(name: str = "alice", resources: Resources | None = None) -> ContainerSpec:
    return ContainerSpec(
        name=name,
        runtime_dir=Path(f"/run/hyperhive/agents/{name}"),
        state_dir=Path(f"/var/lib/hyperhive/agents/{name}/state"),
        claude_dir=Path(f"/var/lib/hyperhive/agents/{name}/claude"),
        policy_dir=Path(f"/run/hyperhive/policy/{name}"),
        command=["hive-ag3nt", "serve"],
        uid_base=131072,
        resources=resources or Resources(),
        egress_dir=Path("/run/hyperhive/egress"),
    )


def sample(name: str) -> str:
    return (DATA / name).read_text()


def settings(text: str) -> dict[str, str]:
    """The conf as systemd's EnvironmentFile= reads it (the last assignment wins)."""
    found: dict[str, str] = {}
    for line in text.splitlines():
        key, eq, value = line.partition("=")
        if eq and not line.startswith(("#", ";")):
            found[key.strip()] = parse_value(value)
    return found


def start_script_words(value: str, cwd: Path) -> list[str]:
    """The words nspawn gets from the start script's unquoted ``${EXTRA_NSPAWN_FLAGS-}``."""
    script = 'for w in ${EXTRA_NSPAWN_FLAGS-}; do printf "%s\\n" "$w"; done'
    done = subprocess.run(["bash", "-c", script], env={"EXTRA_NSPAWN_FLAGS": value}, cwd=cwd,
                          capture_output=True, text=True, check=True)
    return done.stdout.splitlines()


@pytest.fixture
def runner() -> Recorder:
    return Recorder(effect=link_the_system)


def link_the_system(argv: list[str]) -> None:
    """What ``nix build --out-link L`` leaves: L, a link to the system it built."""
    if argv[:2] == ["nix", "build"]:
        out_link = Path(argv[argv.index("--out-link") + 1])
        out_link.unlink(missing_ok=True)
        out_link.symlink_to(STORE)


@pytest.fixture
def backend(runner: Recorder, tmp_path: Path) -> NixosBackend:
    return NixosBackend(runner, Systemctl(), flake_for=lambda agent: FLAKE,
                        conf_dir=tmp_path / "nixos-containers",
                        dropin_root=tmp_path / "system.control",
                        builds=tmp_path / "nixos-builds")


def build(backend: NixosBackend, agent: str = "alice") -> list[str]:
    """The build every install without a system path starts with."""
    return build_argv(FLAKE, backend.out_link(agent))


def put_conf(backend: NixosBackend, agent: str, name: str) -> Path:
    path = backend.conf_path(agent)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(sample(name))
    return path


# --- conf rewriting -----------------------------------------------------------


def test_created_conf_becomes_a_private_network_with_the_hive_binds() -> None:
    result = rewrite_conf(sample("created.conf"), make_spec(), private_users=True)
    assert result == sample("created.expected.conf")


@pytest.mark.parametrize("name", SAMPLES)
def test_every_network_key_is_present_and_empty(name: str) -> None:
    values = settings(rewrite_conf(sample(name), make_spec(), private_users=False))
    assert {key: values[key] for key in NETWORK_KEYS} == dict.fromkeys(NETWORK_KEYS, "")
    assert values["PRIVATE_NETWORK"] == "1"
    assert values["AUTO_START"] == "0"


def test_conf_without_addresses_gets_them_cleared_too() -> None:
    text = sample("hand-edited.conf")
    assert "HOST_ADDRESS" not in text
    result = rewrite_conf(text, make_spec(), private_users=False)
    assert "HOST_ADDRESS=\n" in result
    assert "LOCAL_ADDRESS6=\n" in result
    assert "HOST_BRIDGE=\n" in result


def test_default_address_pair_is_gone() -> None:
    result = rewrite_conf(sample("created.conf"), make_spec(), private_users=False)
    assert "10.233." not in result


def test_existing_flags_are_kept_and_a_stale_hive_bind_replaced() -> None:
    result = rewrite_conf(sample("hand-edited.conf"), make_spec(), private_users=False)
    flags = settings(result)["EXTRA_NSPAWN_FLAGS"].split()
    assert flags == ["--capability=CAP_NET_ADMIN",
                     "--bind-ro=/etc/ssl/certs:/etc/ssl/certs", *OURS]


def test_flags_as_the_module_renders_them_are_kept() -> None:
    result = rewrite_conf(sample("module-shaped.conf"), make_spec(), private_users=False)
    flags = settings(result)["EXTRA_NSPAWN_FLAGS"].split()
    assert flags == ["--bind-ro=/srv/datasets:/data", "--drop-capability=CAP_SYS_CHROOT", *OURS]


def test_two_word_binds_onto_hive_targets_are_replaced_others_kept() -> None:
    text = ('EXTRA_NSPAWN_FLAGS="--bind /srv/x:/run/hive --bind /srv/keep:/keep '
            '--bind-ro /e:/etc/hive/"\n')
    flags = settings(rewrite_conf(text, make_spec(), private_users=False))["EXTRA_NSPAWN_FLAGS"]
    assert flags.split() == ["--bind", "/srv/keep:/keep", *OURS]


@pytest.mark.parametrize("private_users", [False, True])
@pytest.mark.parametrize("name", SAMPLES)
def test_second_rewrite_changes_nothing(name: str, private_users: bool) -> None:
    once = rewrite_conf(sample(name), make_spec(), private_users=private_users)
    assert rewrite_conf(once, make_spec(), private_users=private_users) == once


def test_moved_directories_replace_the_old_binds() -> None:
    first = rewrite_conf(sample("created.conf"), make_spec(), private_users=False)
    moved = replace(make_spec(), state_dir=Path("/srv/hive/alice/state"))
    flags = settings(rewrite_conf(first, moved, private_users=False))["EXTRA_NSPAWN_FLAGS"]
    assert flags.split() == [OURS[0], "--bind=/srv/hive/alice/state:/state", *OURS[2:]]


def test_private_users_idmap_the_writable_binds_only() -> None:
    values = settings(rewrite_conf(sample("created.conf"), make_spec(), private_users=True))
    assert values["PRIVATE_USERS"] == "131072"
    assert values["EXTRA_NSPAWN_FLAGS"].split() == [
        "--bind=/run/hyperhive/agents/alice:/run/hive:idmap",
        "--bind=/var/lib/hyperhive/agents/alice/state:/state:idmap",
        "--bind=/var/lib/hyperhive/agents/alice/claude:/root/.claude:idmap",
        "--bind-ro=/run/hyperhive/policy/alice:/etc/hive",
        "--bind-ro=/run/hyperhive/egress:/run/hive-egress",
    ]


def test_the_managers_repos_are_bound_writable_and_replaced_on_rewrite() -> None:
    manager = replace(make_spec("manager"), writable_binds=[
        (Path("/var/lib/hyperhive/proposed-disk/repos"), Path("/agents"))])
    once = rewrite_conf(sample("created.conf"), manager, private_users=True)
    flags = settings(once)["EXTRA_NSPAWN_FLAGS"].split()
    assert flags[-1] == "--bind=/var/lib/hyperhive/proposed-disk/repos:/agents:idmap"
    assert rewrite_conf(once, manager, private_users=True) == once
    moved = replace(manager, writable_binds=[(Path("/srv/repos"), Path("/agents"))])
    again = settings(rewrite_conf(once, moved, private_users=True))["EXTRA_NSPAWN_FLAGS"]
    assert [f for f in again.split() if f.endswith(":/agents:idmap")] == [
        "--bind=/srv/repos:/agents:idmap"]


def test_private_users_off_says_no_even_where_pick_was() -> None:
    on = rewrite_conf(sample("hand-edited.conf"), make_spec(), private_users=True)
    off = settings(rewrite_conf(on, make_spec(), private_users=False))
    assert off["PRIVATE_USERS"] == "no"
    assert ":idmap" not in off["EXTRA_NSPAWN_FLAGS"]


def test_comments_and_unknown_keys_stay_in_order() -> None:
    text = sample("hand-edited.conf")
    result = rewrite_conf(text, make_spec(), private_users=False)
    kept = [line for line in text.splitlines()
            if line.startswith(("#", ";", "FLAKE=", "COPY_RESOLV_CONF=", "TIMEZONE=")) or not line]
    assert [line for line in result.splitlines() if line in kept] == kept
    assert settings(result)["TIMEZONE"] == "Europe/Berlin"
    # Our keys stay where they were: the file reads the same way after us.
    assert result.splitlines()[:3] == [kept[0], "PRIVATE_NETWORK=1", "AUTO_START=0"]


def test_an_empty_conf_gets_every_key() -> None:
    result = rewrite_conf("", make_spec(), private_users=False)
    assert result.splitlines()[0] == "PRIVATE_NETWORK=1"
    assert settings(result)["EXTRA_NSPAWN_FLAGS"].split() == OURS


def test_duplicate_keys_collapse_into_one() -> None:
    text = "HOST_ADDRESS=10.233.1.1\nPRIVATE_NETWORK=1\nHOST_ADDRESS=10.233.9.1\n"
    result = rewrite_conf(text, make_spec(), private_users=False)
    assert [line for line in result.splitlines() if line.startswith("HOST_ADDRESS=")] == [
        "HOST_ADDRESS="]


@pytest.mark.parametrize("name", SAMPLES)
@pytest.mark.parametrize("private_users", [False, True])
def test_start_script_expands_exactly_our_flags(name: str, private_users: bool,
                                                tmp_path: Path) -> None:
    # Files that a stray glob character in a flag would expand to.
    for decoy in ("run", "state", "hive"):
        (tmp_path / decoy).touch()
    value = settings(rewrite_conf(sample(name), make_spec(), private_users=private_users))[
        "EXTRA_NSPAWN_FLAGS"]
    words = start_script_words(value, tmp_path)
    assert words[-5:] == nspawn_binds(make_spec(), private_users=private_users)
    assert words == value.split()


def test_bash_reads_our_quoted_line_as_systemd_does() -> None:
    line = rewrite_conf(sample("created.conf"), make_spec(), private_users=True).splitlines()[-1]
    done = subprocess.run(["bash", "-c", line + '\nprintf "%s" "$EXTRA_NSPAWN_FLAGS"'], env={},
                          capture_output=True, text=True, check=True)
    assert done.stdout == settings(line)["EXTRA_NSPAWN_FLAGS"]


HOSTILE_PATHS = [
    "/var/lib/hyper hive/alice", "/tmp/a\tb", "/tmp/a\nb", "/tmp/a;reboot", "/tmp/$(reboot)",
    "/tmp/${HOME}", "/tmp/`reboot`", '/tmp/a"b', "/tmp/a'b", "/tmp/a\\b", "/tmp/a|b", "/tmp/a&b",
    "/tmp/a>b", "/tmp/a<b", "/tmp/*", "/tmp/a?", "/tmp/[ab]", "/tmp/a:b", "/tmp/~x", "/tmp/a#b",
    "/tmp/a(b)", "/tmp/../etc", "relative/dir",
]


@pytest.mark.parametrize("path", HOSTILE_PATHS)
@pytest.mark.parametrize("field_name", ["runtime_dir", "state_dir", "claude_dir", "policy_dir"])
def test_paths_unsafe_in_an_unquoted_expansion_are_refused(path: str, field_name: str) -> None:
    change: dict[str, Any] = {field_name: Path(path)}
    spec = replace(make_spec(), **change)
    with pytest.raises(HiveError, match="EXTRA_NSPAWN_FLAGS unquoted"):
        rewrite_conf(sample("created.conf"), spec, private_users=False)


def test_an_unterminated_quote_is_refused() -> None:
    with pytest.raises(HiveError, match="unterminated"):
        rewrite_conf('EXTRA_NSPAWN_FLAGS="--bind=/a:/b\n', make_spec(), private_users=False)


@given(st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=40))
def test_rendered_values_read_back_as_written(value: str) -> None:
    _, _, raw = render_assignment("EXTRA_NSPAWN_FLAGS", value).partition("=")
    assert parse_value(raw) == value


# --- command lines --------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (create_argv("alice", STORE),
         ["nixos-container", "create", "h-alice", "--system-path", str(STORE)]),
        (set_system_argv("alice", STORE),
         ["nix-env", "--profile", "/nix/var/nix/profiles/per-container/h-alice/system",
          "--set", str(STORE)]),
        (destroy_argv("alice"),
         ["nixos-container", "destroy", "h-alice"]),
        (build_argv(FLAKE, Path("/var/lib/hyperhive/builds/alice")),
         ["nix", "build", "--no-write-lock-file", "--option", "pure-eval", "true", "--out-link",
          "/var/lib/hyperhive/builds/alice",
          "--", 'git+file:///var/lib/hyperhive/applied/alice#nixosConfigurations."alice"'
                ".config.system.build.toplevel"]),
    ],
)
def test_command_lines(argv: list[str], expected: list[str]) -> None:
    assert argv == expected


def test_names_fit_nixos_container() -> None:
    assert container_name("a12345678") == "h-a12345678"
    assert len(container_name("a12345678")) == 11
    assert unit_name("alice") == UNIT


@pytest.mark.parametrize(
    ("verb", "expected"),
    [
        ("start", [["systemctl", "reset-failed", UNIT], ["systemctl", "start", UNIT]]),
        ("stop", [["systemctl", "stop", UNIT]]),
        ("restart", [["systemctl", "reset-failed", UNIT], ["systemctl", "restart", UNIT]]),
    ],
)
def test_start_stop_restart_go_through_systemctl(backend: NixosBackend, runner: Recorder,
                                                 verb: str, expected: list[list[str]]) -> None:
    getattr(backend, verb)("alice")
    assert runner.calls == expected


def test_user_scope_reaches_the_command_line(runner: Recorder) -> None:
    backend = NixosBackend(runner, Systemctl(Scope.USER), flake_for=lambda agent: FLAKE)
    backend.stop("alice")
    assert runner.calls == [["systemctl", "--user", "stop", UNIT]]


@pytest.mark.parametrize(("code", "active"), [(0, True), (3, False), (4, False)])
def test_is_active_reads_the_exit_status(runner: Recorder, backend: NixosBackend,
                                         code: int, active: bool) -> None:
    runner.returncode = code
    assert backend.is_active("alice") is active
    assert runner.calls == [["systemctl", "is-active", "--quiet", UNIT]]


def test_is_active_raises_when_systemctl_itself_fails(runner: Recorder,
                                                      backend: NixosBackend) -> None:
    runner.returncode, runner.stderr = 1, "Failed to connect to bus"
    with pytest.raises(SystemctlError, match="Failed to connect to bus"):
        backend.is_active("alice")


HOSTILE_NAMES = ["../x", "a;b", "a b", "--help", "Alice", "a" * 10, "a\n", "a@b", "hive", ""]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_a_hostile_agent_name_cannot_build_a_spec(name: str) -> None:
    with pytest.raises(InvalidInput):
        make_spec(name)


@pytest.mark.parametrize("name", HOSTILE_NAMES)
@pytest.mark.parametrize("verb", ["start", "stop", "restart", "is_active", "uninstall"])
def test_a_hostile_agent_name_runs_nothing(backend: NixosBackend, runner: Recorder,
                                           name: str, verb: str) -> None:
    with pytest.raises(InvalidInput):
        getattr(backend, verb)(name)
    assert runner.calls == []


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_a_hostile_agent_name_builds_no_command_line(name: str) -> None:
    with pytest.raises(InvalidInput):
        destroy_argv(name)


@pytest.mark.parametrize("ref", [
    "--help#alice", "git+file:///srv/a b#alice", "git+file:///srv/a#al ice", "/srv/a",
    "/srv/a#b#c", "/srv/a#", "#alice", "/srv/a\n#alice", '/srv/a#"alice"', "/srv/$(x)#alice",
])
def test_unusable_flake_refs_run_nothing(runner: Recorder, tmp_path: Path, ref: str) -> None:
    backend = NixosBackend(runner, Systemctl(), flake_for=lambda agent: ref,
                           conf_dir=tmp_path, dropin_root=tmp_path / "system.control")
    with pytest.raises(InvalidInput, match="flake reference"):
        backend.install(make_spec())
    assert runner.calls == []


@pytest.mark.parametrize("path", ["/tmp/system", "/nix/store/short", f"{STORE} ", "-x"])
def test_only_store_paths_are_set_as_systems(path: str) -> None:
    with pytest.raises(InvalidInput, match="not a Nix store path"):
        set_system_argv("alice", Path(path))


def test_a_failed_command_says_why(backend: NixosBackend, runner: Recorder) -> None:
    put_conf(backend, "alice", "created.conf")
    runner.returncode = 1
    runner.stderr = "error: flake 'git+file:///var/lib/hyperhive/applied/alice' has no output\n"
    with pytest.raises(ContainerCommandError, match=r"nix build failed: .*no output"):
        backend.install(make_spec())
    assert backend.conf_path("alice").read_text() == sample("created.conf")
    assert runner.calls == [build(backend)]  # the container's system was left as it was


# --- install, build, uninstall ----------------------------------------------------


def test_install_creates_then_rewrites_the_conf(backend: NixosBackend, runner: Recorder) -> None:
    def create_writes_its_conf(argv: list[str]) -> None:
        # What nixos-container create leaves behind, so the rewrite has its input.
        if argv[:2] == ["nixos-container", "create"]:
            put_conf(backend, "alice", "created.conf")
        link_the_system(argv)

    runner.effect = create_writes_its_conf
    backend.install(make_spec())
    assert runner.calls == [build(backend),
                            ["nixos-container", "create", "h-alice", "--system-path", str(STORE)],
                            RELOAD, LIMITS]
    assert backend.conf_path("alice").read_text() == sample("created.expected.conf")


def test_install_updates_an_existing_container(backend: NixosBackend, runner: Recorder) -> None:
    conf = put_conf(backend, "alice", "created.conf")
    conf.chmod(0o644)
    backend.install(make_spec())
    assert runner.calls == [build(backend), set_system_argv("alice", STORE), RELOAD, LIMITS]
    assert conf.read_text() == sample("created.expected.conf")
    assert conf.stat().st_mode & 0o777 == 0o644
    assert sorted(p.name for p in conf.parent.iterdir()) == ["h-alice.conf"]


@pytest.mark.parametrize(("private_users", "owner"), [(True, 131072), (False, 0)])
def test_install_writes_the_environment_for_the_container_root_alone(
        runner: Recorder, tmp_path: Path, private_users: bool, owner: int) -> None:
    backend = NixosBackend(runner, Systemctl(), flake_for=lambda agent: FLAKE,
                           conf_dir=tmp_path / "nixos-containers",
                           dropin_root=tmp_path / "system.control",
                           builds=tmp_path / "nixos-builds", private_users=private_users)
    put_conf(backend, "alice", "created.conf")
    policy = tmp_path / "policy"
    policy.mkdir()
    spec = replace(make_spec(), policy_dir=policy,
                   environment={"HYPERHIVE_AGENT": "alice", "ANTHROPIC_API_KEY": 'k "1" $x'})
    backend.install(spec)
    written = policy / ENVIRONMENT_FILE
    assert written.read_text() == ('ANTHROPIC_API_KEY="k \\"1\\" $x"\n'
                                   'HYPERHIVE_AGENT="alice"\n')
    assert (written.stat().st_mode & 0o777, written.stat().st_uid) == (0o400, owner)
    backend.install(replace(spec, environment={}))
    assert not written.exists()


def test_the_environment_replaces_a_planted_link_and_never_writes_through_it(
        backend: NixosBackend, tmp_path: Path) -> None:
    put_conf(backend, "alice", "created.conf")
    policy, victim = tmp_path / "policy", tmp_path / "victim"
    policy.mkdir()
    victim.write_text("host's own\n")
    (policy / ENVIRONMENT_FILE).symlink_to(victim)
    backend.install(replace(make_spec(), policy_dir=policy, environment={"HYPERHIVE_AGENT": "a"}))
    assert not (policy / ENVIRONMENT_FILE).is_symlink()
    assert (policy / ENVIRONMENT_FILE).read_text() == 'HYPERHIVE_AGENT="a"\n'
    assert victim.read_text() == "host's own\n"


def test_install_from_a_built_system_sets_the_profile(backend: NixosBackend,
                                                      runner: Recorder) -> None:
    put_conf(backend, "alice", "created-system-path.conf")
    backend.install(make_spec(), system_path=STORE)
    assert runner.calls == [set_system_argv("alice", STORE), RELOAD, LIMITS]


def test_install_from_a_built_system_creates_with_it(backend: NixosBackend,
                                                     runner: Recorder) -> None:
    runner.effect = lambda argv: put_conf(backend, "alice", "created-system-path.conf")
    backend.install(make_spec(), system_path=STORE)
    assert runner.calls == [
        ["nixos-container", "create", "h-alice", "--system-path", str(STORE)], RELOAD, LIMITS]


def test_install_refuses_an_unsafe_path_before_running_anything(backend: NixosBackend,
                                                                runner: Recorder) -> None:
    spec = replace(make_spec(), state_dir=Path("/var/lib/hyper hive/alice"))
    with pytest.raises(InvalidInput):
        backend.install(spec)
    assert runner.calls == []


def test_limits_are_set_without_a_reload_and_reset_when_dropped(backend: NixosBackend,
                                                                 runner: Recorder) -> None:
    put_conf(backend, "alice", "created.conf")
    spec = make_spec(resources=Resources(memory_max="2G", cpu_quota="150%", tasks_max=512))
    backend.install(spec)
    dropin = backend.dropin_dir("alice") / "50-hyperhive.conf"
    assert dropin == backend.dropin_root / "container@h-alice.service.d" / "50-hyperhive.conf"
    assert dropin.read_text() == render_dropin(spec)
    assert runner.calls[-2:] == [RELOAD, ["systemctl", "set-property", UNIT, "MemoryMax=2G",
                                          "CPUQuota=150%", "TasksMax=512"]]
    runner.calls.clear()
    backend.install(make_spec())
    assert RELOAD not in runner.calls
    assert runner.calls[-1] == LIMITS


def test_an_older_drop_in_with_limits_is_rewritten_once(backend: NixosBackend,
                                                        runner: Recorder) -> None:
    put_conf(backend, "alice", "created.conf")
    dropin = backend.dropin_dir("alice") / "50-hyperhive.conf"
    dropin.parent.mkdir(parents=True)
    dropin.write_text("[Service]\nRestart=no\nMemoryMax=2G\n")
    backend.install(make_spec())
    assert "MemoryMax" not in dropin.read_text()
    assert runner.calls[-2:] == [RELOAD, LIMITS]


def test_build_returns_the_store_path_of_its_out_link(backend: NixosBackend,
                                                      runner: Recorder) -> None:
    out_link = backend.out_link("alice")
    assert backend.build("alice", out_link) == STORE
    assert runner.calls == [build_argv(FLAKE, out_link)]
    assert out_link.parent.stat().st_mode & 0o777 == 0o700


@pytest.mark.parametrize("target", [None, "/tmp/not-a-store-path"])
def test_build_refuses_what_is_not_a_store_path(backend: NixosBackend, runner: Recorder,
                                                target: str | None) -> None:
    def link(argv: list[str]) -> None:
        if target is not None:
            backend.out_link("alice").symlink_to(target)

    runner.effect = link
    with pytest.raises(HiveError, match=r"out-link|not a Nix store path"):
        backend.build("alice", backend.out_link("alice"))


def test_uninstall_lets_the_system_be_collected(backend: NixosBackend) -> None:
    put_conf(backend, "alice", "created.conf")
    backend.install(make_spec())
    assert backend.out_link("alice").is_symlink()
    backend.uninstall("alice")
    assert not backend.out_link("alice").is_symlink()


def test_uninstall_stops_destroys_and_drops_the_limits(backend: NixosBackend,
                                                       runner: Recorder) -> None:
    put_conf(backend, "alice", "created.conf")
    backend.install(make_spec(resources=Resources(memory_max="1G")))
    runner.calls.clear()
    backend.uninstall("alice")
    assert runner.calls == [
        ["systemctl", "stop", UNIT],
        ["nixos-container", "destroy", "h-alice"],
        ["systemctl", "daemon-reload"],
        ["systemctl", "reset-failed", UNIT],
    ]
    assert not backend.dropin_dir("alice").exists()


# --- the drop-in ------------------------------------------------------------------


def test_the_drop_in_keeps_systemd_from_restarting_whatever_the_limits() -> None:
    # nixpkgs' container@.service restarts on failure; the crash watch owns restarts.
    spec = make_spec(resources=Resources(memory_max="2G", cpu_quota="150%", tasks_max=512))
    assert render_dropin(spec) == render_dropin(make_spec())
    assert render_dropin(spec).splitlines()[1:] == ["[Service]", "Restart=no"]


@pytest.mark.parametrize("value", ["2G\nExecStartPre=/bin/sh", "2 G", "$X", ""])
def test_limit_values_that_would_break_the_unit_are_refused(backend: NixosBackend,
                                                            runner: Recorder,
                                                            value: str) -> None:
    put_conf(backend, "alice", "created.conf")
    with pytest.raises(InvalidInput, match="cannot be a unit property"):
        backend.install(make_spec(resources=Resources(memory_max=value)))
    assert runner.calls == []


# --- user namespaces --------------------------------------------------------------


def test_the_hive_runs_nixos_containers_in_their_own_user_namespace(tmp_path: Path) -> None:
    from hive_c0re.daemon.containers import build_backend
    from hive_c0re.lifecycle.backend import Scope, Systemctl
    from hive_c0re.paths import Paths
    from hive_c0re.settings import Settings

    paths = Paths(state=tmp_path / "state", runtime=tmp_path / "run")
    settings = Settings.load({"backend": "nixos"}, environ={})
    backend = build_backend(settings, paths, Systemctl(Scope(settings.systemd_scope)))
    assert isinstance(backend, NixosBackend)
    assert backend.private_users is True


def test_an_installed_container_maps_root_to_its_uid_base(backend: NixosBackend,
                                                          runner: Recorder) -> None:
    runner.effect = lambda argv: (put_conf(backend, "alice", "created.conf")
                                  if argv[:2] == ["nixos-container", "create"]
                                  else link_the_system(argv))
    backend.install(make_spec())
    values = settings(backend.conf_path("alice").read_text())
    assert values["PRIVATE_USERS"] == "131072"
    # Writable binds are idmapped; read-only ones need no mapping.
    assert all(flag.endswith(":idmap") or flag.startswith("--bind-ro=")
               for flag in values["EXTRA_NSPAWN_FLAGS"].split())


def test_turning_user_namespaces_off_is_explicit_and_logged(
        runner: Recorder, caplog: pytest.LogCaptureFixture) -> None:
    from hive_c0re.settings import Settings

    assert Settings.load(environ={}).nixos_private_users == "yes"
    with caplog.at_level("WARNING"):
        NixosBackend(runner, Systemctl(), flake_for=lambda agent: FLAKE, private_users=False)
    assert "run as root on the host" in caplog.text


def test_uninstall_of_a_container_already_gone_runs_no_destroy(backend: NixosBackend,
                                                               runner: Recorder) -> None:
    runner.returncode = 5  # systemctl: unit not loaded
    backend.uninstall("alice")
    assert ["nixos-container", "destroy", "h-alice"] not in runner.calls
