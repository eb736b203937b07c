from __future__ import annotations

import dataclasses
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hive_c0re.errors import InvalidInput
from hive_c0re.lifecycle.agent_config import (
    SCHEMA,
    AgentConfig,
    CliLimits,
    RestartPolicy,
    load_agent_config,
    schema_roff,
    seed_text,
)
from hive_c0re.lifecycle.agent_values import KNOWN_TOOLS
from hive_c0re.lifecycle.backend import Resources, size_bytes
from hive_c0re.policy import McpServer, Policy

MAN_PAGE = Path(__file__).resolve().parents[3] / "man" / "hyperhive-agent.toml.5"


def _refusal(text: str) -> str:
    with pytest.raises(InvalidInput) as caught:
        load_agent_config(text)
    return str(caught.value)


def _man_block(section: str) -> str:
    """The text of the first .EX block after ``.SH section``, with roff escapes undone."""
    page = MAN_PAGE.read_text()
    body = page.split(f".SH {section}\n", 1)[1]
    block = body.split(".EX\n", 1)[1].split(".EE\n", 1)[0]
    return block.replace("\\-", "-").replace("\\e", "\\")


# -- defaults ----------------------------------------------------------------------


def test_empty_file_is_the_default_policy() -> None:
    config = load_agent_config("")
    assert config == AgentConfig.defaults()
    assert config.model == "haiku"
    assert config.available_models == ("haiku", "sonnet", "opus")
    assert config.allowed_recipients == ()
    assert config.allowed_tools == ("Bash", "Read", "Write", "Edit", "Glob", "Grep")
    assert config.allowed_bash == ()
    assert config.auto_compact is True
    assert config.compact_at == 0.75
    assert config.mcp_servers == {}
    assert config.resources == Resources(memory_max="2G", tasks_max=512, disk_max="4G")
    assert config.resources.unit_properties() == [("MemoryMax", "2G"), ("TasksMax", "512")]
    assert config.restart == RestartPolicy(policy="report", burst=3, interval_seconds=600)
    assert config.cli == CliLimits(idle_release_seconds=None, max_rss_mib=None)


def test_schema_and_dataclasses_agree() -> None:
    def keys_of(table: str) -> list[str]:
        return [k.local for k in SCHEMA if k.table == table]

    assert keys_of("") == [f.name for f in dataclasses.fields(AgentConfig)]
    assert keys_of("resources") == [f.name for f in dataclasses.fields(Resources)]
    assert keys_of("restart") == [f.name for f in dataclasses.fields(RestartPolicy)]
    assert keys_of("cli") == [f.name for f in dataclasses.fields(CliLimits)]
    assert keys_of("mcp_servers.<name>") == [f.name for f in dataclasses.fields(McpServer)]
    for key in SCHEMA:
        assert key.help and key.rule.startswith("must "), key.name


def test_seed_template_is_valid_and_equals_the_defaults() -> None:
    text = seed_text()
    assert load_agent_config(text) == AgentConfig.defaults()
    for key in SCHEMA:
        if key.local != "<name>":
            assert key.local in text, f"{key.name} is not mentioned in the seed template"


def test_config_is_frozen() -> None:
    config = load_agent_config('[mcp_servers.x]\ncommand = "/bin/x"\nenv = { A = "1" }\n')
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.model = "opus"  # type: ignore[misc]
    with pytest.raises(TypeError):
        config.mcp_servers["y"] = config.mcp_servers["x"]  # type: ignore[index]
    with pytest.raises(TypeError):
        config.mcp_servers["x"].env["A"] = "2"  # type: ignore[index]


# -- a full file -------------------------------------------------------------------

FULL = """
model = "claude-sonnet-4-5"
available_models = ["haiku", "claude-sonnet-4-5", "opus"]
allowed_recipients = ["bob", "manager", "operator"]
allowed_tools = ["Bash", "Read", "WebFetch", "TodoWrite"]
allowed_bash = ["git *", "ls", "pytest *", "*"]
auto_compact = false
compact_at = 0.95

[mcp_servers.github]
command = "/usr/bin/github-mcp"
args = ["stdio", "--read-only"]
env = { GITHUB_TOKEN_FILE = "/run/secret", _X1 = "" }
allowed_tools = ["get_file_contents", "list-issues"]

[mcp_servers.db_2]
command = "/opt/db"

[resources]
memory_max = "infinity"
cpu_quota = "10000%"
tasks_max = 1
disk_max = "16T"

[restart]
policy = "restart"
burst = 100
interval_seconds = 86400

[cli]
idle_release_seconds = 604800
max_rss_mib = 0
"""


