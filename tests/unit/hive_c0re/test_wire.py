"""wire.py: field checks, frame decoding, id echo, and the schema the fuzzers are built from."""

from __future__ import annotations

import json
import math
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hive_c0re import wire
from hive_c0re.errors import InvalidInput
from hive_c0re.wire import Kind
from hive_c0re.wire_fields import Field
from tests import strategies as ws

PROPERTY = settings(max_examples=300, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow])


def decode(request: Any, kind: Kind = Kind.HOST) -> tuple[wire.Verb, dict[str, Any], Any]:
    return wire.decode_request(json.dumps(request).encode(), kind)


def refusal(line: bytes, kind: Kind = Kind.HOST) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        wire.decode_request(line, kind)
    return caught.value


# -- Field.check -------------------------------------------------------------------

TEXT = Field("text", "string", "some text", max_length=5)
COUNT = Field("count", "integer", "a count", minimum=1, maximum=10)
SECONDS = Field("seconds", "number", "a duration", minimum=0, maximum=2.5)
FLAG = Field("flag", "boolean", "a switch")
NAMES = Field("names", "names", "some names")
CHOICES = Field("choices", "strings", "some choices", max_length=3, max_items=2)
WHEN = Field("when", "time", "a time", max_length=8)


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        (TEXT, 1, "must be a string"),
        (TEXT, 1.5, "must be a string"),
        (TEXT, True, "must be a string"),
        (TEXT, ["a"], "must be a string"),
        (TEXT, {"a": "b"}, "must be a string"),
        (TEXT, b"abc", "must be a string"),
        (COUNT, "3", "must be an integer"),
        (COUNT, 2.5, "must be an integer"),
        (COUNT, True, "must be an integer"),  # bool is an int in Python, never on the wire
        (COUNT, False, "must be an integer"),
        (COUNT, [3], "must be an integer"),
        (COUNT, math.nan, "must be an integer"),
        (SECONDS, "1", "must be an? number"),  # "an number" today
        (SECONDS, True, "must be an? number"),
        (SECONDS, {}, "must be an? number"),
        (FLAG, 1, "must be true or false"),
        (FLAG, 0, "must be true or false"),
        (FLAG, "true", "must be true or false"),
        (FLAG, None, "must be true or false"),
        (NAMES, "alice", "must be a list of names"),
        (NAMES, ("alice",), "must be a list of names"),
        (NAMES, ["alice", 3], "must be a list of names"),
        (NAMES, [None], "must be a list of names"),
        (NAMES, {"alice": 1}, "must be a list of names"),
        (CHOICES, "a", "must be a list of strings"),
        (CHOICES, ["a", 1], "must be a list of strings"),
        (CHOICES, [None], "must be a list of strings"),
        (WHEN, True, "must be a number of seconds since the epoch or an ISO-8601 string"),
        (WHEN, [1], "must be a number of seconds since the epoch or an ISO-8601 string"),
        (WHEN, {}, "must be a number of seconds since the epoch or an ISO-8601 string"),
        (WHEN, math.inf, "must be a finite number"),
        (WHEN, math.nan, "must be a finite number"),
    ],
)
def test_a_value_of_the_wrong_type_is_refused_naming_verb_and_field(
        field: Field, value: Any, says: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        field.check("verb", value)
    assert re.fullmatch(rf"verb\.{field.name} {says}", caught.value.message), caught.value.message


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize("field", [SECONDS, Field("free", "number", "unbounded")])
def test_nan_and_infinities_are_refused_even_without_bounds(field: Field, value: float) -> None:
    with pytest.raises(InvalidInput, match=r"must be a finite number"):
        field.check("verb", value)


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        (COUNT, 0, "must be at least 1"),
        (COUNT, -(2**70), "must be at least 1"),
        (COUNT, 11, "must be at most 10"),
        (COUNT, 2**70, "must be at most 10"),
        (SECONDS, -1, "must be at least 0"),
        (SECONDS, -1e-300, "must be at least 0"),
        (SECONDS, 2.5000001, "must be at most 2.5"),
        (SECONDS, 3, "must be at most 2.5"),
        (TEXT, "abcdef", "is longer than 5 characters"),
        (NAMES, ["a"] * 257, "has more than 256 names"),
        (CHOICES, ["a", "b", "c"], "has more than 2 items"),
        (CHOICES, ["a", "bcde"], "has an item longer than 3 characters"),
        (WHEN, "2030-01-01", "is longer than 8 characters"),
    ],
)
def test_a_value_out_of_bounds_is_refused_with_the_bound(
        field: Field, value: Any, says: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        field.check("verb", value)
    assert caught.value.message == f"verb.{field.name} {says}"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        (TEXT, ""), (TEXT, "abcde"), (TEXT, "ééééé"),  # characters, not bytes
        (COUNT, 1), (COUNT, 10),
        (SECONDS, 0), (SECONDS, 0.0), (SECONDS, 2.5), (SECONDS, 2), (SECONDS, 1e-300),
        (FLAG, True), (FLAG, False),
        (NAMES, []), (NAMES, ["a"] * 256), (NAMES, ["", "x" * 1000]),
        (CHOICES, []), (CHOICES, ["", "abc"]),
        (WHEN, 0), (WHEN, 1.5), (WHEN, -3), (WHEN, ""), (WHEN, "whenever"),
    ],
)
def test_a_value_at_or_inside_its_bounds_is_returned_unchanged(field: Field, value: Any) -> None:
    assert field.check("verb", value) is value


