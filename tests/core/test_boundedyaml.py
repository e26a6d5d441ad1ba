"""core.boundedyaml: whatever the text, the loader answers a value or one of its two errors
(a 500 otherwise), and the bounds hold before anything is composed."""

import contextlib
import time

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from core import boundedyaml

YAML_ALPHABET = "[]{}:,-&*!|>'\"#%@`?=~.\\\n\t ab01eE+_x"


@settings(max_examples=500, deadline=None, derandomize=True)
@given(st.text(alphabet=YAML_ALPHABET, max_size=120) | st.text(max_size=60))
@example("a: 2001-13-45")  # ValueError out of PyYAML's constructor
@example("a: " + "1" * 5000)  # past Python's 4,300-digit int conversion limit
@example("[" * 5000 + "]" * 5000)  # RecursionError in the pure-Python composer
def test_any_text_loads_or_raises_the_loaders_errors(text):
    with contextlib.suppress(boundedyaml.YAMLRefused, boundedyaml.YAMLInvalid):
        boundedyaml.load(text)


@settings(max_examples=50, deadline=None, derandomize=True)
@given(st.integers(min_value=2, max_value=8), st.integers(min_value=2, max_value=20))
def test_an_alias_is_refused_however_the_bomb_is_shaped(levels, width):
    lines = [f"a0: &a0 [{', '.join(['x'] * width)}]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * width)}]" for i in range(1, levels)]
    started = time.process_time()
    with pytest.raises(boundedyaml.YAMLRefused, match="aliases"):
        boundedyaml.load("\n".join(lines))
    assert time.process_time() - started < 0.1


def test_anchors_without_aliases_and_ordinary_cards_load():
    assert boundedyaml.load("a: &x 1\nb: [1, 2]\nc: {d: e}\n") == {"a": 1, "b": [1, 2], "c": {"d": "e"}}


def test_the_bounds_are_inclusive_and_counted_on_nodes_and_depth():
    assert boundedyaml.load("[[[1]]]", max_depth=3) == [[[1]]]
    with pytest.raises(boundedyaml.YAMLRefused, match="deeper than 2"):
        boundedyaml.load("[[[1]]]", max_depth=2)
    assert boundedyaml.load("[1, 2]", max_nodes=3) == [1, 2]  # the sequence and two scalars
    with pytest.raises(boundedyaml.YAMLRefused, match="more than 2 nodes"):
        boundedyaml.load("[1, 2]", max_nodes=2)
    with pytest.raises(boundedyaml.YAMLRefused, match="larger than 4 bytes"):
        boundedyaml.load("é: 1", max_bytes=4)  # 5 bytes in UTF-8
