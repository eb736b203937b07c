"""Bytecode an agent's container can use: a current ``.pyc`` that any user may read.

Containers see hyperhive's packages (and the stand-in agent's) read-only and
as another uid, so a module without such a ``.pyc`` is compiled in memory at
every agent start, and nothing is kept. The daemon's own imports would leave
what they compile 0600 in 0700 ``__pycache__`` directories (its unit's
``UMask=0077``): of no use to a container. ``scripts/setup`` compiles the
packages with this, readable by anyone; ``bench/containers.py`` reports what
its stand-in would still compile.

``python -m hive_dev.bytecode [--compile] DIR...``: prints each module under
the directories without usable bytecode (exit 1 if any); ``--compile`` first
compiles those (and prints nothing).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import py_compile
import stat
from collections.abc import Iterable, Sequence
from pathlib import Path

HEADER = 16  # magic, flags, source mtime, source size (PEP 552)


def usable(source: Path) -> bool:
    """Whether ``source`` has a current, timestamp-checked ``.pyc`` any user may read."""
    cached = Path(importlib.util.cache_from_source(str(source)))
    try:
        if not (cached.stat().st_mode & stat.S_IROTH
                and cached.parent.stat().st_mode & stat.S_IXOTH):
            return False
        with cached.open("rb") as file:
            header = file.read(HEADER)
        info = source.stat()
    except OSError:
        return False
    if len(header) != HEADER or header[:4] != importlib.util.MAGIC_NUMBER:
        return False
    if int.from_bytes(header[4:8], "little"):  # hash-based: checked or not, not ours
        return True
    return (int.from_bytes(header[8:12], "little") == int(info.st_mtime) & 0xFFFFFFFF
            and int.from_bytes(header[12:16], "little") == info.st_size & 0xFFFFFFFF)


def sources(directories: Iterable[Path]) -> list[Path]:
    return sorted(path for top in directories for path in top.rglob("*.py")
                  if "__pycache__" not in path.parts)


def unusable(paths: Iterable[Path]) -> list[Path]:
    return [source for source in paths if not usable(source)]


def compile_readable(paths: Iterable[Path]) -> None:
    """Compile each source, its ``.pyc`` 0644 in a 0755 ``__pycache__``."""
    old = os.umask(0o022)
    try:
        for source in paths:
            cached = Path(importlib.util.cache_from_source(str(source)))
            py_compile.compile(str(source), str(cached), doraise=True)
            cached.parent.chmod(0o755)
            cached.chmod(0o644)
    finally:
        os.umask(old)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hive_dev.bytecode",
                                     description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--compile", action="store_true",
                        help="compile the modules without usable bytecode")
    parser.add_argument("directories", nargs="+", type=Path)
    args = parser.parse_args(argv)
    missing = unusable(sources(args.directories))
    if args.compile:
        compile_readable(missing)
        missing = unusable(missing)
    for source in missing:
        print(source)
    return 1 if missing else 0


if __name__ == "__main__":
    raise SystemExit(main())
