"""The unit files that ship with the package, rendered for this installation."""

from __future__ import annotations

import shlex
import sys
from importlib import resources
from pathlib import Path

from hive_c0re.errors import InvalidInput

UNIT_NAMES = ("hive-c0re.socket", "hive-c0re.service",
              "hive-c0re-dashboard.socket", "hive-c0re-dashboard.service")


def default_exec() -> str:
    """This interpreter running hive-c0re: right for a venv, a distro package or a wheel."""
    return f"{shlex.quote(sys.executable)} -m hive_c0re"


def exec_word(word: str) -> str:
    """``word`` as one word of an ``ExecStart=`` line, its % kept literal (not a specifier)."""
    if any(char in word for char in '"\\\n'):
        raise InvalidInput(f"{word!r} has a quote, backslash or newline; move it")
    escaped = word.replace("%", "%%")
    return f'"{escaped}"' if any(c.isspace() or c == "'" for c in escaped) else escaped


def environment_line(key: str, value: str) -> str:
    """An ``Environment=`` line, the whole assignment quoted: values may hold spaces."""
    if any(char in value for char in '"\\\n'):
        raise InvalidInput(f"the value of {key} has a quote, backslash or newline")
    return f'Environment="{key}={value.replace("%", "%%")}"'


def render(name: str, executable: str | None = None) -> str:
    template = resources.files("hive_c0re").joinpath("unit_files", name).read_text()
    return template.replace("@HIVE_C0RE@", executable or default_exec())


def install(directory: Path, executable: str | None = None) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name in UNIT_NAMES:
        target = directory / name
        target.write_text(render(name, executable))
        written.append(target)
    return written
