"""``agent.toml``: the hive-level policy of one agent.

The manager proposes it in the agent's config repo and the operator approves
it. hive-c0re reads it from the applied repo, enforces on the host what
belongs there (whom the agent may write to, its resources) and hands the rest
to the container read-only (:meth:`AgentConfig.policy_json`).

Every key is declared once, in :data:`SCHEMA`: its type, default, rule and
help. Validation and its messages, the seed template's test and the KEYS
section of ``hyperhive-agent.toml(5)`` (:func:`schema_roff`) follow that table.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, is_dataclass
from datetime import date, datetime, time
from importlib import resources as package_data
from types import MappingProxyType
from typing import Any

from hive_c0re.errors import InvalidInput
from hive_c0re.lifecycle.backend import Resources, size_bytes
from hive_c0re.names import MANAGER, OPERATOR, validate_agent_name

FILE_NAME = "agent.toml"
MAX_BYTES = 65_536
POLICY_VERSION = 1
KNOWN_TOOLS = ("Bash", "Read", "Write", "Edit", "Glob", "Grep", "WebFetch", "WebSearch",
               "Task", "NotebookEdit", "TodoWrite")
RESERVED_SERVERS = frozenset({"hive", "hyperhive"})  # the harness's own MCP server
# What the container's harness reads; recipients and resources are the host's business.
# allowed_recipients is there to tell the model whom it may write to; the daemon enforces it.
POLICY_KEYS = ("model", "available_models", "allowed_tools", "allowed_bash", "mcp_servers",
               "auto_compact", "compact_at", "allowed_recipients")
_HINT = "see hyperhive-agent.toml(5)"
# ext4 needs room for its own journal and tables; beyond 16T it wants other options.
DISK_MIN = 16 << 20
DISK_MAX = 16 << 40

_MODEL = re.compile(r"[a-z0-9][a-z0-9.-]{0,63}")
_SERVER = re.compile(r"[a-z][a-z0-9_-]{0,31}")
_ENV_NAME = re.compile(r"[A-Z_][A-Z0-9_]{0,127}")
_MCP_TOOL = re.compile(r"[A-Za-z0-9_-]{1,64}")
_SIZE = re.compile(r"[0-9]{1,20}[KMGT]?")
_PERCENT = re.compile(r"[0-9]{1,5}%")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_TOML_WHERE = re.compile(r"\s*\(at line (\d+), column (\d+)\)$")


class _Refused(Exception):
    """A value broke its key's rule; ``detail`` says how (else the value is shown)."""

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail


Check = Callable[[Any], Any]


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


# -- values --------------------------------------------------------------------------


def _shown(value: object) -> str:
    try:
        text = _toml_value(value)
    except TypeError:
        text = repr(value)
    return text if len(text) <= 60 else text[:60] + "…"


def _boolean(value: object) -> bool:
    if not isinstance(value, bool):
        raise _Refused()
    return value


def _integer(low: int, high: int) -> Check:
    def check(value: object) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise _Refused()
        return value
    return check


def _choice(*choices: str) -> Check:
    def check(value: object) -> str:
        if value not in choices:
            raise _Refused()
        return str(value)
    return check


