"""Reading the README and the man pages the way a person does, for the tests that hold
them to the code."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
MAN = ROOT / "man"

_FONT = re.compile(r"\\f[BIRP]")
_FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.M | re.S)
_SPAN = re.compile(r"`([^`\n]+)`")


def roff_text(roff: str) -> str:
    """What a roff line says once rendered: escapes resolved, fonts dropped."""
    text = _FONT.sub("", roff).replace("\\-", "-").replace("\\(aq", "'").replace("\\&", "")
    text = text.replace("\\:", "")  # a break point, no character
    return text.replace("\\e", "\\")


def man_section(page: str, title: str) -> list[str]:
    """The roff lines of section ``title`` (``.SH title``) of ``man/page``."""
    lines = (MAN / page).read_text().splitlines()
    start = lines.index(f".SH {title}") + 1
    end = next((i for i in range(start, len(lines)) if lines[i].startswith(".SH ")), len(lines))
    return lines[start:end]


def tagged_items(section: list[str]) -> list[tuple[str, list[str]]]:
    """Each ``.TP`` item of a section: its tag line and the lines that follow it."""
    items: list[tuple[str, list[str]]] = []
    for i, line in enumerate(section):
        if line == ".TP" and i + 1 < len(section):
            items.append((section[i + 1], []))
        elif items and i > 0 and section[i - 1] != ".TP":
            items[-1][1].append(line)
    return items


def tag_words(tag: str) -> list[str]:
    """The names a tag line sets in a font (``.B x``, ``.BR x ", " y``, ``.I path``)."""
    request, _, rest = tag.partition(" ")
    if request not in (".B", ".BR", ".I", ".IR"):
        return [roff_text(tag)]
    # Alternating-font requests take words and quoted separators; the words are the names.
    words = re.findall(r'"[^"]*"|\S+', rest)
    return [roff_text(w) for w in words if not w.startswith('"')]


def json_shapes() -> dict[str, str]:
    """hive-c0re(1) JSON OUTPUT: each command and the shape its --json prints."""
    shapes = {}
    for tag, body in tagged_items(man_section("hive-c0re.1", "JSON OUTPUT")):
        for command in tag_words(tag):
            shapes[command] = roff_text(" ".join(body))
    return shapes


def readme_code() -> list[str]:
    """Every code block (fenced or indented) and inline code span of the README."""
    text = README.read_text()
    blocks = _FENCE.findall(text)
    outside = _FENCE.sub("", text)
    indented = [line[4:] for line in outside.splitlines() if line.startswith("    ")]
    spans = _SPAN.findall(outside)
    lines = [line for block in blocks for line in block.splitlines()]
    return lines + indented + spans