def test_every_key_at_its_edge_is_accepted() -> None:
    config = load_agent_config(FULL)
    assert config.model == "claude-sonnet-4-5"
    assert config.allowed_recipients == ("bob", "manager", "operator")
    assert config.allowed_bash == ("git *", "ls", "pytest *", "*")
    assert config.compact_at == 0.95
    github = config.mcp_servers["github"]
    assert github.args == ("stdio", "--read-only")
    assert github.env == {"GITHUB_TOKEN_FILE": "/run/secret", "_X1": ""}
    assert config.mcp_servers["db_2"] == McpServer("/opt/db", (), {}, ())
    assert config.resources == Resources(memory_max="infinity", cpu_quota="10000%", tasks_max=1,
                                         disk_max="16T")
    assert config.resources.unit_properties() == [
        ("MemoryMax", "infinity"), ("CPUQuota", "10000%"), ("TasksMax", "1")]
    assert config.restart == RestartPolicy("restart", 100, 86400)
    assert config.cli == CliLimits(idle_release_seconds=604800, max_rss_mib=0)
    policy = config.policy()
    assert (policy.cli_idle_release_seconds, policy.cli_max_rss_mib) == (604800, 0)


@pytest.mark.parametrize("text", [
    'resources.memory_max = "512K"', 'resources.memory_max = "1073741824"',
    'resources.cpu_quota = "1%"', 'resources.disk_max = "16M"',
    'resources.disk_max = "17179869184"', "compact_at = 0.11", "compact_at = 0.5",
    'allowed_tools = []', 'available_models = ["haiku"]',
    "cli.idle_release_seconds = 0", "cli.max_rss_mib = 1048576",
])
def test_edge_values_are_accepted(text: str) -> None:
    load_agent_config(text)


def test_round_trips_through_dict_and_toml() -> None:
    config = load_agent_config(FULL)
    assert AgentConfig.from_dict(config.to_dict()) == config
    assert load_agent_config(config.to_toml()) == config
    assert json.loads(json.dumps(config.to_dict())) == config.to_dict()
    defaults = AgentConfig.defaults()
    assert load_agent_config(defaults.to_toml()) == defaults
    assert '[resources]\nmemory_max = "2G"\ntasks_max = 512\ndisk_max = "4G"\n' in \
        defaults.to_toml()


@settings(max_examples=60, deadline=None)
@given(
    bash=st.lists(st.text(min_size=1, max_size=30).filter(lambda s: not any(
        ord(c) < 32 or ord(c) == 127 for c in s)), max_size=5, unique=True),
    args=st.lists(st.text(max_size=20).filter(lambda s: "\0" not in s), max_size=4),
    value=st.text(max_size=20).filter(lambda s: "\0" not in s),
    compact=st.floats(min_value=0.1001, max_value=0.95),
)
def test_any_valid_config_round_trips(bash: list[str], args: list[str], value: str,
                                      compact: float) -> None:
    config = AgentConfig.from_dict({
        "allowed_bash": bash, "compact_at": compact,
        "mcp_servers": {"s": {"command": "/x", "args": args, "env": {"V": value}}},
    })
    assert load_agent_config(config.to_toml()) == config


def test_policy_json_has_what_the_harness_needs_and_nothing_else() -> None:
    policy = load_agent_config(FULL).policy().to_json()
    assert set(policy) == {"version", *(f.name for f in dataclasses.fields(Policy))}
    assert "resources" not in policy and "restart" not in policy
    assert policy["version"] == 1
    assert policy["model"] == "claude-sonnet-4-5"
    assert policy["mcp_servers"]["github"]["env"] == {"GITHUB_TOKEN_FILE": "/run/secret",
                                                     "_X1": ""}
    assert json.loads(json.dumps(policy)) == policy
    assert Policy.from_json(json.loads(json.dumps(policy))) == load_agent_config(FULL).policy()


