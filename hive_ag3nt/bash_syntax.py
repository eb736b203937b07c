"""The part of Bash's syntax whose meaning can be proven from the text alone.

``parse`` accepts a command line only if it is a list of simple commands
joined by ``&&``, ``||``, ``;`` or ``|`` whose words are literal: what bash
runs is then exactly the words seen here after quote removal, with no
expansion that could change them. Everything else is refused with the
reason: control operators other than those four (``&``, ``|&``, ``;;``),
newlines and control characters, subshells and groups, any ``$``
(parameters, substitutions, ``$'...'``), backquotes, globs, braces, a tilde
bash would expand, comments, ``!``, reserved words, assignments before a
command (``GIT_DIR=x git ...``, ``LD_PRELOAD=...``), here-documents, process
substitution and every redirection but the harmless few: ``N>&M`` /
``N<&M`` between fds 0-2, and ``>``, ``>>``, ``<``, ``&>``, ``&>>`` to
``/dev/null``.

The lexer follows bash 5's (parse.y ``read_token``); tests/unit/hive_ag3nt/test_permissions_bash.py
checks it against bash itself.
"""

from __future__ import annotations

import string
from dataclasses import dataclass

# Unquoted characters that stand for themselves in any position.
_LITERAL = frozenset(string.ascii_letters + string.digits + "%+,-./:=@^_")
_BLANKS = " \t"
_METACHARACTERS = frozenset(" \t|&;()<>")
# Inside double quotes a backslash only escapes these; before others it stays.
_DQUOTE_ESCAPES = frozenset('$`"\\')
_RESERVED = frozenset({
    "!", "[[", "]]", "{", "}", "case", "coproc", "do", "done", "elif", "else", "esac", "fi",
    "for", "function", "if", "in", "select", "then", "time", "until", "while",
})
_JOINERS = ("&&", "||", ";", "|")
_REDIRECTIONS = ("&>>", "&>", "<<<", "<<-", "<<", "<>", "<&", ">>", ">&", ">|", "<", ">")
_TO_NULL = frozenset({">", ">>", "<", "&>", "&>>"})
_DUPLICATE = frozenset({">&", "<&"})
_FDS = frozenset({"0", "1", "2"})
NULL = "/dev/null"


class Unprovable(ValueError):
    """The command line uses syntax whose effect cannot be read off the text."""


@dataclass(frozen=True)
class Redirect:
    """``fd`` to ``/dev/null`` (op ``>``/``>>``/``<``/``&>``/``&>>``) or a copy of fd ``target``."""

    fd: int  # -1 for &> and &>>: stdout and stderr
    op: str
    target: str


@dataclass(frozen=True)
class SimpleCommand:
    words: tuple[str, ...]
    redirects: tuple[Redirect, ...]
    text: str  # as written, for messages


@dataclass(frozen=True)
class Pipeline:
    joiner: str | None  # ";", "&&" or "||" before it; None for the first
    commands: tuple[SimpleCommand, ...]


@dataclass(frozen=True)
class _Word:
    text: str
    plain: bool  # no quoting at all: may be a redirection's fd number
    start: int
    end: int


@dataclass(frozen=True)
class _Operator:
    op: str
    start: int
    end: int


@dataclass(frozen=True)
class _Redirection:
    redirect: Redirect
    start: int
    end: int


_Token = _Word | _Operator | _Redirection


def parse(line: str) -> tuple[Pipeline, ...]:
    """The pipelines of ``line`` in order; raise Unprovable if its meaning is not literal."""
    bad = next((c for c in line if (ord(c) < 32 and c != "\t") or ord(c) == 127), None)
    if bad is not None:
        what = "newlines" if bad == "\n" else f"control character {bad!r}"
        raise Unprovable(f"{what} are not allowed; run one command line at a time")
    if not line.strip():
        raise Unprovable("the command is empty")
    return _Parser(line, _Lexer(line).tokens()).pipelines()


