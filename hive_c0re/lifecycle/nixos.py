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
a small character set. Resource limits go into a drop-in under
``/etc/systemd/system.control``: ``/etc/systemd/system`` is a read-only link
into the Nix store on NixOS.

Every command runs through an injected runner (argv in, CompletedProcess out)
and every argv is built from a validated agent name and checked paths.
"""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterable
from itertools import islice
from pathlib import Path

from hive_c0re.errors import HiveError, InvalidInput
from hive_c0re.lifecycle.backend import (
    CONTAINER_CLAUDE,
    CONTAINER_EGRESS,
    CONTAINER_POLICY,
    CONTAINER_RUN,
    CONTAINER_STATE,
    UNIT_NOT_LOADED,
    ContainerSpec,
    Systemctl,
    SystemctlError,
    write_if_changed,
)
from hive_c0re.names import validate_agent_name

log = logging.getLogger(__name__)

Runner = Callable[[list[str]], subprocess.CompletedProcess[str]]

CONF_DIR = Path("/etc/nixos-containers")
DROPIN_ROOT = Path("/etc/systemd/system.control")
DROPIN = "50-hyperhive.conf"
PROFILES = Path("/nix/var/nix/profiles/per-container")

# Each of these gives the container a link to the host (nspawn's
# --network-veth, --network-bridge, --port, --network-interface,
# --network-macvlan): cleared, so the container's private network has
# nothing but its loopback.
NETWORK_KEYS = (
    "HOST_ADDRESS", "LOCAL_ADDRESS", "HOST_ADDRESS6", "LOCAL_ADDRESS6", "HOST_BRIDGE",
    "HOST_PORT", "LOCAL_MAC_ADDRESS", "INTERFACES", "MACVLANS",
)
BIND_TARGETS = frozenset({CONTAINER_RUN, CONTAINER_STATE, CONTAINER_CLAUDE, CONTAINER_POLICY,
                          CONTAINER_EGRESS})
BIND_OPTIONS = ("--bind", "--bind-ro")

_LINE_BREAK = re.compile(r"\r\n|\r|\n")  # systemd's, not str.splitlines()'s
_KEY = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*=(.*)")
_BARE_VALUE = re.compile(r"[A-Za-z0-9_./:@%+,=-]+")
_SAFE_PATH = re.compile(r"/[A-Za-z0-9._+@/-]*")
_STORE_PATH = re.compile(r"/nix/store/[0-9a-z]{32}-[A-Za-z0-9+._?=-]+")
_FLAKE_REF = re.compile(
    r"(?P<flake>(?!-)[A-Za-z0-9._~:/?&=%+@,-]+)#(?P<attr>[A-Za-z0-9_][A-Za-z0-9_-]*)")
_UNIT_VALUE = re.compile(r"[A-Za-z0-9.%]+")
_ESCAPED_IN_QUOTES = '"\\`$'

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
    return f"h-{validate_agent_name(agent)}"


def unit_name(agent: str) -> str:
    return f"container@{container_name(agent)}.service"


# --- checks ---------------------------------------------------------------


def checked_path(path: Path) -> str:
    """Return ``path`` as text if it is safe in an unquoted shell expansion; raise if not."""
    text = str(path)
    if not _SAFE_PATH.fullmatch(text) or ".." in path.parts:
        raise InvalidInput(
            f"path {text!r} cannot be bound into a nixos container: the container's start "
            "script expands EXTRA_NSPAWN_FLAGS unquoted",
            hint="use an absolute path of letters, digits and . _ + @ - / only",
        )
    return text


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


# --- the conf file ----------------------------------------------------------


def nspawn_binds(spec: ContainerSpec, *, private_users: bool) -> list[str]:
    """The hive's binds as nspawn flags; writable ones idmapped under a user namespace."""
    idmap = ":idmap" if private_users else ""
    binds = [
        f"--bind={checked_path(spec.runtime_dir)}:{CONTAINER_RUN}{idmap}",
        f"--bind={checked_path(spec.state_dir)}:{CONTAINER_STATE}{idmap}",
        f"--bind={checked_path(spec.claude_dir)}:{CONTAINER_CLAUDE}{idmap}",
        f"--bind-ro={checked_path(spec.policy_dir)}:{CONTAINER_POLICY}",
    ]
    if spec.egress_dir is not None:
        binds.append(f"--bind-ro={checked_path(spec.egress_dir)}:{CONTAINER_EGRESS}")
    return binds


