"""Stand-ins for the commands only a NixOS host has: a recorder, and a model of
``nixos-container`` and ``systemctl`` for the Backend contract.

nixos-container and a NixOS systemd are absent here. The model answers only
what the contract observes, as nixpkgs' ``nixos-container`` and its
``container@.service`` template do (nixos/modules/virtualisation/nixos-containers.nix):
the container exists while its conf in ``/etc/nixos-containers`` does;
``destroy`` stops it and removes the conf; the template is ``Type=notify`` (a
start fails when the container's init exits before it is ready) with
``Restart=on-failure``, unless a drop-in says otherwise. Any other command is
refused, so the model never answers what it does not know.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from hive_c0re.lifecycle.nixos import CONF_DIR, DROPIN_ROOT

DATA = Path(__file__).parent / "data" / "nixos"
_UNIT = re.compile(r"container@(h-[a-z][a-z0-9-]*)\.service")

Answer = subprocess.CompletedProcess[str]


@dataclass
class Recorder:
    """Stands in for the commands only a NixOS host has: records argv, answers as told."""

    returncode: int = 0
    stdout: str = ""
    stderr: str = ""
    effect: Callable[[list[str]], object] | None = None
    calls: list[list[str]] = field(default_factory=list)

    def __call__(self, argv: list[str]) -> Answer:
        self.calls.append(argv)
        if self.effect is not None:
            self.effect(argv)
        return subprocess.CompletedProcess(argv, self.returncode, self.stdout, self.stderr)


@dataclass
class NixosHost(Recorder):
    """A NixOS host's containers as far as the contract observes; records every argv."""

    conf_dir: Path = CONF_DIR
    dropin_root: Path = DROPIN_ROOT
    states: dict[str, str] = field(default_factory=dict)  # container -> ActiveState
    broken: set[str] = field(default_factory=set)  # containers whose init exits at once

    def __call__(self, argv: list[str]) -> Answer:
        self.calls.append(argv)
        words = [word for word in argv if word != "--user"]
        if words[0] == "nixos-container":
            return self._container(argv, words[1], words[2])
        if words[0] == "systemctl":
            return self._systemctl(argv, words[1:])
        if words[0] == "nix-env" and words[3] == "--set":
            return _answer(argv)
        if words[:2] == ["nix", "build"]:
            return self._build(argv)
        raise AssertionError(f"the NixOS model does not know {argv}")

    def crash(self, container: str) -> None:
        """The container's init exits with a failure; systemd restarts it if the unit says so."""
        assert self.states.get(container) == "active", f"{container} is not running"
        restarts = self._restart_setting(container) == "on-failure"
        self.states[container] = self._started(container) if restarts else "failed"

    def _build(self, argv: list[str]) -> Answer:
        """As ``nix build --out-link L``: L links to the system built."""
        assert "--no-write-lock-file" in argv, "a build that may write the config repo"
        out_link = Path(argv[argv.index("--out-link") + 1])
        system = f"/nix/store/{'0' * 32}-nixos-system-{out_link.name}"
        out_link.unlink(missing_ok=True)
        out_link.symlink_to(system)
        return _answer(argv)

    def _conf(self, container: str) -> Path:
        return self.conf_dir / f"{container}.conf"

    def _container(self, argv: list[str], verb: str, container: str) -> Answer:
        conf = self._conf(container)
        if verb == "create":
            if conf.exists():
                return _answer(argv, 1, f"error: container '{container}' already exists\n")
            assert "--system-path" in argv, "the backend builds each system itself"
            conf.parent.mkdir(parents=True, exist_ok=True)
            conf.write_text((DATA / "created-system-path.conf").read_text())
            return _answer(argv)
        if not conf.exists():
            return _answer(argv, 1, f"/etc/nixos-containers/{container}.conf: no such file\n")
        if verb == "destroy":
            self.states[container] = "inactive"
            conf.unlink()
            return _answer(argv)
        assert verb == "update", argv
        return _answer(argv)

    def _systemctl(self, argv: list[str], words: list[str]) -> Answer:
        verb = words[0]
        if verb == "daemon-reload":
            return _answer(argv)
        if verb == "set-property":  # as systemd does: one file per property, beside ours
            _container_of(words[1])
            dropins = self.dropin_root / f"{words[1]}.d"
            dropins.mkdir(parents=True, exist_ok=True)
            for assignment in words[2:]:
                key = assignment.partition("=")[0]
                (dropins / f"50-{key}.conf").write_text(f"[Service]\n{assignment}\n")
            return _answer(argv)
        units = [_container_of(w) for w in words[1:] if w != "--quiet"]
        (container,) = units
        state = self.states.get(container, "inactive")
        if verb == "is-active":
            return _answer(argv, 0 if state == "active" else 3)
        if verb == "reset-failed":
            if state == "failed":
                self.states[container] = "inactive"
            return _answer(argv)
        if verb == "stop":
            self.states[container] = "failed" if state == "failed" else "inactive"
            return _answer(argv)
        assert verb in ("start", "restart"), argv
        if verb == "start" and state == "active":
            return _answer(argv)
        self.states[container] = self._started(container)
        if self.states[container] != "active":
            return _answer(argv, 1, f"Job for {words[1]} failed because the control process "
                                    "exited with error code.\n")
        return _answer(argv)

    def _started(self, container: str) -> str:
        # Without its conf the start script finds no container root; a broken init exits
        # before READY=1 (and, restarted on failure, hits the start limit).
        ready = self._conf(container).exists() and container not in self.broken
        return "active" if ready else "failed"

    def _restart_setting(self, container: str) -> str:
        """Restart= of the container's unit: the template's, unless a drop-in sets it."""
        setting = "on-failure"
        dropins = self.dropin_root / f"container@{container}.service.d"
        for dropin in sorted(dropins.glob("*.conf")) if dropins.is_dir() else ():
            for line in dropin.read_text().splitlines():
                key, eq, value = line.partition("=")
                if eq and key.strip() == "Restart":
                    setting = value.strip()
        return setting


def _container_of(unit: str) -> str:
    found = _UNIT.fullmatch(unit)
    assert found is not None, f"the NixOS model has no unit {unit!r}"
    return found[1]


def _answer(argv: list[str], returncode: int = 0, stderr: str = "") -> Answer:
    return subprocess.CompletedProcess(argv, returncode, "", stderr)