def test_an_integer_field_at_the_64_bit_edge() -> None:
    reply = next(f for f in wire.VERBS["send"].fields if f.name == "in_reply_to")
    assert reply.check("send", 2**63 - 1) == 2**63 - 1
    with pytest.raises(InvalidInput, match=r"send\.in_reply_to must be at most"):
        reply.check("send", 2**63)


# -- Verb.parse via decode_request -------------------------------------------------


def test_an_unknown_field_is_refused_by_name_with_the_fields_there_are() -> None:
    error = refusal(b'{"cmd": "recv", "wait_seconds": 1, "colour": "blue"}', Kind.AGENT)
    assert error.message == "recv takes no field 'colour'"
    assert error.hint == "fields: max, wait_seconds"
    error = refusal(b'{"cmd": "whoami", "name": "x"}')
    assert error.hint == "fields: none"


def test_a_long_unknown_field_name_is_cut_in_the_message() -> None:
    error = refusal(json.dumps({"cmd": "whoami", "k" * 10_000: 1}).encode())
    assert len(error.message) < 200
    assert "k" * 64 in error.message


@pytest.mark.parametrize("verb", [v for v in ws.VERB_NAMES if ws.required_of(v)])
def test_each_missing_required_field_is_named(verb: str) -> None:
    kind = Kind(ws.REQUESTS[verb]["sockets"][0])
    for missing in ws.required_of(verb):
        request = ws.simplest_request(verb)
        del request[missing]
        with pytest.raises(InvalidInput) as caught:
            decode(request, kind)
        assert caught.value.message == f"{verb} needs the field {missing!r}"
        # null is not a value for a required field either
        with pytest.raises(InvalidInput, match="needs the field"):
            decode({**request, missing: None}, kind)


@pytest.mark.parametrize("kind", list(Kind))
def test_a_verb_not_offered_on_a_socket_is_refused_listing_the_verbs_there(kind: Kind) -> None:
    offered = ws.verbs_on(str(kind))
    hint = "verbs here: " + ", ".join(offered)
    for cmd in [*ws.verbs_not_on(str(kind)), "nope", "", "WHOAMI", "whoami "]:
        error = refusal(json.dumps({"cmd": cmd}).encode(), kind)
        assert error.message == f"unknown verb {cmd!r} on the {kind} socket"
        assert error.hint == hint
    for cmd in offered:
        verb, _, _ = decode(ws.simplest_request(cmd), kind)
        assert verb is wire.VERBS[cmd]


@pytest.mark.parametrize("frame", [{"cmd": None}, {"cmd": 1}, {"cmd": True}, {"cmd": ["whoami"]},
                                   {"cmd": {"v": "whoami"}}, {"request_id": 1}, {}])
