"""The README, the man pages and every --help, held to the code they describe."""

from __future__ import annotations

import importlib.util
import inspect
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from hive_ag3nt.cli import cli as ag3nt_cli
from hive_c0re import names, wire
from hive_c0re.cli import cli
from hive_c0re.errors import InvalidInput
from hive_c0re.lifecycle import nspawn, rootfs
from hive_c0re.lifecycle.backend import ContainerSpec
from hive_c0re.lifecycle.disk import Disk
from hive_c0re.paths import Paths
from hive_m1nd.cli import cli as m1nd_cli
from tests.docs_support import (
    MAN,
    README,
    ROOT,
    json_shapes,
    man_section,
    readme_code,
    roff_text,
    tag_words,
    tagged_items,
)

PROGRAMS = {"hive-c0re": cli, "hive-ag3nt": ag3nt_cli, "hive-m1nd": m1nd_cli}
# Wire fields whose value is an agent's name (or a recipient's).
NAME_FIELDS = {"name", "agent", "to"}


NIX_UNAVAILABLE = 3  # gen-man's exit status when it could not read the NixOS modules


def nix_missing() -> str | None:
    """Why the NixOS modules' options cannot be read here, or None if they can."""
    if shutil.which("nix-instantiate") is None:
        return "nix-instantiate is not installed"
    given = os.environ.get("HYPERHIVE_NIXPKGS_LIB")
    lib = Path(given) if given else ROOT.parent / "shared" / "vendor" / "nixpkgs-lib"
    if not (lib / "lib" / "default.nix").is_file() and not (lib / "default.nix").is_file():
        return f"no nixpkgs lib at {lib} (HYPERHIVE_NIXPKGS_LIB)"
    return None


def test_generated_man_parts_are_current() -> None:
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "gen-man"), "--check"],
                          capture_output=True, text=True, check=False)
    if done.returncode == NIX_UNAVAILABLE:
        # Every other part was checked and is current; only the modules' options were not.
        why = nix_missing()
        assert why is not None, f"Nix and its lib are here, yet gen-man gave up: {done.stderr}"
        assert "hyperhive-nixos.5" in done.stderr
        pytest.skip(f"hyperhive-nixos.5's module options not checked: {why}")
    assert done.returncode == 0, done.stderr


# -- every --help ----------------------------------------------------------------------


