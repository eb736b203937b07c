"""The harness's settings: a table of the daemon's own :class:`~hive_c0re.setting.Setting`.

Declared once each (name, type, default, ``HYPERHIVE_<NAME>`` variable,
rule, help), read and checked by :func:`hive_c0re.setting.load_values` as the
daemon's are; ``hive-ag3nt settings`` prints this table.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from hive_c0re.policy import Policy
from hive_c0re.setting import Setting, load_values
from hive_c0re.wire import MAX_RECV_WAIT

HARNESS_SETTINGS: tuple[Setting, ...] = (
    Setting("rate_limit_wait", float, 300.0,
            "seconds to wait before retrying a rate-limited turn", minimum=0),
    Setting("context_window", int, 200_000,
            "tokens in the model's context window (the compaction watermark's base)",
            minimum=1000),
    Setting("notes_limit", int, 24_000,
            "bytes notes.md may grow to before a short session rewrites it", minimum=1),
    Setting("events_max_age", float, 14 * 86400.0,
            "seconds events stay in the events log", minimum=0),
    Setting("login_recheck", float, 60.0,
            "seconds between checks of `claude auth status` while needing a login",
            minimum=0.01),
    Setting("error_backoff_max", float, 300.0,
            "longest pause, in seconds, after turns that keep failing", minimum=0),
    Setting("recv_wait", float, float(MAX_RECV_WAIT),
            f"seconds each long-poll for mail waits (at most {MAX_RECV_WAIT})",
            minimum=0.1, maximum=MAX_RECV_WAIT),
    Setting("model_uid", int, 0,
            "uid (and gid) the claude CLI and its tools run as; 0 keeps the harness's own "
            "(a bare process; the hive's containers set 1000)", minimum=0),
    Setting("cli_idle_release", float, 300.0,
            "seconds without a turn after which the claude CLI process is ended (the next "
            "turn starts it again, resuming the session); 0 keeps it running; agent.toml's "
            "cli.idle_release_seconds overrides it per agent", minimum=0),
    Setting("cli_max_rss_mib", int, 768,
            "MiB of memory (RSS of the claude CLI and its children) past which the CLI is "
            "restarted between turns, resuming the session; 0 sets no bound; agent.toml's "
            "cli.max_rss_mib overrides it per agent", minimum=0),
)


@dataclass(frozen=True)
class HarnessSettings:
    """Typed values of :data:`HARNESS_SETTINGS`; defaults live only in that table."""

    rate_limit_wait: float
    context_window: int
    notes_limit: int
    events_max_age: float
    login_recheck: float
    error_backoff_max: float
    recv_wait: float
    model_uid: int
    cli_idle_release: float
    cli_max_rss_mib: int

    @classmethod
    def load(cls, overrides: Mapping[str, Any] | None = None,
             environ: Mapping[str, str] | None = None) -> HarnessSettings:
        """Defaults, then ``HYPERHIVE_*`` variables, then explicit overrides (None = unset)."""
        return cls(**load_values(HARNESS_SETTINGS, overrides, environ))

    def for_agent(self, policy: Policy) -> HarnessSettings:
        """These settings with the agent's own ``[cli]`` values from agent.toml, where set."""
        idle, rss = policy.cli_idle_release_seconds, policy.cli_max_rss_mib
        return replace(self,
                       cli_idle_release=self.cli_idle_release if idle is None else float(idle),
                       cli_max_rss_mib=self.cli_max_rss_mib if rss is None else rss)
