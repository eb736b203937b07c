"""Real ``nix build`` of a seeded applied repo, as the nixos backend runs it as root.

The seeded flake.nix finds hyperhive and the host's unfree answer in the flake
registry; here the registry points them at small stand-in flakes (hyperhive
with a nixpkgs whose ``nixosSystem`` evaluates agent.nix and builds one file),
so the build is real Nix on the backend's own argv. What it must show: nothing
is written into the applied repo (no flake.lock: the host's flakes are read
afresh at each build, so a change on the host reaches the agent), and
agent.nix cannot read a host file, nor be a link to one.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from hive_c0re.lifecycle.backend import Systemctl
from hive_c0re.lifecycle.gitrepo import ConfigRepo
from hive_c0re.lifecycle.nixos import ContainerCommandError, NixosBackend
from hive_c0re.lifecycle.nixos_seed import AGENT_NIX, FLAKE_LOCK
from hive_c0re.lifecycle.proposed import ProposedRepos
from hive_c0re.paths import Paths
from hive_dev.nix import run_nix

pytestmark = pytest.mark.usefixtures("nix_instantiate")

# nixosSystem as far as this build needs it: agent.nix is called (so whatever it
# reads is read) and the system is one file naming the host's hyperhive and agent.nix's
# stateVersion.
NIXPKGS = """{
  outputs = { self }: {
    lib.nixosSystem = { system, specialArgs, modules }:
      let agent = import (builtins.head modules) { inherit (specialArgs) hyperhive; pkgs = { }; };
      in {
        config.system.build.toplevel = derivation {
          name = "nixos-system"; inherit system; builder = "/bin/sh";
          args = [ "-c"
            "echo ${specialArgs.hyperhive.release} ${agent.system.stateVersion} > $out" ];
        };
      };
  };
}
"""
HYPERHIVE = """{
  inputs.nixpkgs.url = "path:@NIXPKGS@";
  outputs = { self, nixpkgs }: {
    release = "@RELEASE@";
    nixosModules.harness = { };
    overlays.default = final: prev: { };
  };
}
"""
UNFREE = "{ outputs = { self }: { nixosModules.default = { }; }; }\n"


def flake(directory: Path, text: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "flake.nix").write_text(text)
    return directory


def tree(root: Path) -> dict[str, tuple[int, bytes]]:
    """Every file under ``root`` (its .git too), by relative path: mode and contents."""
    found = {}
    for path in sorted(root.rglob("*")):
        info = path.lstat()
        body = path.read_bytes() if path.is_file() and not path.is_symlink() else b""
        found[str(path.relative_to(root))] = (info.st_mode, body)
    return found


class Host:
    """A host's flake registry with stand-in hyperhive and hyperhive-unfree flakes."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.nixpkgs = flake(root / "nixpkgs", NIXPKGS)
        self.registry = root / "registry.json"
        entries = [("hyperhive", root / "hyperhive"), ("hyperhive-unfree",
                                                       flake(root / "unfree", UNFREE))]
        self.registry.write_text(json.dumps({"version": 2, "flakes": [
            {"from": {"type": "indirect", "id": name}, "to": {"type": "path", "path": str(to)}}
            for name, to in entries]}))
        self.release("1")

    def release(self, number: str) -> None:
        """The host's hyperhive is now release ``number`` (an upgrade on the host)."""
        text = HYPERHIVE.replace("@NIXPKGS@", str(self.nixpkgs)).replace("@RELEASE@", number)
        flake(self.root / "hyperhive", text)

    def run(self, argv: list[str]) -> subprocess.CompletedProcess[str]:
        """The backend's runner: its argv, with the offline flags and this registry."""
        assert argv[0] == "nix", f"only nix runs here, not {argv}"
        return run_nix(["--option", "flake-registry", str(self.registry), *argv[1:]])


@pytest.fixture
def host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Host:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # nix's fetcher cache
    monkeypatch.delenv("HYPERHIVE_GIT", raising=False)
    return Host(tmp_path / "host")


@pytest.fixture
def paths(tmp_path: Path) -> Paths:
    paths = Paths(state=tmp_path / "state", runtime=tmp_path / "run")
    ProposedRepos(paths, 1 << 20).seed("alice")
    return paths


def backend(host: Host, paths: Paths) -> NixosBackend:
    return NixosBackend(host.run, Systemctl(), flake_for=paths.applied_flake,
                        builds=paths.nixos_builds)


def test_a_build_writes_nothing_into_the_applied_repo_and_follows_the_host(
        host: Host, paths: Paths) -> None:
    applied = paths.applied_repo("alice")
    before = tree(applied)
    nixos = backend(host, paths)

    first = nixos.build("alice", nixos.out_link("alice"))
    assert first.read_text().split()[0] == "1"
    assert tree(applied) == before
    assert not (applied / FLAKE_LOCK).exists()

    host.release("2")
    second = nixos.build("alice", nixos.out_link("alice"))
    assert second != first
    assert second.read_text().split()[0] == "2"  # no lock pinned release 1
    assert tree(applied) == before
    assert Path(os.readlink(nixos.out_link("alice"))) == second


def test_agent_nix_cannot_read_a_host_file(host: Host, paths: Paths, tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("root's own\n")
    repo = ConfigRepo(paths.applied_repo("alice"))
    text = (repo.path / AGENT_NIX).read_text()
    stolen = text.replace('system.stateVersion = "25.11";',
                          f"system.stateVersion = builtins.readFile {secret};")
    assert stolen != text
    (repo.path / AGENT_NIX).write_text(stolen)
    git = ["git", "-C", str(repo.path), "-c", "user.name=hive", "-c", "user.email=h@hive"]
    subprocess.run([*git, "commit", "-qam", "read a host file"], check=True)
    nixos = backend(host, paths)

    with pytest.raises(ContainerCommandError, match="forbidden in pure eval"):
        nixos.build("alice", nixos.out_link("alice"))
    assert not nixos.out_link("alice").is_symlink()


def test_agent_nix_cannot_be_a_link_to_a_host_file(host: Host, paths: Paths,
                                                   tmp_path: Path) -> None:
    secret = tmp_path / "secret.nix"
    secret.write_text('{ ... }: { system.stateVersion = "root\'s own"; }\n')
    repo = ConfigRepo(paths.applied_repo("alice"))
    (repo.path / AGENT_NIX).unlink()
    (repo.path / AGENT_NIX).symlink_to(secret)
    git = ["git", "-C", str(repo.path), "-c", "user.name=hive", "-c", "user.email=h@hive"]
    subprocess.run([*git, "commit", "-qam", "a link out"], check=True)
    nixos = backend(host, paths)

    with pytest.raises(ContainerCommandError, match=r"secret\.nix' is forbidden in restricted"):
        nixos.build("alice", nixos.out_link("alice"))
    assert not nixos.out_link("alice").is_symlink()
