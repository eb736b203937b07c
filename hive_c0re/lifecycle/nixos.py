"""The nixos backend: one imperative ``nixos-container`` ``h-<agent>`` per agent.

NixOS builds the container's system from the agent's applied flake
(``nixos-container create|update --flake``), and ``container@h-<agent>.service``
runs it with the settings in ``/etc/nixos-containers/h-<agent>.conf``, an
EnvironmentFile. The backend rewrites that file so the container has a
network of its own with only a loopback (``PRIVATE_NETWORK=1``, no
addresses: the way out is the egress process) and sees the hive's binds,
passed through
``EXTRA_NSPAWN_FLAGS`` because ``nixos-container`` has no bind option. The
start script expands that variable unquoted, so every bound path is held to
a small character set. The unit's drop-in (``Restart=no``) lives under
``/etc/systemd/system.control`` (``/etc/systemd/system`` is a read-only link
into the Nix store on NixOS), where ``systemctl set-property`` also writes the
resource limits, without a daemon-reload.

Every command runs through an injected runner (argv in, CompletedProcess out)
and every argv is built from a validated agent name and checked paths. The
conf file and the drop-in are rendered in :mod:`nixos_conf`.
"""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path

from hive_c0re.errors import HiveError, InvalidInput
from hive_c0re.lifecycle.backend import (
    UNIT_NOT_LOADED,
    ContainerSpec,
    Systemctl,
    SystemctlError,
    render_environment,
    write_if_changed,
)
from hive_c0re.lifecycle.nixos_conf import checked_path, nspawn_binds, render_dropin, rewrite_conf
from hive_c0re.lifecycle.safefs import replace_file
from hive_c0re.names import validate_container_name

log = logging.getLogger(__name__)

Runner = Callable[[list[str]], subprocess.CompletedProcess[str]]

CONF_DIR = Path("/etc/nixos-containers")
DROPIN_ROOT = Path("/etc/systemd/system.control")
DROPIN = "50-hyperhive.conf"
PROFILES = Path("/nix/var/nix/profiles/per-container")
# In the policy dir, so /etc/hive/environment inside: the harness unit's
# EnvironmentFile (nixos/modules/harness.nix). A booted container's services
# never see what nspawn passes its init, so the environment goes as a file.
ENVIRONMENT_FILE = "environment"

_STORE_PATH = re.compile(r"/nix/store/[0-9a-z]{32}-[A-Za-z0-9+._?=-]+")
_FLAKE_REF = re.compile(
    r"(?P<flake>(?!-)[A-Za-z0-9._~:/?&=%+@,-]+)#(?P<attr>[A-Za-z0-9_][A-Za-z0-9_-]*)")

# nixos-container builds a flake into a relative ".tmp" link in its working
# directory, so two builds in one process race (nixpkgs 562850). Parallel
# installs build with NixosBackend.build and pass system_path instead.
_FLAKE_BUILDS = threading.Lock()


class ContainerCommandError(HiveError):
    code = "container"


def run_command(argv: list[str]) -> subprocess.CompletedProcess[str]:
    """The real runner: no shell, output captured, no timeout (a build may take long)."""
    return subprocess.run(argv, capture_output=True, text=True, check=False)


def container_name(agent: str) -> str:
    return f"h-{validate_container_name(agent)}"


def unit_name(agent: str) -> str:
    return f"container@{container_name(agent)}.service"


# --- checks ---------------------------------------------------------------


def checked_store_path(path: Path) -> str:
    text = str(path)
    if not _STORE_PATH.fullmatch(text):
        raise InvalidInput(f"{text!r} is not a Nix store path")
    return text


def split_flake_ref(ref: str) -> tuple[str, str]:
    """Split ``<flake>#<attr>`` as nixos-container does; raise if ``ref`` is not that."""
    match = _FLAKE_REF.fullmatch(ref)
    if match is None:
        raise InvalidInput(
            f"flake reference {ref!r} is not usable for nixos-container",
            hint="expected <flake-url>#<nixosConfigurations attribute>, no spaces or quotes",
        )
    return match["flake"], match["attr"]


