"""The nixos backend: one imperative ``nixos-container`` ``h-<agent>`` per agent.

The backend builds the container's system from the agent's applied flake
with ``nix build --no-write-lock-file`` (nothing written into the repo: the
flake's inputs are the host's as they are at each build, never pinned), and
hands it to ``nixos-container create --system-path`` or sets the existing
container's profile; nixos-container's own ``--flake`` build, which writes
and stages a ``flake.lock``, is never used. ``container@h-<agent>.service``
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
# Where the out-links go by default (the daemon's: Paths.nixos_builds).
BUILDS = Path("/var/lib/hyperhive/nixos-builds")
DROPIN = "50-hyperhive.conf"
PROFILES = Path("/nix/var/nix/profiles/per-container")
# In the policy dir, so /etc/hive/environment inside: the harness unit's
# EnvironmentFile (nixos/modules/harness.nix). A booted container's services
# never see what nspawn passes its init, so the environment goes as a file.
ENVIRONMENT_FILE = "environment"

_STORE_PATH = re.compile(r"/nix/store/[0-9a-z]{32}-[A-Za-z0-9+._?=-]+")
_FLAKE_REF = re.compile(
    r"(?P<flake>(?!-)[A-Za-z0-9._~:/?&=%+@,-]+)#(?P<attr>[A-Za-z0-9_][A-Za-z0-9_-]*)")


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


def create_argv(agent: str, system_path: Path) -> list[str]:
    """``nixos-container create`` from a system built beforehand (:func:`build_argv`)."""
    return ["nixos-container", "create", container_name(agent),
            "--system-path", checked_store_path(system_path)]


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
        # Root's nix writes nothing into the repo, and pins nothing: the host's
        # hyperhive, nixpkgs and unfree answer reach the agent at its next build.
        "--no-write-lock-file",
        # Pure whatever the host's nix.conf says: agent.nix, the manager's to propose,
        # reads nothing outside the repo.
        "--option", "pure-eval", "true",
        "--out-link", checked_path(out_link),
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
                 dropin_root: Path = DROPIN_ROOT, builds: Path = BUILDS,
                 private_users: bool = True) -> None:
        self.runner = runner
        self.systemctl = systemctl
        self.flake_for = flake_for
        self.conf_dir = conf_dir
        self.dropin_root = dropin_root
        self.builds = builds
        self.private_users = private_users
        if not private_users:
            log.warning(UNSAFE_SHARED_UIDS)

    def unit(self, agent: str) -> str:
        return unit_name(agent)

    def conf_path(self, agent: str) -> Path:
        return self.conf_dir / f"{container_name(agent)}.conf"

    def dropin_dir(self, agent: str) -> Path:
        return self.dropin_root / f"{unit_name(agent)}.d"

    def out_link(self, agent: str) -> Path:
        return self.builds / container_name(agent)

    def install(self, spec: ContainerSpec, system_path: Path | None = None) -> None:
        """Create or update the container, then rewrite its conf and drop-in.

        The system is ``system_path`` (from :meth:`build`), else built here
        the same way; builds of different agents may run at once.
        """
        nspawn_binds(spec, private_users=self.private_users)  # refuse before running anything
        limits = spec.resources.set_property_args()
        environment = render_environment(spec.environment) if spec.environment else None
        if system_path is None:
            split_flake_ref(self.flake_for(spec.name))  # refuse before running anything
            system_path = self.build(spec.name, self.out_link(spec.name))
        self._provision(spec.name, system_path)
        self._rewrite_conf(spec)
        self._write_environment(spec, environment)
        if self._write_dropin(spec.name, render_dropin(spec)):
            self._systemctl("daemon-reload")  # a new container (or an older install's drop-in)
        # Persistent: systemd writes them beside our drop-in, in system.control.
        self._systemctl("set-property", unit_name(spec.name), *limits)

    def build(self, agent: str, out_link: Path) -> Path:
        """Build the agent's system (GC root at ``out_link``); return its store path.

        The path is read from the out-link (in the daemon's own space), which
        every Nix writes, rather than from ``--print-out-paths``, which older
        ones lack.
        """
        out_link.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._run(build_argv(self.flake_for(agent), out_link))
        try:
            built = out_link.readlink()
        except OSError as exc:
            raise ContainerCommandError(f"nix build left no out-link at {out_link} for "
                                        f"{agent}: {exc.strerror}") from None
        return Path(checked_store_path(built))

    def uninstall(self, agent: str) -> None:
        """Stop and destroy the container; its binds' sources (the agent's state) stay.

        Idempotent: a container already destroyed is left as it is.
        """
        self.stop(agent)
        if self.conf_path(agent).exists():
            self._run(destroy_argv(agent))
        self.out_link(agent).unlink(missing_ok=True)  # its system may be collected now
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

    def _provision(self, agent: str, system_path: Path) -> None:
        exists = self.conf_path(agent).exists()
        self._run(set_system_argv(agent, system_path) if exists
                  else create_argv(agent, system_path))

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
