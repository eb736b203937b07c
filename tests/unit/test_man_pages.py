"""The man pages as a set: each renders, each points to the others; the harnesses'
pages name every variable and file their code reads, and hyperhive-nixos(5) every
setting and every command line the nixos backend runs.

The backend runs against the model of a NixOS host (nixos_support.NixosHost):
nixos-container cannot run here, so what is checked is the argv it would be given.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from hive_ag3nt.paths import AgentPaths
from hive_ag3nt.settings import HARNESS_SETTINGS
from hive_c0re.lifecycle import nixos
from hive_c0re.lifecycle.backend import Systemctl
from hive_c0re.lifecycle.nixos import NixosBackend
from hive_c0re.settings import SETTINGS
from hive_dev import nixos_commands
from tests.docs_support import MAN, ROOT, man_section, roff_text, tag_words, tagged_items
from tests.unit.hive_c0re.nixos_support import NixosHost

PAGES = sorted(path.name for path in MAN.glob("*.[1-9]"))
# Variables a harness reads by name (settings are read through their table, below).
ENV_LITERAL = re.compile(r'"(HYPERHIVE_[A-Z_]+|CLAUDE_CONFIG_DIR)"')
# The location variables AgentPaths reads, with the defaults a container sees.
PATH_VARIABLES = ("HYPERHIVE_STATE", "HYPERHIVE_RUN", "HYPERHIVE_POLICY", "HYPERHIVE_MODEL_FILE",
                  "CLAUDE_CONFIG_DIR", "HYPERHIVE_MODEL_OWNS", "HYPERHIVE_EGRESS",
                  "HYPERHIVE_SOCKET")


def page_reference(page: str) -> str:
    """How another page's SEE ALSO names ``page``: ``.BR hive\\-c0re (1)``."""
    name, _, section = page.rpartition(".")
    return f".BR {name.replace('-', chr(92) + '-')} ({section})"


def test_there_is_a_page_for_every_program() -> None:
    assert {"hive-c0re.1", "hive-ag3nt.1", "hive-m1nd.1", "hyperhive.7",
            "hyperhive-agent.toml.5", "hyperhive-nixos.5"} <= set(PAGES)


@pytest.mark.skipif(shutil.which("groff") is None, reason="groff is not installed")
@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_without_warnings(page: str) -> None:
    # A terminal's widths, as man sets them: a line too long to break warns.
    for width in ("72n", "78n", "98n"):
        done = subprocess.run(["groff", "-man", "-ww", "-z", "-Tutf8", f"-rLL={width}",
                               str(MAN / page)], capture_output=True, text=True, check=False)
        assert done.returncode == 0 and not done.stderr, f"at {width}: {done.stderr}"


@pytest.mark.parametrize("page", PAGES)
def test_every_page_refers_to_every_other_in_see_also(page: str) -> None:
    see_also = man_section(page, "SEE ALSO")
    named = {line.rstrip(",") for line in see_also}
    missing = [other for other in PAGES if other != page and page_reference(other) not in named]
    assert missing == [], f"{page} SEE ALSO lacks {missing}"


def variables_read(package: str) -> set[str]:
    found: set[str] = set()
    for source in (ROOT / package).rglob("*.py"):
        found.update(ENV_LITERAL.findall(source.read_text()))
    return found


def environment_tags(page: str) -> set[str]:
    return {word for tag, _ in tagged_items(man_section(page, "ENVIRONMENT"))
            for word in tag_words(tag)}


@pytest.mark.parametrize(("page", "package"), [("hive-ag3nt.1", "hive_ag3nt"),
                                               ("hive-m1nd.1", "hive_m1nd")])
def test_every_variable_a_harness_reads_is_in_its_page(page: str, package: str) -> None:
    read = variables_read(package) | {s.env for s in HARNESS_SETTINGS}
    assert len(read) >= len(HARNESS_SETTINGS) + 1
    missing = read - environment_tags(page)
    assert missing == set(), f"{page} ENVIRONMENT does not name {sorted(missing)}"


def test_the_agent_page_names_every_location_variable() -> None:
    # hive-m1nd(1) refers to these; they must be where it points.
    assert set(PATH_VARIABLES) <= environment_tags("hive-ag3nt.1")
    assert set(PATH_VARIABLES) <= variables_read("hive_ag3nt")


@pytest.fixture
def container_paths(monkeypatch: pytest.MonkeyPatch) -> AgentPaths:
    for var in PATH_VARIABLES:
        monkeypatch.delenv(var, raising=False)
    return AgentPaths.from_env()


