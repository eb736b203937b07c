"""hyperhive-nixos(5)'s option list: modules evaluated by the real nixpkgs lib, rendered as roff.

The modules here are small ones written for the test; Nix and the lib are real
(skipped, saying which is missing, only where they are not).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from hive_dev import nix, nixos_options
from hive_dev.nixos_options import NixUnavailable, Option, description_roff, option_roff

MODULE = """\
{ lib, pkgs, ... }: {
  options.services.demo = {
    enable = lib.mkEnableOption "the demo";
    package = lib.mkOption {
      type = lib.types.package;
      default = pkgs.demo;
      defaultText = lib.literalExpression "pkgs.demo";
      description = "The `demo` package.";
    };
    port = lib.mkOption {
      type = lib.types.ints.between 1 65535;
      default = 7000;
      example = 8080;
      description = ''
        The port.

        Beyond loopback, open {option}`openFirewall`.
      '';
    };
    hidden = lib.mkOption { type = lib.types.int; default = 1; visible = false; };
  };
  # Never evaluated for the page: no NixOS option needs declaring.
  config.systemd.services.demo.enable = true;
}
"""


@pytest.fixture
def lib_and_nix() -> None:
    try:
        nixos_options.nixpkgs_lib()
        nix.nix_program("nix-instantiate")
    except NixUnavailable as missing:
        pytest.skip(str(missing))


def test_a_module_s_options_are_read_as_the_manual_reads_them(tmp_path: Path,
                                                              lib_and_nix: None) -> None:
    module = tmp_path / "demo.nix"
    module.write_text(MODULE)
    options = {o.name: o for o in nixos_options.module_options(module)}
    assert list(options) == ["services.demo.enable", "services.demo.package",
                             "services.demo.port"]
    port = options["services.demo.port"]
    assert (port.type, port.default, port.example) == (
        "integer between 1 and 65535 (both inclusive)", "7000", "8080")
    assert options["services.demo.package"].default == "pkgs.demo"
    assert options["services.demo.enable"].type == "boolean"


def test_a_default_that_reads_pkgs_without_a_default_text_is_refused(
        tmp_path: Path, lib_and_nix: None) -> None:
    module = tmp_path / "demo.nix"
    module.write_text(MODULE.replace('defaultText = lib.literalExpression "pkgs.demo";', ""))
    with pytest.raises(RuntimeError, match="give it a defaultText"):
        nixos_options.module_options(module)


def test_without_the_lib_the_reason_names_the_variable(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HYPERHIVE_NIXPKGS_LIB", str(tmp_path))
    with pytest.raises(NixUnavailable, match="HYPERHIVE_NIXPKGS_LIB"):
        nixos_options.nixpkgs_lib()


def test_a_description_becomes_roff_paragraphs_with_code_in_bold() -> None:
    roff = description_roff("Sets `HYPERHIVE_X`, see {option}`a.b`.\n\n"
                            ".dot starts a line\n- one item\n")
    assert roff == ["Sets \\fBHYPERHIVE_X\\fR, see \\fBa.b\\fR.", ".IP",
                    "\\&.dot starts a line", ".br", "\\(bu one item"]


@pytest.mark.skipif(shutil.which("groff") is None, reason="groff is not installed")
def test_an_option_renders_without_warnings_with_a_multi_line_default() -> None:
    option = Option(name="services.demo.binds", type="list of string",
                    description="The binds.", default='[\n  "/run/hive"\n]', example=None,
                    read_only=True)
    page = "\n".join([".TH DEMO 5", ".SH OPTIONS", option_roff(option)])
    done = subprocess.run(["groff", "-man", "-ww", "-z"], input=page, capture_output=True,
                          text=True, check=False)
    assert done.returncode == 0 and not done.stderr, done.stderr
    assert "Type: list of string (read\\-only)." in page
    assert '.EX\n[\n  "/run/hive"\n]\n.EE' in page
