"""The import contracts (hive_dev/imports.py) hold, and the check catches a breach."""

from __future__ import annotations

import shutil
from pathlib import Path

from hive_dev.imports import PACKAGES, violations

ROOT = Path(__file__).resolve().parents[2]


def copy_tree(tmp_path: Path) -> Path:
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package,
                        ignore=shutil.ignore_patterns("__pycache__", "static", "*.html"))
    return tmp_path


def add_line(path: Path, line: str) -> None:
    path.write_text(path.read_text() + f"\n{line}\n")


def test_the_three_packages_keep_every_import_contract() -> None:
    assert violations(ROOT) == []


def test_a_lifecycle_import_of_the_daemon_is_caught(tmp_path: Path) -> None:
    root = copy_tree(tmp_path)
    add_line(root / "hive_c0re/lifecycle/backend.py", "from hive_c0re.daemon import server")
    assert any("lifecycle.backend" in v and "never import the daemon" in v
               for v in violations(root))


def test_an_import_hidden_in_a_function_or_type_checking_still_counts(tmp_path: Path) -> None:
    root = copy_tree(tmp_path)
    add_line(root / "hive_c0re/broker/records.py",
             "def later() -> None:\n    from hive_c0re.daemon import service  # noqa")
    add_line(root / "hive_c0re/names.py",
             "import typing\nif typing.TYPE_CHECKING:\n    from hive_c0re.lifecycle import backend")
    found = violations(root)
    assert any("broker.records" in v for v in found)
    assert any("hive_c0re.names" in v and "its own kind" in v for v in found)


def test_the_container_side_may_not_reach_into_the_host(tmp_path: Path) -> None:
    root = copy_tree(tmp_path)
    add_line(root / "hive_ag3nt/hive.py", "from hive_c0re.broker.store import Store")
    assert any("hive_ag3nt.hive" in v and "container side" in v for v in violations(root))


def test_a_cycle_is_named_with_its_members(tmp_path: Path) -> None:
    root = copy_tree(tmp_path)
    add_line(root / "hive_c0re/names.py", "from . import paths")
    add_line(root / "hive_c0re/paths.py", "from hive_c0re import names")
    assert any(v.startswith("import cycle:") and "hive_c0re.names" in v and "hive_c0re.paths" in v
               for v in violations(root))


def test_the_dashboard_may_not_hold_the_daemons_powers(tmp_path: Path) -> None:
    root = copy_tree(tmp_path)
    add_line(root / "hive_c0re/dashboard/hive.py", "from hive_c0re.broker.store import Store")
    assert any("dashboard.hive" in v and "only through the wire" in v for v in violations(root))