def harness_locations(paths: AgentPaths) -> set[str]:
    """Every location the harness uses by default, as the pages write them."""
    found = {paths.state, paths.run, paths.policy, paths.model_file, paths.claude_config,
             paths.egress, paths.socket, paths.ui_socket, paths.ui_secret, paths.notes,
             paths.events, paths.session_file}
    return {str(path) for path in found}


def test_every_file_hive_ag3nt_1_names_is_where_the_harness_puts_it(
        container_paths: AgentPaths) -> None:
    known = harness_locations(container_paths)
    listed = [tag_words(tag)[0].rstrip("/") for tag, _ in
              tagged_items(man_section("hive-ag3nt.1", "FILES"))]
    assert len(listed) >= 10
    assert [path for path in listed if path not in known] == []
    # And the other way: each default location is documented.
    assert known - set(listed) == set()


def test_the_manager_page_names_where_the_repos_are() -> None:
    from hive_m1nd.tools import repos

    files = [roff_text(tag_words(tag)[0]) for tag, _ in
             tagged_items(man_section("hive-m1nd.1", "FILES"))]
    assert f"{repos()}/<name>/" in files


# -- hyperhive-nixos(5) ------------------------------------------------------------------


def test_every_daemon_setting_is_set_by_an_option_of_the_host_module() -> None:
    text = roff_text("\n".join(man_section("hyperhive-nixos.5", "HOST OPTIONS")))
    assert "services.hive-c0re.enable" in text
    missing = [s.env for s in SETTINGS if f"Sets {s.env}" not in " ".join(text.split())]
    assert missing == [], f"hyperhive-nixos(5) has no option that sets {missing}"


def test_every_harness_setting_is_an_option_of_the_harness_module() -> None:
    text = roff_text("\n".join(man_section("hyperhive-nixos.5", "HARNESS OPTIONS")))
    # A setting the host sets for every container is named by the option that says so.
    missing = [s.name for s in HARNESS_SETTINGS
               if f"services.hive-harness.settings.{s.name}\n" not in text and s.env not in text]
    assert missing == []


def commands_run(tmp_path: Path) -> list[tuple[str, ...]]:
    """Every argv the backend runs through every verb, both ways of installing and both
    states a container can be installed from (absent, present), as the page shows them."""
    host = NixosHost(conf_dir=tmp_path / "nixos-containers",
                     dropin_root=tmp_path / "system.control")
    backend = NixosBackend(host, Systemctl(), flake_for=nixos_commands.FHS.applied_flake,
                           conf_dir=host.conf_dir, dropin_root=host.dropin_root,
                           builds=tmp_path / "nixos-builds")
    spec, agent = nixos_commands.example_spec(), nixos_commands.AGENT
    backend.install(spec)
    backend.install(spec)
    backend.start(agent)
    assert backend.is_active(agent)
    backend.restart(agent)
    backend.stop(agent)
    system = backend.build(agent, backend.out_link(agent))
    assert system == nixos_commands.SYSTEM
    backend.install(spec, system_path=system)
    backend.uninstall(agent)
    backend.install(spec, system_path=system)
    values = {str(system): "<system>", str(backend.out_link(agent)): "<out-link>"}
    return [nixos_commands.shape(argv, values) for argv in host.calls]


def documented_commands() -> list[str]:
    section = man_section("hyperhive-nixos.5", "THE NIXOS BACKEND")
    commands = section[section.index(".SS Commands"):]
    return [roff_text(tag) for tag, _ in tagged_items(commands)]


def test_every_command_the_nixos_backend_runs_is_in_hyperhive_nixos_5(tmp_path: Path) -> None:
    documented = documented_commands()
    run = {" ".join(words) for words in commands_run(tmp_path)}
    assert len(run) >= 10
    assert sorted(run - set(documented)) == [], "hyperhive-nixos(5) does not show these"
    # And nothing shown that the backend never runs.
    assert sorted(set(documented) - run) == []
    assert any(line.startswith("nix build --no-write-lock-file --option pure-eval true ")
               and "--out-link <out-link> " in line
               and "git+file:///var/lib/hyperhive/applied/<name>?ref=main#" in line
               for line in documented)
    # nixos-container's own build writes a flake.lock into the repo: never run.
    assert not any("--flake" in line for line in documented)


