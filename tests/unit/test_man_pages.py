"""The man pages as a set: each renders, each points to the others, and the harnesses'
pages name every variable and file their code reads."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from hive_ag3nt.paths import AgentPaths
from hive_ag3nt.settings import HARNESS_SETTINGS
from tests.docs_support import MAN, ROOT, man_section, roff_text, tag_words, tagged_items

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
    done = subprocess.run(["groff", "-man", "-ww", "-z", str(MAN / page)],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0 and not done.stderr, done.stderr


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