# --- command lines ----------------------------------------------------------


def create_argv(agent: str, *, flake: str | None = None,
                system_path: Path | None = None) -> list[str]:
    """``nixos-container create`` from a flake, or from a system built beforehand."""
    argv = ["nixos-container", "create", container_name(agent)]
    if flake is not None and system_path is None:
        split_flake_ref(flake)
        return [*argv, "--flake", flake]
    if system_path is not None and flake is None:
        return [*argv, "--system-path", checked_store_path(system_path)]
    raise HiveError("nixos-container create needs exactly one of a flake and a system path")


def update_argv(agent: str, flake: str) -> list[str]:
    split_flake_ref(flake)
    return ["nixos-container", "update", container_name(agent), "--flake", flake]


def set_system_argv(agent: str, system_path: Path) -> list[str]:
    """Point an existing container's profile at a built system.

    ``nixos-container update`` ignores ``--system-path`` (it rebuilds the
    recorded flake), so this does what its update does after building.
    """
    profile = PROFILES / container_name(agent) / "system"
    return ["nix-env", "--profile", str(profile), "--set", checked_store_path(system_path)]


def destroy_argv(agent: str) -> list[str]:
    return ["nixos-container", "destroy", container_name(agent)]


def toplevel_installable(ref: str) -> str:
    """What nixos-container builds for ``--flake <ref>``."""
    flake, attr = split_flake_ref(ref)
    return f'{flake}#nixosConfigurations."{attr}".config.system.build.toplevel'


def build_argv(ref: str, out_link: Path) -> list[str]:
    return [
        "nix", "build",
        "--out-link", checked_path(out_link),
        "--print-out-paths",
        "--", toplevel_installable(ref),
    ]


# --- the backend ------------------------------------------------------------

UNSAFE_SHARED_UIDS = (
    "nixos_private_users=no: agent containers run as root on the host, without a user "
    "namespace; an agent that escapes its container is host root")


