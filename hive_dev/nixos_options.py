"""The options of hyperhive's NixOS modules, read from their declarations, for hyperhive-nixos(5).

nixpkgs' own module system evaluates each module (``nixos_options.nix``,
``lib.optionAttrSetToDocList`` as the NixOS manual does), so the page shows
exactly what NixOS would check: name, type, default, example, description.
Nix is ``nix-instantiate`` on ``PATH``; nixpkgs' lib comes from
``$HYPERHIVE_NIXPKGS_LIB``, else ``../shared/vendor/nixpkgs-lib`` beside the
checkout. Without either, :class:`NixUnavailable` says which is missing.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hive_dev import nix
from hive_dev.roff import esc, protect

# Nix or nixpkgs' lib is not on this machine: the options cannot be read.
NixUnavailable = nix.NixMissing

ROOT = Path(__file__).resolve().parent.parent
MODULES = ROOT / "nixos" / "modules"
EXPRESSION = Path(__file__).with_name("nixos_options.nix")
_CODE = re.compile(r"(?:\{(?:option|command|env|file|var)\})?`([^`\n]+)`")


@dataclass(frozen=True)
class Option:
    name: str
    type: str
    description: str
    default: str | None
    example: str | None
    read_only: bool = False


def nixpkgs_lib() -> Path:
    """nixpkgs' lib: ``$HYPERHIVE_NIXPKGS_LIB``, else the vendored copy beside the checkout;
    raise NixUnavailable, saying where it looked, when neither is there."""
    if os.environ.get(nix.LIB_ENV):
        return nix.nix_lib()
    vendored = ROOT.parent / "shared" / "vendor" / "nixpkgs-lib"
    if not (vendored / "lib" / "default.nix").is_file():
        raise NixUnavailable(f"{nix.LIB_ENV} is not set and there is no nixpkgs lib at "
                             f"{vendored}: point {nix.LIB_ENV} at a copy of nixpkgs' lib/")
    return vendored / "lib"


def shown_value(value: Any) -> str | None:
    """A default or example as the manual prints it: a literal's text, else its JSON."""
    if value is None:
        return None
    if isinstance(value, dict) and value.get("_type") in ("literalExpression", "literalMD"):
        return str(value["text"])
    return json.dumps(value)


def module_options(module: Path) -> list[Option]:
    """Every visible option ``module`` declares, sorted by name as the manual sorts them.

    Raise NixUnavailable without Nix or the lib; RuntimeError with Nix's message when the
    module does not evaluate.
    """
    args = ["--eval", "--strict", "--json", str(EXPRESSION),
            "--argstr", "lib", str(nixpkgs_lib().resolve()),
            "--argstr", "module", str(module.resolve())]
    done = nix.run_nix(args, program="nix-instantiate")
    if done.returncode != 0:
        raise RuntimeError(f"the options of {module.name} do not evaluate:\n{done.stderr}")
    return [Option(name=o["name"], type=o["type"], description=o["description"] or "",
                   default=shown_value(o["default"]), example=shown_value(o["example"]),
                   read_only=o["readOnly"])
            for o in json.loads(done.stdout)]


# -- roff -------------------------------------------------------------------------------


def _inline(text: str) -> str:
    """Markdown's code spans (and ``{option}`x```) bold, the rest as roff text."""
    out, last = [], 0
    for match in _CODE.finditer(text):
        out.append(esc(text[last:match.start()]))
        out.append(f"\\fB{esc(match[1])}\\fR")
        last = match.end()
    out.append(esc(text[last:]))
    return "".join(out)


def description_roff(markdown: str) -> list[str]:
    """A description's paragraphs (``.IP``: inside the option's item) and ``-`` lists."""
    out: list[str] = []
    for paragraph in re.split(r"\n\s*\n", markdown.strip()):
        if out:
            out.append(".IP")
        for line in paragraph.splitlines():
            line = line.strip()
            if line.startswith(("- ", "* ")):
                out += [".br", "\\(bu " + _inline(line[2:])]
            elif line:
                out.append(protect(_inline(line)))
    return out


def _value(label: str, text: str) -> list[str]:
    if "\n" not in text:
        return [".br", f"{label}: \\fB{esc(text)}\\fR"]
    return [".br", f"{label}:", ".RS", ".EX", *(protect(esc(line)) for line in text.splitlines()),
            ".EE", ".RE"]


def option_roff(option: Option) -> str:
    read_only = " (read\\-only)" if option.read_only else ""
    out = [".TP", f"\\fB{esc(option.name)}\\fR", *description_roff(option.description),
           ".IP", f"Type: {esc(option.type)}{read_only}."]
    if option.default is not None:
        out += _value("Default", option.default)
    if option.example is not None:
        out += _value("Example", option.example)
    return "\n".join(out)


def options_roff(module: Path) -> str:
    return "\n".join(option_roff(option) for option in module_options(module))
