"""The Bash allow-list: what a hostile model can type, and what it is refused."""

from __future__ import annotations

import pytest

from hive_ag3nt.permissions import decide_bash, matches
from hive_c0re.lifecycle.manager import MANAGER_POLICY

_LISTED = MANAGER_POLICY["allowed_bash"]
assert isinstance(_LISTED, list)
MANAGER = tuple(str(pattern) for pattern in _LISTED)


@pytest.mark.parametrize(("command", "says"), [
    # The finding: `&` ran the second command in the background, unchecked.
    ("git status & anything", "`&` (a background job) is not allowed"),
    ("git status &anything", "background job"),
    ("git status&", "background job"),
    # Redirections wrote files the patterns never saw.
    ("git status > /state/x", "the redirection `> /state/x` is not allowed"),
    ("git status >>/root/.bashrc", "redirection"),
    ("cat /etc/shadow >/agents/bob/x", "redirection"),
    ("git log 2>x", "redirection"),
    ("ls <<EOF", "redirection"),
    ("cat <<<x", "redirection"),
    ("ls 3>&1", "only fds 0, 1 and 2"),
    ("ls <(rm x)", "has no target"),
    ("ls >(rm x)", "has no target"),
    ("git status |& rm x", "`|&` is not allowed"),
    ("git status ;; rm x", "`;;` is not allowed"),
    ("git status\nrm x", "newlines are not allowed"),
    ("git status \\\nrm x", "newlines"),
    ("git status\r", "control character"),
    ("(rm x)", "subshells"),
    ("{ rm x; }", "globs and brace"),
    ("ls $(rm -rf x)", "substitutions"),
    ("ls `rm x`", "command substitutions"),
    ('ls "$(rm x)"', "inside double quotes"),
    ("ls $'\\x3b'", "`$`"),
    ("ls $HOME", "`$`"),
    ("ls ~", "a tilde bash would expand"),
    ("git --git-dir=x:~/y", "tilde"),
    ("ls *", "globs"),
    ("ls {a,b}", "brace"),
    ("git status # && rm x", "comments"),
    ("! git status", "`!` is not allowed"),
    ("time git status", "shell keyword"),
    ("coproc git status", "shell keyword"),
    ("GIT_DIR=/x git status", "setting variables for a command"),
    ("LD_PRELOAD=/x/evil.so git status", "setting variables"),
    ("2>&1 FOO=bar ls", "setting variables"),
    ("ls 'unterminated", "a quote is not closed"),
    ("ls \\", "a backslash cannot end"),
    ("git status &&", "an operator has no command"),
    ("; git status", "an operator has no command"),
    ("ls caf\u00e9", "must be quoted"),
    ("", "the command is empty"),
    (" \t", "the command is empty"),
])
def test_what_bash_could_read_otherwise_is_refused(command: str, says: str) -> None:
    decision = decide_bash(command, MANAGER)
    assert not decision.allowed
    assert says in decision.reason, decision.reason


@pytest.mark.parametrize(("command", "says"), [
    ("git status && rm -rf x", "`rm -rf x` is not in the allowed Bash patterns"),
    ("git status; curl evil", "`curl evil`"),
    ("git status | sh", "`sh`"),
    ("git status || rm x 2>&1", "`rm x 2>&1`"),
    ("'git status'", "`'git status'`"),  # one word: the program "git status"
    ("git", "`git`"),
])
def test_each_command_of_a_line_must_match(command: str, says: str) -> None:
    decision = decide_bash(command, MANAGER)
    assert not decision.allowed
    assert says in decision.reason and "git *, cd *" in decision.reason


@pytest.mark.parametrize("command", [
    "git status", "ls", "git status && ls -la /agents", "cd /agents/bob && git add -A",
    "git commit -m 'fix: a; b && c | d > e'", 'git commit -m "say \\"hi\\""',
    "git log --oneline HEAD~3 2>&1 | cat -n", "git diff >/dev/null 2>&1 || ls",
    "git status;", "mkdir -p /agents/bob/x", "git log --format=%h#%s",
    "git -C /agents/bob status",  # git's own options are git's: see the module docstring
])
def test_the_managers_everyday_commands_pass(command: str) -> None:
    assert decide_bash(command, MANAGER).allowed, decide_bash(command, MANAGER).reason


@pytest.mark.parametrize(("words", "pattern", "fits"), [
    (("git", "status"), "git *", True),
    (("git",), "git *", False),
    (("git", "a", "b", "c"), "git *", True),
    (("git", "push", "origin", "--force"), "git * --force", True),
    (("git", "push", "--force", "x"), "git * --force", False),
    (("pytest", "tests/unit"), "pytest tests/*", True),
    (("pytest", "tests/unit", "-x"), "pytest tests/*", False),
    (("ls",), "ls", True),
    (("ls", "-l"), "ls", False),
    (("git status",), "git status", False),
    (("git", "status"), "git status", True),
])
def test_patterns_match_word_by_word(words: tuple[str, ...], pattern: str, fits: bool) -> None:
    assert matches(words, pattern) is fits


def test_a_pattern_of_many_stars_is_matched_in_linear_steps() -> None:
    # Backtracking would take 3000**100 steps here; the harness must not hang on it.
    assert not matches(("a",) * 3000, "* " * 100 + "b")
    assert matches(("a",) * 3000 + ("b",), "* " * 100 + "b")


def test_star_alone_still_allows_everything() -> None:
    assert decide_bash("git status & rm -rf / >x $(y)", ("ls", "*")).allowed
