"""``agent.toml``: the hive-level policy of one agent.

The manager proposes it in the agent's config repo and the operator approves
it. hive-c0re reads it from the applied repo, enforces on the host what
belongs there (whom the agent may write to, its resources) and hands the rest
to the container read-only (:meth:`AgentConfig.policy`, a
:class:`hive_c0re.policy.Policy`, the type the harness reads).

Every key is declared once, in :data:`SCHEMA`: its type, default, rule and
help. Validation and its messages, the seed template's test and the KEYS
section of ``hyperhive-agent.toml(5)`` (:func:`schema_roff`) follow that table.
Each value's check is in :mod:`agent_values`; TOML is written by :mod:`toml_writer`.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields, is_dataclass
from importlib import resources as package_data
from types import MappingProxyType
from typing import Any

from hive_c0re.errors import InvalidInput
from hive_c0re.lifecycle import agent_values as values
from hive_c0re.lifecycle.agent_values import KNOWN_TOOLS, Check, Refused, shown
from hive_c0re.lifecycle.backend import Resources
from hive_c0re.lifecycle.toml_writer import BARE_KEY, toml_table, toml_value
from hive_c0re.names import MANAGER, OPERATOR
from hive_c0re.policy import McpServer, Policy

FILE_NAME = "agent.toml"
MAX_BYTES = 65_536
RESERVED_SERVERS = frozenset({"hive", "hyperhive"})  # the harness's own MCP server
_HINT = "see hyperhive-agent.toml(5)"

_SERVER = re.compile(r"[a-z][a-z0-9_-]{0,31}")
_TOML_WHERE = re.compile(r"\s*\(at line (\d+), column (\d+)\)$")


@dataclass(frozen=True)
class Key:
    """One key of ``agent.toml``; ``<name>`` in ``name`` stands for a table key you choose."""

    name: str
    kind: str
    default: Any  # as written in TOML; None means unset
    rule: str
    help: str
    check: Check
    required: bool = False

    @property
    def table(self) -> str:
        return self.name.rpartition(".")[0]

    @property
    def local(self) -> str:
        return self.name.rpartition(".")[2]


# -- tables --------------------------------------------------------------------------


def _resources(value: object) -> Resources:
    return Resources(**_table(value, "resources", "resources"))


def _restart(value: object) -> RestartPolicy:
    return RestartPolicy(**_table(value, "restart", "restart"))


def _cli(value: object) -> CliLimits:
    return CliLimits(**_table(value, "cli", "cli"))


def _mcp_servers(value: object) -> Mapping[str, McpServer]:
    if not isinstance(value, Mapping) or len(value) > 16:
        raise Refused()
    servers = {}
    for name, table in value.items():
        where = f"mcp_servers.{_key_shown(name)}"
        if not isinstance(name, str) or not _SERVER.fullmatch(name) or name in RESERVED_SERVERS:
            raise _error(where, SCHEMA_BY_NAME["mcp_servers.<name>"].rule,
                         f"{shown(name)} is not a server name")
        servers[name] = McpServer(**_table(table, where, "mcp_servers.<name>"))
    return MappingProxyType(servers)


def _server_table(value: object) -> object:
    return value  # each server's table is checked by _mcp_servers, which knows its name


SCHEMA: tuple[Key, ...] = (
    Key("model", "string", "haiku",
        "must be a model name (a-z, 0-9, '.', '-'; up to 64 characters) listed in "
        "available_models",
        "The model the agent starts with. The operator's /model switches among "
        "available_models.", values.model),
    Key("available_models", "array of strings", ["haiku", "sonnet", "opus"],
        "must be a non-empty array of at most 32 distinct model names (a-z, 0-9, '.', '-'; "
        "up to 64 characters)",
        "The models the agent may be switched to, like claude-sonnet-4-5.",
        values.array(values.model, 32, empty=False)),
    Key("allowed_recipients", "array of strings", [],
        "must be an array of at most 256 distinct agent names; manager and operator may be "
        "listed",
        "The agents this one may send to; an empty array means anyone. The manager and "
        "the operator are always allowed. hive-c0re enforces it on the host.",
        values.array(values.recipient, 256)),
    Key("allowed_tools", "array of strings", ["Bash", "Read", "Write", "Edit", "Glob", "Grep"],
        "must be an array of distinct tools from " + ", ".join(KNOWN_TOOLS),
        "The Claude Code built-in tools the agent may use; the others are denied.",
        values.array(values.tool, len(KNOWN_TOOLS))),
    Key("allowed_bash", "array of strings", [],
        "must be an array of at most 100 distinct command patterns of 1 to 200 characters, "
        "without newlines, NUL or other control characters",
        "The Bash commands the agent may run, as patterns like \"git *\", \"ls\" or "
        "\"pytest *\", matched word by word (\"*\" alone stands for one or more words). "
        "A command line may join such commands with &&, ||, ; and |; one whose meaning "
        "bash could change is refused: other operators, $, backquotes, globs, braces, "
        "a NAME=value before a command, and redirections other than 2>&1-style copies "
        "and to /dev/null. An empty array allows none; \"*\" allows every command.",
        values.array(values.bash_pattern, 100)),
    Key("auto_compact", "boolean", True, "must be true or false",
        "Checkpoint the notes and compact the context when it reaches compact_at.",
        values.boolean),
    Key("compact_at", "number", 0.75, "must be a number above 0.1 and at most 0.95",
        "The share of the model's context window at which auto_compact acts.", values.compact_at),
    Key("mcp_servers", "table", {}, "must be a table of at most 16 server tables",
        "Extra MCP servers the harness starts for the agent, one table each.", _mcp_servers),
    Key("mcp_servers.<name>", "table", None,
        "must be a table with command and optional args, env and allowed_tools; <name> is a "
        "lowercase letter, then up to 31 of a-z, 0-9, '_' or '-', and not hive or hyperhive",
        "One MCP server; its tools reach the agent as mcp__<name>__<tool>.", _server_table),
    Key("mcp_servers.<name>.command", "string", None,
        "must be the absolute path of the server's executable, without control characters",
        "The program to start, speaking MCP on its stdin and stdout.", values.command,
        required=True),
    Key("mcp_servers.<name>.args", "array of strings", [],
        "must be an array of at most 64 strings without NUL",
        "Arguments passed to command.", values.array(values.argument, 64, distinct=False)),
    Key("mcp_servers.<name>.env", "table of strings", {},
        "must be a table of at most 64 NAME = \"value\" strings, NAME matching "
        "[A-Z_][A-Z0-9_]*, values without NUL",
        "Environment variables for the server.", values.env),
    Key("mcp_servers.<name>.allowed_tools", "array of strings", [],
        "must be an array of at most 256 distinct tool names of A-Z, a-z, 0-9, '_' or '-' "
        "(up to 64 characters)",
        "The server's tools the agent may call; the others are denied.",
        values.array(values.mcp_tool, 256)),
    Key("resources", "table", {}, "must be a table",
        "Limits on the agent's container, so that one agent cannot starve the host, the "
        "daemon or the other agents. Every key has a default; raise it here.", _resources),
    Key("resources.memory_max", "string", "2G", "must be a size like 512M, 2G or infinity",
        "MemoryMax= of the container unit: bytes, or K, M, G, T (powers of 1024). Past it "
        "the kernel reclaims, then kills inside the container.", values.memory),
    Key("resources.cpu_quota", "string", None,
        "must be a percentage from 1% to 10000%, like 150%",
        "CPUQuota= of the container unit; 100% is one whole CPU. Unset, the agent shares "
        "the CPUs by weight with every other unit, which keeps the daemon scheduled.",
        values.cpu_quota),
    Key("resources.tasks_max", "integer", 512, "must be an integer from 1 to 1000000",
        "TasksMax= of the container unit: processes and threads together. A fork bomb "
        "stops here.", values.integer(1, 1_000_000)),
    Key("resources.disk_max", "string", "4G",
        "must be a size from 16M to 16T, like 64M or 4G",
        "The size of the agent's disk: /state and /root/.claude live together on one ext4 "
        "image of this size, so a full disk stops the agent, not the host. The image is "
        "sparse and grows when this is raised; lowering it does not shrink it. Agents "
        "created before disk images keep their plain directories.", values.disk),
    Key("restart", "table", {}, "must be a table",
        "Reserved: what to do when the container crashes. Checked now, acted on later; until "
        "then every crash is reported to the manager.", _restart),
    Key("restart.policy", "string", "report", "must be \"report\" or \"restart\"",
        "report tells the manager; restart restarts the container, at most burst times "
        "within interval_seconds, and then reports.", values.choice("report", "restart")),
    Key("restart.burst", "integer", 3, "must be an integer from 1 to 100",
        "Restarts allowed within interval_seconds.", values.integer(1, 100)),
    Key("restart.interval_seconds", "integer", 600, "must be an integer from 1 to 86400",
        "The window burst is counted in.", values.integer(1, 86_400)),
    Key("cli", "table", {}, "must be a table",
        "The claude CLI process the harness keeps between turns (turns are fast because it "
        "stays up; it costs memory while it does). Unset keys take the harness's settings "
        "(see hyperhive(7)).", _cli),
    Key("cli.idle_release_seconds", "integer", None, "must be an integer from 0 to 604800",
        "Seconds without a turn after which the harness ends the CLI, keeping the session: "
        "the next turn starts it again and resumes the conversation. 0 keeps it running. "
        "Unset: the harness's cli_idle_release (300).", values.integer(0, 604_800)),
    Key("cli.max_rss_mib", "integer", None, "must be an integer from 0 to 1048576",
        "MiB of memory (resident, the CLI and its children) past which the harness restarts "
        "the CLI between turns, resuming the session; never during a turn. 0 sets no bound. "
        "Unset: the harness's cli_max_rss_mib (768).", values.integer(0, 1_048_576)),
)
SCHEMA_BY_NAME = {key.name: key for key in SCHEMA}
# Each table's own keys; the <name> entry of mcp_servers is not a key you write.
_CHILDREN: dict[str, dict[str, Key]] = {}
for _key in SCHEMA:
    if _key.name != "mcp_servers.<name>":
        _CHILDREN.setdefault(_key.table, {})[_key.local] = _key


# -- checking tables -----------------------------------------------------------------


def _key_shown(name: object) -> str:
    return name if isinstance(name, str) and BARE_KEY.fullmatch(name) else shown(name)


def _join(where: str, name: str) -> str:
    return f"{where}.{name}" if where else name


def _error(dotted: str, rule: str, detail: str | None = None) -> InvalidInput:
    return InvalidInput(f"{FILE_NAME}: {dotted}: {rule}" + (f"; {detail}" if detail else ""),
                        hint=_HINT)


def _unknown(where: str, name: object, keys: Mapping[str, Key]) -> InvalidInput:
    near = difflib.get_close_matches(name, list(keys), n=1) if isinstance(name, str) else []
    elsewhere = [key.name for key in SCHEMA if key.local == name and key.table != where]
    guess = _join(where, near[0]) if near else (elsewhere[0] if elsewhere else None)
    said = "unknown key" + (f"; did you mean {guess}?" if guess else "")
    return InvalidInput(f"{FILE_NAME}: {_join(where, _key_shown(name))}: {said}",
                        hint="keys here: " + ", ".join(keys))


def _table(value: object, where: str, table: str) -> dict[str, Any]:
    """Check ``value`` as the table ``table`` (a SCHEMA name) found at ``where``."""
    keys = _CHILDREN[table]
    if not isinstance(value, Mapping):
        raise _error(where, SCHEMA_BY_NAME[table].rule, f"got {shown(value)}")
    for name in value:
        if name not in keys:
            raise _unknown(where, name, keys)
    return {local: _value(key, _join(where, local), value) for local, key in keys.items()}


def _value(key: Key, dotted: str, table: Mapping[str, Any]) -> Any:
    if key.local in table:
        raw = table[key.local]
    elif key.required:
        raise _error(dotted, key.rule, "it is missing")
    elif key.default is None:
        return None
    else:
        raw = key.default
    try:
        return key.check(raw)
    except Refused as refused:
        raise _error(dotted, key.rule, refused.detail or f"got {shown(raw)}") from None


# -- the config ----------------------------------------------------------------------


@dataclass(frozen=True)
class RestartPolicy:
    policy: str
    burst: int
    interval_seconds: int


@dataclass(frozen=True)
class CliLimits:
    idle_release_seconds: int | None = None
    max_rss_mib: int | None = None


@dataclass(frozen=True)
class AgentConfig:
    """A checked ``agent.toml``; build it with :func:`load_agent_config` or :meth:`from_dict`."""

    model: str
    available_models: tuple[str, ...]
    allowed_recipients: tuple[str, ...]
    allowed_tools: tuple[str, ...]
    allowed_bash: tuple[str, ...]
    auto_compact: bool
    compact_at: float
    mcp_servers: Mapping[str, McpServer]
    resources: Resources
    restart: RestartPolicy
    cli: CliLimits

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AgentConfig:
        """Check parsed TOML (or :meth:`to_dict` output); raise InvalidInput naming the key."""
        if not isinstance(data, Mapping):
            raise InvalidInput(f"{FILE_NAME}: must be a table of keys, got {shown(data)}")
        config = cls(**_table(data, "", ""))
        if config.model not in config.available_models:
            raise _error("model", SCHEMA_BY_NAME["model"].rule,
                         f"{shown(config.model)} is not in available_models "
                         f"({', '.join(config.available_models)})")
        return config

    @classmethod
    def defaults(cls) -> AgentConfig:
        return cls.from_dict({})

    def to_dict(self) -> dict[str, Any]:
        """Plain TOML-shaped data: arrays as lists, tables as dicts, unset keys left out."""
        plain = _plain(self)
        assert isinstance(plain, dict)
        return plain

    def to_toml(self) -> str:
        return toml_table(self.to_dict(), ())

    def policy(self) -> Policy:
        """What the harness reads, read-only, from ``/etc/hive/policy.json``.

        Resources and restarts are the host's business; allowed_recipients goes
        along to tell the model whom it may write to (the daemon enforces it).
        """
        return Policy(model=self.model, available_models=self.available_models,
                      allowed_tools=self.allowed_tools, allowed_bash=self.allowed_bash,
                      mcp_servers=self.mcp_servers, auto_compact=self.auto_compact,
                      compact_at=self.compact_at, allowed_recipients=self.allowed_recipients,
                      cli_idle_release_seconds=self.cli.idle_release_seconds,
                      cli_max_rss_mib=self.cli.max_rss_mib)

    def allows_recipient(self, name: str) -> bool:
        """Whether this agent may send to ``name`` (the manager and operator always)."""
        return (not self.allowed_recipients or name in (MANAGER, OPERATOR)
                or name in self.allowed_recipients)


def load_agent_config(text: str) -> AgentConfig:
    """Parse and check ``agent.toml``; raise InvalidInput naming the line or the key."""
    if len(text.encode("utf-8", errors="replace")) > MAX_BYTES:
        raise InvalidInput(f"{FILE_NAME}: larger than {MAX_BYTES} bytes", hint=_HINT)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise InvalidInput(_syntax_message(str(err)), hint=_HINT) from None
    return AgentConfig.from_dict(data)


def seed_text() -> str:
    """The commented seed ``agent.toml`` a new agent's config repo starts with."""
    return (package_data.files("hive_c0re.lifecycle") / "templates" / FILE_NAME).read_text(
        encoding="utf-8")


