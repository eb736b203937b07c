"""bash_syntax against bash itself: what it accepts, bash runs exactly as parsed.

Every command line the parser accepts is run by real bash (``bash -c``, as
the Bash tool does) with the commands replaced by probes: shell functions
for the names the generator uses, ``command_not_found_handle`` for any other,
and an empty PATH. Each probe logs its argv and where its fds 0-2 point. The
log must hold exactly the commands, words and redirections the parser
returned: a line bash would run as more commands, other words (an expansion,
a comment) or with another fd must have been refused. Each line runs twice,
every probe failing and every probe succeeding, so that each side of every
``&&`` and ``||`` runs once.
"""

from __future__ import annotations

import os
import subprocess
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from hive_ag3nt.bash_syntax import NULL, Pipeline, SimpleCommand, Unprovable, parse

# Names the probe turns into logging functions (builtins among them); other
# command names reach command_not_found_handle.
PROBED = ("git", "ls", "cat", "cd", "echo", "eval", "exec", "true", "env")
PRELUDE = r"""
__fd() {
    local f=/proc/self/fd/$1
    if [[ ! -e $f ]]; then REPLY=closed
    elif [[ $f -ef /dev/null ]]; then REPLY=null
    elif [[ $f -ef $PROBE/in ]]; then REPLY=in
    elif [[ $f -ef $PROBE/out ]]; then REPLY=out
    elif [[ $f -ef $PROBE/err ]]; then REPLY=err
    else REPLY=pipe; fi
}
__log() {
    local fds=() n
    for n in 0 1 2; do __fd "$n"; fds+=("$REPLY"); done
    builtin printf '%s\0' "${fds[*]}" "$@" $'\1' >>"$PROBE/log"
    return "$PROBE_STATUS"
}
command_not_found_handle() { __log "$@"; }
""" + "".join(f'{name}() {{ __log {name} "$@"; }}\n' for name in PROBED)

Run = tuple[str, tuple[str, ...]]  # fds "in out err", argv


@dataclass(frozen=True)
class Probe:
    root: Path

    def runs(self, line: str, status: int) -> Counter[Run]:
        log = self.root / "log"
        log.write_bytes(b"")
        env = {"PATH": str(self.root / "empty"), "HOME": str(self.root / "home"),
               "BASH_ENV": str(self.root / "prelude.sh"), "PROBE": str(self.root),
               "PROBE_STATUS": str(status), "X": "expanded", "LC_ALL": "C.UTF-8"}
        with (self.root / "in").open("rb") as stdin, (self.root / "out").open("wb") as out, \
                (self.root / "err").open("wb") as err:
            subprocess.run(["/bin/bash", "-c", line], env=env, cwd=self.root / "cwd",
                           stdin=stdin, stdout=out, stderr=err, timeout=20, check=False)
        records = log.read_bytes().split(b"\x01\x00")
        assert records[-1] == b"", records
        found: Counter[Run] = Counter()
        for record in records[:-1]:
            fds, *argv = record.decode().split("\0")[:-1]
            found[fds, tuple(argv)] += 1
        return found


@pytest.fixture(scope="module")
def probe(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Probe]:
    root = tmp_path_factory.mktemp("bash-probe")
    for name in ("empty", "home", "cwd"):
        (root / name).mkdir()
    for name in ("a1", "ab", "x"):  # a glob bash expanded would show
        (root / "cwd" / name).write_text("")
    for name in ("in", "out", "err"):
        (root / name).write_text("")
    (root / "prelude.sh").write_text(PRELUDE)
    yield Probe(root)


def expected_runs(pipelines: tuple[Pipeline, ...], status: int) -> Counter[Run]:
    """What bash runs when every command exits with ``status``."""
    found: Counter[Run] = Counter()
    last: int | None = None
    for pipeline in pipelines:
        if (pipeline.joiner == "&&" and last != 0) or (pipeline.joiner == "||" and last == 0):
            continue
        commands = pipeline.commands
        for n, command in enumerate(commands):
            found[_fds(command, n == 0, n == len(commands) - 1), command.words] += 1
        last = status
    return found


def _fds(command: SimpleCommand, first: bool, last: bool) -> str:
    fds = {0: "in" if first else "pipe", 1: "out" if last else "pipe", 2: "err"}
    for redirect in command.redirects:
        if redirect.target != NULL:
            fds[redirect.fd] = fds[int(redirect.target)]
        elif redirect.fd == -1:
            fds[1] = fds[2] = "null"
        else:
            fds[redirect.fd] = "null"
    return " ".join(fds[n] for n in (0, 1, 2))


def assert_bash_agrees(probe: Probe, line: str) -> bool:
    """Whether ``line`` was accepted; if so, that bash ran exactly what was parsed."""
    try:
        pipelines = parse(line)
    except Unprovable:
        return False
    for status in (0, 1):
        assert probe.runs(line, status) == expected_runs(pipelines, status), (line, status)
    return True


# -- the grammar the fuzzer draws from ------------------------------------------------

_ODD = " ab;&|<>()$*?#~!{}=:'\"\\`\té\u00a0"
LITERAL_PIECES = ["x", "a1", "-c", "--exec-path", "status", "HEAD~1", "%h", "a=b", "k:v",
                  "1", "2", "+x", "@", "^", ".", "a#b", "-C", "core.pager=less"]
RISKY_PIECES = ["$X", "${X}", "$(true)", "`true`", "$'a'", '$"a"', "$((1))", "*", "a*", "?",
                "[a]1", "{a,b}", "a{,}", "x:~", "~", "~/x", "x=~", "#c", "!", "!x", "\\", "a\nb",
                "\\\n", "}", "]", "(", ")", "é", "<(true)", "2", "3"]
