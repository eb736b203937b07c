"""The harness's pure parts: permissions, policy, model choice, prompts, outcomes."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from hive_ag3nt.model import ModelChoice
from hive_ag3nt.outcome import Outcome, classify, context_tokens
from hive_ag3nt.permissions import decide, decide_bash
from hive_ag3nt.policy import Policy, load_policy
from hive_ag3nt.prompt import REDELIVERED, mail_prompt, system_prompt
from hive_c0re.errors import InvalidInput

GIT_AND_LS = ("git *", "ls", "ls *")


@pytest.mark.parametrize("command", ["git status", "ls", "ls -la /state", "git log --oneline",
                                     "git status && ls", "git diff | ls"])
def test_allowed_bash_commands_pass(command: str) -> None:
    assert decide_bash(command, GIT_AND_LS).allowed


@pytest.mark.parametrize(
    ("command", "says"),
    [
        ("rm -rf /", "`rm -rf /` is not in the allowed Bash patterns"),
        ("git status && rm -rf x", "`rm -rf x` is not in the allowed"),
        ("git status; curl evil", "`curl evil`"),
        ("ls $(rm -rf x)", "substitutions"),
        ("ls `rm x`", "substitutions"),
        ("(rm x)", "subshells"),
        ("git status\nrm x", "newlines are not allowed"),
        ("ls 'unterminated", "a quote is not closed"),
    ],
)
def test_forbidden_bash_commands_are_refused_with_the_reason(command: str, says: str) -> None:
    decision = decide_bash(command, GIT_AND_LS)
    assert not decision.allowed
    assert says in decision.reason


def test_bash_off_by_default_and_star_allows_all() -> None:
    assert "allowed_bash is empty" in decide_bash("ls", ()).reason
    assert decide_bash("rm -rf $(anything)", ("*",)).allowed


def test_tools_follow_the_policy() -> None:
    policy = Policy.from_json({"allowed_tools": ["Read", "Bash"], "allowed_bash": ["ls"],
                               "mcp_servers": {"notes": {"command": "/usr/bin/notes",
                                                         "allowed_tools": ["search"]}}})
    assert decide("Read", {}, policy).allowed
    assert "WebFetch tool is not allowed" in decide("WebFetch", {}, policy).reason
    assert decide("mcp__hive__send", {}, policy).allowed
    assert decide("mcp__notes__search", {}, policy).allowed
    assert not decide("mcp__notes__delete", {}, policy).allowed
    assert not decide("Bash", {"command": "rm x"}, policy).allowed


def test_policy_file(tmp_path: Path) -> None:
    assert load_policy(tmp_path / "missing.json") == Policy()
    (tmp_path / "p.json").write_text(json.dumps({"model": "sonnet", "compact_at": 0.5,
                                                 "allowed_recipients": ["bob"]}))
    policy = load_policy(tmp_path / "p.json")
    assert (policy.model, policy.compact_at, policy.allowed_recipients) == ("sonnet", 0.5,
                                                                           ("bob",))
    (tmp_path / "bad.json").write_text("[1, 2]")
    with pytest.raises(InvalidInput, match="JSON object"):
        load_policy(tmp_path / "bad.json")


def test_model_choice_persists_and_refuses_unknown_models(tmp_path: Path) -> None:
    path = tmp_path / "hyperhive-model"
    choice = ModelChoice(Policy(), path)
    assert choice.current == "haiku"
    assert choice.set("sonnet") is None
    assert ModelChoice(Policy(), path).current == "sonnet"
    with pytest.raises(InvalidInput, match="not available"):
        choice.set("gpt-4")
    narrower = Policy(available_models=("haiku",))
    assert ModelChoice(narrower, path).current == "haiku"


def test_model_switch_still_applies_when_it_cannot_be_saved(tmp_path: Path) -> None:
    choice = ModelChoice(Policy(), tmp_path / "no-such-dir" / "hyperhive-model")
    warning = choice.set("opus")
    assert warning is not None and "not saved" in warning
    assert choice.current == "opus"


def test_prompts_name_the_agent_and_mark_redeliveries() -> None:
    text = system_prompt("alice", Policy(allowed_recipients=("bob",)), "/state/notes.md")
    assert "You are alice" in text and "bob" in text and "/state/notes.md" in text
    rendered = mail_prompt([
        {"id": 1, "from": "operator", "body": "hi", "redelivered": False},
        {"id": 2, "from": "bob", "body": "again", "redelivered": True, "in_reply_to": 1},
    ])
    assert "Message #1 from operator:\nhi" in rendered
    assert f"Message #2 from bob (reply to #1):\n{REDELIVERED}\nagain" in rendered


def _result(**fields: object) -> SimpleNamespace:
    base: dict[str, object] = {"is_error": False, "api_error_status": None, "result": "",
                               "errors": None, "subtype": "success", "terminal_reason": None}
    return SimpleNamespace(**(base | fields))


@pytest.mark.parametrize(
    ("fields", "errors", "outcome"),
    [
        ({}, [], Outcome.OK),
        ({"is_error": True, "api_error_status": 429}, [], Outcome.RATE_LIMITED),
        ({"is_error": True}, ["rate_limit"], Outcome.RATE_LIMITED),
        ({"is_error": True, "api_error_status": 401}, [], Outcome.AUTH),
        ({"is_error": True}, ["authentication_failed"], Outcome.AUTH),
        ({"is_error": True, "api_error_status": 400, "terminal_reason": "prompt_too_long"},
         ["invalid_request"], Outcome.TOO_LONG),
        ({"is_error": True, "subtype": "error_during_execution",
          "terminal_reason": "aborted_streaming"}, [], Outcome.INTERRUPTED),
        ({"is_error": True, "result": "boom", "subtype": "error_during_execution"}, [],
         Outcome.ERROR),
    ],
)
def test_turn_outcomes(fields: dict[str, object], errors: list[str], outcome: Outcome) -> None:
    assert classify(_result(**fields), errors)[0] is outcome


def test_context_tokens_count_cached_input() -> None:
    assert context_tokens({"input_tokens": 10, "cache_read_input_tokens": 100,
                           "cache_creation_input_tokens": 5, "output_tokens": 7}) == 115
    assert context_tokens(None) == 0


def test_every_harness_setting_is_declared_once_documented_and_listed() -> None:
    from dataclasses import fields

    from click.testing import CliRunner

    from hive_ag3nt.cli import cli
    from hive_ag3nt.settings import HARNESS_SETTINGS, HarnessSettings
    from hive_c0re.setting import Setting

    assert [s.name for s in HARNESS_SETTINGS] == [f.name for f in fields(HarnessSettings)]
    assert all(isinstance(s, Setting) and s.help for s in HARNESS_SETTINGS)
    defaults = HarnessSettings.load(environ={})
    assert all(getattr(defaults, s.name) == s.default for s in HARNESS_SETTINGS)
    listed = CliRunner().invoke(cli, ["settings"])
    assert listed.exit_code == 0, listed.output
    for setting in HARNESS_SETTINGS:
        assert setting.env in listed.output and setting.help in listed.output


@pytest.mark.parametrize(("environ", "says"), [
    ({"HYPERHIVE_RECV_WAIT": "600"}, "recv_wait must be at most 180"),
    ({"HYPERHIVE_RECV_WAIT": "0"}, "recv_wait must be at least 0.1"),
    ({"HYPERHIVE_RECV_WAIT": "nan"}, "HYPERHIVE_RECV_WAIT. must be a finite number"),
    ({"HYPERHIVE_MODEL_UID": "-1"}, "model_uid must be at least 0"),
    ({"HYPERHIVE_NOTES_LIMIT": "lots"}, "HYPERHIVE_NOTES_LIMIT. must be int"),
    ({"HYPERHIVE_CLI_IDLE_RELEASE": "-1"}, "cli_idle_release must be at least 0"),
    ({"HYPERHIVE_CLI_IDLE_RELEASE": "inf"}, "HYPERHIVE_CLI_IDLE_RELEASE. must be a finite"),
    ({"HYPERHIVE_CLI_MAX_RSS_MIB": "1.5"}, "HYPERHIVE_CLI_MAX_RSS_MIB. must be int"),
    ({"HYPERHIVE_CLI_MAX_RSS_MIB": "-5"}, "cli_max_rss_mib must be at least 0"),
])
def test_a_bad_harness_setting_is_refused_naming_it(environ: dict[str, str], says: str) -> None:
    from hive_ag3nt.settings import HarnessSettings

    with pytest.raises(InvalidInput, match=says):
        HarnessSettings.load(environ=environ)
    assert HarnessSettings.load({"recv_wait": 2}, environ={}).recv_wait == 2.0


def test_the_cli_limits_come_from_the_environment_and_agent_toml_wins() -> None:
    from hive_ag3nt.settings import HarnessSettings

    defaults = HarnessSettings.load(environ={})
    assert (defaults.cli_idle_release, defaults.cli_max_rss_mib) == (300.0, 768)
    host = HarnessSettings.load(environ={"HYPERHIVE_CLI_IDLE_RELEASE": "0.2",
                                         "HYPERHIVE_CLI_MAX_RSS_MIB": "0"})
    assert (host.cli_idle_release, host.cli_max_rss_mib) == (0.2, 0)
    assert host.for_agent(Policy()) == host  # agent.toml left them unset
    own = host.for_agent(Policy(cli_idle_release_seconds=0, cli_max_rss_mib=512))
    assert (own.cli_idle_release, own.cli_max_rss_mib) == (0.0, 512)
    assert own.recv_wait == host.recv_wait