def test_recipients_empty_means_anyone_and_manager_operator_always() -> None:
    anyone = AgentConfig.defaults()
    assert anyone.allows_recipient("carol")
    only_bob = load_agent_config('allowed_recipients = ["bob"]')
    assert only_bob.allows_recipient("bob")
    assert only_bob.allows_recipient("manager") and only_bob.allows_recipient("operator")
    assert not only_bob.allows_recipient("carol")


# -- refusals ----------------------------------------------------------------------

BAD = [
    ('model = "Sonnet"', "model", "not a model name"),
    ("model = 5", "model", "5 is not a model name"),
    ('model = "opus-5"', "model", "not in available_models (haiku, sonnet, opus)"),
    ('available_models = ["sonnet"]', "model", "not in available_models"),
    ("available_models = []", "available_models", "non-empty"),
    ('available_models = ["haiku", "haiku"]', "available_models", "listed twice"),
    ('available_models = "haiku"', "available_models", 'got "haiku"'),
    ('available_models = ["a_b"]', "available_models", "not a model name"),
    ('allowed_recipients = ["Alice"]', "allowed_recipients", "'Alice' is not allowed"),
    ('allowed_recipients = ["system"]', "allowed_recipients", "reserved"),
    ('allowed_recipients = ["*"]', "allowed_recipients", "reserved"),
    ('allowed_recipients = ["bob", "bob"]', "allowed_recipients", "listed twice"),
    ('allowed_tools = ["Bash", "Foo"]', "allowed_tools", 'unknown tool "Foo"'),
    ('allowed_tools = ["bash"]', "allowed_tools", "NotebookEdit, TodoWrite"),
    ('allowed_bash = ["git *\\nrm -rf /"]', "allowed_bash", "not a command pattern"),
    ('allowed_bash = ["a\\u0000b"]', "allowed_bash", "not a command pattern"),
    ('allowed_bash = [""]', "allowed_bash", "not a command pattern"),
    (f'allowed_bash = ["{"x" * 201}"]', "allowed_bash", "1 to 200 characters"),
    ("allowed_bash = [" + ", ".join(f'"c{i}"' for i in range(101)) + "]",
     "allowed_bash", "at most 100"),
    ('auto_compact = "yes"', "auto_compact", "true or false"),
    ("auto_compact = 1", "auto_compact", "true or false"),
    ("compact_at = 0.1", "compact_at", "above 0.1"),
    ("compact_at = 0.96", "compact_at", "at most 0.95"),
    ("compact_at = 1", "compact_at", "got 1"),
    ("compact_at = true", "compact_at", "got true"),
    ('compact_at = "0.5"', "compact_at", 'got "0.5"'),
    ("mcp_servers = 5", "mcp_servers", "table of at most 16"),
    ('[mcp_servers.hive]\ncommand = "/x"', "mcp_servers.hive", "not hive or hyperhive"),
    ('[mcp_servers.Bad]\ncommand = "/x"', "mcp_servers.Bad", '"Bad" is not a server name'),
    ('[mcp_servers."a b"]\ncommand = "/x"', 'mcp_servers."a b"', "not a server name"),
    ("[mcp_servers.ok]\nargs = []", "mcp_servers.ok.command", "it is missing"),
    ('[mcp_servers.ok]\ncommand = "bin/x"', "mcp_servers.ok.command", "absolute path"),
    ('[mcp_servers.ok]\ncommand = "/x"\nargs = [1]', "mcp_servers.ok.args", "1 is not"),
    ('[mcp_servers.ok]\ncommand = "/x"\nargs = "a"', "mcp_servers.ok.args", "array"),
    ('[mcp_servers.ok]\ncommand = "/x"\nenv = { lower = "x" }', "mcp_servers.ok.env",
     '"lower" is not a variable name'),
    ('[mcp_servers.ok]\ncommand = "/x"\nenv = { A = 1 }', "mcp_servers.ok.env",
     "A is not a string"),
    ('[mcp_servers.ok]\ncommand = "/x"\nallowed_tools = ["a tool"]',
     "mcp_servers.ok.allowed_tools", '"a tool" is not a tool name'),
    ("mcp_servers.ok = 3", "mcp_servers.ok", "must be a table with command"),
    ("\n".join(f'[mcp_servers.s{i}]\ncommand = "/x"' for i in range(17)),
     "mcp_servers", "at most 16"),
    ("resources = 5", "resources", "must be a table; got 5"),
    ('restart = "on"', "restart", 'must be a table; got "on"'),
    ('resources.memory_max = "2GB"', "resources.memory_max",
     'must be a size like 512M, 2G or infinity; got "2GB"'),
    ('resources.memory_max = "0M"', "resources.memory_max", "zero"),
    ("resources.memory_max = 512", "resources.memory_max", "512M, 2G or infinity"),
    ('resources.cpu_quota = "0%"', "resources.cpu_quota", "from 1% to 10000%"),
    ('resources.cpu_quota = "10001%"', "resources.cpu_quota", "from 1% to 10000%"),
    ('resources.cpu_quota = "150"', "resources.cpu_quota", "from 1% to 10000%"),
    ("resources.tasks_max = 0", "resources.tasks_max", "from 1 to 1000000"),
    ("resources.tasks_max = 1000001", "resources.tasks_max", "from 1 to 1000000"),
    ("resources.tasks_max = true", "resources.tasks_max", "got true"),
    ('resources.disk_max = "15M"', "resources.disk_max", "from 16M to 16T"),
    ('resources.disk_max = "17T"', "resources.disk_max", "from 16M to 16T"),
    ('resources.disk_max = "infinity"', "resources.disk_max", "like 64M or 4G"),
    ("resources.disk_max = 4", "resources.disk_max", "got 4"),
    ('restart.policy = "always"', "restart.policy", 'must be "report" or "restart"'),
    ("restart.burst = 0", "restart.burst", "from 1 to 100"),
    ("restart.burst = 101", "restart.burst", "from 1 to 100"),
    ("restart.interval_seconds = 0", "restart.interval_seconds", "from 1 to 86400"),
    ("restart.interval_seconds = 60.5", "restart.interval_seconds", "got 60.5"),
    ("cli = 300", "cli", "must be a table; got 300"),
    ("cli.idle_release_seconds = -1", "cli.idle_release_seconds", "from 0 to 604800"),
    ("cli.idle_release_seconds = 604801", "cli.idle_release_seconds", "from 0 to 604800"),
    ("cli.idle_release_seconds = 0.5", "cli.idle_release_seconds", "got 0.5"),
    ('cli.idle_release_seconds = "5m"', "cli.idle_release_seconds", 'got "5m"'),
    ("cli.max_rss_mib = -1", "cli.max_rss_mib", "from 0 to 1048576"),
    ("cli.max_rss_mib = true", "cli.max_rss_mib", "got true"),
]


