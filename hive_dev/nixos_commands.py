"""Every command line the nixos backend runs, as hyperhive-nixos(5) shows it.

Each is made by the backend's own argv builders for an example agent, then
written with placeholders (``<name>``, ``<system>``, ``<out-link>``) for what
differs per agent. ``scripts/gen-man`` renders :func:`commands` into the page;
the tests drive the backend through every verb and hold each argv it runs,
put through :func:`shape` the same way, to that list. :func:`conf_settings`
is what the backend writes into the container's conf, the same way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from hive_c0re.lifecycle import nixos
from hive_c0re.lifecycle.backend import ContainerSpec, Resources, Systemctl
from hive_c0re.lifecycle.disk import Disk
from hive_c0re.lifecycle.manager import MANAGER_REPOS
from hive_c0re.lifecycle.nixos_conf import NETWORK_KEYS, managed_settings, nspawn_binds
from hive_c0re.names import MANAGER
from hive_c0re.paths import Paths
from hive_dev.roff import bold, sentence, tagged

AGENT = "alice"
SYSTEM = Path("/nix/store/00000000000000000000000000000000-nixos-system-h-alice")
FHS = Paths(state=Path("/var/lib/hyperhive"), runtime=Path("/run/hyperhive"))
OUT_LINK = FHS.nixos_builds / nixos.container_name(AGENT)
NAME = "<name>"


@dataclass(frozen=True)
class Command:
    words: tuple[str, ...]  # with placeholders, as the page shows them
    when: str


def shape(argv: Sequence[str], values: Mapping[str, str] | None = None,
          agent: str = AGENT) -> tuple[str, ...]:
    """``argv`` with the values that differ per run written as their placeholders."""
    values = values or {str(SYSTEM): "<system>", str(OUT_LINK): "<out-link>"}
    words = []
    for word in argv:
        for value, placeholder in values.items():
            word = word.replace(value, placeholder)
        words.append(word.replace(agent, NAME))
    return tuple(words)


def commands(systemctl: Systemctl | None = None) -> list[Command]:
    """What the backend runs, in the order a container's life calls for it."""
    ctl = systemctl or Systemctl()
    flake = FHS.applied_flake(AGENT)
    unit = nixos.unit_name(AGENT)
    made = [
        (nixos.build_argv(flake, OUT_LINK),
         "each spawn and rebuild: build the agent's system from its applied config repo, "
         "whose flake.nix has nixosConfigurations.agent, writing nothing into the repo "
         "(no flake.lock: the host's hyperhive and nixpkgs as they are at each build); "
         f"the out-link, {str(OUT_LINK).replace(AGENT, NAME)}, is the build's "
         "garbage-collector root until the profile holds the system"),
        (nixos.create_argv(AGENT, SYSTEM),
         "spawn: create the container with the system built"),
        (nixos.set_system_argv(AGENT, SYSTEM),
         "rebuild, or spawn of an agent whose container exists: set its profile to the "
         "system built, as nixos-container update does after a build of its own (never "
         "used: it writes and stages a flake.lock in the repo)"),
        (ctl.argv("daemon-reload"),
         "after the unit's drop-in was written (a new container) or removed"),
        (ctl.argv("set-property", unit, *Resources().set_property_args()),
         "each install: agent.toml's resource limits, each one it does not set reset to no "
         "limit (these are the values without any); systemd writes them beside the drop-in, "
         "no daemon-reload"),
        (ctl.argv("reset-failed", unit),
         "before each start and restart, and after destroy: a failed unit starts afresh"),
        (ctl.argv("start", unit), "start"),
        (ctl.argv("stop", unit), "stop, and before destroy; a unit not loaded is stopped"),
        (ctl.argv("restart", unit), "restart"),
        (ctl.argv("is-active", "--quiet", unit), "whether the container runs"),
        (nixos.destroy_argv(AGENT),
         "destroy: remove the container and its conf; the agent's state on the host stays"),
    ]
    return [Command(shape(argv), when) for argv, when in made]


