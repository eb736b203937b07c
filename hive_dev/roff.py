"""The few roff (man(7)) forms the generated parts of the man pages are written in."""

from __future__ import annotations


def esc(text: str) -> str:
    """Text as roff shows it: backslashes and minus signs literal."""
    return text.replace("\\", "\\e").replace("-", "\\-")


def protect(line: str) -> str:
    """A line roff would read as a request (a leading '.' or "'") kept as text."""
    return "\\&" + line if line.startswith((".", "'")) else line


def lines(text: str) -> str:
    """Running text; a line that roff would read as a request is protected."""
    return "\n".join(protect(line) for line in esc(text).splitlines())


def bold(text: str) -> str:
    return f"\\fB{esc(text)}\\fR"


def italic(text: str) -> str:
    return f"\\fI{esc(text)}\\fR"


def tagged(tag: str, body: str) -> str:
    return f".TP\n{tag}\n{body}"


def sentence(text: str) -> str:
    """``text`` as a sentence of running text: capitalised, with its full stop (or colon)."""
    return lines(text[:1].upper() + text[1:] + ("" if text.endswith((".", ":")) else "."))