class NixosBackend:
    """Agents as imperative NixOS containers under ``container@h-<agent>.service``."""

    name = "nixos"

    def __init__(self, runner: Runner, systemctl: Systemctl, *,
                 flake_for: Callable[[str], str], conf_dir: Path = CONF_DIR,
                 dropin_root: Path = DROPIN_ROOT, private_users: bool = True) -> None:
        self.runner = runner
        self.systemctl = systemctl
        self.flake_for = flake_for
        self.conf_dir = conf_dir
        self.dropin_root = dropin_root
        self.private_users = private_users
        if not private_users:
            log.warning(UNSAFE_SHARED_UIDS)

    def unit(self, agent: str) -> str:
        return unit_name(agent)

    def conf_path(self, agent: str) -> Path:
        return self.conf_dir / f"{container_name(agent)}.conf"

    def dropin_dir(self, agent: str) -> Path:
        return self.dropin_root / f"{unit_name(agent)}.d"

    def install(self, spec: ContainerSpec, system_path: Path | None = None) -> None:
        """Create or update the container, then rewrite its conf and drop-in.

        With ``system_path`` (from :meth:`build`) nothing is built here, so
        installs may run in parallel; without it the agent's flake is built
        by nixos-container, one build at a time.
        """
        nspawn_binds(spec, private_users=self.private_users)  # refuse before running anything
        limits = spec.resources.set_property_args()
        environment = render_environment(spec.environment) if spec.environment else None
        self._provision(spec.name, system_path)
        self._rewrite_conf(spec)
        self._write_environment(spec, environment)
        if self._write_dropin(spec.name, render_dropin(spec)):
            self._systemctl("daemon-reload")  # a new container (or an older install's drop-in)
        # Persistent: systemd writes them beside our drop-in, in system.control.
        self._systemctl("set-property", unit_name(spec.name), *limits)

    def build(self, agent: str, out_link: Path) -> Path:
        """Build the agent's system (GC root at ``out_link``); return its store path."""
        done = self._run(build_argv(self.flake_for(agent), out_link))
        printed = done.stdout.split()
        if not printed:
            raise ContainerCommandError(f"nix build printed no store path for {agent}")
        return Path(checked_store_path(Path(printed[-1])))

    def uninstall(self, agent: str) -> None:
        """Stop and destroy the container; its binds' sources (the agent's state) stay.

        Idempotent: a container already destroyed is left as it is.
        """
        self.stop(agent)
        if self.conf_path(agent).exists():
            self._run(destroy_argv(agent))
        dropins = self.dropin_dir(agent)
        if dropins.exists():
            shutil.rmtree(dropins)
            self._systemctl("daemon-reload")
        self._systemctl("reset-failed", unit_name(agent), check=False)

    def start(self, agent: str) -> None:
        self._systemctl("reset-failed", unit_name(agent), check=False)
        self._systemctl("start", unit_name(agent))

    def stop(self, agent: str) -> None:
        done = self._systemctl("stop", unit_name(agent), check=False)
        if done.returncode not in (0, UNIT_NOT_LOADED):
            raise SystemctlError(f"systemctl stop {unit_name(agent)} failed: {_why(done)}")

    def restart(self, agent: str) -> None:
        self._systemctl("reset-failed", unit_name(agent), check=False)
        self._systemctl("restart", unit_name(agent))

    def is_active(self, agent: str) -> bool:
        done = self._systemctl("is-active", "--quiet", unit_name(agent), check=False)
        if done.returncode not in (0, 3, 4):  # 3: not active, 4: no such unit
            raise SystemctlError(f"systemctl is-active failed: {_why(done)}")
        return done.returncode == 0

    def _provision(self, agent: str, system_path: Path | None) -> None:
        exists = self.conf_path(agent).exists()
        if system_path is not None:
            self._run(set_system_argv(agent, system_path) if exists
                      else create_argv(agent, system_path=system_path))
            return
        flake = self.flake_for(agent)
        argv = update_argv(agent, flake) if exists else create_argv(agent, flake=flake)
        with _FLAKE_BUILDS:
            self._run(argv)

    def _rewrite_conf(self, spec: ContainerSpec) -> None:
        path = self.conf_path(spec.name)
        if not path.exists():
            raise ContainerCommandError(f"nixos-container left no {path}")
        text = rewrite_conf(path.read_text(), spec, private_users=self.private_users)
        write_if_changed(path, text)

    def _write_environment(self, spec: ContainerSpec, text: str | None) -> None:
        """The container's environment (the operator's file's secrets among it), readable
        by the container's root alone: the model's own uid never reads it. Without one
        (no HYPERHIVE_AGENT) there is no file, and the harness unit, which requires it,
        refuses to start."""
        if text is None:
            (spec.policy_dir / ENVIRONMENT_FILE).unlink(missing_ok=True)
            return
        owner = spec.uid_base if self.private_users else 0
        replace_file(spec.policy_dir, ENVIRONMENT_FILE, text, owner=owner, mode=0o400)

    def _write_dropin(self, agent: str, text: str) -> bool:
        return write_if_changed(self.dropin_dir(agent) / DROPIN, text)

    def _systemctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self._run(self.systemctl.argv(*args), check=check, error=SystemctlError)

    def _run(self, argv: list[str], *, check: bool = True,
             error: type[HiveError] = ContainerCommandError) -> subprocess.CompletedProcess[str]:
        log.info("running %s", argv)
        done = self.runner(argv)
        if check and done.returncode != 0:
            raise error(f"{' '.join(argv[:2])} failed: {_why(done)}")
        return done


def _why(done: subprocess.CompletedProcess[str]) -> str:
    return done.stderr.strip()[-500:] or f"exit status {done.returncode}"