def example_spec() -> ContainerSpec:
    """The example agent's container as the daemon describes it, at the FHS paths."""
    disk = Disk.under(FHS.agent_state(AGENT))
    return ContainerSpec(
        name=AGENT, runtime_dir=FHS.agent_runtime(AGENT), state_dir=disk.state_dir,
        claude_dir=disk.claude_dir, policy_dir=FHS.agent_policy(AGENT),
        command=["hive-ag3nt", "serve"], uid_base=UID_BASE, egress_dir=FHS.egress_dir)


UID_BASE = 0x70000000


def conf_settings(*, private_users: bool = True) -> dict[str, str]:
    """The keys the backend owns in ``/etc/nixos-containers/h-<name>.conf``, as it sets them."""
    found = managed_settings(example_spec(), "", private_users=private_users)
    values = {str(UID_BASE): "<uid-base>"}
    return {key: " ".join(shape(value.split(), values)) for key, value in found.items()}


# What each key the backend owns does for the container; a new key must say so here.
KEY_MEANING = {
    "PRIVATE_NETWORK": "a network namespace of its own",
    **dict.fromkeys(NETWORK_KEYS, "cleared: no veth, bridge, port, interface or macvlan to "
                                  "the host, so the namespace has its loopback alone"),
    "AUTO_START": "the host's boot does not start it: the daemon does, once its binds exist",
    "PRIVATE_USERS": "a user namespace of its own: container uid 0 is <uid-base> on the "
                     "host (no: with the nixos_private_users setting off, host root)",
    "EXTRA_NSPAWN_FLAGS": "the hive's binds, after any flags of the operator's own",
}


def conf_items() -> list[tuple[list[str], str]]:
    """(``KEY=value`` assignments, what they do) in conf order, keys that mean one thing
    together; raise KeyError naming a key nobody described."""
    items: list[tuple[list[str], str]] = []
    for key, value in conf_settings().items():
        meaning = KEY_MEANING[key]
        if items and items[-1][1] == meaning:
            items[-1][0].append(f"{key}={value}")
        else:
            items.append(([f"{key}={value}"], meaning))
    return items


def manager_binds() -> list[str]:
    """The flags the manager's container gets beyond an agent's: its writable binds."""
    agent = example_spec()
    manager = replace(agent, writable_binds=[(FHS.proposed_root, MANAGER_REPOS)])
    ours = set(nspawn_binds(agent, private_users=True))
    return [flag for flag in nspawn_binds(manager, private_users=True) if flag not in ours]


# -- roff, for hyperhive-nixos(5) ---------------------------------------------------------


def commands_roff() -> str:
    # \: lets a line break after a flake's '#': an installable is longer than a line.
    return "\n".join(tagged(bold(" ".join(command.words)).replace("#", "#\\:"),
                            sentence(command.when))
                     for command in commands())


def _breakable(flag: str) -> str:
    # \: after each ':' lets a bind break between its source and target.
    return bold(flag).replace(":", ":\\:")


def conf_roff() -> str:
    out = []
    for assignments, meaning in conf_items():
        tags, below = [], []
        for assignment in assignments:
            key, _, value = assignment.partition("=")
            if " " in value:  # several words (the flags): below the key, one a line
                tags.append(bold(key + "="))
                below += [_breakable(word) for word in value.split()]
            else:
                tags.append(bold(assignment))
        said = sentence(meaning + ("; each, as set:" if below else ""))
        out.append(tagged(", ".join(tags), "\n.br\n".join([said, *below])))
    out += [".PP", "The manager's container also gets",
            *(_breakable(flag) for flag in manager_binds()), "(every proposed config repo)."]
    return "\n".join(out)


def manager_roff() -> str:
    """How the manager's container differs in the commands: its name and its flake."""
    return "\n".join([
        "The manager's container is", bold(nixos.container_name(MANAGER)) + ",",
        "built from", bold(FHS.applied_flake(MANAGER)).replace("#", "#\\:"),
        "(its own config repo) where an agent's commands say",
        bold(FHS.applied_flake(AGENT).replace(AGENT, NAME)).replace("#", "#\\:") + ".",
    ])