def _syntax_message(reason: str) -> str:
    where = _TOML_WHERE.search(reason)
    if where is None:
        return f"{FILE_NAME}: not valid TOML: {reason}"
    line, column = where.groups()
    return f"{FILE_NAME}: line {line}, column {column}: not valid TOML: {reason[:where.start()]}"


def _plain(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        pairs = ((f.name, getattr(value, f.name)) for f in fields(value))
        return {name: _plain(item) for name, item in pairs if item is not None}
    if isinstance(value, Mapping):
        return {name: _plain(item) for name, item in value.items()}
    if isinstance(value, tuple | list):
        return [_plain(item) for item in value]
    return value


# -- writing TOML and roff -----------------------------------------------------------


def _roff(text: str) -> str:
    escaped = text.replace("\\", "\\e").replace("-", "\\-")
    return "\\&" + escaped if escaped.startswith((".", "'")) else escaped


def _default_shown(key: Key) -> str:
    if key.required:
        return "none, required"
    if key.default is None:
        return "unset" if key.kind != "table" else "none"
    return "empty" if key.default == {} else toml_value(key.default)


def schema_roff() -> str:
    """The KEYS section of hyperhive-agent.toml(5), made from :data:`SCHEMA`."""
    lines: list[str] = []
    for key in SCHEMA:
        lines += [".TP", f".B {_roff(key.name)}",
                  f"\\fI{_roff(key.kind)}\\fR; default: \\fB{_roff(_default_shown(key))}\\fR",
                  ".br", _roff(key.help), ".br", _roff(f"Rule: {key.rule}.")]
    return "\n".join(lines) + "\n"
