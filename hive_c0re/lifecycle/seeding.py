"""An agent's state dir and config repos: seeded once, read, moved, purged.

Spawning an agent and approving its config both start here, so the state
dir's modes, the applied repo's seed and the proposed repo's hand-over are
made one way only. Every call blocks (git, the disk): run it in a thread.
"""

from __future__ import annotations

import shutil

from hive_c0re.errors import HiveError, InvalidInput
from hive_c0re.lifecycle.agent_config import AgentConfig, load_agent_config, seed_text
from hive_c0re.lifecycle.gitrepo import ConfigRepo
from hive_c0re.lifecycle.manager import MANAGER_REPOS
from hive_c0re.lifecycle.nixos_seed import check_hive_files
from hive_c0re.lifecycle.proposed import CONFIG_FILE, ProposedRepos
from hive_c0re.paths import Paths


class Seeding:
    """Each agent's ``agents/<n>`` state dir, its applied repo and its proposed repo."""

    def __init__(self, paths: Paths, proposal_max_bytes: int) -> None:
        self.paths = paths
        self.proposed = ProposedRepos(paths, proposal_max_bytes)
        # Each agent's applied main and its config, as last read (applied_at_head).
        self._read: dict[str, tuple[str, AgentConfig]] = {}

    def prepare_state(self, name: str) -> bool:
        """State dirs with tight modes and both config repos, seeded when new.

        A proposed repo that is already there (the manager's, or whatever it
        planted) is left alone: the daemon never runs git in it. Return
        whether the proposed repo was seeded now.
        """
        top = self.paths.agent_state(name)
        top.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        top.mkdir(exist_ok=True, mode=0o700)
        return self.proposed.seed(name)

    def prepare_and_read(self, name: str) -> tuple[str, AgentConfig]:
        """:meth:`prepare_state`, then the applied ``main`` and the config there.

        A new agent's applied repo is a copy of the seed, made just now: its
        ``main`` is the ref file the seed's commit wrote, its config the seed's
        text (which names the seed repo), so no git process runs for either.
        """
        new = not self.applied_repo(name).exists()
        self.prepare_state(name)
        if new:
            repo = self.applied_repo(name)
            self._read[name] = repo.written_main() or repo.head(), load_agent_config(seed_text())
            return self._read[name]
        return self.applied_at_head(name)

    def seed_for_manager(self, name: str) -> None:
        """:meth:`prepare_state`, refused if the proposed repo's place is taken."""
        if not self.prepare_state(name):
            raise InvalidInput(f"something already sits where {name}'s proposed config repo "
                               "goes; it was left as it is",
                               hint=f"remove {MANAGER_REPOS / name} in the manager's container")

    def applied_repo(self, name: str) -> ConfigRepo:
        return ConfigRepo(self.paths.applied_repo(name))

    def applied_config(self, name: str) -> AgentConfig:
        return self.applied_at_head(name)[1]

    def applied_at_head(self, name: str) -> tuple[str, AgentConfig]:
        """The applied repo's ``main`` and the config there, read by one git process.

        Or by none: every start and restart reads it, and a commit's config never
        changes, so while ``main``'s ref file still names the commit read last, that
        reading is the answer (a restart's only git process, 7-12 ms, went).
        """
        repo = self.applied_repo(name)
        known = self._read.get(name)
        if known is not None and repo.written_main() == known[0]:
            return known
        sha, text = repo.read_main_file(CONFIG_FILE)
        if text is None:
            raise HiveError(f"{name}'s applied config has no {CONFIG_FILE}")
        self._read[name] = sha, load_agent_config(text)
        return self._read[name]

    def take_proposal(self, name: str, commit: str) -> ConfigRepo:
        """Bring the proposed ``commit`` into the applied repo (seeded if new), checked.

        The proposal is read only from a bounded copy of its objects in the
        daemon's space: the proposed repo's own git config and layout are the
        manager's. Refused if its ``agent.toml`` is missing or invalid, or if it
        touches the hive's own files (:func:`check_hive_files`).
        """
        applied = self.proposed.applied(name)
        self.proposed.fetch(name, applied, commit)
        text = applied.read_file(commit, CONFIG_FILE)
        if text is None:
            raise InvalidInput(f"commit {commit[:12]} has no {CONFIG_FILE}")
        load_agent_config(text)
        check_hive_files(applied, commit, self.proposed.seeded_flakes())
        return applied

    def check_deployable(self, name: str, sha: str) -> None:
        """Refuse an applied commit that touches the hive's own files, whenever it was
        asked for: the check of :meth:`take_proposal`, again just before it is built."""
        check_hive_files(self.applied_repo(name), sha, self.proposed.seeded_flakes())

    def move_main(self, name: str, sha: str) -> str:
        """Point the applied repo's main (and work tree) at ``sha``; return where it was."""
        applied = self.applied_repo(name)
        previous = applied.head()
        applied.set_main(sha, True)
        return previous

    def purge(self, name: str) -> None:
        for tree in (self.paths.agent_state(name), self.paths.applied_repo(name),
                     self.paths.proposed_repo(name)):
            shutil.rmtree(tree, ignore_errors=True)
