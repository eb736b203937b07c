"""A ``git diff`` as the approvals page shows it: files, hunks, highlighted lines.

The text is parsed with :mod:`unidiff` and each line is highlighted on its own
by Pygments. Line by line, so nothing the manager committed (an unclosed
string, a ``<script>``) can carry over into the markup of the next line; and
Pygments escapes what it is given, which is why its output, and only its
output, is marked as markup here. File names, hunk headers and everything
else stay plain strings for the template's autoescape.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup

# Pygments ships no type information; what is used of it is typed where it is called.
from pygments import highlight  # type: ignore[import-untyped]
from pygments.formatters import HtmlFormatter  # type: ignore[import-untyped]
from pygments.lexer import Lexer  # type: ignore[import-untyped]
from pygments.lexers import TextLexer, get_lexer_for_filename  # type: ignore[import-untyped]
from pygments.util import ClassNotFound  # type: ignore[import-untyped]
from unidiff.errors import UnidiffParseError
from unidiff.patch import PatchedFile, PatchSet

# The CSS class the highlighted tokens sit under; the style sheet is scoped to it.
SCOPE = "hl"
STYLE = "default"
# Past this many lines a diff is cut (and says so): a page the browser can still open.
MAX_LINES = 5000
_FORMATTER = HtmlFormatter(nowrap=True, classprefix="", style=STYLE)


@dataclass(frozen=True)
class Line:
    kind: str  # "added", "removed" or "context"
    old: int | None  # its number before, None for an added line
    new: int | None  # its number after, None for a removed line
    html: Markup  # Pygments' escaped, highlighted text of the line


@dataclass(frozen=True)
class Hunk:
    header: str  # "@@ -1,3 +1,4 @@ section", plain text
    lines: tuple[Line, ...]


@dataclass(frozen=True)
class FileDiff:
    path: str
    old_path: str | None  # where it came from when renamed
    change: str  # "added", "removed", "renamed", "modified" or "binary"
    added: int
    removed: int
    hunks: tuple[Hunk, ...]


@dataclass(frozen=True)
class Diff:
    files: tuple[FileDiff, ...]
    truncated: bool  # past its line budget: the rest is left out
    error: str | None = None  # the text could not be read as a diff

    @property
    def lines(self) -> int:
        """How many highlighted lines it holds (what it took of a page's budget)."""
        return sum(len(hunk.lines) for file in self.files for hunk in file.hunks)


def style_sheet() -> str:
    """The token colours, scoped to ``.hl`` (served as a style sheet, never inline)."""
    return str(HtmlFormatter(style=STYLE, classprefix="").get_style_defs(f".{SCOPE}"))


@functools.lru_cache(maxsize=256)
def _lexer(path: str) -> Lexer:
    try:
        lexer: Lexer = get_lexer_for_filename(path, stripnl=False, ensurenl=False)
    except ClassNotFound:
        lexer = TextLexer(stripnl=False, ensurenl=False)
    return lexer


def highlighted(text: str, path: str) -> Markup:
    """One line of ``path``, escaped and highlighted by Pygments."""
    html = highlight(text.rstrip("\n"), _lexer(path), _FORMATTER)
    return Markup(html.rstrip("\n"))  # noqa: S704 (Pygments' own, escaped output)


def _change(patched: PatchedFile) -> str:
    if patched.is_binary_file:
        return "binary"
    if patched.is_added_file:
        return "added"
    if patched.is_removed_file:
        return "removed"
    return "renamed" if patched.is_rename else "modified"


def _line(line: Any, path: str) -> Line:
    kind = "added" if line.is_added else "removed" if line.is_removed else "context"
    return Line(kind, line.source_line_no, line.target_line_no, highlighted(line.value, path))


class _Budget:
    """How many more lines the page takes, and whether any were left out."""

    def __init__(self, lines: int) -> None:
        self.left = lines
        self.cut = False

    def take(self, lines: list[Any]) -> list[Any]:
        taken = lines[:max(self.left, 0)]
        self.left -= len(taken)
        self.cut = self.cut or len(taken) < len(lines)
        return taken


def _hunk(hunk: Any, path: str, budget: _Budget) -> Hunk:
    header = (f"@@ -{hunk.source_start},{hunk.source_length} "
              f"+{hunk.target_start},{hunk.target_length} @@ {hunk.section_header}")
    lines = tuple(_line(line, path) for line in budget.take(list(hunk)))
    return Hunk(header.rstrip(), lines)


def _file(patched: PatchedFile, budget: _Budget) -> FileDiff:
    path = patched.path
    hunks = tuple(_hunk(hunk, path, budget) for hunk in patched)
    old = patched.source_file.removeprefix("a/") if patched.is_rename else None
    return FileDiff(path, old, _change(patched), patched.added, patched.removed,
                    tuple(hunk for hunk in hunks if hunk.lines))


def parse(text: str, lines: int = MAX_LINES) -> Diff:
    """The diff ``text`` (``git diff`` without colour) as files and highlighted lines,
    at most ``lines`` of them (and at most MAX_LINES)."""
    try:
        patch = PatchSet(text)
    except UnidiffParseError as exc:
        return Diff((), False, f"the diff could not be read: {exc}")
    budget = _Budget(min(lines, MAX_LINES))
    files = tuple(_file(patched, budget) for patched in patch)
    return Diff(files, budget.cut)
