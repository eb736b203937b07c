"""Hypothesis strategies for the wire, derived from ``wire.json_schema()``.

Nothing here lists a verb or a field by hand: a verb added to ``wire.VERBS``
is generated, valid and mutated, by every test that draws from these.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Collection, Mapping
from typing import Any, NamedTuple

from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

from hive_c0re import wire

Request = dict[str, Any]
Scrub = Callable[[str], str]
Vocabulary = Mapping[str, Collection[str]]  # field name -> words worth trying there

SCHEMA: dict[str, Any] = wire.json_schema()
REQUESTS: dict[str, dict[str, Any]] = SCHEMA["requests"]
VERB_NAMES: list[str] = sorted(REQUESTS)
# Verbs that take their connection over (a feed, a pipe); pipelined sweeps leave them out,
# tests/integration/test_subscribe.py and test_agent_ui_pipe.py have them.
STREAMING = frozenset({"subscribe_agent_status", "subscribe_events", "agent_ui"})
ONE_ANSWER_VERBS: list[str] = [name for name in VERB_NAMES if name not in STREAMING]
KINDS: list[str] = [str(kind) for kind in wire.Kind]

# Bounds for fields the schema leaves open, so a frame stays well under a test's
# max_frame_bytes (ensure_ascii escapes a character to at most 12 bytes).
OPEN_STRING_SIZE = 64
OPEN_ARRAY_SIZE = 16

LONE_SURROGATES = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)


class Mutation(NamedTuple):
    """A request broken in one way the schema forbids."""

    request: Request
    how: str  # "wrong_type" | "extra_field" | "missing" | "out_of_bounds" | "lone_surrogate"
    field: str


def verbs_on(kind: str) -> list[str]:
    return [name for name in VERB_NAMES if kind in REQUESTS[name]["sockets"]]


def verbs_not_on(kind: str) -> list[str]:
    return [name for name in VERB_NAMES if kind not in REQUESTS[name]["sockets"]]


def fields_of(verb: str) -> dict[str, dict[str, Any]]:
    """The verb's own fields with their schemas: every property but the envelope's."""
    properties: dict[str, dict[str, Any]] = REQUESTS[verb]["properties"]
    return {name: prop for name, prop in properties.items() if name not in wire.ENVELOPE}


def takes_request_id(verb: str) -> bool:
    # Every verb does, since the envelope's field (request_id) is named unlike any field.
    return wire.REQUEST_ID not in {field.name for field in wire.VERBS[verb].fields}


def required_of(verb: str) -> list[str]:
    return [name for name in REQUESTS[verb]["required"] if name != "cmd"]


def json_types(prop: Mapping[str, Any]) -> frozenset[str]:
    kind = prop["type"]
    return frozenset(kind) if isinstance(kind, list) else frozenset({kind})


def encode(request: Mapping[str, Any]) -> bytes:
    """One request line as a client would write it (ASCII escapes, no newline)."""
    return json.dumps(request, separators=(",", ":")).encode()


def simplest_request(verb: str, text: str = "a") -> Request:
    """``verb`` with only its required fields, each at its simplest (strings are ``text``)."""
    simplest = {"integer": 1, "number": 0, "boolean": True, "array": [], "null": None}
    request: Request = {"cmd": verb}
    for name in required_of(verb):
        prop = fields_of(verb)[name]
        kind = sorted(json_types(prop))[0]
        request[name] = text if kind == "string" else prop.get("minimum", simplest[kind])
    return request


# -- valid values ------------------------------------------------------------------


def _low(prop: Mapping[str, Any]) -> float | None:
    value = prop.get("minimum")
    return None if value is None else float(value)


def _high(prop: Mapping[str, Any]) -> float | None:
    value = prop.get("maximum")
    return None if value is None else float(value)


def _int_bounds(prop: Mapping[str, Any]) -> tuple[int | None, int | None]:
    low, high = prop.get("minimum"), prop.get("maximum")
    return (None if low is None else math.ceil(low), None if high is None else math.floor(high))


def valid_value(prop: Mapping[str, Any], words: Collection[str] = (),
                scrub: Scrub | None = None) -> SearchStrategy[Any]:
    """Any value the property's schema allows.

    Strings are sometimes one of ``words``; other strings pass through ``scrub``,
    which a test can use to keep free text from meaning something (a real agent).
    """
    return st.one_of(*[_valid_of_type(t, prop, words, scrub) for t in sorted(json_types(prop))])


def _valid_of_type(kind: str, prop: Mapping[str, Any], words: Collection[str],
                   scrub: Scrub | None) -> SearchStrategy[Any]:
    if kind == "string":
        longest = prop.get("maxLength", OPEN_STRING_SIZE)
        text = st.text(max_size=longest)
        if scrub is not None:
            text = text.map(scrub)
        fitting = sorted(w for w in words if len(w) <= longest)
        if not fitting:
            return text
        # Words come up twice as often as free text: they are what reaches deep.
        return st.one_of(st.sampled_from(fitting), st.sampled_from(fitting), text)
    if kind == "integer":
        low, high = _int_bounds(prop)
        return st.integers(min_value=low, max_value=high)
    if kind == "number":
        low, high = _int_bounds(prop)
        return st.one_of(
            st.integers(min_value=low, max_value=high),
            st.floats(min_value=_low(prop), max_value=_high(prop), allow_nan=False,
                      allow_infinity=False),
        )
    if kind == "boolean":
        return st.booleans()
    if kind == "array":
        most = min(prop.get("maxItems", OPEN_ARRAY_SIZE), OPEN_ARRAY_SIZE)
        return st.lists(valid_value(prop["items"], (), scrub), max_size=most)
    if kind == "null":
        return st.none()
    if kind == "object":  # a lifecycle scope: the only object the wire takes
        return st.fixed_dictionaries({
            name: valid_value(item, words, scrub) for name, item in prop["properties"].items()})
    raise AssertionError(f"the wire schema uses a type these strategies do not know: {kind}")


def request_ids() -> SearchStrategy[str | int]:
    return st.one_of(st.text(max_size=16), st.integers())


@st.composite
def valid_request(draw: st.DrawFn, verb: str, caps: Mapping[str, float] | None = None,
                  vocabulary: Vocabulary | None = None, scrub: Scrub | None = None) -> Request:
    """A request for ``verb`` the schema allows.

    ``caps`` lowers a numeric field's maximum, ``vocabulary`` offers words for a
    field by name, ``scrub`` rewrites every other string (see :func:`valid_value`).
    """
    request: Request = {"cmd": verb}
    if takes_request_id(verb) and draw(st.booleans()):
        request[wire.REQUEST_ID] = draw(request_ids())
    required = required_of(verb)
    for name, prop in fields_of(verb).items():
        if name in required or draw(st.booleans()):
            capped = dict(prop)
            if caps and name in caps:
                capped["maximum"] = min(prop.get("maximum", math.inf), caps[name])
            words = (vocabulary or {}).get(name, ())
            request[name] = draw(valid_value(capped, words, scrub))
    return request


def any_valid_request(caps: Mapping[str, float] | None = None,
                      vocabulary: Vocabulary | None = None,
                      scrub: Scrub | None = None) -> SearchStrategy[Request]:
    """A valid request for any verb that answers once (offered on a given socket or not)."""
    return st.sampled_from(ONE_ANSWER_VERBS).flatmap(
        lambda verb: valid_request(verb, caps=caps, vocabulary=vocabulary, scrub=scrub))


# -- invalid values ----------------------------------------------------------------

_JSON_TYPES: dict[str, SearchStrategy[Any]] = {
    "string": st.text(max_size=12),
    "integer": st.integers(),
    # Only non-integral: JSON Schema counts 2.0 as an integer.
    "number": st.floats(allow_nan=False, allow_infinity=False).filter(
        lambda x: not x.is_integer()),
    "boolean": st.booleans(),
    "array": st.lists(st.integers(), min_size=1, max_size=3),
    "object": st.dictionaries(st.text(max_size=6), st.integers(), max_size=3),
    "null": st.none(),
}


def wrong_type_value(prop: Mapping[str, Any], required: bool) -> SearchStrategy[Any]:
    """A value of a JSON type the property does not allow.

    ``null`` is offered only for required fields: for an optional field the daemon
    reads it as "absent" (test_wire checks that the schema says the same).
    """
    allowed = set(json_types(prop))
    if "number" in allowed:
        allowed.add("integer")
    if not required:
        allowed.add("null")
    options = [strategy for kind, strategy in _JSON_TYPES.items() if kind not in allowed]
    if "array" in json_types(prop):
        # The right container holding the wrong items.
        wrong_items = wrong_type_value(prop["items"], required=True)
        options.append(st.lists(wrong_items, min_size=1, max_size=3))
    return st.one_of(*options)


def out_of_bounds_value(prop: Mapping[str, Any]) -> SearchStrategy[Any] | None:
    """A value of the right type that breaks one of the property's bounds, if it has any."""
    types = json_types(prop)
    options: list[SearchStrategy[Any]] = []
    low, high = _int_bounds(prop)
    numeric = types & {"integer", "number"}
    if numeric and low is not None:
        options.append(st.integers(max_value=math.ceil(prop["minimum"]) - 1))
    if numeric and high is not None:
        options.append(st.integers(min_value=math.floor(prop["maximum"]) + 1))
    if "number" in types and low is not None:
        options.append(st.floats(max_value=_low(prop), exclude_max=True, allow_nan=False,
                                 allow_infinity=False))
    if "number" in types and high is not None:
        options.append(st.floats(min_value=_high(prop), exclude_min=True, allow_nan=False,
                                 allow_infinity=False))
    if numeric:
        # Not JSON, but Python's json reads them; no count may be one.
        options.append(st.sampled_from([math.nan, math.inf, -math.inf]))
    if "string" in types and "maxLength" in prop:
        longest = prop["maxLength"]
        options.append(st.text(min_size=longest + 1, max_size=longest + 24))
    if "array" in types and "maxItems" in prop:
        most = prop["maxItems"]
        options.append(st.lists(st.sampled_from(["a", "b", "c"]), min_size=most + 1,
                                max_size=most + 3))
    return st.one_of(*options) if options else None