def test_cmd_must_be_a_string(frame: dict[str, Any]) -> None:
    assert refusal(json.dumps(frame).encode()).message == "request needs a string field 'cmd'"


# -- frames --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [b"", b" ", b"\n", b"{", b"}", b'{"cmd": "whoami"', b'{"cmd": whoami}', b"{'cmd': 'whoami'}",
     b'{"cmd": "whoami"} {"cmd": "whoami"}', b'{"cmd": "whoami"}x', b"\x00", b"\x00{}",
     b'{"cmd": "who\x00ami"}', b"[" * 100_000, b"[" * 5_000 + b"]" * 5_000,
     b'{"a":' * 5_000 + b"1" + b"}" * 5_000,
     b'{"cmd":"whoami","request_id":' + b"9" * 5_000 + b"}"],
)
def test_a_frame_that_is_not_json_is_invalid_input(line: bytes) -> None:
    error = refusal(line)
    assert error.message == "request is not valid JSON"
    assert error.hint is not None and '{"cmd": "whoami"}' in error.hint


@pytest.mark.parametrize(
    "line",
    [b"\xff", b"\xfe\xff", b'{"cmd": "whoami", "request_id": "\xff"}', b'{"cmd": "\xc3\x28"}',
     b'{"cmd": "whoami", "request_id": "\xed\xa0\x80"}',  # a surrogate spelled in UTF-8 bytes
     b"\x80abc", b'{"cmd": "whoami"}\xc0\xaf'],
)
def test_a_frame_that_is_not_utf8_is_invalid_input(line: bytes) -> None:
    assert refusal(line).message in ("request is not UTF-8", "request is not valid JSON")


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le"])
def test_a_frame_in_another_unicode_encoding_is_refused(codec: str) -> None:
    # The framing is UTF-8 (wire.json_schema()["framing"]); json.loads(bytes) would
    # sniff UTF-16 and UTF-32 and take them. Without a BOM, ASCII text in UTF-16
    # is valid UTF-8 (with NULs), so "not valid JSON" is as right as "not UTF-8".
    assert "UTF-8" in ws.SCHEMA["framing"]
    line = '{"cmd": "whoami"}'.encode(codec)
    assert refusal(line).message in ("request is not UTF-8", "request is not valid JSON")


@pytest.mark.parametrize(
    "line", [b"1", b"-0.5e3", b'"whoami"', b"[]", b'[{"cmd": "whoami"}]', b"null", b"true",
             b"false", b"NaN", b"Infinity"],
)
def test_a_frame_that_is_json_but_no_object_is_invalid_input(line: bytes) -> None:
    assert refusal(line).message == "request must be a JSON object with a 'cmd' field"


@PROPERTY
@given(line=st.one_of(st.binary(max_size=300),
                      ws.json_values().map(lambda v: json.dumps(v).encode())),
       kind=st.sampled_from(list(Kind)))
def test_any_bytes_decode_or_raise_invalid_input_and_nothing_else(line: bytes, kind: Kind) -> None:
    try:
        verb, args, _ = wire.decode_request(line, kind)
    except InvalidInput:
        return
    assert kind in verb.sockets
    assert set(args) <= {f.name for f in verb.fields}


# -- request ids -----------------------------------------------------------------------


@pytest.mark.parametrize("request_id", ["", "abc", "ünï", 0, -1, 2**64, 10**100])
def test_a_string_or_integer_id_is_returned_for_the_answer(request_id: str | int) -> None:
    _, _, got = decode({"cmd": "whoami", "request_id": request_id})
    assert got == request_id
    assert type(got) is type(request_id)


def test_id_is_the_approval_not_the_request_id() -> None:
    verb, args, got = decode({"cmd": "approve", "id": 42, "request_id": "r1"})
    assert (verb.name, args, got) == ("approve", {"id": 42}, "r1")
    old_style = refusal(b'{"cmd": "whoami", "id": 1}')
    assert "takes no field 'id'" in old_style.message
    assert old_style.hint is not None and "request_id" in old_style.hint


