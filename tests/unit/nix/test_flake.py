"""The flake, evaluated for real by Nix against a stand-in nixpkgs.

The stand-in (``hive_dev.flake_stand_in``) is nixpkgs' real lib plus
stand-ins for the packages and builders the flake uses, so ``nix flake
check`` and ``nix eval`` run here as they would against nixpkgs, down to
the VM test's nodes, which are evaluated with the module system. What only
nixpkgs can do (build the package, boot the VM, refuse an unfree package
nobody allowed) is outside these tests.
"""

from __future__ import annotations

import ast
import json
import subprocess
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hive_dev import flake_stand_in
from hive_dev.nix import NixMissing, nix_lib, nix_program, run_nix

ROOT = flake_stand_in.ROOT
SYSTEM = "x86_64-linux"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


@pytest.fixture(scope="module")
def stand_in(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    try:
        nix_program()
        nix_lib()
    except NixMissing as missing:
        pytest.skip(str(missing))
    if not (ROOT / ".git").exists():
        pytest.skip("the flake is evaluated from its git tree, and this checkout has none")
    yield flake_stand_in.assemble(tmp_path_factory.mktemp("nix") / "stand-in")


def nix(stand_in: Path, *args: str) -> subprocess.CompletedProcess[str]:
    done = flake_stand_in.flake(list(args), stand_in)
    assert done.returncode == 0, done.stderr
    return done


def evaluate(stand_in: Path, attr: str, apply: str | None = None, *,
             impure: bool = False) -> Any:
    """``nix eval --json .#ATTR [--apply APPLY]``, decoded."""
    args = ["eval", "--json", f".#{attr}", *(["--apply", apply] if apply else [])]
    done = nix(stand_in, *args, *(["--impure"] if impure else []))
    return json.loads(done.stdout)


def stand_in_pkgs(stand_in: Path, overlays: str, config: str = "{ }") -> str:
    """A Nix expression: the stand-in package set imported with ``overlays`` and ``config``."""
    return (f'import {stand_in} {{ system = "{SYSTEM}"; overlays = {overlays}; '
            f"config = {config}; }}")


def refusal(expression: str) -> str:
    """What Nix says refusing to evaluate ``expression`` (it must refuse)."""
    done = run_nix(["eval", "--impure", "--expr", expression])
    assert done.returncode != 0, done.stdout
    return done.stderr


def package_drv(stand_in: Path, overlays: str, tree: Path = ROOT) -> str:
    """A Nix expression: the drvPath of ``tree``'s package over the stand-in with ``overlays``."""
    return (f"(({stand_in_pkgs(stand_in, overlays)}).callPackage {tree}/nix/package.nix"
            " { }).drvPath")


def requirement_name(spec: str) -> str:
    for stop in "<>=!~[; ":
        spec = spec.split(stop, 1)[0]
    return spec.lower()


# -- the whole flake ---------------------------------------------------------------------

def test_flake_check_passes_with_the_vm_test_evaluated(stand_in: Path) -> None:
    done = nix(stand_in, "flake", "check", "--no-build")
    assert "error" not in done.stderr.lower(), done.stderr
    # check evaluated the VM test's host: its system holds the hive's units.
    nodes = json.loads(evaluate(stand_in, f"checks.{SYSTEM}.vm.nodesJSON"))
    services = nodes["host"]["systemd"]["services"]
    assert services["hive-c0re"]["environment"]["HYPERHIVE_BACKEND"] == "nixos"
    assert "hyperhive-stand-in-model" in services


def test_the_outputs_are_what_a_nixos_user_imports(stand_in: Path) -> None:
    names = "builtins.attrNames"
    assert evaluate(stand_in, "overlays", names) == ["claude-unstable", "default"]
    assert evaluate(stand_in, "nixosModules", "builtins.mapAttrs (_: builtins.isFunction)") == {
        "default": True, "harness": True, "hive-c0re": True}
    assert evaluate(stand_in, f"packages.{SYSTEM}", names) == ["default", "hyperhive"]
    assert evaluate(stand_in, f"checks.{SYSTEM}", names) == ["modules", "package", "vm"]


@pytest.mark.parametrize(("module", "declares"), [
    ("default", "hive-c0re"), ("hive-c0re", "hive-c0re"), ("harness", "hive-harness")])
def test_each_module_declares_its_service(stand_in: Path, module: str, declares: str) -> None:
    services = evaluate(stand_in, f"nixosModules.{module}",
                        f"m: builtins.attrNames (((import {stand_in}/lib).evalModules {{"
                        " modules = [ m { _module.check = false; _module.args.pkgs = { }; } ];"
                        " }).options.services)", impure=True)
    assert services == [declares]


# -- the package ---------------------------------------------------------------------------

def test_the_package_is_pyproject_s_name_version_and_dependencies(stand_in: Path) -> None:
    package = evaluate(stand_in, f"packages.{SYSTEM}.default",
                       "p: { inherit (p) pname version pyproject; "
                       "deps = map (d: d.pname) p.dependencies; "
                       "build = map (d: d.pname) p.build-system; }")
    assert (package["pname"], package["version"]) == (PYPROJECT["name"], PYPROJECT["version"])
    assert package["pyproject"] is True
    assert package["build"] == ["hatchling"]
    assert package["deps"] == [requirement_name(spec) for spec in PYPROJECT["dependencies"]]
    assert {"click", "peewee", "rich", "systemd-python", "pystemd", "aiohttp", "mcp",
            "claude-agent-sdk"} <= set(package["deps"])


def test_claude_agent_sdk_is_raised_to_pyproject_s_minimum(stand_in: Path) -> None:
    (minimum,) = [spec.split(">=")[1] for spec in PYPROJECT["dependencies"]
                  if requirement_name(spec) == "claude-agent-sdk"]
    sdk = evaluate(stand_in, f"packages.{SYSTEM}.default",
                   'p: let sdk = builtins.head (builtins.filter (d: d.pname == "claude-agent-sdk")'
                   " p.dependencies); in { inherit (sdk) version doCheck; "
                   "deps = map (d: d.pname) sdk.dependencies; "
                   "inherit (sdk.src) pname hash; src = sdk.src.version; "
                   "changelog = sdk.meta.changelog; }")
    # The stand-in's own is older, as nixpkgs' is: the sdist of the minimum replaces it.
    assert sdk["version"] == sdk["src"] == minimum
    assert sdk["pname"] == "claude_agent_sdk"
    assert sdk["hash"].startswith("sha256-") and len(sdk["hash"]) == 51
    assert sdk["hash"] != "sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="  # not a placeholder
    assert sdk["deps"] == ["mcp", "jsonschema", "sniffio"]
    assert sdk["changelog"].endswith(f"/v{minimum}/CHANGELOG.md")
    assert sdk["doCheck"] is False


def test_a_minimum_without_a_source_hash_says_what_to_add(stand_in: Path, tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    (tree / "nix").mkdir(parents=True)
    for name in ("package.nix", "web-assets.nix"):
        (tree / "nix" / name).write_text((ROOT / "nix" / name).read_text())
    (tree / "web").mkdir()
    for name in ("package.json", "package-lock.json", "vendor-files"):
        (tree / "web" / name).write_text((ROOT / "web" / name).read_text())
    pyproject = (ROOT / "pyproject.toml").read_text()
    (tree / "pyproject.toml").write_text(
        pyproject.replace('"claude-agent-sdk>=', '"claude-agent-sdk>=9.9.9,>='))
    message = refusal(package_drv(stand_in, "[ ]", tree))
    assert "sdkSources has no hash for 9.9.9: add it" in message, message


def test_a_new_enough_claude_agent_sdk_is_taken_as_it_is(stand_in: Path) -> None:
    newer = ("[ (final: prev: { python3Packages = prev.python3Packages // { claude-agent-sdk ="
             ' prev.python3Packages.claude-agent-sdk.overridePythonAttrs { version = "9.0.0"; };'
             " }; }) ]")
    sdk = evaluate(stand_in, "overlays.default",
                   f"o: let pkgs = {stand_in_pkgs(stand_in, f'([ o ] ++ {newer})')}; in"
                   ' builtins.head (builtins.filter (d: d.pname == "claude-agent-sdk")'
                   " pkgs.hyperhive.dependencies) ? src", impure=True)
    assert sdk is False  # nixpkgs' own, with no source of ours


def test_a_dependency_nixpkgs_lacks_is_an_evaluation_error(stand_in: Path) -> None:
    without = ("[ (final: prev: { python3Packages = builtins.removeAttrs prev.python3Packages"
               ' [ "unidiff" ]; }) ]')
    message = refusal(package_drv(stand_in, without))
    assert "attribute 'unidiff' missing" in message, message


def test_the_source_is_the_wheel_s_and_the_man_pages_are_installed(stand_in: Path) -> None:
    package = evaluate(stand_in, f"packages.{SYSTEM}.default",
                       "p: { src = toString p.src; inherit (p) postInstall; "
                       "tools = map (d: d.pname) p.nativeBuildInputs; }")
    shipped = sorted(path.name for path in Path(package["src"]).iterdir())
    assert shipped == ["README.md", "hive_ag3nt", "hive_c0re", "hive_m1nd", "man", "pyproject.toml"]
    pages = sorted(path.name for path in (Path(package["src"]) / "man").iterdir())
    assert pages == sorted(path.name for path in (ROOT / "man").iterdir())
    assert not list(Path(package["src"]).rglob("__pycache__"))
    assert "installManPage man/*.[1-8]" in package["postInstall"]
    assert "install-shell-files" in package["tools"]


def child_modules() -> set[str]:
    """Every module the code starts as a child of its interpreter (module_argv's first argument)."""
    found = set()
    for package in ("hive_c0re", "hive_ag3nt", "hive_m1nd"):
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                        and node.func.id == "module_argv" and node.args
                        and isinstance(node.args[0], ast.Constant)):
                    found.add(str(node.args[0].value))
    return found


def test_the_package_imports_every_module_the_daemon_runs_as_a_child(stand_in: Path) -> None:
    # nixpkgs' interpreter is bare: a child finds hyperhive only through the
    # import path its parent hands it, so each child module must import from
    # the installed package (nixpkgs runs pythonImportsCheck after the build).
    checked = evaluate(stand_in, f"packages.{SYSTEM}.default", "p: p.pythonImportsCheck")
    assert child_modules() == {"hive_c0re.egress"}
    assert {"hive_c0re", "hive_ag3nt", "hive_m1nd", *child_modules()} == set(checked)


def setup_vendor_files() -> list[str]:
    script = 'source scripts/setup; printf "%s\\n" "${VENDOR_FILES[@]}"'
    done = subprocess.run(["bash", "-c", script], cwd=ROOT, capture_output=True, text=True,
                          check=True)
    return done.stdout.splitlines()


def test_the_browser_libraries_are_the_files_setup_copies(stand_in: Path) -> None:
    web = evaluate(stand_in, f"packages.{SYSTEM}.default.webAssets",
                   "w: { inherit (w) vendorFiles installPhase; lock = w.npmDeps.lock; }")
    assert [f"{f['from']} {f['to']}" for f in web["vendorFiles"]] == setup_vendor_files()
    for file in web["vendorFiles"]:
        assert f"node_modules/{file['from']} $out/{file['to']}" in web["installPhase"]
    # Every tarball is fetched by the lock file's own integrity hash.
    lock = json.loads((ROOT / "web" / "package-lock.json").read_text())["packages"]
    resolved = json.loads(web["lock"])["packages"]
    for path, module in lock.items():
        if path:
            name = path.rpartition("node_modules/")[2]
            assert resolved[path]["integrity"] == module["integrity"]
            assert resolved[path]["resolved"] == (f"https://registry.npmjs.org/{name}/-/"
                                                  f"{name.rpartition('/')[2]}-{module['version']}.tgz")


def test_the_package_builds_against_the_stand_in(stand_in: Path) -> None:
    done = nix(stand_in, "build", "--no-link", "--json", f".#packages.{SYSTEM}.default")
    (built,) = json.loads(done.stdout)
    assert Path(built["outputs"]["out"]).is_file()  # a stand-in's output: it was built


# -- the overlays and the unfree rule ------------------------------------------------------

def test_the_default_overlay_adds_hyperhive(stand_in: Path) -> None:
    name = evaluate(stand_in, "overlays.default",
                    f"o: ({stand_in_pkgs(stand_in, '[ o ]')}).hyperhive.pname", impure=True)
    assert name == "hyperhive"


CALLER_CONFIG = ('{ allowUnfreePredicate = pkg: builtins.elem (pkg.pname or "") [ "claude-code" ];'
                 ' standInCaller = "the operator"; }')


def test_claude_unstable_imports_unstable_with_the_caller_s_config(stand_in: Path) -> None:
    seen = evaluate(stand_in, "overlays.claude-unstable",
                    f"o: let pkgs = {stand_in_pkgs(stand_in, '[ o ]', CALLER_CONFIG)}; "
                    "c = pkgs.claude-code.standInConfig; in { inherit (pkgs.claude-code) pname;"
                    " names = builtins.attrNames c; caller = c.standInCaller;"
                    " predicate = c.allowUnfreePredicate { pname = \"claude-code\"; }; }",
                    impure=True)
    assert seen == {"pname": "claude-code", "names": ["allowUnfreePredicate", "standInCaller"],
                    "caller": "the operator", "predicate": True}


def test_claude_unstable_allows_nothing_itself(stand_in: Path) -> None:
    config = evaluate(stand_in, "overlays.claude-unstable",
                      f"o: builtins.attrNames ({stand_in_pkgs(stand_in, '[ o ]')})"
                      ".claude-code.standInConfig", impure=True)
    assert config == []  # no allowUnfree, no predicate: nothing the caller did not say


def registered_unfree_flake(path: str) -> str:
    """Which of nixos/agent-unfree/ the store path ``path`` (a registry target) is a copy of."""
    text = (Path(path) / "flake.nix").read_text()
    (name,) = [d.name for d in (ROOT / "nixos" / "agent-unfree").iterdir()
               if (d / "flake.nix").read_text() == text]
    return name


def test_the_vm_test_s_agents_are_allowed_claude_code_as_its_host_is(stand_in: Path) -> None:
    # The test's pkgs allow claude-code by name; the host hands that on, and
    # the test script checks the registry entry before alice's flake is built.
    path = evaluate(stand_in,
                    f"checks.{SYSTEM}.vm.nodes.host.nix.registry.hyperhive-unfree.flake.outPath")
    assert registered_unfree_flake(path) == "claude-code"
    assert "hyperhive-unfree" in evaluate(stand_in, f"checks.{SYSTEM}.vm.testScript")


def test_the_vm_test_s_host_leaves_nixpkgs_config_to_its_owner(stand_in: Path) -> None:
    unfree = evaluate(stand_in, f"checks.{SYSTEM}.vm.nodes.host.nixpkgs.config",
                      "c: { inherit (c) allowUnfree; predicate = c.allowUnfreePredicate; }")
    assert unfree == {"allowUnfree": False, "predicate": None}


# -- the VM test ---------------------------------------------------------------------------

def test_the_vm_test_script_is_python_and_does_the_whole_tour(stand_in: Path) -> None:
    script = evaluate(stand_in, f"checks.{SYSTEM}.vm.testScript")
    ast.parse(script)
    for step in ("hive-c0re spawn alice", "container@h-alice.service", "hive-c0re send alice",
                 "alice here: I got your message", "container_crash", "hive-c0re dashboard login",
                 "hive_session="):
        assert step in script, f"the VM test does not do {step!r}"


def test_the_vm_test_s_model_is_the_demo_s_stand_in(stand_in: Path) -> None:
    model = evaluate(stand_in, f"checks.{SYSTEM}.vm.nodes.host.systemd.services",
                     "s: { exec = s.hyperhive-stand-in-model.serviceConfig.ExecStart;"
                     " env = s.hive-c0re.environment.HYPERHIVE_AGENT_ENV_FILE; }")
    assert "-m hive_dev.demo.model" in model["exec"]
    assert model["env"] == "/etc/hyperhive/agent.env"


def test_a_failed_assertion_in_the_vm_test_s_host_fails_the_check(stand_in: Path) -> None:
    # The stand-in's runNixOSTest refuses a node NixOS would refuse.
    message = refusal(
        f"let pkgs = {stand_in_pkgs(stand_in, '[ ]')}; in (pkgs.testers.runNixOSTest {{"
        ' name = "t"; testScript = ""; nodes.host = { assertions = [ { assertion = false;'
        ' message = "the host says no"; } ]; }; }).drvPath')
    assert "the host says no" in message


# -- the README's NixOS example ---------------------------------------------------------

def readme_system_flake() -> str:
    section = (ROOT / "README.md").read_text().partition("## On NixOS\n")[2]
    return section.partition("```nix\n")[2].partition("```")[0]


def test_the_readme_s_system_flake_gives_a_host_with_the_hive(stand_in: Path,
                                                             tmp_path: Path) -> None:
    (tmp_path / "flake.nix").write_text(readme_system_flake())
    (tmp_path / "configuration.nix").write_text("{ }\n")
    options = stand_in / "nixos"
    # The flakes by hand, as Nix would call their outputs: nixosSystem is the
    # module system over the NixOS options the tests declare.
    expression = f"""
      let
        standIn = (import {stand_in}/flake.nix).outputs {{ self = standIn; }} // {{
          outPath = "{stand_in}";
        }};
        hyperhive = (import {ROOT}/flake.nix).outputs {{
          self = hyperhive; nixpkgs = standIn; nixpkgs-unstable = standIn;
        }} // {{ outPath = "{ROOT}"; }};
        lib = standIn.lib;
        nixosSystem = {{ system, modules }}: (lib.evalModules {{
          modules = modules ++ [
            {options}/nixos-options.nix
            {options}/vm-options.nix
            ({{ config, ... }}: {{ _module.args.pkgs = import {stand_in} {{
              inherit system; inherit (config.nixpkgs) overlays config;
            }}; }})
          ];
        }}).config;
        system = ((import {tmp_path}/flake.nix).outputs {{
          nixpkgs = standIn // {{ lib = lib // {{ inherit nixosSystem; }}; }};
          inherit hyperhive;
        }}).nixosConfigurations.myhost;
        pkgs = import {stand_in} {{
          system = "x86_64-linux"; inherit (system.nixpkgs) overlays config;
        }};
      in {{
        units = builtins.attrNames system.systemd.services;
        daemon = system.systemd.services.hive-c0re.serviceConfig.ExecStart;
        allowed = system.nixpkgs.config.allowUnfreePredicate pkgs.claude-code;
        passedOn = pkgs.claude-code.standInConfig ? allowUnfreePredicate;
        allowUnfree = system.nixpkgs.config.allowUnfree;
        warnings = system.warnings;
        unfree = system.nix.registry.hyperhive-unfree.flake.outPath;
      }}"""
    done = run_nix(["eval", "--impure", "--json", "--expr", expression])
    assert done.returncode == 0, done.stderr
    host = json.loads(done.stdout)
    assert "hive-c0re" in host["units"]
    assert host["daemon"].endswith("-hyperhive-0.1.0/bin/hive-c0re serve")
    # claude-code is allowed by name, in the operator's own words, and the
    # overlay hands those words to nixpkgs-unstable.
    assert (host["allowed"], host["passedOn"], host["allowUnfree"]) == (True, True, False)
    # ... and the host hands that decision to its agents, with nothing to warn about.
    assert registered_unfree_flake(host["unfree"]) == "claude-code"
    assert not [w for w in host["warnings"] if "claude-code is unfree" in w]