def command_paths(group: click.Group, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every command and subcommand below ``group``, hidden ones too."""
    yield path
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            yield from command_paths(command, (*path, name))
        else:
            yield (*path, name)


HELP_PATHS = [(program, path) for program, group in PROGRAMS.items()
              for path in command_paths(group)]


@pytest.mark.parametrize(("program", "path"), HELP_PATHS,
                         ids=[" ".join((p, *path)) for p, path in HELP_PATHS])
def test_every_help_renders_and_cuts_no_description_short(program: str,
                                                          path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(PROGRAMS[program], [*path, "--help"], terminal_width=80)
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Usage: ")
    listing = result.output.partition("\nCommands:\n")[2].partition("\n\n")[0]
    cut = [line for line in listing.splitlines() if line.endswith("...")]
    assert not cut, f"click shortened these; make the first sentence shorter: {cut}"


# -- what the README tells the reader to run --------------------------------------------


def is_synopsis(args: list[str]) -> bool:
    # `hive-c0re [--socket PATH] COMMAND` describes commands rather than running one.
    return any(re.search(r"[\[|<]|^[A-Z]+$", word) for word in args)


def readme_commands() -> list[list[str]]:
    found = []
    for code in readme_code():
        for line in code.split("\n"):
            if line.split()[:1] and line.split()[0] in PROGRAMS:
                words = shlex.split(line.partition("  #")[0])
                if not is_synopsis(words[1:]):
                    found.append(words)
    return found


def test_every_program_command_in_the_readme_exists() -> None:
    commands = readme_commands()
    assert len(commands) >= 15, commands
    for words in commands:
        # --help is eager: it proves the command and every option given exist, runs nothing.
        result = CliRunner().invoke(PROGRAMS[words[0]], [*words[1:], "--help"])
        assert result.exit_code == 0, f"README: {shlex.join(words)}: {result.output}"


def readme_files() -> set[str]:
    found: set[str] = set()
    pattern = re.compile(r"(?<![\w/.-])(?:\./)?((?:scripts|man|tests|bench|\.ci)/[\w.-]+"
                         r"(?:/[\w.-]+)*)")
    for code in readme_code():
        found.update(match.rstrip(".") for match in pattern.findall(code))
    return found


def test_every_file_the_readme_names_exists_and_scripts_run() -> None:
    files = readme_files()
    assert {"scripts/demo", "scripts/test", "man/hyperhive.7"} <= files
    for name in files:
        path = ROOT / name
        assert path.exists(), f"README names {name}, which does not exist"
        if name.startswith(("scripts/", ".ci/")):
            assert os.access(path, os.X_OK), f"README tells you to run {name}, not executable"


def test_every_module_the_readme_names_exists() -> None:
    modules = {span for span in readme_code()
               if re.fullmatch(r"hive_(c0re|ag3nt|m1nd|dev)(\.\w+)+", span)}
    assert "hive_dev.demo.model" in modules
    for module in modules:
        assert importlib.util.find_spec(module) is not None, module


def layout_entries() -> Iterator[str]:
    """The paths the README's Layout block names, relative to the checkout."""
    block = README.read_text().partition("## Layout\n\n```\n")[2].partition("```")[0]
    top = ""
    for line in block.splitlines():
        depth = len(line) - len(line.lstrip())
        if depth > 2:
            continue  # the description of the line above, carried on
        words = line.split()
        if depth == 0:
            top = words[0] if words[0].endswith("/") else ""
            yield words.pop(0)
        # Further names on a line are inside the top-level directory above.
        for word in words:
            if not (word.endswith(("/", ".py", ".toml")) or word.startswith(".")):
                break
            yield top + word


def test_the_layout_names_what_is_there() -> None:
    entries = list(layout_entries())
    assert "hive_c0re/wire.py" in entries and "hive_dev/" in entries
    for entry in entries:
        assert (ROOT / entry).exists(), f"README Layout names {entry}, which does not exist"


# -- agent names -----------------------------------------------------------------------


def is_agent_name(text: str) -> bool:
    try:
        names.validate_agent_name(text)
    except InvalidInput:
        return False
    return True


def name_rule_words() -> list[str]:
    longest = max(n for n in range(1, 100) if is_agent_name("a" * n))
    assert is_agent_name("a-" + "0" * (longest - 2)) and not is_agent_name("0" + "a")
    return [names.NAME_RULE, f"at most {longest} characters"]


def test_the_readme_states_the_agent_name_rule() -> None:
    text = " ".join(README.read_text().split())
    for words in name_rule_words():
        assert words in text, words
    for reserved in names.RESERVED:
        assert f"`{reserved}`" in text, reserved


def test_hyperhive_7_states_the_agent_name_rule_and_no_other() -> None:
    section = " ".join(roff_text(line) for line in man_section("hyperhive.7", "AGENT NAMES"))
    for words in name_rule_words():
        assert words in section, words
    verbs = man_section("hyperhive.7", "VERBS")
    name_lines = [roff_text(line) for line in verbs
                  if re.match(r"\\fB(" + "|".join(NAME_FIELDS) + r")\\fR \(", line)]
    assert len(name_lines) >= 10
    for line in name_lines:
        assert "(agent name" in line and "characters" not in line, line


def test_every_name_field_of_the_wire_is_known_as_one() -> None:
    # A new field that carries an agent's name must be described by the name rule too.
    for verb in wire.VERBS.values():
        for field in verb.fields:
            if field.type == "string" and "agent" in field.help and " id" not in field.help:
                assert field.name in NAME_FIELDS, (verb.name, field.name)


# -- paths -----------------------------------------------------------------------------


def known_paths(paths: Paths) -> set[str]:
    """Every location Paths gives, for an agent written ``<name>``, as the pages write it."""
    found = {paths.state, paths.runtime}
    for attr, member in inspect.getmembers(Paths):
        if attr.startswith("_"):
            continue
        if isinstance(member, property):
            found.add(getattr(paths, attr))
        elif inspect.isfunction(member) and list(inspect.signature(member).parameters) == [
                "self", "name"]:
            found.add(getattr(paths, attr)("alice"))
    disk = Disk.under(paths.agent_state("alice"))
    found |= {disk.image, disk.mountpoint}
    return {str(p).replace("alice", "<name>") for p in found if isinstance(p, Path)}


def files_section(page: str) -> dict[str, str]:
    items = tagged_items(man_section(page, "FILES"))
    return {tag_words(tag)[0]: roff_text(" ".join(body)) for tag, body in items
            if tag.startswith((".I ", ".IR "))}


@pytest.fixture
def fhs_paths(monkeypatch: pytest.MonkeyPatch) -> Paths:
    for var in ("HYPERHIVE_STATE_DIR", "STATE_DIRECTORY", "HYPERHIVE_RUNTIME_DIR",
                "RUNTIME_DIRECTORY"):
        monkeypatch.delenv(var, raising=False)
    return Paths.from_env()


@pytest.mark.parametrize("page", ["hyperhive-agent.toml.5", "hyperhive.7", "hive-c0re.1"])
def test_every_file_a_page_names_is_where_the_code_puts_it(page: str, fhs_paths: Paths) -> None:
    known = known_paths(fhs_paths)
    listed = files_section(page)
    hive_paths = [p for p in listed if p.startswith((str(fhs_paths.state), "/run/hyperhive"))]
    assert hive_paths
    for path in hive_paths:
        assert path.rstrip("/") in known, f"{page} FILES: {path} is not a path the hive uses"


def test_the_config_repos_are_where_hyperhive_agent_toml_5_says(fhs_paths: Paths) -> None:
    listed = files_section("hyperhive-agent.toml.5")
    said = {meaning.split(";")[0].split(",")[0]: path for path, meaning in listed.items()}
    assert said["The proposed repo"] == str(fhs_paths.proposed_repo("alice")).replace(
        "alice", "<name>")
    assert said["The applied repo"] == str(fhs_paths.applied_repo("alice")).replace(
        "alice", "<name>")


# -- what a container sees --------------------------------------------------------------


def container_sees(tmp_path: Path) -> list[str]:
    """What an nspawn agent's argv binds or mounts, as the container sees each."""
    spec = ContainerSpec(
        name="alice", runtime_dir=tmp_path / "run", state_dir=tmp_path / "state",
        claude_dir=tmp_path / "claude", policy_dir=tmp_path / "policy",
        command=["/usr/bin/true"], uid_base=0x10000000, egress_dir=tmp_path / "egress",
        writable_binds=[(tmp_path / "repos", Path("/agents"))])
    seen = []
    for word in nspawn.nspawn_argv(spec, tmp_path / "roots" / "alice"):
        option, _, value = word.partition("=")
        if option in ("--bind", "--bind-ro", "--tmpfs"):
            parts = value.split(":")
            seen.append(parts[1] if len(parts) > 1 and option != "--tmpfs" else parts[0])
    return seen


def test_the_readme_names_everything_a_container_sees(tmp_path: Path) -> None:
    text = " ".join(README.read_text().split())
    python = {Path(sys.base_prefix).resolve(): "the Python install",
              Path(sys.prefix).resolve(): "the venv"}
    etc_files = {f"/etc/{name}" for name in rootfs.host_etc("alice")}
    seen = container_sees(tmp_path)
    assert {"/usr", "/etc/ssl/certs", "/state", "/run/hive-egress", "/agents"} <= set(seen)
    for target in seen:
        if Path(target) in python:
            said = python[Path(target)]
        elif target in etc_files:
            said = f"`{Path(target).name}`"
        elif Path(target).is_relative_to(ROOT):
            said = f"`{Path(target).relative_to(ROOT)}/`"  # a package of an editable install
        else:
            said = f"`{target}`"
        assert said in text, f"a container sees {target}; the README does not say so"


# -- --json ----------------------------------------------------------------------------


def test_hive_c0re_1_gives_every_command_its_json_shape() -> None:
    shapes = json_shapes()
    commands = {name for name, command in cli.commands.items() if not command.hidden}
    assert set(shapes) == commands
    assert shapes["agents"].startswith('{"agents": [')


def test_the_readme_points_to_the_json_convention() -> None:
    text = " ".join(README.read_text().split())
    assert "JSON OUTPUT" in text and '{"agents": [...]}' in text
    assert "JSON OUTPUT" in (MAN / "hive-c0re.1").read_text()