ODD_NAMES = ["rm", "'git'", '"ls"', "g\\it", "ca''t", "time", "if", "then", "coproc",
             "function", "!", "{", "[[", "case", "FOO=bar", "GIT_DIR=x", "LD_PRELOAD=x",
             "X=$X", "'FOO'=bar", "a[1]=x", "x+=1"]
GOOD_REDIRECTS = ["2>&1", ">&2", "1>&2", "0<&1", "2>&0", ">/dev/null", "2>/dev/null",
                  "&>/dev/null", "&>>/dev/null", ">>/dev/null", "</dev/null", "2> /dev/null",
                  ">& 2", ">'/dev/null'", '>"/dev/null"', ">\\/dev/null"]
ODD_REDIRECTS = ["2>&3", "3>&1", "12>&1", ">x", "<x", "<<<x", "<<x", ">|/dev/null",
                 "<>/dev/null", "2>&-", ">&/dev/null", "2&>/dev/null", ">/dev/null2",
                 "'2'>/dev/null", "1>&'2'", "2>&1x"]
ODD_JOINERS = ["&", "&", "&", "&", "|&", ";;", ";&", "\n", "(", ")", "{", "}", "&&&", "|||", "; ;"]


def often(common: st.SearchStrategy[str], rare: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """``common`` nine times in ten: most lines must parse for the check to bite."""
    return st.sampled_from([False] * 9 + [True]).flatmap(lambda odd: rare if odd else common)


quoted = st.one_of(
    st.text(alphabet=_ODD.replace("'", ""), max_size=5).map(lambda t: f"'{t}'"),
    st.text(alphabet=_ODD, max_size=5).map(lambda t: f'"{t}"'),
    st.sampled_from(_ODD).map(lambda c: "\\" + c),
)
pieces = often(st.one_of(st.sampled_from(LITERAL_PIECES), quoted),
               st.sampled_from(RISKY_PIECES))
words = st.lists(pieces, min_size=1, max_size=2).map("".join)
names = often(st.sampled_from(PROBED), st.sampled_from(ODD_NAMES))
redirects = often(st.sampled_from(GOOD_REDIRECTS), st.sampled_from(ODD_REDIRECTS))
joiners = often(st.sampled_from(["&&", "||", ";", "|"]), st.sampled_from(ODD_JOINERS))
blanks = st.sampled_from([" ", " ", " ", "  ", "\t", ""])


@st.composite
def commands(draw: st.DrawFn) -> str:
    parts = [draw(names)]
    if draw(st.integers(0, 5)) == 0:
        parts.insert(0, draw(redirects))
    parts += draw(st.lists(often(words, redirects), max_size=4))
    line = parts[0]
    for part in parts[1:]:
        line += draw(blanks) + part
    return line


@st.composite
def command_lines(draw: st.DrawFn) -> str:
    line = draw(commands())
    for command in draw(st.lists(commands(), max_size=3)):
        line += draw(blanks) + draw(joiners) + draw(blanks) + command
    return line + draw(often(st.sampled_from(["", ";", " ;"]),
                             st.sampled_from(["&", " #c", "\\", "\n", " ;;"])))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(line=command_lines())
def test_what_the_parser_accepts_bash_runs_exactly_as_parsed(probe: Probe, line: str) -> None:
    # A command name with a slash is a path bash runs without looking up a function,
    # so the probe cannot log it (``git`` glued to ``~/x`` makes ``git~/x``).
    assume(not any("/" in command.words[0] for pipeline in _parsed(line)
                   for command in pipeline.commands))
    assert_bash_agrees(probe, line)


def _parsed(line: str) -> tuple[Pipeline, ...]:
    try:
        return parse(line)
    except Unprovable:
        return ()


@pytest.mark.parametrize("line", [
    "git status 2>&1 | cat x", "x2>&1", "git 2&>/dev/null x", "git >&1>&2 x",
    "2>&1 git status", "git a#b 'c d' \"e\\\"f\\\\g\\h\" \\; \\&", "git log HEAD~1 'a'~",
    "ls; git x || cat y && echo z", "cd a && git add -A && git commit -m 'a; b && c'",
    "git status;", "git status >/dev/null 2>&1", "git x 1>&2 2>&1", "git '' \"\" x",
    "exec x", "eval 'rm -rf x'", "git -c core.pager=less log", "ls\t-l",
])
def test_lines_worth_having_are_accepted_and_mean_what_they_say(probe: Probe,
                                                                line: str) -> None:
    assert assert_bash_agrees(probe, line)


def test_the_fuzzer_reaches_both_sides() -> None:
    """A grammar that is all refusals would prove nothing: count both outcomes."""
    seen = Counter[bool]()

    @settings(max_examples=300, deadline=None, database=None)
    @given(line=command_lines())
    def count(line: str) -> None:
        try:
            parse(line)
            seen[True] += 1
        except Unprovable:
            seen[False] += 1

    count()
    assert seen[True] >= 30 and seen[False] >= 30, seen


def test_the_probe_sees_what_bash_really_does(probe: Probe) -> None:
    """The probe itself: a background job, a glob and a comment show up as bash ran them."""
    assert probe.runs("git status & rm x; wait", 0) == Counter({
        ("null out err", ("git", "status")): 1, ("in out err", ("rm", "x")): 1})
    assert probe.runs("ls a* #c", 0) == Counter({("in out err", ("ls", "a1", "ab")): 1})
    assert probe.runs("git x 2>/dev/null | cat", 0) == Counter({
        ("in pipe null", ("git", "x")): 1, ("pipe out err", ("cat",)): 1})
    assert os.environ.get("PROBE") is None  # the probe's settings stay in its bash