def _compact_at(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.1 < value <= 0.95:
        raise _Refused()
    return float(value)


def _array(item: Callable[[object], str], most: int, *, empty: bool = True,
           distinct: bool = True) -> Check:
    """An array of strings, each passed through ``item``, as a tuple."""
    def check(value: object) -> tuple[str, ...]:
        if not isinstance(value, list) or len(value) > most or not (empty or value):
            raise _Refused()
        items = tuple(item(entry) for entry in value)
        for index, entry in enumerate(items):
            if distinct and entry in items[:index]:
                raise _Refused(f"{_shown(entry)} is listed twice")
        return items
    return check


def _model(value: object) -> str:
    if not isinstance(value, str) or not _MODEL.fullmatch(value):
        raise _Refused(f"{_shown(value)} is not a model name")
    return value


def _recipient(value: object) -> str:
    if value in (MANAGER, OPERATOR):
        return str(value)
    try:
        return validate_agent_name(value)
    except InvalidInput as err:
        raise _Refused(err.message) from None


def _tool(value: object) -> str:
    if not isinstance(value, str) or value not in KNOWN_TOOLS:
        raise _Refused(f"unknown tool {_shown(value)}")
    return value


def _bash_pattern(value: object) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= 200 or _CONTROL.search(value):
        raise _Refused(f"{_shown(value)} is not a command pattern")
    return value


def _mcp_tool(value: object) -> str:
    if not isinstance(value, str) or not _MCP_TOOL.fullmatch(value):
        raise _Refused(f"{_shown(value)} is not a tool name")
    return value


def _argument(value: object) -> str:
    if not isinstance(value, str) or "\0" in value or len(value) > 4096:
        raise _Refused(f"{_shown(value)} is not an argument")
    return value


def _command(value: object) -> str:
    if (not isinstance(value, str) or not value.startswith("/") or len(value) > 4096
            or _CONTROL.search(value)):
        raise _Refused()
    return value


def _env(value: object) -> Mapping[str, str]:
    if not isinstance(value, Mapping) or len(value) > 64:
        raise _Refused()
    for name, text in value.items():
        if not isinstance(name, str) or not _ENV_NAME.fullmatch(name):
            raise _Refused(f"{_shown(name)} is not a variable name")
        if not isinstance(text, str) or "\0" in text:
            raise _Refused(f"{name} is not a string without NUL")
    return MappingProxyType(dict(value))


def _memory(value: object) -> str:
    if value == "infinity":
        return value
    if not isinstance(value, str) or not _SIZE.fullmatch(value):
        raise _Refused()
    if int(value.rstrip("KMGT")) == 0:
        raise _Refused("a size of zero leaves no memory at all")
    return value


def _disk(value: object) -> str:
    if not isinstance(value, str) or not _SIZE.fullmatch(value):
        raise _Refused()
    if not DISK_MIN <= size_bytes(value) <= DISK_MAX:
        raise _Refused()
    return value


def _cpu_quota(value: object) -> str:
    if not isinstance(value, str) or not _PERCENT.fullmatch(value):
        raise _Refused()
    if not 1 <= int(value[:-1]) <= 10_000:
        raise _Refused()
    return value


# -- tables --------------------------------------------------------------------------


def _resources(value: object) -> Resources:
    return Resources(**_table(value, "resources", "resources"))


def _restart(value: object) -> RestartPolicy:
    return RestartPolicy(**_table(value, "restart", "restart"))


def _mcp_servers(value: object) -> Mapping[str, McpServer]:
    if not isinstance(value, Mapping) or len(value) > 16:
        raise _Refused()
    servers = {}
    for name, table in value.items():
        where = f"mcp_servers.{_key_shown(name)}"
        if not isinstance(name, str) or not _SERVER.fullmatch(name) or name in RESERVED_SERVERS:
            raise _error(where, SCHEMA_BY_NAME["mcp_servers.<name>"].rule,
                         f"{_shown(name)} is not a server name")
        servers[name] = McpServer(**_table(table, where, "mcp_servers.<name>"))
    return MappingProxyType(servers)


def _server_table(value: object) -> object:
    return value  # each server's table is checked by _mcp_servers, which knows its name


SCHEMA: tuple[Key, ...] = (
    Key("model", "string", "haiku",
        "must be a model name (a-z, 0-9, '.', '-'; up to 64 characters) listed in "
        "available_models",
        "The model the agent starts with. The operator's /model switches among "
        "available_models.", _model),
    Key("available_models", "array of strings", ["haiku", "sonnet", "opus"],
        "must be a non-empty array of at most 32 distinct model names (a-z, 0-9, '.', '-'; "
        "up to 64 characters)",
        "The models the agent may be switched to, like claude-sonnet-4-5.",
        _array(_model, 32, empty=False)),
    Key("allowed_recipients", "array of strings", [],
        "must be an array of at most 256 distinct agent names; manager and operator may be "
        "listed",
        "The agents this one may send to; an empty array means anyone. The manager and "
        "the operator are always allowed. hive-c0re enforces it on the host.",
        _array(_recipient, 256)),
    Key("allowed_tools", "array of strings", ["Bash", "Read", "Write", "Edit", "Glob", "Grep"],
        "must be an array of distinct tools from " + ", ".join(KNOWN_TOOLS),
        "The Claude Code built-in tools the agent may use; the others are denied.",
        _array(_tool, len(KNOWN_TOOLS))),
    Key("allowed_bash", "array of strings", [],
        "must be an array of at most 100 distinct command patterns of 1 to 200 characters, "
        "without newlines, NUL or other control characters",
        "The Bash commands the agent may run, as patterns like \"git *\", \"ls\" or "
        "\"pytest *\", matched word by word (\"*\" alone stands for one or more words). "
        "A command line may join such commands with &&, ||, ; and |; one whose meaning "
        "bash could change is refused: other operators, $, backquotes, globs, braces, "
        "a NAME=value before a command, and redirections other than 2>&1-style copies "
        "and to /dev/null. An empty array allows none; \"*\" allows every command.",
        _array(_bash_pattern, 100)),
    Key("auto_compact", "boolean", True, "must be true or false",
        "Checkpoint the notes and compact the context when it reaches compact_at.",
        _boolean),
    Key("compact_at", "number", 0.75, "must be a number above 0.1 and at most 0.95",
        "The share of the model's context window at which auto_compact acts.", _compact_at),
    Key("mcp_servers", "table", {}, "must be a table of at most 16 server tables",
        "Extra MCP servers the harness starts for the agent, one table each.", _mcp_servers),
    Key("mcp_servers.<name>", "table", None,
        "must be a table with command and optional args, env and allowed_tools; <name> is a "
        "lowercase letter, then up to 31 of a-z, 0-9, '_' or '-', and not hive or hyperhive",
        "One MCP server; its tools reach the agent as mcp__<name>__<tool>.", _server_table),
    Key("mcp_servers.<name>.command", "string", None,
        "must be the absolute path of the server's executable, without control characters",
        "The program to start, speaking MCP on its stdin and stdout.", _command,
        required=True),
    Key("mcp_servers.<name>.args", "array of strings", [],
        "must be an array of at most 64 strings without NUL",
        "Arguments passed to command.", _array(_argument, 64, distinct=False)),
    Key("mcp_servers.<name>.env", "table of strings", {},
        "must be a table of at most 64 NAME = \"value\" strings, NAME matching "
        "[A-Z_][A-Z0-9_]*, values without NUL",
        "Environment variables for the server.", _env),
    Key("mcp_servers.<name>.allowed_tools", "array of strings", [],
        "must be an array of at most 256 distinct tool names of A-Z, a-z, 0-9, '_' or '-' "
        "(up to 64 characters)",
        "The server's tools the agent may call; the others are denied.",
        _array(_mcp_tool, 256)),
    Key("resources", "table", {}, "must be a table",
        "Limits on the agent's container, so that one agent cannot starve the host, the "
        "daemon or the other agents. Every key has a default; raise it here.", _resources),
    Key("resources.memory_max", "string", "2G", "must be a size like 512M, 2G or infinity",
        "MemoryMax= of the container unit: bytes, or K, M, G, T (powers of 1024). Past it "
        "the kernel reclaims, then kills inside the container.", _memory),
    Key("resources.cpu_quota", "string", None,
        "must be a percentage from 1% to 10000%, like 150%",
        "CPUQuota= of the container unit; 100% is one whole CPU. Unset, the agent shares "
        "the CPUs by weight with every other unit, which keeps the daemon scheduled.",
        _cpu_quota),
    Key("resources.tasks_max", "integer", 512, "must be an integer from 1 to 1000000",
        "TasksMax= of the container unit: processes and threads together. A fork bomb "
        "stops here.", _integer(1, 1_000_000)),
    Key("resources.disk_max", "string", "4G",
        "must be a size from 16M to 16T, like 64M or 4G",
        "The size of the agent's disk: /state and /root/.claude live together on one ext4 "
        "image of this size, so a full disk stops the agent, not the host. The image is "
        "sparse and grows when this is raised; lowering it does not shrink it. Agents "
        "created before disk images keep their plain directories.", _disk),
    Key("restart", "table", {}, "must be a table",
        "Reserved: what to do when the container crashes. Checked now, acted on later; until "
        "then every crash is reported to the manager.", _restart),
    Key("restart.policy", "string", "report", "must be \"report\" or \"restart\"",
        "report tells the manager; restart restarts the container, at most burst times "
        "within interval_seconds, and then reports.", _choice("report", "restart")),
    Key("restart.burst", "integer", 3, "must be an integer from 1 to 100",
        "Restarts allowed within interval_seconds.", _integer(1, 100)),
    Key("restart.interval_seconds", "integer", 600, "must be an integer from 1 to 86400",
        "The window burst is counted in.", _integer(1, 86_400)),
)
SCHEMA_BY_NAME = {key.name: key for key in SCHEMA}
# Each table's own keys; the <name> entry of mcp_servers is not a key you write.
_CHILDREN: dict[str, dict[str, Key]] = {}
for _key in SCHEMA:
    if _key.name != "mcp_servers.<name>":
        _CHILDREN.setdefault(_key.table, {})[_key.local] = _key


# -- checking tables -----------------------------------------------------------------


def _key_shown(name: object) -> str:
    return name if isinstance(name, str) and _BARE_KEY.fullmatch(name) else _shown(name)


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
        raise _error(where, SCHEMA_BY_NAME[table].rule, f"got {_shown(value)}")
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
    except _Refused as refused:
        raise _error(dotted, key.rule, refused.detail or f"got {_shown(raw)}") from None


# -- the config ----------------------------------------------------------------------


@dataclass(frozen=True)
class McpServer:
    command: str
    args: tuple[str, ...]
    env: Mapping[str, str]
    allowed_tools: tuple[str, ...]


@dataclass(frozen=True)
class RestartPolicy:
    policy: str
    burst: int
    interval_seconds: int


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

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AgentConfig:
        """Check parsed TOML (or :meth:`to_dict` output); raise InvalidInput naming the key."""
        if not isinstance(data, Mapping):
            raise InvalidInput(f"{FILE_NAME}: must be a table of keys, got {_shown(data)}")
        config = cls(**_table(data, "", ""))
        if config.model not in config.available_models:
            raise _error("model", SCHEMA_BY_NAME["model"].rule,
                         f"{_shown(config.model)} is not in available_models "
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
        return _toml_table(self.to_dict(), ())

    def policy_json(self) -> dict[str, Any]:
        """What the harness reads, read-only, from ``/etc/hive/policy.json`` (JSON-ready)."""
        plain = self.to_dict()
        return {"version": POLICY_VERSION, **{key: plain[key] for key in POLICY_KEYS}}

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


_SHORT_ESCAPES = {"\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}


def _toml_escape(char: str) -> str:
    return _SHORT_ESCAPES.get(char) or f"\\u{ord(char):04X}"


def _toml_string(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + _CONTROL.sub(lambda m: _toml_escape(m.group()), escaped) + '"'


def _toml_key(name: str) -> str:
    return name if _BARE_KEY.fullmatch(name) else _toml_string(name)


def _toml_value(value: Any) -> str:
    """One TOML value; raise TypeError for what TOML (or this writer) cannot say."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    if isinstance(value, Mapping):
        pairs = (f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items())
        return "{" + ", ".join(pairs) + "}" if value else "{}"
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    raise TypeError(f"no TOML for {type(value).__name__}")


def _toml_table(table: Mapping[str, Any], path: tuple[str, ...]) -> str:
    """A table's own keys under its header, then its subtables; empty tables are left out."""
    own = [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in table.items()
           if not isinstance(v, Mapping)]
    header = ["[" + ".".join(_toml_key(p) for p in path) + "]"] if path and own else []
    text = "".join(line + "\n" for line in header + own)
    for name, value in table.items():
        if isinstance(value, Mapping):
            inner = _toml_table(value, (*path, name))
            text += ("\n" if text and inner else "") + inner
    return text


def _roff(text: str) -> str:
    escaped = text.replace("\\", "\\e").replace("-", "\\-")
    return "\\&" + escaped if escaped.startswith((".", "'")) else escaped


def _default_shown(key: Key) -> str:
    if key.required:
        return "none, required"
    if key.default is None:
        return "unset" if key.kind != "table" else "none"
    return "empty" if key.default == {} else _toml_value(key.default)


def schema_roff() -> str:
    """The KEYS section of hyperhive-agent.toml(5), made from :data:`SCHEMA`."""
    lines: list[str] = []
    for key in SCHEMA:
        lines += [".TP", f".B {_roff(key.name)}",
                  f"\\fI{_roff(key.kind)}\\fR; default: \\fB{_roff(_default_shown(key))}\\fR",
                  ".br", _roff(key.help), ".br", _roff(f"Rule: {key.rule}.")]
    return "\n".join(lines) + "\n"
