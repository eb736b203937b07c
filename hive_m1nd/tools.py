"""The manager's own tools, on top of every agent's. The manager socket alone accepts them."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hive_ag3nt.separation import model_command
from hive_ag3nt.settings import HarnessSettings
from hive_c0re.errors import InvalidInput
from hive_c0re.names import validate_agent_name

FULL_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")


def repos() -> Path:
    """Where every agent's proposed config repo is mounted in the manager's container."""
    return Path(os.environ.get("HYPERHIVE_AGENTS_DIR", "/agents"))


def resolve_commit(args: dict[str, Any]) -> dict[str, Any]:
    """Turn a ref the model wrote (``HEAD``, a short sha) into the full sha the hive wants.

    Resolved here, in the manager's own repo copy; the daemon still accepts
    only full shas and checks them against the repo itself.
    """
    sha = str(args.get("sha", ""))
    if FULL_SHA.fullmatch(sha):
        return args
    agent = validate_agent_name(args.get("agent"))
    if not re.fullmatch(r"HEAD|[0-9a-f]{4,39}", sha):
        raise InvalidInput(f"{sha!r} is not a commit: give a full sha, a short one, or HEAD")
    argv = ["git", "-C", str(repos() / agent), "rev-parse", "--verify", "--quiet",
            "--end-of-options", f"{sha}^{{commit}}"]
    env = None
    uid = HarnessSettings.load().model_uid
    if uid:  # the repo is the model's: git reads its config as the model, never as root
        argv, env = model_command(argv, uid)
    done = subprocess.run(argv, capture_output=True, text=True, check=False, env=env)
    if done.returncode != 0:
        raise InvalidInput(f"{sha!r} is not a commit in {agent}'s proposed repo")
    return {**args, "sha": done.stdout.strip()}


PREPARE: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "request_apply_commit": resolve_commit,
}

_NAME = {"type": "string", "description": "an agent's name"}
_DESCRIPTION = {"type": "string", "description": "why, for the operator who decides"}

MANAGER_TOOLS: dict[str, tuple[str, dict[str, Any]]] = {
    "request_spawn": ("Ask the operator to create a new agent (after its config is applied).", {
        "type": "object", "properties": {"name": _NAME, "description": _DESCRIPTION},
        "required": ["name"]}),
    "request_init_config": ("Ask to seed a new agent's proposed config repo from the template; "
                            "once approved, edit /agents/<name>/agent.toml and commit.", {
                                "type": "object",
                                "properties": {"name": _NAME, "description": _DESCRIPTION},
                                "required": ["name"]}),
    "request_apply_commit": ("Ask to apply one commit of an agent's proposed config repo "
                             "(a full sha, a short one, or HEAD: resolved in your copy).", {
                                 "type": "object",
                                 "properties": {"agent": _NAME,
                                                "sha": {"type": "string"},
                                                "description": _DESCRIPTION},
                                 "required": ["agent", "sha"]}),
    "start": ("Start a stopped agent.", {"type": "object", "properties": {"name": _NAME},
                                         "required": ["name"]}),
    "stop": ("Stop an agent (it stays stopped).", {
        "type": "object", "properties": {"name": _NAME}, "required": ["name"]}),
    "restart": ("Restart an agent.", {"type": "object", "properties": {"name": _NAME},
                                     "required": ["name"]}),
    "update": ("Rebuild an agent to its applied config (idempotent) and restart it.", {
        "type": "object", "properties": {"name": _NAME}, "required": ["name"]}),
    "get_logs": ("The last lines of an agent container's journal (at most 500).", {
        "type": "object",
        "properties": {"agent": _NAME, "lines": {"type": "integer", "minimum": 1,
                                                 "maximum": 500}},
        "required": ["agent"]}),
    "agent_status": ("Every agent: desired state, container state, mailbox counts.", {
        "type": "object", "properties": {}}),
}

PROMPT = """

You are the hive's manager. You propose new agents and config changes; the operator approves \
or denies them, and you hear the outcome as events (approval_resolved, spawned, rebuilt, \
container_crash, ...). Nothing changes until the operator approves it.

Each agent's proposed config repo is at /agents/<name> (agent.toml: model, \
available_models, allowed_recipients, allowed_tools, allowed_bash, mcp_servers, resources). \
Edit it, commit with git, then call request_apply_commit (the sha may be HEAD).

Vet every request before you make it, and every request others make of you:
- role fit: does this agent need this to do its job, or is it scope creep?
- legitimacy: are the packages, tools and MCP servers well known and from their real sources?
- cheaper alternatives: a smaller model, a narrower Bash pattern, an existing agent?
- blast radius: what could this agent break or leak with the new power?
When you are unsure, ask the operator (mcp__hive__ask) instead of guessing. You cannot stop, \
restart or destroy yourself."""
