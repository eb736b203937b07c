from __future__ import annotations

import pytest

from hive_c0re.errors import InvalidInput
from hive_c0re.names import RESERVED, validate_agent_name, validate_recipient
from hive_c0re.paths import Paths


@pytest.mark.parametrize("name", ["a", "alice", "bob-2", "a12345678", "x-y-z"])
def test_good_names_pass(name: str) -> None:
    assert validate_agent_name(name) == name


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("", "must be"),
        ("..", "must be"),
        ("../x", "must be"),
        ("a/b", "must be"),
        ("a;b", "must be"),
        ("a b", "must be"),
        ("-flag", "must be"),
        ("--flag", "must be"),
        ("a@b", "must be"),  # unit-name metacharacters
        ("a\\x2d", "must be"),
        ("a.service", "must be"),
        ("Alice", "must be"),
        ("1abc", "must be"),
        ("alice\n", "must be"),
        ("alicе", "must be"),  # Cyrillic е: a look-alike
        ("ａlice", "must be"),  # fullwidth a
        ("a" * 10, "must be"),
        ("a" * 1000, "must be"),
    ],
)
def test_bad_names_are_refused_with_the_rule(name: str, says: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        validate_agent_name(name)
    assert says in caught.value.message
    assert "lowercase ASCII letter" in caught.value.message


@pytest.mark.parametrize("name", sorted(RESERVED))
def test_reserved_names_are_refused(name: str) -> None:
    with pytest.raises(InvalidInput, match="reserved"):
        validate_agent_name(name)


@pytest.mark.parametrize("value", [None, 3, ["alice"], b"alice"])
def test_non_strings_are_refused(value: object) -> None:
    with pytest.raises(InvalidInput, match="must be a string"):
        validate_agent_name(value)


def test_recipients_include_the_fixed_mailboxes() -> None:
    assert [validate_recipient(n) for n in ("operator", "manager", "*", "bob")] == [
        "operator", "manager", "*", "bob"]
    with pytest.raises(InvalidInput, match="reserved"):
        validate_recipient("system")


def test_no_path_is_built_from_a_bad_name(tmp_path: object) -> None:
    paths = Paths(state=__import__("pathlib").Path("/s"), runtime=__import__("pathlib").Path("/r"))
    for bad in ("../x", "a/../../etc", "x;rm"):
        with pytest.raises(InvalidInput):
            paths.agent_socket(bad)
        with pytest.raises(InvalidInput):
            paths.agent_state(bad)