def _with_surrogate(prop: Mapping[str, Any]) -> SearchStrategy[Any] | None:
    """A string (or list of strings) holding a lone surrogate: JSON can spell it, UTF-8 can't."""
    types = json_types(prop)
    if "string" in types:
        longest = prop.get("maxLength", OPEN_STRING_SIZE)
        return st.builds(lambda head, odd: (head + odd)[-longest:],
                         st.text(max_size=longest), LONE_SURROGATES)
    if "array" in types and "string" in json_types(prop["items"]):
        bad = _with_surrogate(prop["items"])
        assert bad is not None
        return st.lists(bad, min_size=1, max_size=3)
    return None


@st.composite
def mutated_request(draw: st.DrawFn, verb: str, caps: Mapping[str, float] | None = None,
                    vocabulary: Vocabulary | None = None, scrub: Scrub | None = None
                    ) -> Mutation:
    """A valid request for ``verb`` broken in exactly one way; decoding must refuse it."""
    request = draw(valid_request(verb, caps=caps, vocabulary=vocabulary, scrub=scrub))
    fields = fields_of(verb)
    required = required_of(verb)
    ways: list[tuple[str, str]] = [("extra_field", "")]
    ways += [("wrong_type", name) for name in fields]
    ways += [("missing", name) for name in required]
    ways += [("out_of_bounds", name) for name, prop in fields.items()
             if out_of_bounds_value(prop) is not None]
    ways += [("lone_surrogate", name) for name, prop in fields.items()
             if _with_surrogate(prop) is not None]
    how, name = draw(st.sampled_from(ways))
    if how == "extra_field":
        name = draw(st.text(min_size=1, max_size=16).filter(
            lambda key: key not in REQUESTS[verb]["properties"]))
        request[name] = draw(st.one_of(*_JSON_TYPES.values()))
    elif how == "wrong_type":
        request[name] = draw(wrong_type_value(fields[name], name in required))
    elif how == "missing":
        del request[name]
    elif how == "out_of_bounds":
        strategy = out_of_bounds_value(fields[name])
        assert strategy is not None
        request[name] = draw(strategy)
    else:
        strategy = _with_surrogate(fields[name])
        assert strategy is not None
        request[name] = draw(strategy)
    return Mutation(request, how, name)


def any_mutated_request(caps: Mapping[str, float] | None = None,
                        vocabulary: Vocabulary | None = None,
                        scrub: Scrub | None = None) -> SearchStrategy[Mutation]:
    # A mutation may leave a request valid (a verb with no fields): no streaming verb here.
    return st.sampled_from(ONE_ANSWER_VERBS).flatmap(
        lambda verb: mutated_request(verb, caps=caps, vocabulary=vocabulary, scrub=scrub))


def json_values(max_leaves: int = 12) -> SearchStrategy[Any]:
    """Any JSON document Python's json can write (NaN and infinities included)."""
    scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=8))
    return st.recursive(
        scalars,
        lambda inner: st.one_of(st.lists(inner, max_size=4),
                                st.dictionaries(st.text(max_size=8), inner, max_size=4)),
        max_leaves=max_leaves,
    )