@pytest.mark.parametrize("request_id", [None, True, False, 1.5, 1.0, [1], {"a": 1}])
def test_an_id_of_any_other_type_is_ignored_not_refused(request_id: Any) -> None:
    verb, _, got = decode({"cmd": "whoami", "request_id": request_id})
    assert verb.name == "whoami"
    assert got is None


# -- lone surrogates and nulls: schema and decoder must agree -----------------------------


@pytest.mark.parametrize(
    "frame",
    [
        {"cmd": "send", "to": "operator", "body": "a\ud800b"},
        {"cmd": "send", "to": "\udfff", "body": "x"},
        {"cmd": "register", "name": "alice", "allowed_recipients": ["\udc80"]},
        {"cmd": "whoami", "request_id": "\ud83d"},
    ],
)
def test_a_string_with_a_lone_surrogate_is_invalid_input(frame: dict[str, Any]) -> None:
    # JSON can spell U+D800 as an escape, but no UTF-8 can carry it: the store
    # cannot encode it and neither can the answer that echoes it.
    kind = Kind.AGENT if frame["cmd"] == "send" else Kind.HOST
    with pytest.raises(InvalidInput):
        decode(frame, kind)


def test_null_for_an_optional_field_is_accepted_only_where_the_schema_allows_null() -> None:
    # The decoder reads null as "field absent"; a client built from the schema
    # (which says "integer", "boolean", ...) cannot know that.
    disagreements = []
    for verb in ws.VERB_NAMES:
        kind = Kind(ws.REQUESTS[verb]["sockets"][0])
        for field, prop in ws.fields_of(verb).items():
            if field in ws.required_of(verb):
                continue
            try:
                decode({**ws.simplest_request(verb), field: None}, kind)
                accepted = True
            except InvalidInput:
                accepted = False
            if accepted != ("null" in ws.json_types(prop)):
                disagreements.append(f"{verb}.{field}")
    assert not disagreements, (
        "the decoder and json_schema() disagree about null for: " + ", ".join(disagreements))


# -- json_schema() --------------------------------------------------------------------------


def test_the_schema_is_json_and_describes_every_verb_exactly() -> None:
    schema = json.loads(json.dumps(wire.json_schema()))
    assert schema["version"] == wire.VERSION
    assert set(schema["requests"]) == set(wire.VERBS)
    for name, verb in wire.VERBS.items():
        request = schema["requests"][name]
        assert request["description"] == verb.help
        assert request["sockets"] == sorted(str(k) for k in verb.sockets)
        assert request["type"] == "object"
        assert request["additionalProperties"] is False
        assert request["required"] == ["cmd", *[f.name for f in verb.fields if f.required]]
        assert request["answer"] == dict(verb.answer)
        properties = request["properties"]
        assert properties["cmd"] == {"const": name}
        if ws.takes_request_id(name):  # else see the test below
            assert properties["request_id"] == {"type": ["string", "integer"],
                                                "description": "echoed in the answer"}
        assert set(properties) == {"cmd", "request_id", *(f.name for f in verb.fields)}
        for field in verb.fields:
            got = dict(properties[field.name])
            if not field.required and isinstance(got["type"], list) and "null" in got["type"]:
                # An optional field may say that null means "not given".
                got["type"] = [t for t in got["type"] if t != "null"]
                got["type"] = got["type"][0] if len(got["type"]) == 1 else got["type"]
            assert got == expected_field_schema(field), f"{name}.{field.name}"


def test_no_verb_has_a_field_named_like_the_envelopes_cmd_or_request_id() -> None:
    # A field called "request_id" would be read by decode_request as the request
    # id too (and echoed): a client could then neither tag such a request nor
    # tell the two apart. ("id" is a field: the original's approve names the approval so.)
    clashes = [f"{verb.name}.{field.name}" for verb in wire.VERBS.values()
               for field in verb.fields if field.name in wire.ENVELOPE]
    assert not clashes, "fields named like the envelope: " + ", ".join(clashes)