class _Lexer:
    def __init__(self, line: str) -> None:
        self.line = line
        self.i = 0

    def tokens(self) -> list[_Token]:
        found: list[_Token] = []
        while (c := self._skip_blanks()) is not None:
            start = self.i
            if c in "<>" or self.line.startswith("&>", self.i):
                found.append(self._redirection(start, None))
            elif c in "|&;":
                found.append(_Operator(self._operator(), start, self.i))
            elif c in "()":
                raise Unprovable("subshells and groups are not allowed; "
                                 "run the commands one by one")
            else:
                word = self._word()
                nxt = self._peek()
                if word.plain and word.text.isdigit() and nxt is not None and nxt in "<>":
                    found.append(self._redirection(start, word.text))
                else:
                    found.append(word)
        return found

    def _peek(self) -> str | None:
        return self.line[self.i] if self.i < len(self.line) else None

    def _skip_blanks(self) -> str | None:
        while (c := self._peek()) is not None and c in _BLANKS:
            self.i += 1
        return c

    def _operator(self) -> str:
        for op in _JOINERS:
            if self.line.startswith(op, self.i):
                self.i += len(op)
                after = self._peek()
                if op in (";", "|") and after is not None and after in ";&":
                    raise Unprovable(f"`{op}{after}` is not allowed")
                return op
        raise Unprovable("`&` (a background job) is not allowed; only &&, ||, ; and | "
                         "join commands")

    def _redirection(self, start: int, fd: str | None) -> _Redirection:
        op = next(op for op in _REDIRECTIONS if self.line.startswith(op, self.i))
        self.i += len(op)
        if self._skip_blanks() is None or self.line[self.i] in _METACHARACTERS:
            raise Unprovable(f"`{self.line[start:self.i]}` has no target")
        target = self._word()
        written = self.line[start:self.i]
        if fd is not None and fd not in _FDS:
            raise Unprovable(f"`{written}`: only fds 0, 1 and 2 may be redirected")
        default = 0 if op.startswith("<") else 1
        if op in _DUPLICATE and target.plain and target.text in _FDS:
            return _Redirection(Redirect(default if fd is None else int(fd), op,
                                         target.text), start, self.i)
        if op in _TO_NULL and target.text == NULL:
            number = -1 if op.startswith("&") else default if fd is None else int(fd)
            return _Redirection(Redirect(number, op, NULL), start, self.i)
        raise Unprovable(f"the redirection `{written}` is not allowed; only 2>&1-style "
                         "copies between fds 0-2 and redirections to /dev/null are")

    def _word(self) -> _Word:
        start, parts, plain = self.i, [], True
        while (c := self._peek()) is not None and c not in _METACHARACTERS:
            if c == "'":
                parts.append(self._single_quoted())
                plain = False
            elif c == '"':
                parts.append(self._double_quoted())
                plain = False
            elif c == "\\":
                if self.i + 1 >= len(self.line):
                    raise Unprovable("a backslash cannot end the command")
                parts.append(self.line[self.i + 1])
                self.i += 2
                plain = False
            else:
                self._check_unquoted(c, start)
                parts.append(c)
                self.i += 1
        return _Word("".join(parts), plain, start, self.i)

    def _check_unquoted(self, c: str, start: int) -> None:
        at_start = self.i == start
        if c in _LITERAL or (c == "#" and not at_start):
            return
        if c == "~" and not at_start and self.line[self.i - 1] not in "=:":
            return
        reason = {
            "$": "`$` (variables, substitutions, $'...') is not allowed",
            "`": "command substitutions are not allowed; run the commands one by one",
            "#": "comments are not allowed",
            "~": "a tilde bash would expand is not allowed; write the path",
            "!": "`!` is not allowed",
        }.get(c)
        if reason is None and c in "*?[]{}":
            reason = f"`{c}` (globs and brace expansion) is not allowed unquoted"
        raise Unprovable(reason or f"the character {c!r} must be quoted")

    def _single_quoted(self) -> str:
        end = self.line.find("'", self.i + 1)
        if end < 0:
            raise Unprovable("a quote is not closed")
        text = self.line[self.i + 1:end]
        self.i = end + 1
        return text

    def _double_quoted(self) -> str:
        self.i += 1
        parts: list[str] = []
        while (c := self._peek()) != '"':
            if c is None:
                raise Unprovable("a quote is not closed")
            if c in "$`!":
                raise Unprovable(f"`{c}` inside double quotes is not allowed; "
                                 "use single quotes")
            if c == "\\" and self.i + 1 < len(self.line) \
                    and self.line[self.i + 1] in _DQUOTE_ESCAPES:
                parts.append(self.line[self.i + 1])
                self.i += 2
            else:
                parts.append(c)
                self.i += 1
        self.i += 1
        return "".join(parts)


class _Parser:
    """list := pipeline ((; | && | ||) pipeline)* [;]   pipeline := command (| command)*"""

    def __init__(self, line: str, tokens: list[_Token]) -> None:
        self.line = line
        self.tokens = tokens
        self.at = 0

    def pipelines(self) -> tuple[Pipeline, ...]:
        found = [Pipeline(None, self._pipeline())]
        while self.at < len(self.tokens):
            joiner = self._joiner()
            if joiner == ";" and self.at == len(self.tokens):
                break  # `git status;` is one command
            found.append(Pipeline(joiner, self._pipeline()))
        return tuple(found)

    def _joiner(self) -> str:
        token = self.tokens[self.at]
        assert isinstance(token, _Operator)  # _pipeline stops only at operators
        self.at += 1
        return token.op

    def _pipeline(self) -> tuple[SimpleCommand, ...]:
        commands = [self._command()]
        while self._next_operator() == "|":
            self.at += 1
            commands.append(self._command())
        return tuple(commands)

    def _next_operator(self) -> str | None:
        token = self.tokens[self.at] if self.at < len(self.tokens) else None
        return token.op if isinstance(token, _Operator) else None

    def _command(self) -> SimpleCommand:
        words: list[str] = []
        redirects: list[Redirect] = []
        start = end = None
        while self.at < len(self.tokens) and not isinstance(self.tokens[self.at], _Operator):
            token = self.tokens[self.at]
            if isinstance(token, _Word):
                words.append(token.text)
            elif isinstance(token, _Redirection):
                redirects.append(token.redirect)
            start = token.start if start is None else start
            end = token.end
            self.at += 1
        if start is None or end is None or not words:
            raise Unprovable("an operator has no command on one side")
        return _checked(SimpleCommand(tuple(words), tuple(redirects), self.line[start:end]))


def _checked(command: SimpleCommand) -> SimpleCommand:
    name = command.words[0]
    if name in _RESERVED:
        raise Unprovable(f"`{name}` is a shell keyword; only simple commands are allowed")
    if "=" in name:
        raise Unprovable(f"`{command.text}`: setting variables for a command "
                         "(NAME=value before it) is not allowed")
    return command
