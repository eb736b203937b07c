"""The nspawn backend: one ``hive-agent@<name>.service`` per agent, any systemd distribution.

Each container boots from a small per-agent root, read-only (see
:mod:`hive_c0re.lifecycle.rootfs`: the host's ``/usr`` read-only (or the
directory :class:`HostSide` names: NixOS's system profile), ``/etc``
files from daemon-only space, nothing of ``/root``, ``/home`` or the hive's
state), runs in its own user namespace (container uid 0 is ``uid_base`` on
the host) and sees only its binds: ``/run/hive``, ``/state``,
``/root/.claude`` and, read-only, ``/etc/hive`` and ``/run/hive-egress``.
Its network namespace holds only a loopback: the way out is the egress
process (:mod:`hive_c0re.egress`). What the container can write is handed
over with :mod:`hive_c0re.lifecycle.safefs`, never by path.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from hive_c0re.errors import HiveError
from hive_c0re.lifecycle import rootfs
from hive_c0re.lifecycle.backend import (
    CONTAINER_STATE,
    ContainerSpec,
    Systemctl,
    render_environment,
    write_if_changed,
)
from hive_c0re.lifecycle.safefs import give_tree
from hive_c0re.lifecycle.uids import UID_RANGE
from hive_c0re.names import validate_container_name
from hive_c0re.units import render

log = logging.getLogger(__name__)

TEMPLATE = "hive-agent@.service"
# Where an agent's ExecStart and limits lived before the template read them from a
# file: removed on the agent's next install (one daemon-reload, once).
OLD_DROPIN = "50-hyperhive.conf"
NSPAWN_VARIABLE = "HIVE_NSPAWN"
NSPAWN = "/usr/bin/systemd-nspawn"  # where neither the setting nor PATH names one
CONTAINER_USR = Path("/usr")
# Public certificates only: the container must reach the API over TLS, and
# /etc/ssl/private must stay on the host.
CERTS = Path("/etc/ssl/certs")
HOST_READ_ONLY = (CONTAINER_USR, CERTS)
UNSAFE_IN_UNIT = set(" \t\n\"'\\$;%`")


@dataclass(frozen=True)
class HostSide:
    """What of the host the containers run on and see: its nspawn, and their ``/usr``.

    ``usr`` is the host directory bound read-only as the container's ``/usr``
    (and so ``/bin``, ``/lib`` and ``/sbin``, the root's links into it): the
    host's own ``/usr`` on a merged-/usr distribution; on NixOS, whose
    ``/usr`` holds only ``bin/env``, the system profile
    (``/run/current-system/sw``: ``sh``, ``env`` and every system program).
    """

    nspawn: str = NSPAWN
    usr: Path = CONTAINER_USR

    def read_only(self) -> list[tuple[Path, Path]]:
        """(host, container) of the host directories every container reads."""
        return [(self.usr, CONTAINER_USR), (CERTS, CERTS)]

    def as_host(self, inside: Path) -> Path:
        """The host path of ``inside``, a path the container sees."""
        if inside.is_relative_to(CONTAINER_USR):
            return self.usr / inside.relative_to(CONTAINER_USR)
        return inside


DEFAULT_HOST = HostSide()


def host_side(nspawn_program: str, container_usr: str) -> HostSide:
    """The daemon's settings as a :class:`HostSide`; an empty program is PATH's.

    Not checked here, where a refusal would stop the daemon: each install
    checks both as it writes them (a clear error for that verb alone).
    """
    program = nspawn_program or shutil.which("systemd-nspawn") or NSPAWN
    return HostSide(nspawn=program, usr=Path(container_usr))


def unit_name(agent: str) -> str:
    return f"hive-agent@{validate_container_name(agent)}.service"


def host_python_binds() -> list[Path]:
    """The directories this Python and hyperhive's packages live in, outside /usr.

    The packages are bound one by one, not the directory holding them: a
    checkout may sit in a 0700 directory (``mktemp -d``) that the container,
    reading only what any host user may, could not enter; and nothing else of
    the checkout is the container's business.
    """
    import hive_ag3nt
    import hive_c0re
    import hive_m1nd

    packages = (Path(module.__file__ or "").resolve().parent
                for module in (hive_c0re, hive_ag3nt, hive_m1nd))
    wanted = {Path(sys.base_prefix).resolve(), Path(sys.prefix).resolve(), *packages}
    outside = [p for p in wanted if not any(p.is_relative_to(ro) for ro in HOST_READ_ONLY)]
    # A package inside a bound prefix (an installed wheel) is seen through that bind.
    return sorted(p for p in outside
                  if not any(p != other and p.is_relative_to(other) for other in outside))


def _checked(path: Path) -> str:
    text = str(path)
    if not path.is_absolute() or UNSAFE_IN_UNIT & set(text):
        raise HiveError(f"path {text!r} cannot go into a unit file",
                        hint="use an absolute path without spaces, quotes, '$', '%' or ';'")
    return text


def nspawn_argv(spec: ContainerSpec, root: Path, host: HostSide = DEFAULT_HOST) -> list[str]:
    """The container's command line, one option per element."""
    return [
        host.nspawn,
        *_options(spec, root),
        *rootfs.root_options(root.parent, spec.name),
        *_read_only_binds(spec, host),
        *_hive_binds(spec),
        # Names only: nspawn takes each value from its own environment, which the unit
        # loads from a 0600 file, so no value (an API key) ever lands in a unit file.
        *(f"--setenv={key}" for key in sorted(spec.environment)),
        "--",
        *spec.command,
    ]


def _options(spec: ContainerSpec, root: Path) -> list[str]:
    return [
        "--quiet",
        "--keep-unit",
        "--register=no",
        f"--directory={_checked(root)}",
        f"--machine=h-{spec.name}",
        f"--private-users={spec.uid_base}:{UID_RANGE}",
        # The root tree stays the host's (the container sees it as nobody's, read-only);
        # what the container may write is handed over by the daemon, see install().
        "--private-users-ownership=off",
        # A network namespace with only a loopback: no host loopback, no other
        # container; egress is the host's proxy, reached over /run/hive-egress.
        "--private-network",
        "--as-pid2",
        "--console=pipe",
        "--kill-signal=SIGRTMIN+3",
        f"--chdir={CONTAINER_STATE}",
    ]


def _read_only_binds(spec: ContainerSpec, host: HostSide) -> list[str]:
    python = Path(sys.base_prefix).resolve()
    if host.usr != CONTAINER_USR and python.is_relative_to(CONTAINER_USR):
        # Its /usr is another directory: this Python would not be there.
        raise HiveError(f"the harness's Python ({python}) is in the host's /usr, which the "
                        f"containers do not see: their /usr is {host.usr}",
                        hint="leave container_usr at /usr, or run hyperhive from a Python "
                             "outside /usr (on NixOS, the store's)")
    present = [(source, inside) for source, inside in host.read_only() if source.exists()]
    same = [(ro, ro) for ro in (*host_python_binds(), *spec.read_only_binds)]
    # Not idmapped: the container reads only what any user of the host may read,
    # never a file the host keeps 0600 (a key in the checkout).
    return [f"--bind-ro={_checked(source)}" if source == inside
            else f"--bind-ro={_checked(source)}:{_checked(inside)}"
            for source, inside in (*present, *same)]


def _hive_binds(spec: ContainerSpec) -> list[str]:
    binds = [f"--bind={_checked(host)}:{inside}" if writable
             else f"--bind-ro={_checked(host)}:{inside}"
             for host, inside, writable in spec.hive_binds()]
    # idmapped: what the container writes stays owned by the daemon's user on the host.
    binds += [f"--bind={_checked(host)}:{_checked(inside)}:idmap"
              for host, inside in spec.writable_binds]
    return binds


def render_nspawn_file(argv: list[str]) -> str:
    """The agent's ``.<name>.nspawn`` EnvironmentFile: :func:`nspawn_argv` past the
    program as ``HIVE_NSPAWN``, which the template's ``ExecStart=`` splits into words.

    systemd splits an unbraced ``$VAR`` at whitespace and honours quotes (seen
    on 252), so a word with spaces (only the command's can have them) goes in
    single quotes; quotes, backslashes and ``$`` are refused outright.
    """
    if not argv or not argv[0].startswith("/") or Path(argv[0]).name != "systemd-nspawn":
        raise HiveError("the container's command line must start with systemd-nspawn's path")
    for word in argv[1:]:
        if not word or UNSAFE_IN_UNIT & set(word) - {" "} or not word.isprintable():
            raise HiveError(f"{word!r} cannot go into the container's command line",
                            hint="the agent command's words and every bound path must be "
                                 "free of quotes, '$', '%', ';', backslashes and newlines")
    words = (f"'{word}'" if " " in word else word for word in argv[1:])
    return f'{NSPAWN_VARIABLE}="{" ".join(words)}"\n'


def environment_file(environment: Mapping[str, str]) -> str:
    """The agent's ``.<name>.env``: :func:`render_environment`, without the hive's own
    variable (the template reads it last, from the nspawn file, which would win anyway)."""
    if NSPAWN_VARIABLE in environment:
        raise HiveError(f"{NSPAWN_VARIABLE} is the hive's own variable; the container "
                        "cannot have it", hint="rename it in agent_env_file")
    return render_environment(environment)


def render_template(roots: Path, unit_dir: Path, nspawn: str = NSPAWN) -> str:
    """The template unit in ``unit_dir``, reading each agent's files from ``roots``,
    running ``nspawn``: the one template, on NixOS too (its module declares none)."""
    text = render(TEMPLATE).replace("@ROOTS@", _checked(roots))
    text = text.replace("@UNIT_DIR@", _checked(unit_dir))
    return text.replace("@NSPAWN@", _checked(Path(nspawn)))


def check_executables(spec: ContainerSpec, host: HostSide = DEFAULT_HOST) -> None:
    """Refuse a config whose programs the container could not run.

    The container sees the host's ``/usr`` (``host.usr``) and the harness's
    Python, so a program must live there and be executable, both as written
    (what the container runs) and once every symlink and ``..`` is resolved
    (what the host checked): ``/usr/../x`` or a link from ``/usr`` to
    elsewhere is refused.
    """
    visible: Sequence[Path] = (*HOST_READ_ONLY, *host_python_binds(), *spec.read_only_binds)
    resolved = [host.as_host(root).resolve() for root in visible]
    for program in spec.executables:
        path = Path(program)
        if not path.is_absolute() or ".." in path.parts:
            raise HiveError(f"{program} must be an absolute path without '..'")
        target = host.as_host(path).resolve()
        if not any(path.is_relative_to(root) for root in visible) or \
                not any(target.is_relative_to(root) for root in resolved):
            raise HiveError(f"{program} is outside what the container sees "
                            f"({', '.join(str(v) for v in visible)})")
        if not target.is_file() or not os.access(target, os.X_OK):
            raise HiveError(f"{program} is not an executable file in the container")


class NspawnBackend:
    """Agents as ``systemd-nspawn`` containers under ``hive-agent@<name>.service``."""

    name = "nspawn"

    def __init__(self, systemctl: Systemctl, unit_dir: Path, roots: Path,
                 host: HostSide = DEFAULT_HOST) -> None:
        self.systemctl = systemctl
        self.unit_dir = unit_dir
        self.roots = roots
        self.host = host

    def unit(self, agent: str) -> str:
        return unit_name(agent)

    def _old_dropin_dir(self, agent: str) -> Path:
        return self.unit_dir / f"{unit_name(agent)}.d"

    def _nspawn_file(self, agent: str) -> Path:
        return self.roots / f".{validate_container_name(agent)}.nspawn"

    def install(self, spec: ContainerSpec) -> None:
        """Write the agent's root, its environment and nspawn files, and set its limits.

        Nothing here needs a daemon-reload but a changed template (the first
        agent, an upgrade) or the removal of an older install's drop-in.
        """
        check_executables(spec, self.host)
        template = render_template(self.roots, self.unit_dir, self.host.nspawn)
        reload = write_if_changed(self.unit_dir / TEMPLATE, template, mode=0o644)
        old = self._old_dropin_dir(spec.name) / OLD_DROPIN
        if old.exists():
            old.unlink()
            reload = True
        if reload:
            self.systemctl.run("daemon-reload")
        # The unit is loaded as it will start (nothing starts it before install returns);
        # limits that cannot be set are refused here, before any of the agent's files.
        self.systemctl.set_limits(unit_name(spec.name), spec.resources)
        self._write_files(spec)

    def _write_files(self, spec: ContainerSpec) -> None:
        """The agent's root, the dirs it writes, its environment and nspawn files."""
        root = rootfs.build_tree(self.roots, spec.name, spec.uid_base)
        rootfs.write_etc(self.roots, spec.name)
        argv = nspawn_argv(spec, root, self.host)
        nspawn_file = render_nspawn_file(argv)
        rootfs.make_mount_points(root, argv)
        for owned in (spec.runtime_dir, spec.state_dir, spec.claude_dir):
            owned.mkdir(parents=True, exist_ok=True)
            give_tree(owned, spec.uid_base)
        spec.policy_dir.chmod(0o755)
        write_if_changed(self.roots / f".{spec.name}.env", environment_file(spec.environment),
                         mode=0o600)
        write_if_changed(self._nspawn_file(spec.name), nspawn_file, mode=0o600)

    def uninstall(self, agent: str) -> None:
        self.stop(agent)
        self.systemctl.reset_failed(unit_name(agent))
        rootfs.remove(self.roots, agent)
        for path in (self.roots / f".{agent}.env", self._nspawn_file(agent)):
            path.unlink(missing_ok=True)
        old = self._old_dropin_dir(agent)
        if old.exists():
            shutil.rmtree(old, ignore_errors=True)
            self.systemctl.run("daemon-reload")

    def _need_installed(self, agent: str) -> None:
        # The template would start it as a skipped condition; say why instead.
        if not (self._nspawn_file(agent).exists()
                or (self._old_dropin_dir(agent) / OLD_DROPIN).exists()):
            raise HiveError(f"{agent}'s container is not installed",
                            hint=f"`hive-c0re spawn {agent}` installs it")

    def start(self, agent: str) -> None:
        self._need_installed(agent)
        self.systemctl.begin("start", unit_name(agent))

    def stop(self, agent: str) -> None:
        self.systemctl.stop(unit_name(agent))

    def restart(self, agent: str) -> None:
        self._need_installed(agent)
        self.systemctl.begin("restart", unit_name(agent))

    def is_active(self, agent: str) -> bool:
        return self.systemctl.show(unit_name(agent), "ActiveState") == "active"