def test_hyperhive_nixos_5_shows_the_conf_the_backend_writes(tmp_path: Path) -> None:
    commands_run(tmp_path)
    conf = (tmp_path / "nixos-containers" / "h-alice.conf").read_text()
    section = " ".join(roff_text(line) for line in man_section("hyperhive-nixos.5",
                                                               "THE NIXOS BACKEND"))
    uid = str(nixos_commands.UID_BASE)
    for line in conf.splitlines():
        key, _, value = line.partition("=")
        if key in nixos_commands.KEY_MEANING:
            words = nixos_commands.shape(value.strip('"').split(), {uid: "<uid-base>"})
            assert all(word in section for word in words), line
            assert f"{key}=" in section, key


def test_every_file_hyperhive_nixos_5_names_is_where_the_backend_puts_it() -> None:
    fhs, agent = nixos_commands.FHS, nixos_commands.AGENT
    backend = NixosBackend(NixosHost(), Systemctl(), flake_for=fhs.applied_flake,
                           builds=fhs.nixos_builds)
    known = {backend.conf_path(agent), backend.dropin_dir(agent), backend.out_link(agent),
             nixos.PROFILES / nixos.container_name(agent) / "system", fhs.applied_repo(agent),
             fhs.manager_config}
    listed = [tag_words(tag)[0].rstrip("/") for tag, _ in
              tagged_items(man_section("hyperhive-nixos.5", "FILES"))]
    assert sorted(listed) == sorted(str(path).replace(agent, "<name>") for path in known)
    assert fhs.applied_flake(agent).startswith(f"git+file://{fhs.applied_repo(agent)}?ref=main#")


def test_the_hidden_debug_group_is_as_hive_ag3nt_1_says() -> None:
    import click

    from hive_ag3nt.cli import cli

    debug = cli.commands["debug"]
    assert isinstance(debug, click.Group) and debug.hidden
    said = " ".join(roff_text(line) for line in man_section("hive-ag3nt.1", "DESCRIPTION"))
    for name, command in debug.commands.items():
        assert f"hive-ag3nt debug {name}" in said
        for param in command.params:
            if isinstance(param, click.Option):
                assert param.opts[0] in said, param.opts
    assert "--socket" in said and "HYPERHIVE_SOCKET" in said


def test_the_quick_start_of_hyperhive_nixos_5_is_nix(tmp_path: Path) -> None:
    nix_instantiate = shutil.which("nix-instantiate")
    if nix_instantiate is None:
        pytest.skip("nix-instantiate is not installed (Debian: apt-get install nix-bin)")
    section = man_section("hyperhive-nixos.5", "QUICK START")
    code = section[section.index(".EX") + 1:section.index(".EE")]
    flake = tmp_path / "flake.nix"
    flake.write_text("\n".join(roff_text(line) for line in code) + "\n")
    done = subprocess.run([nix_instantiate, "--parse", str(flake)], capture_output=True,
                          text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert "services.hive-c0re.enable = true;" in flake.read_text()
    assert "allowUnfreePredicate" in flake.read_text()


def test_hyperhive_nixos_5_shows_the_manager_s_container(tmp_path: Path) -> None:
    from dataclasses import replace

    from hive_c0re.lifecycle.manager import MANAGER_REPOS

    host = NixosHost(conf_dir=tmp_path / "conf", dropin_root=tmp_path / "dropins")
    backend = NixosBackend(host, Systemctl(), flake_for=nixos_commands.FHS.applied_flake,
                           conf_dir=host.conf_dir, dropin_root=host.dropin_root,
                           builds=tmp_path / "nixos-builds")
    spec = replace(nixos_commands.example_spec(), name="manager",
                   writable_binds=[(nixos_commands.FHS.proposed_root, MANAGER_REPOS)])
    backend.install(spec)
    conf = backend.conf_path("manager").read_text()
    section = " ".join(roff_text(line) for line in man_section("hyperhive-nixos.5",
                                                               "THE NIXOS BACKEND"))
    flag = f"--bind={nixos_commands.FHS.proposed_root}:{MANAGER_REPOS}:idmap"
    assert flag in conf and flag in section
    (create,) = [argv for argv in host.calls if argv[:2] == ["nixos-container", "create"]]
    (built,) = [argv for argv in host.calls if argv[:2] == ["nix", "build"]]
    manager_flake = nixos_commands.FHS.applied_flake("manager")
    assert built[-1] == nixos.toplevel_installable(manager_flake)
    assert f"is {create[2]}, built from {manager_flake} " in section
