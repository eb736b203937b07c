"""Which tools a turn may use, decided in the harness from the daemon's policy.

Bash commands are matched against the policy's ``allowed_bash`` patterns
(``git *``, ``ls``, ``*`` for everything). A command line is allowed only if
hive_ag3nt.bash_syntax proves what bash will run from the text alone (simple
commands with literal words, joined by ``&&``, ``||``, ``;`` or ``|``) and
every one of those commands matches a pattern.

A pattern is matched word by word against the command's words as bash will
pass them: a pattern word that is just ``*`` stands for one or more words,
any other is a shell-style pattern for exactly one word (``tests/*``). So
``git *`` allows ``git status`` but not ``git`` alone, and a quoted
``'git status'`` is one word, never ``git`` with an argument.

A pattern grants whatever the program it names can do with any arguments:
``git *`` is as strong as git itself, whose config (``-c core.pager=``,
aliases with ``!``, hooks) runs commands; ``find *`` includes ``-exec``.
That is deliberate for the manager: it also has Write and Edit, so it can
put the same things in a repo's ``.git/config``, and its git runs in its own
container as its own uid. Holding a program back means not listing it.

The claude CLI runs the line in bash after sourcing a snapshot of the user's
shell startup files, aliases included: an agent that may Write or Edit its
own ``~/.bashrc`` can redefine what an allowed name runs. The allow-list
decides what is typed, not what a shell the agent configured makes of it.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass

from hive_ag3nt.bash_syntax import Unprovable, parse
from hive_ag3nt.policy import Policy


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str = ""


def decide_bash(command: str, patterns: tuple[str, ...]) -> Decision:
    if "*" in patterns:
        return Decision(True)
    if not patterns:
        return Decision(False, "Bash is not allowed for this agent (allowed_bash is empty)")
    try:
        pipelines = parse(command)
    except Unprovable as refused:
        return Decision(False, f"refused by allowed_bash: {refused}")
    for pipeline in pipelines:
        for simple in pipeline.commands:
            if not any(matches(simple.words, pattern) for pattern in patterns):
                return Decision(False, f"`{simple.text}` is not in the allowed Bash "
                                       "patterns: " + ", ".join(patterns))
    return Decision(True)


def matches(words: tuple[str, ...], pattern: str) -> bool:
    """Whether a command's words fit ``pattern``, word by word (``*`` alone: 1+ words)."""
    wanted = tuple(pattern.split())
    # The pattern positions reachable after each word: linear in words times
    # pattern words, however many lone stars a pattern has.
    reached = {0}
    for word in words:
        after = set()
        for at in reached:
            if at == len(wanted):
                continue
            if wanted[at] == "*":
                after |= {at, at + 1}  # the star takes this word, and maybe more
            elif fnmatch.fnmatchcase(word, wanted[at]):
                after.add(at + 1)
        if not after:
            return False
        reached = after
    return len(wanted) in reached


def decide(tool: str, tool_input: dict[str, object], policy: Policy) -> Decision:
    """Whether a built-in tool call may run; hive tools are always ours to allow."""
    if tool.startswith("mcp__hive__"):
        return Decision(True)
    if tool.startswith("mcp__"):
        server, _, name = tool.removeprefix("mcp__").partition("__")
        allowed = policy.mcp_servers.get(server)
        if allowed is not None and name in allowed.allowed_tools:
            return Decision(True)
        return Decision(False, f"{tool} is not allowed for this agent")
    if tool not in policy.allowed_tools:
        return Decision(False, f"the {tool} tool is not allowed for this agent")
    if tool == "Bash":
        return decide_bash(str(tool_input.get("command", "")), policy.allowed_bash)
    return Decision(True)