@pytest.mark.parametrize(("text", "key", "says"), BAD)
def test_each_rule_is_refused_naming_the_dotted_key(text: str, key: str, says: str) -> None:
    message = _refusal(text)
    assert message.startswith(f"agent.toml: {key}: must "), message
    assert says in message


def test_every_schema_rule_is_exercised_by_a_refusal() -> None:
    refused = {key for _, key, _ in BAD}
    for key in SCHEMA:
        name = key.name.replace("<name>", "ok")
        assert name in refused or key.name in ("mcp_servers.<name>",), key.name


@pytest.mark.parametrize(("text", "key", "guess"), [
    ("modle = 'opus'", "modle", "model"),
    ("allowed_tool = []", "allowed_tool", "allowed_tools"),
    ('memory_max = "2G"', "memory_max", "resources.memory_max"),
    ('resources.memmory_max = "2G"', "resources.memmory_max", "resources.memory_max"),
    ("restart.bursts = 3", "restart.bursts", "restart.burst"),
    ('[mcp_servers.gh]\ncommand = "/x"\nalowed_tools = []', "mcp_servers.gh.alowed_tools",
     "mcp_servers.gh.allowed_tools"),
    ("resources.model = 'x'", "resources.model", "model"),
])
def test_unknown_keys_are_named_with_the_nearest_known_key(text: str, key: str,
                                                           guess: str) -> None:
    assert _refusal(text).startswith(f"agent.toml: {key}: unknown key; did you mean {guess}?")


def test_unknown_key_without_a_near_one_lists_the_table() -> None:
    message = _refusal("zzzzzz = 1")
    assert message.startswith("agent.toml: zzzzzz: unknown key (hint: keys here: model,")


