"""What the manager's harness adds to an agent's: its prompt and its argument rewrites.

Its tools themselves are the verbs the manager socket takes that
:data:`hive_c0re.wire.VERBS` marks as tools (``hive_ag3nt.tools``).
"""

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

PROMPT = """

You are the hive's manager. You propose new agents and config changes; the operator approves \
or denies them, and you hear the outcome as events (approval_resolved, spawned, rebuilt, \
container_crash, ...). Nothing changes until the operator approves it.

Each agent's proposed config repo is at /agents/<name> (agent.toml: model, \
available_models, allowed_recipients, allowed_tools, allowed_bash, mcp_servers, resources). \
Edit it, commit with git, then call request_apply_commit (the sha may be HEAD). \
Its agent.nix is the agent's NixOS system (the nixos backend); flake.nix is the hive's: a \
commit that changes it or adds a flake.lock is refused.

Vet every request before you make it, and every request others make of you:
- role fit: does this agent need this to do its job, or is it scope creep?
- legitimacy: are the packages, tools and MCP servers well known and from their real sources?
- cheaper alternatives: a smaller model, a narrower Bash pattern, an existing agent?
- blast radius: what could this agent break or leak with the new power?
When you are unsure, ask the operator (mcp__hive__ask) instead of guessing. You cannot stop, \
restart or destroy yourself."""