def expected_field_schema(field: Field) -> dict[str, Any]:
    expected: dict[str, Any] = {"description": field.help}
    max_length = field.max_length
    if field.type == "names":
        expected.update(type="array", items={"type": "string"}, maxItems=256)
    elif field.type == "strings":
        # The length bounds each item; the count bounds the list.
        expected.update(type="array", items={"type": "string", "maxLength": max_length},
                        maxItems=field.max_items)
        max_length = None
    elif field.type == "ids":
        expected.update(type="array", items={"type": "integer", "minimum": 1,
                                             "maximum": 2**63 - 1}, maxItems=field.max_items)
    elif field.type == "time":
        expected["type"] = ["number", "string"]
    elif field.type == "scope":
        expected.update(type="object", additionalProperties=False, required=["agent_names"],
                        properties={"agent_names": {"type": "array", "items": {"type": "string"},
                                                    "maxItems": 256}})
    else:
        expected["type"] = field.type
    bounds = {"minimum": field.minimum, "maximum": field.maximum, "maxLength": max_length}
    expected.update({key: value for key, value in bounds.items() if value is not None})
    return expected


def test_every_socket_kind_has_verbs_and_every_verb_a_socket() -> None:
    for kind in Kind:
        assert "whoami" in ws.verbs_on(str(kind))
    for request in ws.REQUESTS.values():
        assert request["sockets"]
        assert set(request["sockets"]) <= set(ws.KINDS)


# -- properties from the schema ----------------------------------------------------------


@PROPERTY
@given(data=st.data())
def test_any_request_the_schema_allows_is_decoded_to_its_fields(data: st.DataObject) -> None:
    kind = data.draw(st.sampled_from(ws.KINDS))
    verb_name = data.draw(st.sampled_from(ws.verbs_on(kind)))
    request = data.draw(ws.valid_request(verb_name))
    verb, args, request_id = wire.decode_request(ws.encode(request), Kind(kind))
    assert verb is wire.VERBS[verb_name]
    # null, where the schema allows it, means "not given"
    assert args == {k: v for k, v in request.items()
                    if k in ws.fields_of(verb_name) and v is not None}
    if ws.takes_request_id(verb_name):
        assert request_id == request.get("request_id")


@PROPERTY
@given(data=st.data())
def test_any_request_broken_one_way_is_invalid_input_and_nothing_else(
        data: st.DataObject) -> None:
    kind = data.draw(st.sampled_from(ws.KINDS))
    verb_name = data.draw(st.sampled_from(ws.verbs_on(kind)))
    mutation = data.draw(ws.mutated_request(verb_name))
    line = ws.encode(mutation.request)
    try:
        wire.decode_request(line, Kind(kind))
    except InvalidInput as error:
        if mutation.how == "extra_field":
            assert repr(mutation.field[:64]) in error.message
        elif mutation.how != "lone_surrogate":
            assert mutation.field in error.message
        return
    raise AssertionError(f"decoded {mutation.how} of {mutation.field!r}: {line!r}")


@PROPERTY
@given(data=st.data())
def test_any_request_on_a_socket_that_does_not_offer_its_verb_is_refused(
        data: st.DataObject) -> None:
    kind = data.draw(st.sampled_from([k for k in ws.KINDS if ws.verbs_not_on(k)]))
    request = data.draw(st.sampled_from(ws.verbs_not_on(kind)).flatmap(ws.valid_request))
    error = refusal(ws.encode(request), Kind(kind))
    assert error.message.startswith("unknown verb")
    assert error.hint == "verbs here: " + ", ".join(ws.verbs_on(kind))


# -- answers ----------------------------------------------------------------------------------


def test_answers_carry_version_ok_and_errors_their_code_and_hint() -> None:
    assert wire.ok(name="x") == {"version": 1, "ok": True, "name": "x"}
    failed = wire.failure(InvalidInput("bad", hint="do better"))
    assert failed == {"version": 1, "ok": False, "error": "bad", "code": "invalid",
                      "hint": "do better"}
    assert "hint" not in wire.failure(InvalidInput("bad"))


@PROPERTY
@given(payload=st.dictionaries(st.text(max_size=8), ws.json_values(), max_size=4))
def test_an_answer_is_one_utf8_line_that_reads_back(payload: dict[str, Any]) -> None:
    line = wire.encode({**payload, **wire.ok()})
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    back = json.loads(line.decode("utf-8"))
    assert back["version"] == 1 and back["ok"] is True
