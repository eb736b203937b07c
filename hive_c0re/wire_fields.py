"""One field of a wire request: its type, its limits, its check and its JSON Schema.

:data:`hive_c0re.wire.VERBS` declares each verb's fields with :class:`Field`;
the daemon checks a request's values with :meth:`Field.check`,
``hive-c0re wire-schema`` prints :meth:`Field.json_schema`, and the
harnesses' MCP tools take their schemas from :func:`tool_schema`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from hive_c0re.errors import InvalidInput


@dataclass(frozen=True)
class Field:
    name: str
    type: str  # "string" | "integer" | "number" | "boolean" | "names" | "strings" | "time"
    #            | "ids" (a list of row ids: integers from 1)
    #            | "scope" ({"agent_names": names}, the original's lifecycle scope)
    help: str
    required: bool = False
    minimum: float | None = None
    maximum: float | None = None
    max_length: int | None = None  # of a string, of each item of "strings", of a "time" string
    max_items: int | None = None  # of "strings" and "ids"
    # The name the model sees in an MCP tool, where the wire's would mislead it (a tool's
    # ``id`` reads better than ``question_id``); the wire keeps ``name``.
    alias: str = ""

    @property
    def tool_name(self) -> str:
        return self.alias or self.name

    def check(self, verb: str, value: Any) -> Any:
        """Return ``value`` if it fits; raise InvalidInput naming the verb, field and rule."""
        where = f"{verb}.{self.name}"
        if self.type == "string":
            if not isinstance(value, str):
                raise InvalidInput(f"{where} must be a string")
            if self.max_length is not None and len(value) > self.max_length:
                raise InvalidInput(f"{where} is longer than {self.max_length} characters")
        elif self.type in ("integer", "number"):
            numeric = (int,) if self.type == "integer" else (int, float)
            # bool is an int in Python but never a count on the wire.
            if isinstance(value, bool) or not isinstance(value, numeric):
                raise InvalidInput(f"{where} must be {'an' if self.type == 'integer' else 'a'} "
                                   f"{self.type}")
            if value != value or value in (float("inf"), float("-inf")):
                raise InvalidInput(f"{where} must be a finite number")
            if self.minimum is not None and value < self.minimum:
                raise InvalidInput(f"{where} must be at least {self.minimum:g}")
            if self.maximum is not None and value > self.maximum:
                raise InvalidInput(f"{where} must be at most {self.maximum:g}")
        elif self.type == "boolean":
            if not isinstance(value, bool):
                raise InvalidInput(f"{where} must be true or false")
        elif self.type == "names":
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise InvalidInput(f"{where} must be a list of names")
            if len(value) > 256:
                raise InvalidInput(f"{where} has more than 256 names")
        elif self.type == "strings":
            self._check_strings(where, value)
        elif self.type == "ids":
            self._check_ids(where, value)
        elif self.type == "time":
            self._check_time(where, value)
        elif self.type == "scope":
            _check_scope(where, value)
        return value

    def _check_strings(self, where: str, value: Any) -> None:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise InvalidInput(f"{where} must be a list of strings")
        if self.max_items is not None and len(value) > self.max_items:
            raise InvalidInput(f"{where} has more than {self.max_items} items")
        if self.max_length is not None and any(len(v) > self.max_length for v in value):
            raise InvalidInput(f"{where} has an item longer than {self.max_length} characters")

    def _check_ids(self, where: str, value: Any) -> None:
        if not isinstance(value, list) or not all(
                isinstance(v, int) and not isinstance(v, bool) for v in value):
            raise InvalidInput(f"{where} must be a list of ids (integers)")
        if self.max_items is not None and len(value) > self.max_items:
            raise InvalidInput(f"{where} has more than {self.max_items} ids")
        if any(not 1 <= v <= MAX_ID for v in value):
            raise InvalidInput(f"{where} holds an id outside 1-{MAX_ID}")

    def _check_time(self, where: str, value: Any) -> None:
        """Seconds since the epoch, or text for the handler to read (ISO-8601)."""
        if isinstance(value, str):
            if self.max_length is not None and len(value) > self.max_length:
                raise InvalidInput(f"{where} is longer than {self.max_length} characters")
            return
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidInput(f"{where} must be a number of seconds since the epoch "
                               "or an ISO-8601 string")
        if value != value or value in (float("inf"), float("-inf")):
            raise InvalidInput(f"{where} must be a finite number")

    def json_schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"description": self.help}
        if self.type == "names":
            schema.update(type="array", items={"type": "string"}, maxItems=256)
        elif self.type == "strings":
            items: dict[str, Any] = {"type": "string"}
            if self.max_length is not None:
                items["maxLength"] = self.max_length
            schema.update(type="array", items=items)
            if self.max_items is not None:
                schema["maxItems"] = self.max_items
        elif self.type == "ids":
            schema.update(type="array", items={"type": "integer", "minimum": 1,
                                               "maximum": MAX_ID})
            if self.max_items is not None:
                schema["maxItems"] = self.max_items
        elif self.type == "time":
            schema["type"] = ["number", "string"]
        elif self.type == "scope":
            schema.update(SCOPE_SCHEMA)
        else:
            schema["type"] = self.type
        if not self.required:
            # An optional field given as null counts as absent.
            kinds = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
            schema["type"] = [*kinds, "null"]
        if self.minimum is not None:
            schema["minimum"] = self.minimum
        if self.maximum is not None:
            schema["maximum"] = self.maximum
        if self.max_length is not None and self.type != "strings":
            schema["maxLength"] = self.max_length
        return schema


def tool_schema(fields: tuple[Field, ...]) -> dict[str, Any]:
    """An MCP tool's input schema: the request's fields (aliased), without cmd and request_id."""
    return {"type": "object", "additionalProperties": False,
            "required": [f.tool_name for f in fields if f.required],
            "properties": {f.tool_name: f.json_schema() for f in fields}}


def from_tool(verb: str, fields: tuple[Field, ...], arguments: Mapping[str, Any]
              ) -> dict[str, Any]:
    """A tool call's arguments as the verb's request fields (aliases undone).

    A key the tool does not declare is refused here: it could otherwise reach
    the frame as ``cmd`` or as the request's own ``id``.
    """
    wire_name = {f.tool_name: f.name for f in fields}
    unknown = sorted(set(arguments) - set(wire_name))
    if unknown:
        raise InvalidInput(f"{verb} takes no argument {unknown[0][:64]!r}",
                           hint="arguments: " + (", ".join(wire_name) or "none"))
    return {wire_name[key]: value for key, value in arguments.items()}


MAX_NAMES = 256
MAX_ID = 2**63 - 1  # sqlite's largest rowid
SCOPE_SCHEMA: dict[str, Any] = {
    "type": "object", "additionalProperties": False, "required": ["agent_names"],
    "properties": {"agent_names": {"type": "array", "items": {"type": "string"},
                                   "maxItems": MAX_NAMES}},
}


def _check_scope(where: str, value: Any) -> None:
    if not isinstance(value, dict) or set(value) != {"agent_names"}:
        raise InvalidInput(f"{where} must be an object with exactly the key agent_names",
                           hint='like {"agent_names": ["alice"]}')
    names = value["agent_names"]
    if not isinstance(names, list) or not all(isinstance(v, str) for v in names):
        raise InvalidInput(f"{where}.agent_names must be a list of names")
    if len(names) > MAX_NAMES:
        raise InvalidInput(f"{where}.agent_names has more than {MAX_NAMES} names")


# -- a verb: its sockets, its fields, its answer --------------------------------------

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