def test_hostile_key_names_are_quoted_in_the_message() -> None:
    message = _refusal('"a\\nb" = 1')
    assert message.startswith('agent.toml: "a\\nb": unknown key'), message


@pytest.mark.parametrize(("text", "line"), [
    ('model = "haiku"\nallowed_tools = [Bash]\n', "line 2, column 18"),
    ("model = 'a'\nmodel = 'b'\n", "line 2"),
    ("[resources\n", "line 1"),
    ('model = "unterminated\n', "line 1"),
])
def test_toml_syntax_errors_name_the_line(text: str, line: str) -> None:
    message = _refusal(text)
    assert message.startswith(f"agent.toml: {line}"), message
    assert "not valid TOML" in message


def test_oversized_files_are_refused() -> None:
    assert "larger than 65536 bytes" in _refusal("#" * 70_000)


def test_from_dict_refuses_what_toml_could_not_say() -> None:
    with pytest.raises(InvalidInput, match="must be a table of keys"):
        AgentConfig.from_dict([1, 2])  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match=r"agent\.toml: 5: unknown key"):
        AgentConfig.from_dict({5: 1})  # type: ignore[dict-item]


def test_unknown_tool_error_names_the_tool_and_the_known_set() -> None:
    message = _refusal('allowed_tools = ["Telepathy"]')
    assert '"Telepathy"' in message
    assert ", ".join(KNOWN_TOOLS) in message


# -- the man page --------------------------------------------------------------------


def test_every_key_is_documented_in_the_man_page() -> None:
    page = MAN_PAGE.read_text()
    for key in SCHEMA:
        assert f".B {key.name}\n" in page, f"{key.name} missing from {MAN_PAGE.name}"


def test_man_page_keys_section_is_generated_from_the_schema() -> None:
    page = MAN_PAGE.read_text()
    begin = '.\\" BEGIN GENERATED keys (scripts/gen-man)\n'
    start = page.index(begin) + len(begin)
    end = page.index('.\\" END GENERATED keys\n')
    assert page.index(".SH KEYS\n") < start
    assert page[start:end] == schema_roff(), (
        "regenerate the KEYS section of man/hyperhive-agent.toml.5 from schema_roff()")


def test_man_page_example_is_a_valid_agent_toml() -> None:
    config = load_agent_config(_man_block("EXAMPLE"))
    assert config.model == "sonnet"
    assert config.mcp_servers["github"].command.endswith("github-mcp-server")
    assert config.resources == Resources(memory_max="2G", cpu_quota="150%", tasks_max=512,
                                         disk_max="8G")


def test_man_page_error_examples_are_what_hive_c0re_says() -> None:
    said = [
        _refusal('model = "haiku"\navailable_models = [haiku]\n'),
        _refusal('resources.memory_max = "2GB"'),
        _refusal('modle = "opus"'),
        _refusal('memory_max = "2G"'),
    ]
    shown = _man_block("ERRORS").splitlines()
    assert [message.split(" (hint:")[0] for message in said] == shown


@pytest.mark.skipif(shutil.which("groff") is None, reason="groff is not installed")
def test_man_page_renders_without_warnings() -> None:
    done = subprocess.run(["groff", "-man", "-ww", "-z", str(MAN_PAGE)],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0 and not done.stderr, done.stderr


@pytest.mark.skipif(shutil.which("man") is None, reason="man is not installed")
def test_man_page_renders_with_man() -> None:
    done = subprocess.run(["man", "-l", str(MAN_PAGE)], capture_output=True, text=True,
                          check=False, env={"MANWIDTH": "100", "PATH": "/usr/bin:/bin",
                                            "MANPAGER": "cat", "PAGER": "cat"})
    assert done.returncode == 0, done.stderr
    rendered = re.sub(r".\x08", "", done.stdout)
    for key in SCHEMA:
        assert key.name in rendered


@pytest.mark.parametrize(("size", "expected"), [
    ("16M", 16 << 20), ("4G", 4 << 30), ("1T", 1 << 40), ("512K", 512 << 10), ("1000", 1000),
])
def test_sizes_are_powers_of_1024(size: str, expected: int) -> None:
    assert size_bytes(size) == expected
