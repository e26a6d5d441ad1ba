"""The request edge reads each kind of client input one way, whichever route it reaches."""

from types import SimpleNamespace

import pytest

from core import edge
from core.errors import BadRequest


@pytest.mark.parametrize("value", [True, 1, "1", "true", "True", "TRUE", "yes", "Yes"])
def test_flags_that_mean_yes(value):
    assert edge.flag(value)


@pytest.mark.parametrize("value", [False, 0, None, "", "0", "false", "no", "on", "2", "truthy", [], {}])
def test_flags_that_mean_no(value):
    assert not edge.flag(value)


@pytest.mark.parametrize("value", [True, False])
def test_a_json_boolean_is_read_as_it_is(value):
    assert edge.json_bool({"on": value}, "on") is value


@pytest.mark.parametrize("value", [None, 0, 1, "true", "false", [], {}])
def test_a_json_boolean_is_read_strictly(value):
    with pytest.raises(BadRequest, match="'on' must be true or false."):
        edge.json_bool({"on": value}, "on", default=False)


def test_an_absent_json_boolean_is_its_default_or_a_400():
    assert edge.json_bool({}, "on", default=None) is None
    assert edge.json_bool({}, "on", default=True) is True
    with pytest.raises(BadRequest, match="'on' must be true or false."):
        edge.json_bool({}, "on")


@pytest.mark.parametrize(
    ("data", "default", "expected"),
    [
        ({}, False, False),
        ({}, None, None),
        ({"private": None}, None, None),
        ({"private": True}, None, True),
        ({"private": False}, False, False),
        ({"visibility": "private"}, None, True),
        ({"visibility": "public", "private": True}, False, False),  # visibility wins
        ({"visibility": "private", "private": "junk"}, False, True),
    ],
)
def test_the_visibility_of_a_repo_is_read_one_way(data, default, expected):
    assert edge.json_private(data, default=default) is expected


@pytest.mark.parametrize(
    ("data", "default", "message"),
    [
        ({"visibility": "secret"}, None, "'visibility' must be 'public' or 'private'."),
        ({"visibility": 1}, False, "'visibility' must be 'public' or 'private'."),
        ({"private": None}, False, "'private' must be true or false."),
        ({"private": "yes"}, None, "'private' must be true or false."),
    ],
)
def test_a_bad_visibility_is_a_400(data, default, message):
    with pytest.raises(BadRequest, match=message):
        edge.json_private(data, default=default)


def test_a_form_integer_is_its_default_when_empty_and_a_named_400_when_not_a_number():
    assert edge.form_int({"n": "12"}, "n", default=4) == 12
    assert edge.form_int({"n": ""}, "n", default=4) == 4
    assert edge.form_int({}, "n", default=4) == 4
    with pytest.raises(BadRequest, match="'n' must be a number."):
        edge.form_int({"n": "1.5"}, "n", default=0)


@pytest.mark.parametrize("body", [None, [], "x", 1, True, [{"a": 1}]])
def test_a_body_that_is_not_a_json_object_is_a_400(body):
    """`null` included: DRF parses it as None, which once slipped through as {}."""
    with pytest.raises(BadRequest):
        edge.json_object(SimpleNamespace(data=body))


def test_a_json_object_body_is_returned_as_it_is():
    assert edge.json_object(SimpleNamespace(data={"a": 1})) == {"a": 1}


@pytest.mark.parametrize("value", [0, 1, 2**40])
def test_sizes(value):
    assert edge.is_size(value) and edge.size_value(value, label="'f'") == value


@pytest.mark.parametrize("value", [-1, True, False, 1.0, "1", None])
def test_not_sizes(value):
    assert not edge.is_size(value)
    with pytest.raises(BadRequest, match="'f': 'size' must be a non-negative integer"):
        edge.size_value(value, label="'f'")
