"""Running a module of this installation in a child process of this interpreter.

``sys.executable -m MODULE`` finds hyperhive only where the interpreter does
by itself (a venv, a distribution's package, a wheel in site-packages).
nixpkgs' Python applications add their libraries to ``sys.path`` inside the
console script (``site.addsitedir``) and leave the interpreter bare, so
there it cannot import them. The child is handed this process's import path
instead: it imports exactly what its parent does, however that was installed.

The child runs isolated (``-I``): ``-c`` would otherwise put its working
directory first on ``sys.path`` before the bootstrap below runs, and a
``json.py`` planted there would run in a root process. Relative entries of
the parent's path are made absolute for the same reason: they meant the
parent's directory, not wherever the child runs.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

# The child's first step: take the parent's import path, then run the module
# as ``-m`` would (``__main__``, ``sys.argv[0]`` its file, the arguments after).
_BOOTSTRAP = ("import json, runpy, sys; sys.path[:] = json.loads(sys.argv.pop(1)); "
              "runpy.run_module(sys.argv.pop(1), run_name='__main__', alter_sys=True)")


def module_argv(module: str, *args: str) -> list[str]:
    """The argv of ``python -m MODULE ARGS`` for a child that imports what this process does."""
    path = [str(Path(entry).absolute()) for entry in sys.path]
    return [sys.executable, "-I", "-c", _BOOTSTRAP, json.dumps(path), module, *args]
