"""One verb of the wire: the sockets that take it, its fields and what it answers.

:data:`hive_c0re.wire.VERBS` is the table of them; this module holds the
declaration itself, so that tables of verbs may live beside it
(:mod:`hive_c0re.wire_auth`) and ``wire.py`` stays the one place they are gathered.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from hive_c0re.errors import InvalidInput
from hive_c0re.wire_fields import Field

REQUEST_ID = "request_id"  # the envelope's correlation field, echoed in the answer
ENVELOPE = ("cmd", REQUEST_ID)


class Kind(StrEnum):
    """Which socket a connection came in on; decides identity and verbs."""

    HOST = "host"
    AGENT = "agent"
    MANAGER = "manager"


@dataclass(frozen=True)
class Verb:
    name: str
    sockets: frozenset[Kind]
    help: str
    fields: tuple[Field, ...] = ()
    answer: Mapping[str, str] = field(default_factory=dict)
    # Non-empty: an MCP tool, so described, of each harness whose socket takes the verb.
    tool: str = ""

    def parse(self, request: Mapping[str, Any]) -> dict[str, Any]:
        own = sorted(f.name for f in self.fields)
        unknown = sorted(set(request) - set(own) - set(ENVELOPE))
        if unknown:
            moved = " (a request's own id is request_id)" if unknown[0] == "id" else ""
            raise InvalidInput(f"{self.name} takes no field {unknown[0][:64]!r}",
                               hint="fields: " + (", ".join(own) or "none") + moved)
        args: dict[str, Any] = {}
        for f in self.fields:
            if f.name in request and request[f.name] is not None:
                args[f.name] = f.check(self.name, request[f.name])
            elif f.required:
                raise InvalidInput(f"{self.name} needs the field {f.name!r}")
        return args


ALL = frozenset(Kind)
MANAGER_ONLY = frozenset({Kind.MANAGER})
AGENTS = frozenset({Kind.AGENT, Kind.MANAGER})
HOST = frozenset({Kind.HOST})
OVERSEERS = frozenset({Kind.HOST, Kind.MANAGER})  # the operator, and the manager it trusts
