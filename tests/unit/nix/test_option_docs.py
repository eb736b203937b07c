"""Every option of the modules is documented as the NixOS manual shows it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from hive_c0re.settings import SETTINGS
from hive_dev.nix import nix_lib, run_nix
from hive_dev.nix_modules import ROOT, nix_path
from hive_dev.nixgen import PROMOTED

pytestmark = pytest.mark.usefixtures("nixpkgs_lib")


@pytest.fixture(scope="module")
def options() -> list[dict[str, Any]]:
    done = run_nix(["--eval", "--strict", "--json", str(ROOT / "tests" / "nix" / "docs.nix"),
                    "--arg", "lib", f"import {nix_path(nix_lib())}"],
                   program="nix-instantiate", timeout=60)
    assert done.returncode == 0, done.stderr
    return list(json.loads(done.stdout))


def test_every_option_has_a_description_and_a_default(options: list[dict[str, Any]]) -> None:
    undocumented = [o["name"] for o in options if not (o["description"] or "").strip()]
    assert undocumented == []
    assert [o["name"] for o in options if not o["hasDefault"]] == []


def test_every_daemon_setting_is_a_documented_option(options: list[dict[str, Any]]) -> None:
    names = {o["name"] for o in options}
    for setting in SETTINGS:
        name = (f"services.hive-c0re.{PROMOTED[setting.name]}" if setting.name in PROMOTED
                else f"services.hive-c0re.settings.{setting.name}")
        assert name in names, setting.name
    described = {o["name"]: o["description"] for o in options}
    assert "HYPERHIVE_INBOX_CAP" in described["services.hive-c0re.settings.inbox_cap"]
