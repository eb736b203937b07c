"""The daemon's settings, each declared once.

Every setting has a name, a type, a default, an environment variable and a
help line (a :class:`hive_c0re.setting.Setting`, as the harness's are);
``hive-c0re serve`` options, validation, ``hive-c0re settings`` and the man
page all come from :data:`SETTINGS`, and a test proves each one is documented.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from hive_c0re.lifecycle.uids import FIRST_AGENT_BASE, LAST_AGENT_BASE
from hive_c0re.setting import Setting, load_values

__all__ = ["SETTINGS", "Setting", "Settings"]


SETTINGS: tuple[Setting, ...] = (
    Setting("acked_retention_days", float, 30.0,
            "acked messages older than this many days are deleted", minimum=0),
    Setting("inbox_cap", int, 10_000,
            "unread messages one recipient may hold; sends past it are refused", minimum=1),
    Setting("system_inbox_reserve", int, 1000,
            "room above inbox_cap for the hive's own events (from system): a full inbox "
            "still takes them, and they are received before other mail", minimum=1),
    Setting("event_retention_days", float, 90.0,
            "hive event log entries older than this many days are deleted", minimum=0),
    Setting("max_events", int, 100_000,
            "hive event log entries kept at most; each retention pass deletes the oldest "
            "past it", minimum=100),
    Setting("agent_event_rate", float, 6.0,
            "hive events per minute one agent's own reports (report_login) may cause after "
            "a burst of agent_event_burst; more are coalesced into the latest state",
            minimum=0.01),
    Setting("agent_event_burst", int, 10,
            "hive events one agent's reports may cause at once before agent_event_rate "
            "applies", minimum=1),
    Setting("retention_interval", float, 3600.0,
            "seconds between retention passes (delete old acked messages, vacuum)",
            minimum=1),
    Setting("vacuum_pages", int, 2000,
            "pages freed per incremental vacuum step", minimum=1),
    Setting("max_frame_bytes", int, 262_144,
            "largest request line accepted on any socket", minimum=1024, maximum=16_777_216),
    Setting("max_body_bytes", int, 65_536,
            "largest message body accepted by send", minimum=1, maximum=8_388_608),
    Setting("max_connections", int, 256,
            "open connections allowed per socket; more are closed at once", minimum=1),
    Setting("max_total_connections", int, 4096,
            "open connections allowed on all sockets together; lowered to fit the daemon's "
            "file-descriptor limit (LimitNOFILE=) less fd_reserve", minimum=2),
    Setting("host_reserved_connections", int, 64,
            "connections of max_total_connections that only host.sock may use, so agents "
            "flooding their sockets never lock the operator out", minimum=1),
    Setting("fd_reserve", int, 256,
            "file descriptors kept free of connections for the daemon's own work "
            "(sqlite, journal, D-Bus, listening sockets, child processes)", minimum=16),
    Setting("socket_retry_interval", float, 30.0,
            "seconds between attempts to re-create an agent's or the manager's socket "
            "that could not be bound", minimum=1),
    Setting("idle_timeout", float, 600.0,
            "seconds a connection may stay silent between requests before it is closed",
            minimum=1),
    Setting("write_timeout", float, 10.0,
            "seconds an answer may wait on a client that does not read before it is dropped",
            minimum=0.1),
    Setting("sqlite_synchronous", str, "NORMAL",
            "sqlite synchronous pragma: NORMAL survives a daemon crash, FULL also power loss",
            choices=("NORMAL", "FULL")),
    Setting("busy_timeout_ms", int, 5000,
            "how long a sqlite write waits for a lock held by a reader", minimum=0),
    Setting("systemd_scope", str, "system",
            "which systemd manager runs agent containers: the system's, or the user's",
            choices=("system", "user")),
    Setting("backend", str, "nspawn",
            "container backend: nspawn (any systemd distribution) or nixos",
            choices=("nspawn", "nixos")),
    Setting("uid_base_start", int, FIRST_AGENT_BASE,
            "first host uid of the agents' user namespaces; each agent takes 65536 from here "
            "(above nspawn's own pick range; the manager's slot is 0x7FFD0000)",
            minimum=FIRST_AGENT_BASE, maximum=LAST_AGENT_BASE),
    Setting("agent_command", str, "{python} -m hive_ag3nt serve",
            "what an agent's container runs ({python} is this interpreter)"),
    Setting("manager_command", str, "{python} -m hive_m1nd serve",
            "what the manager's container runs ({python} is this interpreter); "
            "empty: the hive has no manager container"),
    Setting("extra_read_only_binds", str, "",
            "host directories, separated by ':', bound read-only at the same path into "
            "every container of the nspawn backend besides the Python and hyperhive's "
            "packages: what a development agent_command needs beyond them; empty: none"),
    Setting("nspawn_program", str, "",
            "nspawn backend: the systemd-nspawn its containers run (an absolute path); "
            "empty: the one on PATH, else /usr/bin/systemd-nspawn"),
    Setting("container_usr", str, "/usr",
            "nspawn backend: the host directory every container sees, read-only, as /usr "
            "(and /bin, /lib, /sbin, links into it): /usr, or on NixOS the system profile "
            "/run/current-system/sw, which holds /bin/sh"),
    Setting("agent_env_file", str, "",
            "file of KEY=VALUE lines set in every agent container's environment "
            "(e.g. an API key); its ANTHROPIC_BASE_URL is where the egress sends the "
            "model's API; empty: none"),
    Setting("crash_reconcile_interval", float, 60.0,
            "seconds between passes that look for crashed containers a signal did not report",
            minimum=1),
    Setting("crash_pidfd", str, "yes",
            "also watch each running container's main process through a pidfd, so a death "
            "by a signal is reported before systemd has handled it; 'no': systemd's signals "
            "only", choices=("yes", "no")),
    Setting("apply_settle_seconds", float, 3.0,
            "how long a container must stay up after a config change to count as deployed",
            minimum=0),
    Setting("graceful_stop_timeout", float, 300.0,
            "a graceful stop waits this many seconds at most for the agent's running turn "
            "to finish (it leases nothing new meanwhile), then stops the container anyway",
            minimum=0),
    Setting("proposed_disk_mib", int, 4096,
            "size in MiB of the disk behind the manager's /agents (every proposed config "
            "repo), so the manager cannot fill the host's state; a larger value grows it "
            "when it is next mounted (at boot)",
            minimum=16, maximum=16 << 20),
    Setting("max_open_threads", int, 1000,
            "open questions one agent may have asked, and pending reminders it may hold",
            minimum=1),
    Setting("max_pending_approvals", int, 20,
            "pending requests (spawn, init_config, apply_commit) the manager may have filed "
            "for one agent; more are refused until the operator decides some",
            minimum=1, maximum=1000),
    Setting("nixos_private_users", str, "yes",
            "nixos backend: run each container in its own user namespace; 'no' runs agents "
            "as host root (unsafe, logged at every start; the nspawn backend has no such switch)",
            choices=("yes", "no")),
    Setting("proposal_max_bytes", int, 8 * 1024 * 1024,
            "largest proposed config repo the daemon reads for a proposal: bytes of git "
            "objects, both as stored and unpacked; bigger proposals are refused",
            minimum=65_536, maximum=1 << 30),
    Setting("event_feed_bytes", int, 1_048_576,
            "bytes of frames one subscribe_events subscriber may fall behind by; past "
            "them it is dropped with a last overflow answer and resumes with after",
            minimum=4096),
    Setting("dashboard_url", str, "",
            "the dashboard's address (like http://host:7000/), as `urls` answers it to the "
            "original's clients; empty: no dashboard, home is null"),
    Setting("dashboard_allowed_hosts", str, "",
            "host names (comma-separated, no port) the dashboard answers to besides "
            "localhost, 127.0.0.1 and [::1]; a request naming any other Host or Origin is "
            "refused (no DNS rebinding)"),
    Setting("dashboard_secure_cookies", str, "auto",
            "mark the dashboard's session cookie Secure: auto (only for requests that came "
            "over https) or always (behind a TLS proxy)", choices=("auto", "always")),
    Setting("dashboard_session_days", float, 7.0,
            "a dashboard session lasts this many days after its login, then the browser "
            "must log in again (`hive-c0re dashboard login`)", minimum=0.001, maximum=366),
)


@dataclass(frozen=True)
class Settings:
    """Typed values of :data:`SETTINGS`; defaults live only in that table."""

    acked_retention_days: float
    inbox_cap: int
    system_inbox_reserve: int
    event_retention_days: float
    max_events: int
    agent_event_rate: float
    agent_event_burst: int
    retention_interval: float
    vacuum_pages: int
    max_frame_bytes: int
    max_body_bytes: int
    max_connections: int
    max_total_connections: int
    host_reserved_connections: int
    fd_reserve: int
    socket_retry_interval: float
    idle_timeout: float
    write_timeout: float
    sqlite_synchronous: str
    busy_timeout_ms: int
    systemd_scope: str
    backend: str
    uid_base_start: int
    agent_command: str
    manager_command: str
    extra_read_only_binds: str
    nspawn_program: str
    container_usr: str
    agent_env_file: str
    crash_reconcile_interval: float
    crash_pidfd: str
    apply_settle_seconds: float
    graceful_stop_timeout: float
    proposed_disk_mib: int
    max_open_threads: int
    max_pending_approvals: int
    nixos_private_users: str
    proposal_max_bytes: int
    event_feed_bytes: int
    dashboard_url: str
    dashboard_allowed_hosts: str
    dashboard_secure_cookies: str
    dashboard_session_days: float

    @classmethod
    def load(
        cls, overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
    ) -> Settings:
        """Defaults, then ``HYPERHIVE_*`` variables, then explicit overrides (None = unset)."""
        return cls(**load_values(SETTINGS, overrides, environ))

    def read_only_binds(self) -> tuple[Path, ...]:
        """:attr:`extra_read_only_binds` as paths."""
        return tuple(Path(p) for p in self.extra_read_only_binds.split(":") if p)

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}