def parse_value(raw: str) -> str:
    """The value systemd's EnvironmentFile= parser reads from one line's right-hand side."""
    out: list[str] = []
    quote = ""
    chars = iter(raw.strip())
    for char in chars:
        if char == "\\" and quote != "'":
            escaped = next(chars, "")
            out.append(escaped if not quote or escaped in _ESCAPED_IN_QUOTES else char + escaped)
        elif (quote and char == quote) or (not quote and char in "\"'"):
            quote = "" if quote else char
        else:
            out.append(char)
    if quote:
        raise InvalidInput(f"unterminated {quote} in nixos container conf value {raw!r}")
    return "".join(out)


def render_assignment(key: str, value: str) -> str:
    if not value or _BARE_VALUE.fullmatch(value):
        return f"{key}={value}"
    escaped = "".join("\\" + c if c in _ESCAPED_IN_QUOTES else c for c in value)
    return f'{key}="{escaped}"'


def _flags(words: Iterable[str]) -> list[list[str]]:
    """Group words into flags: a bind option without ``=`` takes the next word."""
    rest = iter(words)
    return [[word, *islice(rest, 1)] if word in BIND_OPTIONS else [word] for word in rest]


def _is_hive_bind(flag: list[str]) -> bool:
    option, _, spec = flag[0].partition("=")
    source, _, tail = (flag[1] if len(flag) == 2 else spec).partition(":")
    return option in BIND_OPTIONS and Path(tail.partition(":")[0] or source) in BIND_TARGETS


def foreign_flags(words: Iterable[str]) -> list[str]:
    """``words`` without any bind onto a hive target (``--bind=S:D`` or ``--bind S:D``)."""
    return [word for flag in _flags(words) if not _is_hive_bind(flag) for word in flag]


def managed_settings(spec: ContainerSpec, existing_flags: str, *,
                     private_users: bool) -> dict[str, str]:
    """Every key the backend owns, in the order missing ones are appended."""
    flags = foreign_flags(existing_flags.split()) + nspawn_binds(spec, private_users=private_users)
    return {
        "PRIVATE_NETWORK": "1",
        **dict.fromkeys(NETWORK_KEYS, ""),
        "AUTO_START": "0",  # the daemon starts containers, once their binds exist
        # A number, not "pick": container uid 0 is uid_base on the host, as the
        # spec says; the start script idmaps its /nix binds for numbers too.
        "PRIVATE_USERS": str(spec.uid_base) if private_users else "no",
        "EXTRA_NSPAWN_FLAGS": " ".join(flags),
    }


def _key(line: str) -> str | None:
    match = _KEY.match(line)
    return match[1] if match else None


def _last_value(lines: Iterable[str], key: str) -> str:
    values = [m[2] for m in map(_KEY.match, lines) if m and m[1] == key]
    return parse_value(values[-1]) if values else ""


def rewrite_conf(text: str, spec: ContainerSpec, *, private_users: bool) -> str:
    """Return ``text`` (a nixos-container conf) set up for ``spec``; idempotent.

    Our keys are rewritten where they first appear (later duplicates dropped),
    missing ones appended; comments and other keys are kept in order. Raise
    InvalidInput if a bound path is unsafe unquoted or a value cannot be parsed.
    """
    lines = _LINE_BREAK.split(text.removesuffix("\n")) if text else []
    wanted = managed_settings(spec, _last_value(lines, "EXTRA_NSPAWN_FLAGS"),
                              private_users=private_users)
    out: list[str] = []
    done: set[str] = set()
    for line in lines:
        key = _key(line)
        if key is None or key not in wanted:
            out.append(line)
        elif key not in done:
            out.append(render_assignment(key, wanted[key]))
            done.add(key)
    out += [render_assignment(key, value) for key, value in wanted.items() if key not in done]
    return "\n".join(out) + "\n"


# --- the drop-in ------------------------------------------------------------


def render_dropin(spec: ContainerSpec) -> str | None:
    """The resource-limit drop-in for the agent's unit; None when it has no limits."""
    props = spec.resources.unit_properties()
    for key, value in props:
        if not _UNIT_VALUE.fullmatch(value):
            raise InvalidInput(f"{key}={value!r} cannot go into a unit file")
    if not props:
        return None
    lines = [f"# hive-c0re: limits for agent {spec.name} from agent.toml; rewritten on install.",
             "[Service]", *(f"{key}={value}" for key, value in props)]
    return "\n".join(lines) + "\n"



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
        dropin = render_dropin(spec)
        self._provision(spec.name, system_path)
        self._rewrite_conf(spec)
        if self._write_dropin(spec.name, dropin):
            self._systemctl("daemon-reload")

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

    def _write_dropin(self, agent: str, text: str | None) -> bool:
        path = self.dropin_dir(agent) / DROPIN
        if text is not None:
            return write_if_changed(path, text)
        if not path.exists():
            return False
        path.unlink()
        return True

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
